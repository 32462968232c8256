"""The claim: what a seal says about a piece of media (SPEC.md §4).

Vocabulary is C2PA's (assertion labels, actions) and IPTC's (digital source types).
:func:`build_claim` makes a claim; :func:`read_claim` validates a parsed one and returns
a typed view.  Both are pure.
"""

from __future__ import annotations

import functools
import os
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sceau.chunking import MAX_CHUNKS, chunk_count, is_valid_chunk_size, merkle_root
from sceau.errors import ValidationError
from sceau.timefmt import format_time, parse_time

__all__ = [
    "ACTIONS_LABEL",
    "CHUNKED_HASH_LABEL",
    "CREATIVE_WORK_LABEL",
    "DIGITAL_SOURCE_TYPES",
    "HASH_DATA_LABEL",
    "INGREDIENT_LABEL",
    "IPTC_DST_PREFIX",
    "Claim",
    "ClaimError",
    "HardBinding",
    "build_claim",
    "check_instance_id",
    "check_media_type",
    "check_size",
    "check_title",
    "digital_source_type_uri",
    "new_instance_id",
    "read_claim",
]

ACTIONS_LABEL = "c2pa.actions.v2"
HASH_DATA_LABEL = "c2pa.hash.data"
INGREDIENT_LABEL = "c2pa.ingredient.v3"
CREATIVE_WORK_LABEL = "stds.schema-org.CreativeWork"
#: The chunked (Merkle) hard binding of large files (SPEC.md §4.5).
CHUNKED_HASH_LABEL = "sceau.hash.chunked"
HARD_BINDING_LABELS = frozenset({HASH_DATA_LABEL, CHUNKED_HASH_LABEL, "c2pa.hash.bmff.v3",
                                 "c2pa.hash.boxes"})

IPTC_DST_PREFIX = "http://cv.iptc.org/newscodes/digitalsourcetype/"
#: IPTC Digital Source Type terms (https://cv.iptc.org/newscodes/digitalsourcetype/).
DIGITAL_SOURCE_TYPES = frozenset({
    "digitalCapture", "computationalCapture", "negativeFilm", "positiveFilm", "print",
    "humanEdits", "compositeCapture", "algorithmicallyEnhanced", "dataDrivenMedia",
    "digitalArt", "virtualRecording", "compositeSynthetic", "trainedAlgorithmicMedia",
    "compositeWithTrainedAlgorithmicMedia", "algorithmicMedia", "screenCapture",
    "digitalCreation", "minorHumanEdits",
})
HASH_ALGORITHMS = {"sha256": 32}
FIRST_ACTIONS = frozenset({"c2pa.created", "c2pa.opened"})
RELATIONSHIPS = frozenset({"parentOf", "componentOf", "inputTo"})

MAX_ASSERTIONS = 64
MAX_ACTIONS = 64
MAX_EXCLUSIONS = 64
MAX_TEXT = 1024
MAX_SIZE = 2**53 - 1
_ACTION_NAME = re.compile(r"[a-z0-9]+(\.[a-zA-Z0-9_-]+)+")
_LABEL = re.compile(r"[a-zA-Z0-9_-]+(\.[a-zA-Z0-9_-]+)+")
_TENANT = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
_MEDIA_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}")
_INSTANCE_ID = re.compile(r"xmp:iid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


class ClaimError(ValidationError):
    """A claim breaks a rule of SPEC.md §4; ``status`` is the verification status code."""

    def __init__(self, status: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status


def digital_source_type_uri(term: str) -> str:
    """Expand an IPTC term (``trainedAlgorithmicMedia``) to its URI; URIs pass through."""
    if term in DIGITAL_SOURCE_TYPES:
        return IPTC_DST_PREFIX + term
    if term.startswith(IPTC_DST_PREFIX) and term[len(IPTC_DST_PREFIX):] in DIGITAL_SOURCE_TYPES:
        return term
    raise ValidationError(f"unknown IPTC digital source type {term[:80]!r}")


@dataclass(frozen=True, slots=True)
class HardBinding:
    """The hard binding: which bytes the seal covers (SPEC.md §4.4, §4.5).

    For ``c2pa.hash.data`` ``digest`` is the SHA-256 of the content; for
    ``sceau.hash.chunked`` it is the Merkle root, and ``chunk_size`` and ``chunks`` (the
    leaf hashes, in content order) are set.
    """

    alg: str
    digest: bytes
    size: int
    exclusions: tuple[tuple[int, int], ...] = ()
    label: str = HASH_DATA_LABEL
    chunk_size: int | None = None
    chunks: tuple[bytes, ...] = ()

    @property
    def hashed_length(self) -> int:
        """How many bytes are hashed: ``size`` minus the excluded ranges."""
        return self.size - sum(length for _, length in self.exclusions)


@dataclass(frozen=True, slots=True)
class Claim:
    """A validated claim.  ``raw`` is the full parsed object, unknown members included."""

    raw: Mapping[str, Any]
    instance_id: str
    media_type: str
    title: str | None
    tenant: str
    keyid: str
    created: datetime
    binding: HardBinding
    actions: tuple[Mapping[str, Any], ...]
    digital_source_type: str | None
    ingredients: tuple[Mapping[str, Any], ...]


def build_claim(
    *,
    sha256: bytes,
    size: int,
    media_type: str,
    tenant: str,
    keyid: str,
    created: datetime,
    digital_source_type: str | None = "digitalCapture",
    first_action: str = "c2pa.created",
    title: str | None = None,
    generator: tuple[str, str] = ("sceau", "0"),
    software_agent: Mapping[str, str] | None = None,
    extra_actions: Sequence[Mapping[str, Any]] = (),
    ingredients: Sequence[Mapping[str, Any]] = (),
    author: Sequence[str] = (),
    publisher: str | None = None,
    instance_id: str | None = None,
    exclusions: Sequence[tuple[int, int]] = (),
    chunk_size: int | None = None,
    chunks: Sequence[bytes] | None = None,
) -> dict[str, Any]:
    """Assemble a claim object (SPEC.md §4) ready for canonicalisation.

    ``created`` is the signer's time, passed in (the core never reads a clock).
    ``exclusions`` are the ``(start, length)`` ranges left out of the hash: where an
    embedded seal lives (§6.3).  With ``chunk_size`` and ``chunks`` (leaf hashes) the
    hard binding is ``sceau.hash.chunked`` and ``sha256`` is its Merkle root (§4.5).  The
    result is validated with :func:`read_claim` before it is returned.
    """
    first: dict[str, Any] = {"action": first_action, "when": format_time(created)}
    if digital_source_type is not None:
        first["digitalSourceType"] = digital_source_type_uri(digital_source_type)
    if software_agent:
        first["softwareAgent"] = dict(software_agent)
    excluded = [{"start": start, "length": length} for start, length in exclusions]
    binding: dict[str, Any]
    if chunk_size is None:
        binding = {"label": HASH_DATA_LABEL,
                   "data": {"alg": "sha256", "hash": sha256.hex(), "size": size,
                            "exclusions": excluded}}
    else:
        binding = {"label": CHUNKED_HASH_LABEL,
                   "data": {"alg": "sha256", "root": sha256.hex(), "size": size,
                            "exclusions": excluded, "chunk_size": chunk_size,
                            "chunks": [leaf.hex() for leaf in chunks or ()]}}
    assertions: list[dict[str, Any]] = [
        {"label": ACTIONS_LABEL, "data": {"actions": [first, *map(dict, extra_actions)]}},
        binding,
    ]
    assertions.extend({"label": INGREDIENT_LABEL, "data": dict(i)} for i in ingredients)
    if author or publisher:
        work: dict[str, Any] = {"@context": "https://schema.org", "@type": "CreativeWork"}
        if author:
            work["author"] = [{"@type": "Person", "name": a} for a in author]
        if publisher:
            work["publisher"] = {"@type": "Organization", "name": publisher}
        assertions.append({"label": CREATIVE_WORK_LABEL, "data": work})
    claim: dict[str, Any] = {
        "claim_generator_info": [{"name": generator[0], "version": generator[1]}],
        "instanceID": instance_id or new_instance_id(),
        "dc:format": media_type,
        "signer": {"tenant": tenant, "keyid": keyid},
        "created": format_time(created),
        "assertions": assertions,
    }
    if title is not None:
        claim["dc:title"] = title
    read_claim(claim)
    return claim


class _RandomBlocks(threading.local):
    """``os.urandom`` read 4 KiB at a time, 16 bytes handed out per call, per thread.

    One ``getrandom`` call per 256 ids instead of one each: the call lets go of the GIL,
    and on a busy server each retake waited for the other threads (docs/benchmarks.md).
    The bytes are the kernel's CSPRNG output all the same; a forked child drops what it
    inherited, so parent and child never hand out the same bytes.
    """

    block = b""
    at = 0

    def take16(self) -> bytes:
        if self.at + 16 > len(self.block):
            self.block = os.urandom(4096)
            self.at = 0
        at = self.at
        self.at = at + 16
        return self.block[at:at + 16]


_random_blocks = _RandomBlocks()


def _forget_random_blocks() -> None:
    global _random_blocks  # noqa: PLW0603 (replaced whole in a forked child)
    _random_blocks = _RandomBlocks()


os.register_at_fork(after_in_child=_forget_random_blocks)


def new_instance_id() -> str:
    """A fresh ``xmp:iid:`` instance id (a random UUID, RFC 9562 version 4)."""
    h = _random_blocks.take16().hex()
    # Version 4 in the 13th digit; the RFC 9562 variant (binary 10) in the top bits of
    # the 17th, which keeps its two lower bits of randomness.
    return (f"xmp:iid:{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}"
            f"-{h[20:]}")


def _fail(status: str, detail: str) -> ClaimError:
    return ClaimError(status, detail)


def _text(obj: Mapping[str, Any], name: str, *, required: bool = True,
          pattern: re.Pattern[str] | None = None, status: str = "claim.malformed") -> str | None:
    if name not in obj and not required:
        return None  # absent; an explicit null is malformed, not absent
    value = obj.get(name)
    if not isinstance(value, str) or not value or len(value) > MAX_TEXT:
        raise _fail(status, f"{name!r} must be a non-empty string (<= {MAX_TEXT})")
    if pattern is not None and pattern.fullmatch(value) is None:
        raise _fail(status, f"{name!r} has an invalid form")
    return value


#: ``parse_time`` memoised: claims signed or checked together mostly share their times
#: (``created`` and the first action's ``when``, within the same second), and strptime
#: costs more than the rest of the claim's checks.  Only valid strings are cached
#: (failures raise through the cache), and datetimes are immutable.
_parse_time_cached = functools.lru_cache(maxsize=256)(parse_time)


def _time(obj: Mapping[str, Any], name: str, status: str) -> datetime:
    value = obj.get(name)
    try:
        if type(value) is str:
            return _parse_time_cached(value)
        return parse_time(value)  # type: ignore[arg-type]
    except ValueError as exc:
        raise _fail(status, f"{name!r}: {exc}") from None


def _int(value: Any, status: str, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SIZE:
        raise _fail(status, f"{what} must be a non-negative integer")
    return value


def check_media_type(value: str) -> None:
    """Raise :class:`ClaimError` unless ``value`` is a valid ``dc:format``."""
    _text({"dc:format": value}, "dc:format", pattern=_MEDIA_TYPE)


def check_title(value: str) -> None:
    """Raise :class:`ClaimError` unless ``value`` is a valid ``dc:title``."""
    _text({"dc:title": value}, "dc:title")


def check_instance_id(value: str) -> None:
    """Raise :class:`ClaimError` unless ``value`` is a valid ``instanceID``."""
    _text({"instanceID": value}, "instanceID", pattern=_INSTANCE_ID)


def check_size(value: int) -> None:
    """Raise :class:`ClaimError` unless ``value`` is a valid content size."""
    _int(value, "assertion.dataHash.malformed", "size")


def _hex_digest(value: Any, length: int, what: str) -> bytes:
    if (not isinstance(value, str) or len(value) != 2 * length
            or re.fullmatch(r"[0-9a-f]+", value) is None):
        raise _fail("assertion.dataHash.malformed", f"{what} must be {2 * length} lowercase "
                    "hex digits")
    return bytes.fromhex(value)


def _read_binding(data: Any, label: str = HASH_DATA_LABEL) -> HardBinding:
    status = "assertion.dataHash.malformed"
    if not isinstance(data, dict):
        raise _fail(status, f"{label} must be an object")
    alg = data.get("alg")
    if not isinstance(alg, str):
        raise _fail(status, "alg must be a string")
    if alg not in HASH_ALGORITHMS:
        raise _fail("algorithm.unsupported", f"hash algorithm {str(alg)[:32]!r} is not supported")
    digest_len = HASH_ALGORITHMS[alg]
    chunked = label == CHUNKED_HASH_LABEL
    digest = _hex_digest(data.get("root" if chunked else "hash"), digest_len,
                         "root" if chunked else "hash")
    size = _int(data.get("size"), status, "size")
    raw_excl = data.get("exclusions", [])
    if not isinstance(raw_excl, list) or len(raw_excl) > MAX_EXCLUSIONS:
        raise _fail(status, "exclusions must be an array of at most 64 ranges")
    exclusions: list[tuple[int, int]] = []
    end = 0  # ranges are sorted, disjoint, non-empty and inside the asset (SPEC.md §4.4)
    for item in raw_excl:
        if not isinstance(item, dict) or set(item) != {"start", "length"}:
            raise _fail(status, "each exclusion is exactly {start, length}")
        start = _int(item["start"], status, "start")
        length = _int(item["length"], status, "length")
        if length == 0 or start < end or start + length > size:
            raise _fail(status, "exclusions must be sorted, disjoint, non-empty, within size")
        end = start + length
        exclusions.append((start, length))
    if not chunked:
        return HardBinding(alg, digest, size, tuple(exclusions))
    # SPEC.md §4.5: a power-of-two chunk size, one leaf per chunk of the hashed content,
    # and the root they make.
    chunk_size = _int(data.get("chunk_size"), status, "chunk_size")
    if not is_valid_chunk_size(chunk_size):
        raise _fail(status, "chunk_size must be a power of two from 2^10 to 2^30")
    raw_chunks = data.get("chunks")
    hashed = size - sum(n for _, n in exclusions)
    if (not isinstance(raw_chunks, list) or len(raw_chunks) > MAX_CHUNKS
            or len(raw_chunks) != chunk_count(hashed, chunk_size)):
        raise _fail(status, f"chunks must list one leaf hash per chunk (at most {MAX_CHUNKS})")
    leaves = tuple(_hex_digest(leaf, digest_len, "each chunk hash") for leaf in raw_chunks)
    if merkle_root(leaves) != digest:
        raise _fail(status, "root is not the Merkle root of the chunk hashes")
    return HardBinding(alg, digest, size, tuple(exclusions), CHUNKED_HASH_LABEL, chunk_size,
                       leaves)


def _read_actions(data: Any) -> tuple[tuple[Mapping[str, Any], ...], str | None]:
    status = "assertion.action.malformed"
    actions = data.get("actions") if isinstance(data, dict) else None
    if not isinstance(actions, list) or not 0 < len(actions) <= MAX_ACTIONS:
        raise _fail(status, f"c2pa.actions needs 1..{MAX_ACTIONS} actions")
    for action in actions:
        if not isinstance(action, dict):
            raise _fail(status, "each action is an object")
        name = action.get("action")
        if not isinstance(name, str) or _ACTION_NAME.fullmatch(name) is None:
            raise _fail(status, "each action needs an 'action' name such as c2pa.edited")
        if "when" in action:
            _time(action, "when", status)
        dst = action.get("digitalSourceType")
        if "digitalSourceType" in action and not (
                isinstance(dst, str) and dst.startswith(("http://", "https://"))
                and len(dst) <= MAX_TEXT):
            raise _fail(status, "digitalSourceType must be a URI")
    first = actions[0]
    if first["action"] not in FIRST_ACTIONS:
        raise _fail(status, "the first action must be c2pa.created or c2pa.opened")
    if first["action"] == "c2pa.created" and "digitalSourceType" not in first:
        raise _fail(status, "c2pa.created needs a digitalSourceType")
    return tuple(actions), first.get("digitalSourceType")


def _read_ingredient(data: Any) -> Mapping[str, Any]:
    status = "assertion.ingredient.malformed"
    if not isinstance(data, dict):
        raise _fail(status, "an ingredient is an object")
    relationship = data.get("relationship")
    if not isinstance(relationship, str) or relationship not in RELATIONSHIPS:
        raise _fail(status, f"ingredient relationship must be one of {sorted(RELATIONSHIPS)}")
    _text(data, "dc:title", required=False, status=status)
    return data


def read_claim(obj: Any) -> Claim:
    """Validate a parsed claim (SPEC.md §4) and return a typed view of it.

    Raises :class:`ClaimError` whose ``status`` is the status code of the first rule the
    claim breaks.  Unknown members and unknown assertion labels are allowed (they are
    covered by the signature) but not interpreted.
    """
    if not isinstance(obj, dict):
        raise _fail("claim.malformed", "claim must be an object")
    gen = obj.get("claim_generator_info")
    if (not isinstance(gen, list) or not gen or not isinstance(gen[0], dict)
            or not isinstance(gen[0].get("name"), str)):
        raise _fail("claim.malformed", "claim_generator_info must list {name, version}")
    instance_id = _text(obj, "instanceID", pattern=_INSTANCE_ID)
    media_type = _text(obj, "dc:format", pattern=_MEDIA_TYPE)
    title = _text(obj, "dc:title", required=False)
    signer = obj.get("signer")
    if not isinstance(signer, dict):
        raise _fail("claim.malformed", "'signer' must be {tenant, keyid}")
    tenant = _text(signer, "tenant", pattern=_TENANT)
    keyid = _text(signer, "keyid")
    created = _time(obj, "created", "claim.malformed")
    assertions = obj.get("assertions")
    if not isinstance(assertions, list) or len(assertions) > MAX_ASSERTIONS:
        raise _fail("claim.malformed", f"'assertions' must be an array of <= {MAX_ASSERTIONS}")
    binding: HardBinding | None = None
    actions: tuple[Mapping[str, Any], ...] | None = None
    dst: str | None = None
    ingredients: list[Mapping[str, Any]] = []
    for assertion in assertions:
        if not isinstance(assertion, dict) or set(assertion) != {"label", "data"}:
            raise _fail("claim.malformed", "each assertion is exactly {label, data}")
        label = assertion["label"]
        if not isinstance(label, str) or _LABEL.fullmatch(label) is None:
            raise _fail("claim.malformed", "assertion label has an invalid form")
        data = assertion["data"]
        if label in HARD_BINDING_LABELS:
            if binding is not None:
                raise _fail("assertion.multipleHardBindings", "more than one hard binding")
            if label not in (HASH_DATA_LABEL, CHUNKED_HASH_LABEL):
                raise _fail("algorithm.unsupported", f"hard binding {label} is not supported")
            binding = _read_binding(data, label)
        elif label == ACTIONS_LABEL:
            if actions is not None:
                raise _fail("assertion.action.malformed", "more than one c2pa.actions")
            actions, dst = _read_actions(data)
        elif label == INGREDIENT_LABEL:
            ingredients.append(_read_ingredient(data))
    if binding is None:
        raise _fail("claim.hardBindings.missing", "no hard binding (c2pa.hash.data)")
    if actions is None:
        raise _fail("assertion.action.malformed", "no c2pa.actions.v2 assertion")
    if actions[0]["action"] == "c2pa.opened" and not any(
            i["relationship"] == "parentOf" for i in ingredients):
        raise _fail("assertion.action.malformed", "c2pa.opened needs a parentOf ingredient")
    assert instance_id is not None and media_type is not None
    assert tenant is not None and keyid is not None
    return Claim(obj, instance_id, media_type, title, tenant, keyid, created, binding,
                 actions, dst, tuple(ingredients))
