"""Readable verdicts in English and French; rubric labels from raw C2PA action lists."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sceau import KeyRing, LocalSigner, build_claim, hash_bytes, seal_claim, verify_seal
from sceau.claim import DIGITAL_SOURCE_TYPES, IPTC_DST_PREFIX, read_claim
from sceau.readable import (
    LANGUAGES,
    NO_SEAL_SUMMARY,
    OriginLabel,
    describe_origin,
    label_for_actions,
    label_text,
    no_seal_report,
    no_seal_summary,
    origin_label,
    pick_language,
    report,
    summarize,
)
from sceau.verify import Status

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
SIGNER = LocalSigner.from_seed(bytes(range(32)))  # TEST VECTOR key, not a secret
RING = KeyRing([SIGNER.record("news")])


def _created(term: str | None = None) -> dict[str, Any]:
    first: dict[str, Any] = {"action": "c2pa.created"}
    if term is not None:
        first["digitalSourceType"] = IPTC_DST_PREFIX + term
    return first


OPENED = {"action": "c2pa.opened"}
EDIT = {"action": "c2pa.edited"}
CROP = {"action": "c2pa.cropped"}
AI_FILL = {"action": "c2pa.edited",
           "digitalSourceType": IPTC_DST_PREFIX + "trainedAlgorithmicMedia"}
L = OriginLabel


@pytest.mark.parametrize(("actions", "ingredients", "label"), [
    ([], [], L.UNKNOWN_ORIGIN),
    ([_created()], [], L.UNKNOWN_ORIGIN),
    ([_created(), EDIT], [], L.EDITED),
    ([_created("composite")], [], L.EDITED),
    ([_created("digitalCapture")], [L.AI_GENERATED], L.PARTLY_AI_GENERATED),
    ([_created("digitalCapture"), {"action": "c2pa.placed"}], [L.CAPTURED], L.EDITED),
    ([OPENED], [L.CAPTURED], L.CAPTURED),
    ([OPENED, CROP], [L.CAPTURED], L.EDITED),
    ([OPENED], [L.AI_GENERATED], L.AI_GENERATED),
    ([OPENED, CROP], [L.AI_GENERATED], L.AI_GENERATED),
    ([OPENED, EDIT], [L.AI_GENERATED], L.PARTLY_AI_GENERATED),
    ([OPENED, AI_FILL], [L.CAPTURED], L.PARTLY_AI_GENERATED),
    ([OPENED], [L.CAPTURED, L.AI_GENERATED], L.PARTLY_AI_GENERATED),
    ([OPENED], [L.PARTLY_AI_GENERATED], L.PARTLY_AI_GENERATED),
    ([OPENED], [], L.EDITED),
    ([_created("trainedAlgorithmicMedia")], [L.CAPTURED], L.AI_GENERATED),
    ([_created("digitalArt"), {"action": "c2pa.published"}], [], L.CREATED_DIGITALLY),
])
def test_label_for_actions(actions: list[dict[str, Any]], ingredients: list[OriginLabel],
                           label: OriginLabel) -> None:
    assert label_for_actions(actions, ingredients) is label


def test_every_label_has_text_in_every_language() -> None:
    for lang in LANGUAGES:
        texts = {label_text(label, lang) for label in OriginLabel}
        assert None not in texts and len(texts) == len(OriginLabel)
    assert label_text(L.AI_GENERATED, "fr") == "Généré par IA"
    assert label_text(L.NO_SEAL, "en") == "No seal found"
    assert label_text(None) is None


@pytest.mark.parametrize(("lang", "accept", "expected"), [
    (None, None, "en"),
    ("fr", None, "fr"),
    ("FR-ca", None, "fr"),
    ("de", "fr", "en"),  # an explicit lang we lack wins over the header: English
    (None, "fr-FR,fr;q=0.9,en;q=0.8", "fr"),
    (None, "en;q=0.5, fr;q=0.8", "fr"),
    (None, "de, fr;q=0", "en"),
    (None, "fr;q=bogus, en", "en"),
    (None, "*", "en"),
])
def test_pick_language(lang: str | None, accept: str | None, expected: str) -> None:
    assert pick_language(lang, accept) == expected


def test_no_seal_never_reads_as_fake() -> None:
    assert no_seal_summary() == NO_SEAL_SUMMARY
    for lang in LANGUAGES:
        doc = no_seal_report(lang)
        assert doc["label"] == "no_seal" and doc["ok"] is False
        assert not any(word in doc["summary"].lower()
                       for word in ("fake", "faux", "forged", "falsifi"))
    assert no_seal_report("fr")["summary"].startswith("aucun sceau trouvé")


def _sealed(term: str = "digitalCapture") -> bytes:
    content = hash_bytes(b"\x00")
    claim = build_claim(sha256=content.digest, size=content.size, media_type="image/png",
                        tenant="news", keyid=SIGNER.keyid, created=NOW,
                        digital_source_type=term)
    return seal_claim(claim, SIGNER).to_bytes()


def test_french_report() -> None:
    sealed = _sealed("trainedAlgorithmicMedia")
    good = report(verify_seal(sealed, RING, now=NOW, content=hash_bytes(b"\x00")), "fr")
    assert good["summary"] == "vérifié : le contenu correspond à son sceau"
    assert good["label"] == "ai_generated" and good["label_text"] == "Généré par IA"
    assert good["lang"] == "fr"
    altered = verify_seal(sealed, RING, now=NOW, content=hash_bytes(b"\x01"))
    assert summarize(altered, "fr").startswith("non vérifié : le contenu du fichier diffère")
    unknown = report(verify_seal(sealed, KeyRing(), now=NOW), "fr")
    assert unknown["label"] is None and unknown["label_text"] is None
    assert "absente de votre trousseau" in unknown["summary"]
    # an unknown language is English
    assert report(verify_seal(sealed, KeyRing(), now=NOW), "xx")["summary"] == summarize(
        verify_seal(sealed, KeyRing(), now=NOW))


def test_every_failure_reads_plainly_in_french() -> None:
    """Every failure code the verifier emits has its own sentence in both languages."""
    failures = [v for k, v in vars(Status).items()
                if k.isupper() and isinstance(v, str) and v not in Status.SUCCESS
                and v not in (Status.CLAIM_MALFORMED, Status.CLAIM_NOT_CANONICAL)]
    from sceau.readable import summary_for

    for code in failures:
        en = summary_for([code], matched=False)
        fr = summary_for([code], matched=False, lang="fr")
        assert "verification failed" not in en and "a échoué" not in fr, code
        assert en != fr


_TERMS = sorted(DIGITAL_SOURCE_TYPES)
_ACTION_NAMES = ["c2pa.edited", "c2pa.cropped", "c2pa.placed", "c2pa.published",
                 "c2pa.color_adjustments", "c2pa.resized", "c2pa.transcoded",
                 "c2pa.filtered", "com.example.custom"]
_later = st.builds(
    lambda name, term: {"action": name, **({"digitalSourceType": IPTC_DST_PREFIX + term}
                                          if term else {})},
    st.sampled_from(_ACTION_NAMES), st.none() | st.sampled_from(_TERMS))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(term=st.sampled_from(_TERMS), later=st.lists(_later, max_size=5),
       lang=st.sampled_from([*LANGUAGES, "xx"]), matches=st.booleans())
def test_any_claim_gets_a_label_and_a_summary(term: str, later: list[dict[str, Any]],
                                             lang: str, matches: bool) -> None:
    content = hash_bytes(b"\x00")
    claim = build_claim(sha256=content.digest, size=content.size, media_type="image/jpeg",
                        tenant="news", keyid=SIGNER.keyid, created=NOW,
                        digital_source_type=term, extra_actions=later)
    label = origin_label(read_claim(claim))
    assert label is not OriginLabel.NO_SEAL
    sealed = seal_claim(claim, SIGNER).to_bytes()
    verdict = verify_seal(sealed, RING, now=NOW,
                          content=hash_bytes(b"\x00" if matches else b"\x01"))
    doc = report(verdict, lang)
    assert doc["label"] == label.value and doc["label_text"]
    assert doc["summary"] and describe_origin(read_claim(claim), lang)
    assert doc["summary"].startswith(
        ("verified", "vérifié") if matches else ("not verified", "non vérifié"))
    # a later AI action always shows up in the label
    if any(a.get("digitalSourceType", "").endswith("trainedAlgorithmicMedia") for a in later):
        assert label in (OriginLabel.AI_GENERATED, OriginLabel.PARTLY_AI_GENERATED)
