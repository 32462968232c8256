"""Standard C2PA files (made with c2pa-python and a test CA) read into Sceau verdicts."""

from __future__ import annotations

import sys
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sceau.c2pa_verdict import c2pa_available, read_c2pa, verdict_from_store
from sceau.errors import DependencyMissingError, MalformedMediaError

from ..c2pafiles import TestCA, actions, jpeg_bytes, sign_jpeg, tamper_pixels

pytest.importorskip("c2pa")

EDITED = {"action": "c2pa.edited"}
CROPPED = {"action": "c2pa.cropped"}
GEN_FILL = {"action": "c2pa.edited",
            "digitalSourceType": "http://cv.iptc.org/newscodes/digitalsourcetype/"
                                 "trainedAlgorithmicMedia"}


@pytest.fixture(scope="module")
def ca() -> TestCA:
    return TestCA.create()


@pytest.fixture(scope="module")
def other_ca() -> TestCA:
    return TestCA.create("Another Test CA", "Someone Else")


@pytest.fixture(scope="module")
def ai_jpeg(ca: TestCA) -> bytes:
    return sign_jpeg(jpeg_bytes(), ca, actions("trainedAlgorithmicMedia"))


def test_trusted_signer(ca: TestCA, ai_jpeg: bytes) -> None:
    doc = read_c2pa(ai_jpeg, "image/jpeg", trust_anchors=ca.anchor_pem)
    assert doc is not None
    assert doc["ok"] is True and doc["source"] == "c2pa"
    assert doc["signature"] == "valid" and doc["integrity"] == "match"
    assert doc["signer"]["trusted"] is True and doc["signer"]["name"] == ca.signer_name
    assert {"claimSignature.validated", "assertion.dataHash.match",
            "signingCredential.trusted"} <= set(doc["status_codes"])
    assert doc["c2pa"]["validation_state"] == "Trusted"
    assert doc["label"] == "ai_generated" and doc["label_text"] == "AI-generated"
    assert doc["summary"] == "verified: the content matches its C2PA manifest"


@pytest.mark.parametrize("anchors", ["other", None], ids=["other-ca", "no-anchors"])
def test_untrusted_signer(ca: TestCA, other_ca: TestCA, ai_jpeg: bytes,
                          anchors: str | None) -> None:
    doc = read_c2pa(ai_jpeg, "image/jpeg",
                    trust_anchors=other_ca.anchor_pem if anchors else None)
    assert doc is not None and doc["ok"] is False
    assert doc["signature"] == "valid" and doc["integrity"] == "match"
    assert doc["signer"]["trusted"] is False
    assert doc["c2pa"]["failures"] == ["signingCredential.untrusted"]
    assert doc["summary"] == "not verified: the signer is not on your trust list"
    assert doc["label"] == "ai_generated"  # what the (validly signed) manifest states


def test_tampered_content(ca: TestCA, ai_jpeg: bytes) -> None:
    doc = read_c2pa(tamper_pixels(ai_jpeg), "image/jpeg", trust_anchors=ca.anchor_pem,
                    lang="fr")
    assert doc is not None and doc["ok"] is False
    assert doc["integrity"] == "mismatch"
    assert "assertion.dataHash.mismatch" in doc["c2pa"]["failures"]
    assert doc["summary"].startswith("non vérifié : le contenu du fichier diffère")
    assert doc["label_text"] == "Généré par IA" and doc["lang"] == "fr"


def test_no_manifest_is_none() -> None:
    assert read_c2pa(jpeg_bytes(), "image/jpeg") is None


@pytest.mark.parametrize(("action_list", "label"), [
    (actions("digitalCapture"), "captured"),
    (actions("digitalCapture", EDITED), "edited"),
    (actions("digitalCapture", GEN_FILL), "partly_ai_generated"),
    (actions("compositeWithTrainedAlgorithmicMedia"), "partly_ai_generated"),
    (actions("trainedAlgorithmicMedia", CROPPED), "ai_generated"),
    (actions("digitalArt"), "created_digitally"),
    (actions("algorithmicallyEnhanced"), "edited"),
], ids=["capture", "capture-edited", "capture-genfill", "composite-ai", "ai-cropped",
        "digital-art", "enhanced"])
def test_label_from_real_manifests(ca: TestCA, action_list: list[dict[str, Any]],
                                   label: str) -> None:
    doc = read_c2pa(sign_jpeg(jpeg_bytes(seed=3), ca, action_list), "image/jpeg",
                    trust_anchors=ca.anchor_pem)
    assert doc is not None and doc["ok"] is True
    assert doc["label"] == label


def test_truncated_file_is_malformed_or_a_verdict(ca: TestCA, ai_jpeg: bytes) -> None:
    for cut in (len(ai_jpeg) // 2, 200, 40):
        try:
            doc = read_c2pa(ai_jpeg[:cut], "image/jpeg", trust_anchors=ca.anchor_pem)
        except MalformedMediaError:
            continue
        assert doc is None or doc["ok"] is False


def test_bad_trust_anchors_are_refused(ai_jpeg: bytes) -> None:
    with pytest.raises(ValueError, match="PEM"):
        read_c2pa(ai_jpeg, "image/jpeg", trust_anchors="not a certificate")


def test_without_c2pa_python(monkeypatch: pytest.MonkeyPatch, ai_jpeg: bytes) -> None:
    monkeypatch.setitem(sys.modules, "c2pa", None)  # what an install without the extra sees
    assert c2pa_available() is False
    with pytest.raises(DependencyMissingError, match=r"sceau\[c2pa\]"):
        read_c2pa(ai_jpeg, "image/jpeg")


_json = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                     lambda inner: st.lists(inner, max_size=4)
                     | st.dictionaries(st.text(max_size=12), inner, max_size=4),
                     max_leaves=20)
_store = st.fixed_dictionaries({}, optional={
    "active_manifest": st.sampled_from(["m1", "m2"]) | _json,
    "manifests": st.dictionaries(st.sampled_from(["m1", "m2"]), _json) | _json,
    "validation_results": _json,
    "validation_status": _json,
    "validation_state": _json,
})


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(store=_store, lang=st.sampled_from(["en", "fr"]))
def test_any_store_maps_to_a_verdict(store: dict[str, Any], lang: str) -> None:
    doc = verdict_from_store(store, lang)
    assert isinstance(doc["ok"], bool) and doc["summary"]
    assert doc["signature"] in ("valid", "invalid", "malformed", "not_checked")
    assert doc["integrity"] in ("match", "mismatch", "not_checked")
    if doc["ok"]:
        assert doc["summary"].startswith(("verified", "vérifié"))
