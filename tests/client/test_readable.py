"""Origin labels and plain-language summaries, from a table of claims."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from sceau import KeyRing, LocalSigner, build_claim, hash_bytes, seal_claim, verify_seal
from sceau.claim import read_claim
from sceau.readable import NO_SEAL_SUMMARY, OriginLabel, origin_label, report, summarize

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
SIGNER = LocalSigner.from_seed(bytes(range(32)))  # TEST VECTOR key, not a secret


def _claim(**kw: Any) -> dict[str, Any]:
    return build_claim(sha256=b"\x01" * 32, size=1, media_type="image/jpeg", tenant="news",
                       keyid=SIGNER.keyid, created=NOW, **kw)


EDIT = {"action": "c2pa.edited"}
GEN_FILL = {"action": "c2pa.edited", "digitalSourceType":
            "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"}
PARENT = {"relationship": "parentOf", "dc:title": "raw.jpg"}
CROP = {"action": "c2pa.cropped"}
COLOR = {"action": "c2pa.color_adjustments"}
PLACED = {"action": "c2pa.placed"}


@pytest.mark.parametrize(("kw", "label"), [
    ({"digital_source_type": "digitalCapture"}, OriginLabel.CAPTURED),
    ({"digital_source_type": "computationalCapture"}, OriginLabel.CAPTURED),
    ({"digital_source_type": "trainedAlgorithmicMedia"}, OriginLabel.AI_GENERATED),
    ({"digital_source_type": "compositeWithTrainedAlgorithmicMedia"},
     OriginLabel.PARTLY_AI_GENERATED),
    ({"digital_source_type": "digitalCapture", "extra_actions": [GEN_FILL]},
     OriginLabel.PARTLY_AI_GENERATED),
    ({"digital_source_type": "trainedAlgorithmicMedia", "extra_actions": [EDIT]},
     OriginLabel.PARTLY_AI_GENERATED),
    ({"digital_source_type": "digitalCapture", "extra_actions": [EDIT]}, OriginLabel.EDITED),
    ({"digital_source_type": "humanEdits"}, OriginLabel.EDITED),
    ({"digital_source_type": None, "first_action": "c2pa.opened", "ingredients": [PARENT]},
     OriginLabel.EDITED),
    ({"digital_source_type": "digitalArt"}, OriginLabel.CREATED_DIGITALLY),
    ({"digital_source_type": "digitalCapture",
      "extra_actions": [{"action": "c2pa.published"}]}, OriginLabel.CAPTURED),
    # an AI picture only cropped or colour-corrected is still AI-generated, not "partly"
    ({"digital_source_type": "trainedAlgorithmicMedia", "extra_actions": [CROP]},
     OriginLabel.AI_GENERATED),
    ({"digital_source_type": "trainedAlgorithmicMedia", "extra_actions": [COLOR, CROP]},
     OriginLabel.AI_GENERATED),
    # placing an ingredient adds content: a capture with something placed is edited
    ({"digital_source_type": "digitalCapture", "extra_actions": [PLACED]}, OriginLabel.EDITED),
    ({"digital_source_type": "digitalCapture", "extra_actions": [CROP]}, OriginLabel.EDITED),
    ({"digital_source_type": "algorithmicMedia"}, OriginLabel.AI_GENERATED),
    ({"digital_source_type": "screenCapture"}, OriginLabel.CAPTURED),
    ({"digital_source_type": "dataDrivenMedia"}, OriginLabel.CREATED_DIGITALLY),
], ids=lambda v: v if isinstance(v, str) else None)
def test_origin_label(kw: dict[str, Any], label: OriginLabel) -> None:
    assert origin_label(read_claim(_claim(**kw))) is label


def test_report_has_label_only_for_valid_signatures() -> None:
    ring = KeyRing([SIGNER.record("news")])
    content = hash_bytes(b"\x00")
    claim = build_claim(sha256=content.digest, size=content.size, media_type="image/png",
                        tenant="news", keyid=SIGNER.keyid, created=NOW,
                        digital_source_type="trainedAlgorithmicMedia")
    sealed = seal_claim(claim, SIGNER).to_bytes()
    good = report(verify_seal(sealed, ring, now=NOW, content=content))
    assert good["label"] == "ai_generated"
    assert good["summary"] == "verified: the content matches its seal"
    altered = verify_seal(sealed, ring, now=NOW, content=hash_bytes(b"\x01"))
    assert summarize(altered).startswith("not verified: the file's content differs")
    unknown = report(verify_seal(sealed, KeyRing(), now=NOW, content=content))
    assert unknown["label"] is None
    assert "not in your key ring" in unknown["summary"]
    assert "fake" not in NO_SEAL_SUMMARY
