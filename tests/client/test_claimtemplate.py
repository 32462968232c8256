"""The fast paths for a service's hot loop give exactly the bytes of the reference paths:
ClaimTemplate.render == canonicalize(build_claim(...)), Envelope.to_bytes ==
canonicalize(to_json())."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sceau.canonical import canonicalize
from sceau.claim import DIGITAL_SOURCE_TYPES, ClaimError, build_claim, new_instance_id
from sceau.claimtemplate import ClaimTemplate
from sceau.envelope import Envelope, Signature

media_types = st.from_regex(
    r"[a-z0-9][a-z0-9!#$&^_.+-]{0,20}/[a-z0-9][a-z0-9!#$&^_.+-]{0,20}", fullmatch=True)
texts = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=40)
times = st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(9999, 1, 1),
                     timezones=st.just(UTC))
tenants = st.from_regex(r"[a-z0-9][a-z0-9-]{0,20}", fullmatch=True)


@settings(max_examples=300, deadline=None)
@given(sha256=st.binary(min_size=32, max_size=32), size=st.integers(0, 2**53 - 1),
       media_type=media_types, title=st.none() | texts, created=times, tenant=tenants,
       keyid=texts, dst=st.sampled_from(sorted(DIGITAL_SOURCE_TYPES)),
       generator=st.tuples(texts, texts))
def test_render_equals_canonical_build_claim(sha256: bytes, size: int, media_type: str,
                                             title: str | None, created: datetime,
                                             tenant: str, keyid: str, dst: str,
                                             generator: tuple[str, str]) -> None:
    options = {"tenant": tenant, "keyid": keyid, "digital_source_type": dst,
               "generator": generator}
    try:
        template = ClaimTemplate(with_title=title is not None, **options)
    except ValueError:
        return  # a fixed value that holds a sentinel: the caller falls back to build_claim
    instance_id = new_instance_id()
    expected = canonicalize(build_claim(sha256=sha256, size=size, media_type=media_type,
                                        created=created, title=title,
                                        instance_id=instance_id, **options))  # type: ignore[arg-type]
    assert template.render(sha256=sha256, size=size, media_type=media_type, created=created,
                           title=title, instance_id=instance_id) == expected


def _template() -> ClaimTemplate:
    return ClaimTemplate(with_title=True, tenant="news", keyid="k")


NOW = datetime(2026, 11, 26, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(("field", "value", "status"), [
    ("sha256", b"\x00" * 31, "assertion.dataHash.malformed"),
    ("size", -1, "assertion.dataHash.malformed"),
    ("size", 2**53, "assertion.dataHash.malformed"),
    ("size", True, "assertion.dataHash.malformed"),
    ("media_type", "image/JPEG", "claim.malformed"),
    ("media_type", "", "claim.malformed"),
    ("title", "", "claim.malformed"),
    ("title", "x" * 1025, "claim.malformed"),
    ("instance_id", "xmp:iid:not-a-uuid", "claim.malformed"),
])
def test_render_rejects_what_read_claim_rejects(field: str, value: object, status: str) -> None:
    args: dict[str, object] = {"sha256": b"\x01" * 32, "size": 1, "media_type": "image/jpeg",
                               "created": NOW, "title": "t"}
    args[field] = value
    with pytest.raises(ClaimError) as info:
        _template().render(**args)  # type: ignore[arg-type]
    assert info.value.status == status


def test_render_rejects_lone_surrogate_title() -> None:
    with pytest.raises(Exception, match="surrogate"):
        _template().render(sha256=b"\x01" * 32, size=1, media_type="image/jpeg",
                           created=NOW, title="a\ud800")


def test_title_presence_must_match_the_template() -> None:
    with pytest.raises(ValueError, match="with a title"):
        _template().render(sha256=b"\x01" * 32, size=1, media_type="image/jpeg", created=NOW)


def test_options_holding_a_sentinel_are_refused() -> None:
    with pytest.raises(ValueError, match="cannot be templated"):
        ClaimTemplate(with_title=False, tenant="news", keyid="x-sceau-sentinel/media-type")


def test_instance_ids_are_fresh_v4_uuids() -> None:
    ids = {new_instance_id() for _ in range(1000)}
    assert len(ids) == 1000
    for iid in ids:
        assert re.fullmatch(r"xmp:iid:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-"
                            r"[0-9a-f]{12}", iid)


@settings(max_examples=300, deadline=None)
@given(payload=st.binary(max_size=300), payload_type=texts,
       signatures=st.lists(st.tuples(texts, st.binary(max_size=80)), max_size=4))
def test_envelope_bytes_equal_canonical_json(payload: bytes, payload_type: str,
                                             signatures: list[tuple[str, bytes]]) -> None:
    envelope = Envelope(payload_type, payload, tuple(Signature(k, s) for k, s in signatures))
    assert envelope.to_bytes() == canonicalize(envelope.to_json())
