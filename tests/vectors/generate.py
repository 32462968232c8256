#!/usr/bin/env python3
"""Generate the Sceau seal format v1 test vectors (docs/SPEC.md §9).

Usage::

    python tests/vectors/generate.py           # (re)write tests/vectors/*.json
    python tests/vectors/generate.py --check   # exit 1 if the files differ from a fresh run

Everything is fixed: Ed25519 seeds (derived from labels, see ``seed``), times, instance
IDs, content bytes.  Ed25519 signatures are deterministic (RFC 8032), so two runs write
byte-identical files.  THE KEYS ARE TEST VECTOR KEYS: their private seeds are published in
``keys.json``; never trust them for anything.

Each case states its expected status codes by hand.  After building a case, the generator
verifies it with :func:`sceau.verify_seal` and refuses to write anything if the reference
implementation disagrees, so the files are both hand-specified and machine-checked.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
from collections.abc import Callable
from copy import deepcopy
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sceau.canonical import canonicalize
from sceau.checkpoint import (
    Checkpoint,
    LogKey,
    LogSigner,
    NoteSignature,
)
from sceau.chunking import merkle_root
from sceau.claim import build_claim
from sceau.encoding import b64url_encode
from sceau.envelope import (
    CLAIM_PAYLOAD_TYPE,
    KEY_STATEMENT_PAYLOAD_TYPE,
    Envelope,
    Signature,
    pae,
)
from sceau.errors import KeyHistoryError
from sceau.keyhistory import (
    KEY_HISTORY_PAYLOAD_TYPE,
    HistoryHead,
    KeyStatement,
    TrustAnchor,
    sign_statement,
    statement_digest,
    verify_key_history,
)
from sceau.keyring import KeyRecord, KeyRing, KeyStatus
from sceau.local import LocalSigner
from sceau.logproof import LogProof, attach_log, seal_leaf_hash
from sceau.merkle import MemorySource, inclusion_proof, tree_root
from sceau.strictjson import loads
from sceau.timefmt import format_time, parse_time
from sceau.verify import ContentDigest, verify_seal

HERE = Path(__file__).resolve().parent
FORMAT = "sceau-test-vector/1"

# -- fixed inputs ------------------------------------------------------------------------

NEWS = "example-news"
AI = "example-ai"
CREATED = datetime(2026, 3, 14, 9, 26, 53, tzinfo=UTC)
NOW = datetime(2026, 3, 15, 0, 0, 0, tzinfo=UTC)
CONTENT = b"Sceau test vector content v1: stand-in bytes for a photograph.\n"
#: The AI video is given by digest only (a verifier that hashed a 3 GiB file).
VIDEO_SHA256 = hashlib.sha256(b"Sceau test vector content v1: stand-in for a video").digest()
VIDEO_SIZE = 3 * 1024**3

# Success codes, written out here rather than imported, so that "ok" in a vector is the
# generator's own statement (SPEC.md §7.3).
V = "claimSignature.validated"
T = "signingCredential.trusted"
S = "sceau.time.signerAsserted"
M = "assertion.dataHash.match"
N = "sceau.content.notChecked"
R = "sceau.key.retired"
L = "sceau.log.included"
SUCCESS = frozenset({V, T, S, M, N, R, L})


def seed(label: str) -> bytes:
    """The 32-byte Ed25519 seed of a TEST VECTOR key: SHA-256 of a fixed label."""
    return hashlib.sha256(f"sceau test vector key v1: {label}".encode()).digest()


@dataclass(frozen=True)
class VectorKey:
    """One test vector key: its label, signer and the record a verifier holds."""

    label: str
    tenant: str
    status: KeyStatus
    not_before: datetime | None = None
    not_after: datetime | None = None
    compromised_since: datetime | None = None
    in_ring: bool = True

    @property
    def signer(self) -> LocalSigner:
        return LocalSigner.from_seed(seed(self.label))

    @property
    def keyid(self) -> str:
        return self.signer.keyid

    def record(self) -> KeyRecord:
        return KeyRecord(self.signer.public_key, self.tenant, self.status, self.not_before,
                         self.not_after, self.compromised_since)


def _t(text: str) -> datetime:
    return parse_time(text)


KEYS: dict[str, VectorKey] = {k.label: k for k in (
    VectorKey("news-active", NEWS, KeyStatus.ACTIVE, not_before=_t("2025-01-01T00:00:00Z")),
    VectorKey("ai-active", AI, KeyStatus.ACTIVE),
    VectorKey("news-retired", NEWS, KeyStatus.RETIRED, not_before=_t("2025-01-01T00:00:00Z"),
            not_after=_t("2026-12-31T23:59:59Z")),
    VectorKey("news-revoked-early", NEWS, KeyStatus.REVOKED,
            compromised_since=_t("2026-03-01T00:00:00Z")),
    VectorKey("news-revoked-late", NEWS, KeyStatus.REVOKED,
            compromised_since=_t("2026-03-14T12:00:00Z")),
    VectorKey("news-revoked-no-time", NEWS, KeyStatus.REVOKED),
    VectorKey("news-expired", NEWS, KeyStatus.RETIRED, not_before=_t("2024-01-01T00:00:00Z"),
            not_after=_t("2026-01-31T23:59:59Z")),
    VectorKey("news-pending", NEWS, KeyStatus.PENDING),
    VectorKey("outsider", NEWS, KeyStatus.ACTIVE, in_ring=False),
)}


def ring_jwks() -> dict[str, Any]:
    """The verifier's ring in every vector: all keys but the outsider, public parts only."""
    return KeyRing(k.record() for k in KEYS.values() if k.in_ring).to_jwks()


# -- building blocks ----------------------------------------------------------------------


def iid(n: int) -> str:
    """A fixed XMP instance ID."""
    return f"xmp:iid:00000000-0000-4000-8000-{n:012d}"


def claim(n: int, key: str = "news-active", *, content: bytes = CONTENT,
          **kw: Any) -> dict[str, Any]:
    """A valid claim for ``content`` (overridable by keyword), signed-for by ``key``."""
    k = KEYS[key]
    args: dict[str, Any] = {
        "sha256": hashlib.sha256(content).digest(),
        "size": len(content),
        "media_type": "image/jpeg",
        "tenant": k.tenant,
        "keyid": k.keyid,
        "created": CREATED,
        "generator": ("sceau-test-vectors", "1"),
        "instance_id": iid(n),
    }
    args.update(kw)
    return build_claim(**args)


def sign(payload: bytes, key: str = "news-active",
         payload_type: str = CLAIM_PAYLOAD_TYPE) -> bytes:
    """Ed25519 signature by ``key`` over PAE(payload_type, payload) (SPEC.md §3.2)."""
    return KEYS[key].signer.sign(pae(payload_type, payload))


def envelope(payload: bytes, sigs: list[tuple[str, bytes]],
             payload_type: str = CLAIM_PAYLOAD_TYPE, **extra: Any) -> dict[str, Any]:
    """An envelope object (SPEC.md §3.1); ``sigs`` are (keyid, signature bytes)."""
    doc: dict[str, Any] = {
        "sceau": 1,
        "payloadType": payload_type,
        "payload": b64url_encode(payload),
        "signatures": [{"keyid": kid, "sig": b64url_encode(sig)} for kid, sig in sigs],
    }
    doc.update(extra)
    return doc


def sealed(payload: bytes, key: str = "news-active") -> dict[str, Any]:
    """The envelope of ``payload`` correctly signed by ``key`` under its own keyid."""
    return envelope(payload, [(KEYS[key].keyid, sign(payload, key))])


def text(doc: dict[str, Any]) -> str:
    """An envelope's canonical bytes, as text."""
    return canonicalize(doc).decode("utf-8")


def replace_once(haystack: str, old: str, new: str) -> str:
    """Replace the one occurrence of ``old``; fail loudly if it is absent or repeated."""
    if haystack.count(old) != 1:
        raise AssertionError(f"expected exactly one {old!r}")
    return haystack.replace(old, new)


def content_hex(data: bytes) -> dict[str, Any]:
    return {"hex": data.hex()}


def content_digest(digest: bytes, size: int) -> dict[str, Any]:
    return {"sha256": digest.hex(), "size": size}


# -- the cases ----------------------------------------------------------------------------


@dataclass
class Case:
    """One vector file: ``valid-<name>.json`` or ``invalid-<name>.json``."""

    name: str
    description: str
    seal: str
    codes: list[str]
    payload: bytes | None  # the signed payload when the envelope parses, for the seal id
    content: dict[str, Any] | None = field(default_factory=lambda: content_hex(CONTENT))
    trusted_tenants: list[str] | None = None
    now: datetime = NOW
    #: The verifier's transparency log keys (vkeys, SPEC.md §9); None: no log known.
    log_keys: list[str] | None = None
    require_log: bool = False
    #: Chunked bindings checked against content: the damaged chunks' indexes (§4.5).
    damaged: list[int] | None = None

    @property
    def ok(self) -> bool:
        return all(code in SUCCESS for code in self.codes)

    @property
    def filename(self) -> str:
        return f"{'valid' if self.ok else 'invalid'}-{self.name}.json"


def valid_cases() -> list[Case]:
    cases: list[Case] = []

    def add(name: str, description: str, obj: dict[str, Any], key: str = "news-active",
            codes: list[str] | None = None, **kw: Any) -> bytes:
        payload = canonicalize(obj)
        cases.append(Case(name, description, text(sealed(payload, key)),
                          codes or [V, T, S, M], payload, **kw))
        return payload

    capture = add(
        "capture",
        "A photograph captured by a camera (IPTC digitalCapture), sealed by an active "
        "newsroom key, with creator and publisher (schema.org CreativeWork). The content "
        "bytes are given and match the hard binding.",
        claim(1, title="harbour-at-dawn.jpg", author=["Jeanne Martin"],
              publisher="Example News"),
        trusted_tenants=[NEWS])
    add("ai-generated",
        "A video generated by an AI model: the first action c2pa.created carries "
        "digitalSourceType trainedAlgorithmicMedia and the model as softwareAgent. The "
        "verifier gives the content by digest and size only.",
        claim(2, "ai-active", sha256=VIDEO_SHA256, size=VIDEO_SIZE, media_type="video/mp4",
              digital_source_type="trainedAlgorithmicMedia",
              software_agent={"name": "Example Video Model", "version": "2.1"},
              title="harbour-timelapse.mp4", publisher="Example AI"),
        key="ai-active", content=content_digest(VIDEO_SHA256, VIDEO_SIZE),
        trusted_tenants=[AI, NEWS])
    capture_id = hashlib.sha256(capture).hexdigest()
    add("composite-ingredients",
        "A composite made of a sealed photograph and an AI-generated sky "
        "(compositeWithTrainedAlgorithmicMedia), with two componentOf ingredients, one "
        "naming the other seal by its seal_id, and c2pa.placed actions.",
        claim(3, digital_source_type="compositeWithTrainedAlgorithmicMedia",
              extra_actions=[{"action": "c2pa.placed", "when": "2026-03-14T09:20:00Z"},
                             {"action": "c2pa.placed", "when": "2026-03-14T09:21:00Z",
                              "digitalSourceType":
                                  "http://cv.iptc.org/newscodes/digitalsourcetype/"
                                  "trainedAlgorithmicMedia"}],
              ingredients=[{"relationship": "componentOf", "dc:title": "harbour-at-dawn.jpg",
                            "dc:format": "image/jpeg", "seal_id": capture_id},
                           {"relationship": "componentOf", "dc:title": "sky.png",
                            "dc:format": "image/png"}],
              title="harbour-composite.jpg"))
    add("opened-parent",
        "An edit of an earlier sealed photograph: the first action is c2pa.opened (no "
        "digitalSourceType needed) with a parentOf ingredient, then c2pa.cropped and "
        "c2pa.color_adjustments.",
        claim(4, first_action="c2pa.opened", digital_source_type=None,
              extra_actions=[{"action": "c2pa.cropped"},
                             {"action": "c2pa.color_adjustments",
                              "softwareAgent": {"name": "Example Editor", "version": "7"}}],
              ingredients=[{"relationship": "parentOf", "dc:title": "harbour-at-dawn.jpg",
                            "dc:format": "image/jpeg", "seal_id": capture_id}]))
    extended = claim(5)
    extended["com.example.workflow"] = {"desk": "photo", "story": 4821, "embargo": None,
                                        "tags": ["port", "morning"]}
    extended["assertions"].append({"label": "com.example.rights",
                                   "data": {"licence": "editorial-only", "until": None}})
    add("unknown-members",
        "A claim with an unknown top-level member and an assertion whose label this "
        "version does not know. Both are allowed, kept, not interpreted, and covered by "
        "the signature like everything else in the payload.", extended)
    add("non-ascii-title",
        "A title with accented Latin, CJK and an emoji (outside the BMP). The payload "
        "holds them as raw UTF-8, never as \\u escapes (RFC 8785).",
        claim(6, title="Manif à Paris, été — 東京の雨 🌧️"))
    astral = claim(7)
    astral["com.example.labels"] = {"\U0001F600": "grinning face (U+1F600)",
                                    "\ufb33": "hebrew dalet with dagesh (U+FB33)",
                                    "\u20ac": "euro sign (U+20AC)", "z": "latin z",
                                    "\u00e9": "e acute (U+00E9)"}
    payload = add(
        "astral-key-order",
        "Object member names above U+FFFF: RFC 8785 sorts names by UTF-16 code units, so "
        "U+1F600 (D83D DE00) sorts before U+FB33, unlike a code-point sort. The order is "
        "part of the signed bytes.", astral)
    by_code_point = json.dumps(astral, ensure_ascii=False, separators=(",", ":"),
                               sort_keys=True).encode()
    assert payload != by_code_point, "the astral case must depend on UTF-16 ordering"
    add("retired-key",
        "Sealed by a key that is now retired, at a time inside its validity window: the "
        "seal stays valid and the verdict says the key is retired (sceau.key.retired).",
        claim(8, "news-retired"), key="news-retired", codes=[V, T, S, R, M])
    add("revoked-after-seal",
        "Sealed by a key revoked later with compromised_since 2026-03-14T12:00:00Z, after "
        "the seal's time 09:26:53Z: what it signed before the compromise stays valid; the "
        "key is reported as retired.",
        claim(9, "news-revoked-late"), key="news-revoked-late", codes=[V, T, S, R, M])
    add("no-content",
        "A valid seal checked without content: ok is true, but integrity is not_checked "
        "(sceau.content.notChecked), which a reader must not take for a match.",
        claim(10), codes=[V, T, S, N], content=None)
    add("empty-content",
        "Zero-byte content: SHA-256 of the empty string and size 0.",
        claim(11, content=b""), content=content_hex(b""))

    reserved = claim(12)
    payload = canonicalize(reserved)
    doc = sealed(payload)
    doc["log"] = {"reserved": "transparency log inclusion proof and checkpoint (SPEC.md §6.1)"}
    doc["keyHistory"] = [{"reserved": "key rotation statements (SPEC.md §6.2)"}]
    cases.append(Case(
        "reserved-members",
        "An envelope with the reserved members 'log' and 'keyHistory'. They are outside "
        "the signature; a v1 verifier accepts any profile JSON value there and does not "
        "let it change the verdict.", text(doc), [V, T, S, M], payload))

    payload = canonicalize(claim(13))
    doc = sealed(payload)
    loose = ('{\n  "signatures": [ {"sig": "' + doc["signatures"][0]["sig"] + '",\n'
             '    "keyid": "' + doc["signatures"][0]["keyid"] + '"} ],\n'
             '  "payload": "' + doc["payload"] + '",\n  "sceau": 1,\n'
             '  "payloadType": "' + CLAIM_PAYLOAD_TYPE + '"\n}\n')
    cases.append(Case(
        "envelope-not-canonical",
        "The envelope is not in canonical form (whitespace, member order). The envelope "
        "is not signed; readers accept any profile JSON for it. Writers still emit "
        "canonical bytes (SPEC.md §3.1). Only the payload must be canonical.",
        loose, [V, T, S, M], payload))

    add("clock-skew-boundary",
        "The signer's time is exactly 5 minutes after the verifier's 'now': the allowed "
        "clock skew is inclusive, so this is not in the future.",
        claim(14), now=CREATED - timedelta(minutes=5))
    return cases


def _mutated(n: int, change: Callable[[dict[str, Any]], None], key: str = "news-active",
             **kw: Any) -> bytes:
    """Canonical payload of a valid claim after ``change`` was applied to it."""
    obj = deepcopy(claim(n, key, **kw))
    change(obj)
    return canonicalize(obj)


def _binding(obj: dict[str, Any]) -> dict[str, Any]:
    (data,) = [a["data"] for a in obj["assertions"] if a["label"] == "c2pa.hash.data"]
    return data


def _binding_assertion(obj: dict[str, Any]) -> dict[str, Any]:
    return next(a for a in obj["assertions"] if a["label"] == "c2pa.hash.data")


def _actions(obj: dict[str, Any]) -> list[dict[str, Any]]:
    (data,) = [a["data"] for a in obj["assertions"] if a["label"] == "c2pa.actions.v2"]
    return data["actions"]


def invalid_cases() -> list[Case]:
    cases: list[Case] = []
    base = canonicalize(claim(100))
    good = sealed(base)
    good_text = text(good)
    keyid = KEYS["news-active"].keyid
    sig_b64 = good["signatures"][0]["sig"]
    payload_b64 = good["payload"]

    def bad_envelope(name: str, description: str, seal: str) -> None:
        cases.append(Case(f"envelope-{name}", description, seal,
                          ["sceau.envelope.malformed"], None))

    # §3.1 / §2: the envelope cannot be read.
    bad_envelope("not-json", "The seal is not JSON at all.", "this is not a seal")
    bad_envelope("empty", "The seal is empty.", "")
    bad_envelope("top-level-array", "The top level is an array, not an object.",
                 "[" + good_text + "]")
    bad_envelope("bom", "A UTF-8 byte order mark before the envelope (RFC 8259 §8.1 "
                 "forbids emitting one; the profile rejects it).", "\ufeff" + good_text)
    bad_envelope("duplicate-key",
                 "The member 'payloadType' appears twice (with the same value); the "
                 "profile rejects duplicate names (RFC 7493 §2.3).",
                 replace_once(good_text, '"payloadType":',
                              f'"payloadType":"{CLAIM_PAYLOAD_TYPE}","payloadType":'))
    bad_envelope("float-version", "'sceau' is 1.0: a number with a fraction is not in the "
                 "profile, even when its value is integral.",
                 replace_once(good_text, '"sceau":1', '"sceau":1.0'))
    bad_envelope("exponent-version", "'sceau' is 1e0: exponents are not in the profile.",
                 replace_once(good_text, '"sceau":1', '"sceau":1e0'))
    bad_envelope("wrong-version", "'sceau' is 2: this is a version 1 verifier.",
                 replace_once(good_text, '"sceau":1', '"sceau":2'))
    bad_envelope("version-true", "'sceau' is true, not the integer 1.",
                 replace_once(good_text, '"sceau":1', '"sceau":true'))
    bad_envelope("unknown-member", "An envelope member this version does not define.",
                 text({**good, "comment": "hello"}))
    bad_envelope("missing-payload", "The envelope has no 'payload' member.",
                 text({k: v for k, v in good.items() if k != "payload"}))
    padded = base64.urlsafe_b64encode(base).decode()
    assert padded.endswith("="), "pick a payload whose length is not a multiple of 3"
    bad_envelope("payload-padded", "The payload's base64url has '=' padding (RFC 4648 §3.2 "
                 "padding is not used in v1).", text({**good, "payload": padded}))
    standard = base64.b64encode(sign(base)).decode().rstrip("=")
    assert standard != sig_b64, "the signature must contain a '+' or '/' in base64"
    bad_envelope("sig-standard-alphabet",
                 "The signature uses the standard base64 alphabet ('+', '/') instead of "
                 "base64url (RFC 4648 §5).",
                 text({**good, "signatures": [{"keyid": keyid, "sig": standard}]}))
    bad_envelope("payload-line-break",
                 "A line break inside the payload's base64url (MIME style); no whitespace "
                 "is allowed.",
                 text({**good, "payload": payload_b64[:76] + "\n" + payload_b64[76:]}))
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(sig_b64[-1])
    assert last & 0b1111 == 0
    non_canonical_sig = sig_b64[:-1] + alphabet[last | 1]
    bad_envelope("sig-trailing-bits",
                 "The signature's last base64url character has non-zero unused bits: it "
                 "decodes to the same 64 bytes but is not the canonical encoding.",
                 text({**good, "signatures": [{"keyid": keyid, "sig": non_canonical_sig}]}))
    bad_envelope("signature-extra-member",
                 "A signature object with a member besides keyid and sig.",
                 text({**good, "signatures": [{"keyid": keyid, "sig": sig_b64,
                                               "alg": "EdDSA"}]}))

    # §3.3 and §7.1 steps 2-5: the signature.
    statement = canonicalize({"note": "a key statement, not a claim"})
    cases.append(Case(
        "payload-type-unexpected",
        "A correctly signed envelope whose payloadType is the reserved key-statement "
        "type: a claim verifier refuses it before checking anything else (domain "
        "separation, SPEC.md §3.3).",
        text(envelope(statement,
                      [(keyid, sign(statement, payload_type=KEY_STATEMENT_PAYLOAD_TYPE))],
                      payload_type=KEY_STATEMENT_PAYLOAD_TYPE)),
        ["sceau.payloadType.unexpected"], statement))
    cases.append(Case("no-signatures", "The 'signatures' array is empty.",
                      text(envelope(base, [])), ["claimSignature.missing"], base))
    cases.append(Case(
        "two-signatures",
        "Two valid signatures (the named key and another ring key): v1 seals carry "
        "exactly one.",
        text(envelope(base, [(keyid, sign(base)),
                             (KEYS["ai-active"].keyid, sign(base, "ai-active"))])),
        ["claimSignature.malformed"], base))
    sig = sign(base)
    cases.append(Case("signature-63-bytes", "The signature is 63 bytes (the last dropped).",
                      text(envelope(base, [(keyid, sig[:63])])),
                      ["claimSignature.malformed"], base))
    cases.append(Case("signature-65-bytes", "The signature is 65 bytes (a zero appended).",
                      text(envelope(base, [(keyid, sig + b"\0")])),
                      ["claimSignature.malformed"], base))
    outsider_payload = _mutated(101, lambda o: None, "outsider")
    cases.append(Case(
        "unknown-keyid",
        "Signed by a key that is not in the verifier's ring (the claim names that key). "
        "The verifier never takes a public key from the seal.",
        text(sealed(outsider_payload, "outsider")), ["signingCredential.unknown"],
        outsider_payload))
    flipped = bytearray(sig)
    flipped[10] ^= 0x01
    cases.append(Case("signature-flipped-bit", "One bit of the signature flipped (byte 10).",
                      text(envelope(base, [(keyid, bytes(flipped))])),
                      ["claimSignature.mismatch"], base))
    raw_sig = KEYS["news-active"].signer.sign(base)
    cases.append(Case(
        "signature-without-pae",
        "The signature was made over the raw payload bytes instead of "
        "PAE(payloadType, payload).",
        text(envelope(base, [(keyid, raw_sig)])), ["claimSignature.mismatch"], base))
    dsse = (b"DSSEv1 " + str(len(CLAIM_PAYLOAD_TYPE)).encode() + b" "
            + CLAIM_PAYLOAD_TYPE.encode() + b" " + str(len(base)).encode() + b" " + base)
    cases.append(Case(
        "signature-dsse-prefix",
        "The signature was made over DSSE's PAE (prefix 'DSSEv1') instead of Sceau's "
        "('SCEAU-SIG-V1'): a DSSE signature never passes for a Sceau one.",
        text(envelope(base, [(keyid, KEYS["news-active"].signer.sign(dsse))])),
        ["claimSignature.mismatch"], base))
    cases.append(Case(
        "signature-wrong-key",
        "Signed by a key outside the ring but listed under the keyid of an active ring "
        "key (whose tenant and keyid the claim names).",
        text(envelope(base, [(keyid, sign(base, "outsider"))])),
        ["claimSignature.mismatch"], base))
    tampered = _mutated(100, lambda o: _binding(o).update(size=len(CONTENT) + 1))
    cases.append(Case(
        "payload-tampered",
        "The payload was changed after signing (the bound size); the signature is the one "
        "made over the original payload.",
        text(envelope(tampered, [(keyid, sig)])), ["claimSignature.mismatch"], tampered))

    # §7.1 step 6: the signed payload itself.
    def signed_payload(name: str, description: str, payload: bytes, code: str,
                       key: str = "news-active") -> None:
        cases.append(Case(name, description, text(sealed(payload, key)), [V, code], payload))

    base_text = base.decode("utf-8")
    signed_payload("claim-not-canonical",
                   "A correctly signed claim that is valid JSON but not in RFC 8785 form "
                   "(indented).",
                   json.dumps(json.loads(base), indent=2, sort_keys=True,
                              ensure_ascii=False).encode(), "sceau.claim.notCanonical")
    signed_payload("claim-member-order",
                   "A correctly signed claim with its members in insertion order, not "
                   "sorted.",
                   json.dumps(claim(102), separators=(",", ":"), ensure_ascii=False).encode(),
                   "sceau.claim.notCanonical")
    escaped = canonicalize(claim(103, title="été")).decode()
    signed_payload("claim-escaped-non-ascii",
                   "A correctly signed claim that writes a non-ASCII character as a \\u "
                   "escape; RFC 8785 writes it as raw UTF-8.",
                   replace_once(escaped, '"dc:title":"été"',
                                '"dc:title":"\\u00e9t\\u00e9"').encode(),
                   "sceau.claim.notCanonical")
    signed_payload("claim-duplicate-key",
                   "A correctly signed claim with a duplicated member name.",
                   replace_once(base_text, '"dc:format":"image/jpeg"',
                                '"dc:format":"image/jpeg","dc:format":"image/png"').encode(),
                   "claim.malformed")
    signed_payload("claim-float",
                   "A correctly signed claim with a number written with a fraction "
                   "(size 63.0).",
                   replace_once(base_text, f'"size":{len(CONTENT)}',
                                f'"size":{len(CONTENT)}.0').encode(), "claim.malformed")
    signed_payload("claim-integer-too-large",
                   "A correctly signed claim with an integer beyond 2^53-1.",
                   replace_once(base_text, f'"size":{len(CONTENT)}',
                                f'"size":{2**53}').encode(), "claim.malformed")
    surrogate = canonicalize(claim(104, title="X")).decode()
    signed_payload("claim-lone-surrogate",
                   "A correctly signed claim whose title is the escape \\ud800, a lone "
                   "surrogate (RFC 7493 §2.1).",
                   replace_once(surrogate, '"dc:title":"X"',
                                '"dc:title":"\\ud800"').encode(), "claim.malformed")
    signed_payload("claim-not-object", "A correctly signed payload that is an array.",
                   b"[]", "claim.malformed")
    signed_payload("claim-bad-instance-id",
                   "A correctly signed claim whose instanceID is not xmp:iid:<uuid>.",
                   _mutated(105, lambda o: o.update(instanceID="photo-1")), "claim.malformed")
    signed_payload("claim-null-title",
                   "A correctly signed claim with \"dc:title\": null; an optional member "
                   "is absent or a non-empty string, never null.",
                   _mutated(106, lambda o: o.update({"dc:title": None})), "claim.malformed")
    signed_payload("claim-bad-time",
                   "A correctly signed claim whose 'created' has fractional seconds.",
                   _mutated(107, lambda o: o.update(created="2026-03-14T09:26:53.5Z")),
                   "claim.malformed")
    signed_payload("claim-missing-hard-binding",
                   "A correctly signed claim with no c2pa.hash.data assertion.",
                   _mutated(108, lambda o: o.update(assertions=[
                       a for a in o["assertions"] if a["label"] != "c2pa.hash.data"])),
                   "claim.hardBindings.missing")
    signed_payload("claim-two-hard-bindings",
                   "A correctly signed claim with two c2pa.hash.data assertions.",
                   _mutated(109, lambda o: o["assertions"].append(deepcopy(
                       _binding_assertion(o)))),
                   "assertion.multipleHardBindings")
    signed_payload("claim-hash-alg-unsupported",
                   "A correctly signed claim whose hard binding uses alg sha3-256.",
                   _mutated(110, lambda o: _binding(o).update(alg="sha3-256")),
                   "algorithm.unsupported")
    signed_payload("claim-bmff-binding",
                   "A correctly signed claim whose hard binding is c2pa.hash.bmff.v3, which "
                   "v1 does not support (reserved).",
                   _mutated(111, lambda o: o["assertions"].__setitem__(1, {
                       "label": "c2pa.hash.bmff.v3", "data": _binding(o)})),
                   "algorithm.unsupported")
    signed_payload("claim-hash-uppercase-hex",
                   "A correctly signed claim whose hash is in uppercase hex.",
                   _mutated(112, lambda o: _binding(o).update(hash=_binding(o)["hash"].upper())),
                   "assertion.dataHash.malformed")
    signed_payload("claim-hash-short",
                   "A correctly signed claim whose hash has 62 hex digits.",
                   _mutated(113, lambda o: _binding(o).update(hash=_binding(o)["hash"][:62])),
                   "assertion.dataHash.malformed")
    signed_payload("claim-exclusions-overlap",
                   "A correctly signed claim whose exclusion ranges overlap.",
                   _mutated(114, lambda o: _binding(o).update(exclusions=[
                       {"start": 2, "length": 10}, {"start": 8, "length": 4}])),
                   "assertion.dataHash.malformed")
    signed_payload("claim-actions-missing",
                   "A correctly signed claim with no c2pa.actions.v2 assertion.",
                   _mutated(115, lambda o: o.update(assertions=[
                       a for a in o["assertions"] if a["label"] != "c2pa.actions.v2"])),
                   "assertion.action.malformed")
    signed_payload("claim-first-action-edited",
                   "A correctly signed claim whose first action is c2pa.edited, not "
                   "c2pa.created or c2pa.opened.",
                   _mutated(116, lambda o: _actions(o)[0].update(action="c2pa.edited")),
                   "assertion.action.malformed")
    signed_payload("claim-created-without-source-type",
                   "A correctly signed claim whose c2pa.created action has no "
                   "digitalSourceType.",
                   _mutated(117, lambda o: _actions(o)[0].pop("digitalSourceType")),
                   "assertion.action.malformed")
    signed_payload("claim-created-null-source-type",
                   "A correctly signed claim whose c2pa.created action has "
                   "\"digitalSourceType\": null.",
                   _mutated(118, lambda o: _actions(o)[0].update(digitalSourceType=None)),
                   "assertion.action.malformed")
    signed_payload("claim-opened-without-parent",
                   "A correctly signed claim whose first action is c2pa.opened but has no "
                   "parentOf ingredient (only a componentOf one).",
                   canonicalize(claim(119, first_action="c2pa.opened", digital_source_type=None,
                                      ingredients=[{"relationship": "parentOf"}]))
                   .replace(b'"relationship":"parentOf"', b'"relationship":"componentOf"'),
                   "assertion.action.malformed")
    signed_payload("claim-ingredient-relationship",
                   "A correctly signed claim with an ingredient whose relationship is not "
                   "parentOf, componentOf or inputTo.",
                   _mutated(120, lambda o: o["assertions"].append({
                       "label": "c2pa.ingredient.v3",
                       "data": {"relationship": "siblingOf", "dc:title": "x.jpg"}})),
                   "assertion.ingredient.malformed")
    signed_payload("claim-signer-keyid-mismatch",
                   "Correctly signed by the active newsroom key, but the claim's "
                   "signer.keyid names another key of the same tenant.",
                   _mutated(121, lambda o: o["signer"].update(
                       keyid=KEYS["news-retired"].keyid)), "sceau.claim.signerMismatch")
    signed_payload("claim-tenant-mismatch",
                   "Correctly signed by the active newsroom key, but the claim's "
                   "signer.tenant names the AI vendor.",
                   _mutated(122, lambda o: o["signer"].update(tenant=AI)),
                   "sceau.claim.signerMismatch")

    # §7.1 step 8: trust, time and key status; step 9: content.
    def key_case(name: str, description: str, key: str, code: str) -> None:
        payload = canonicalize(claim(130 + len(cases), key))
        cases.append(Case(name, description, text(sealed(payload, key)), [V, T, S, code, M],
                          payload))

    key_case("key-revoked-before-seal",
             "Sealed by a key revoked with compromised_since 2026-03-01, before the seal's "
             "time: anything it signed from then on is rejected.",
             "news-revoked-early", "signingCredential.revoked")
    key_case("key-revoked-no-time",
             "Sealed by a key revoked with no compromise time: nothing it signed is "
             "trusted.", "news-revoked-no-time", "signingCredential.revoked")
    key_case("key-expired",
             "Sealed at a time after the key's validity window (not_after "
             "2026-01-31T23:59:59Z).", "news-expired", "signingCredential.expired")
    key_case("key-pending",
             "Sealed by a key still pending (published but not yet active).",
             "news-pending", "signingCredential.invalid")
    payload = canonicalize(claim(150))
    cases.append(Case(
        "untrusted-tenant",
        "A valid seal by a tenant that is not on the verifier's trust list "
        "(trusted_tenants = [example-ai]).",
        text(sealed(payload)), [V, "signingCredential.untrusted", S, M], payload,
        trusted_tenants=[AI]))
    payload = canonicalize(claim(151, created=NOW + timedelta(minutes=5, seconds=1)))
    cases.append(Case(
        "time-in-future",
        "The signer's time is 5 minutes and 1 second after the verifier's 'now', beyond "
        "the allowed clock skew.",
        text(sealed(payload)), [V, T, S, "sceau.time.inFuture", M], payload))
    payload = canonicalize(claim(152))
    altered = CONTENT[:-2] + b"!\n"
    cases.append(Case(
        "content-hash-mismatch",
        "A valid seal; the content has one byte changed (same size).",
        text(sealed(payload)), [V, T, S, "assertion.dataHash.mismatch"], payload,
        content=content_hex(altered)))
    cases.append(Case(
        "content-size-mismatch",
        "A valid seal; the content digest matches but the size given is one more than "
        "the bound size.",
        text(sealed(payload)), [V, T, S, "assertion.dataHash.mismatch"], payload,
        content=content_digest(hashlib.sha256(CONTENT).digest(), len(CONTENT) + 1)))
    return cases


# -- transparency log (SPEC.md §6.1) -------------------------------------------------------

LOG_ORIGIN = "log.example/sceau-test-vectors"
#: The log's signed time of the vectors' checkpoints: 37 s after the signer's time.
LOGGED = CREATED + timedelta(seconds=37)


def log_signer(label: str = "log") -> LogSigner:
    """A TEST VECTOR log key (seed from its label, like the signing keys)."""
    signer = LocalSigner.from_seed(seed(label))
    return LogSigner(LOG_ORIGIN, signer.public_key, signer.sign)


def filler_id(n: int) -> bytes:
    """The seal id of another seal in the vectors' logs (only its leaf matters)."""
    return hashlib.sha256(f"sceau test vector log filler {n}".encode()).digest()


def sign_note(body: str, signer: LogSigner, when: datetime) -> list[str]:
    """The log's two signature lines over the note text ``body`` (SPEC.md §6.1), spelled
    out here from the spec rather than taken from sceau.checkpoint: a plain Ed25519
    signature (type 0x01) over ``body``, and a timestamped one (type 0x04, C2SP
    tlog-cosignature/v1) over ``"cosignature/v1\ntime <t>\n" + body``."""
    key, t = signer.key, int(when.timestamp())
    plain = signer.sign(body.encode())
    stamped = signer.sign(f"cosignature/v1\ntime {t}\n{body}".encode())
    return [NoteSignature(key.name, key.key_id, plain).line(),
            NoteSignature(key.name, key.cosignature_key_id,
                          t.to_bytes(8, "big") + stamped).line()]


def logged(doc: dict[str, Any], *, index: int = 5, size: int = 7, when: datetime = LOGGED,
           signer: str = "log", proof_for: bytes | None = None, extension: str = "",
           tamper: Callable[[str], str] | None = None,
           signatures: Callable[[list[str]], list[str]] | None = None) -> dict[str, Any]:
    """``doc`` (an envelope object) with a ``log`` member: its seal at ``index`` in a log
    of ``size`` fillers, with a checkpoint signed by ``signer`` at ``when``.

    ``proof_for`` proves another seal id (at the same index) instead; ``extension`` is an
    extension line signed with the checkpoint; ``tamper`` rewrites the note text after
    signing and ``signatures`` the list of signature lines."""
    sid = hashlib.sha256(base64.urlsafe_b64decode(doc["payload"] + "==")).digest()
    ids = [filler_id(i) for i in range(size)]
    ids[index] = proof_for or sid
    leaves = [seal_leaf_hash(i) for i in ids]
    body = Checkpoint(LOG_ORIGIN, size, tree_root(leaves)).body() + extension
    lines = sign_note(body, log_signer(signer), when)
    if tamper is not None:
        body = tamper(body)
    if signatures is not None:
        lines = signatures(lines)
    note = body + "\n" + "".join(line + "\n" for line in lines)
    proof = LogProof(index, tuple(inclusion_proof(index, size,
                                                  MemorySource.from_leaves(leaves))), note)
    return {**doc, "log": proof.to_json()}


def log_cases() -> list[Case]:
    cases: list[Case] = []
    keys = [log_signer().key.vkey()]

    def add(name: str, description: str, doc: dict[str, Any], payload: bytes,
            codes: list[str], *, require: bool = True, log_keys: list[str] | None = keys,
            **kw: Any) -> None:
        cases.append(Case(name, description, text(doc), codes, payload, log_keys=log_keys,
                          require_log=require, **kw))

    payload = canonicalize(claim(200))
    doc = logged(sealed(payload))
    assert attach_log(canonicalize(sealed(payload)),
                      LogProof.from_json(doc["log"])) == canonicalize(doc)
    add("logged",
        "A seal with its transparency log proof (SPEC.md §6.1): leaf 5 of a log of 7 "
        "entries, and a checkpoint signed by the log key at 2026-03-14T09:27:30Z. The "
        "verifier knows the log key and requires log inclusion: the log's time is the "
        "seal's trusted time (sceau.log.included, no sceau.time.signerAsserted).",
        doc, payload, [V, L, T, M])
    add("logged-log-ignored",
        "The same logged seal, verified without any log key: the 'log' member is ignored "
        "and the time is the signer's, as for a v1.0 verifier.",
        doc, payload, [V, T, S, M], require=False, log_keys=None)
    payload = canonicalize(claim(201))
    add("not-logged-optional",
        "A seal without a 'log' member; the verifier knows the log but does not require "
        "inclusion: the seal verifies on the signer's time.",
        sealed(payload), payload, [V, T, S, M], require=False)
    payload = canonicalize(claim(202))
    add("logged-first-entry",
        "The only entry of a log of size 1: the inclusion proof is empty and the root is "
        "the leaf hash itself.",
        logged(sealed(payload), index=0, size=1), payload, [V, L, T, M])
    payload = canonicalize(claim(203))
    add("logged-last-of-many",
        "The last entry (index 12) of a log of 13 entries: its proof's first hash is the "
        "root of the complete subtree of entries 0-7 folded with 8-11 (RFC 9162 "
        "§2.1.3).",
        logged(sealed(payload), index=12, size=13), payload, [V, L, T, M])
    payload = canonicalize(claim(204, "news-revoked-late"))
    add("logged-before-revocation",
        "Sealed by a key later revoked (compromised_since 2026-03-14T12:00:00Z) and logged "
        "at 09:27:30Z, before the compromise: the key status is taken at the log's time, "
        "so the seal stays valid and the key reads as retired.",
        logged(sealed(payload, "news-revoked-late")), payload, [V, L, T, R, M])
    payload = canonicalize(claim(205))
    witness = LocalSigner.from_seed(seed("witness"))
    witness_line = NoteSignature("witness.example/w1", bytes.fromhex("0badc0de"),
                                 b"\x00" * 8 + witness.sign(b"not checked")).line()
    add("logged-unknown-witness",
        "The checkpoint also carries a cosignature line by a witness the verifier does not "
        "know: C2SP signed-note says signatures by unknown keys are ignored.",
        logged(sealed(payload), signatures=lambda lines: [*lines, witness_line]),
        payload, [V, L, T, M])

    payload = canonicalize(claim(210))
    add("log-missing",
        "The verifier requires log inclusion and the seal has no 'log' member, as a seal "
        "made with a stolen key outside the signing service would have none.",
        sealed(payload), payload, [V, "sceau.log.missing", T, S, M])
    payload = canonicalize(claim(211, "news-revoked-early",
                                 created=parse_time("2026-02-20T10:00:00Z")))
    add("log-missing-backdated",
        "A thief of the key revoked with compromised_since 2026-03-01 backdates a seal to "
        "2026-02-20 and signs it outside the service. On the signer's time the key reads "
        "as retired, but the verifier requires log inclusion and there is no log entry.",
        sealed(payload, "news-revoked-early"), payload,
        [V, "sceau.log.missing", T, S, R, M])
    payload = canonicalize(claim(212, "news-revoked-late"))
    add("log-revoked-at-log-time",
        "Sealed by the key compromised since 2026-03-14T12:00:00Z with a signer's time "
        "before it (09:26:53Z), but logged at 13:00:00Z: the log's time decides, and the "
        "key was revoked then.",
        logged(sealed(payload, "news-revoked-late"),
               when=parse_time("2026-03-14T13:00:00Z")),
        payload, [V, L, T, "signingCredential.revoked", M])
    payload = canonicalize(claim(213, created=LOGGED + timedelta(minutes=5, seconds=1)))
    add("log-created-after-log",
        "The signer's time is 5 minutes and 1 second after the log's signed time: a seal "
        "cannot be made after it was logged (beyond the 5-minute clock skew).",
        logged(sealed(payload)), payload, [V, L, T, "sceau.time.createdAfterLog", M])
    payload = canonicalize(claim(214))
    add("log-time-in-future",
        "The log's signed time is 5 minutes and 1 second after the verifier's 'now'.",
        logged(sealed(payload)), payload, [V, L, T, "sceau.time.inFuture", M],
        now=LOGGED - timedelta(minutes=5, seconds=1))
    payload = canonicalize(claim(215))
    doc = logged(sealed(payload))
    doc["log"]["proof"][1] = b64url_encode(bytes(32))
    add("log-proof-altered",
        "The second hash of the inclusion proof is replaced by 32 zero bytes.",
        doc, payload, [V, "sceau.log.proofInvalid", T, S, M])
    doc = logged(sealed(payload))
    doc["log"]["index"] = 4
    add("log-index-wrong",
        "The inclusion proof is right for index 5, the member says index 4.",
        doc, payload, [V, "sceau.log.proofInvalid", T, S, M])
    doc = logged(sealed(payload))
    doc["log"]["index"] = 7
    add("log-index-beyond-size",
        "The index (7) is not below the checkpoint's tree size (7).",
        doc, payload, [V, "sceau.log.proofInvalid", T, S, M])
    payload = canonicalize(claim(216))
    add("log-proof-of-other-seal",
        "A valid log member copied from another seal: the proof leads to the root from "
        "the other seal's leaf, not from this one's (the leaf binds the seal id).",
        logged(sealed(payload), proof_for=filler_id(99)), payload,
        [V, "sceau.log.proofInvalid", T, S, M])
    payload = canonicalize(claim(217))
    add("log-checkpoint-tampered",
        "The checkpoint's tree size was changed after signing: the log's signatures no "
        "longer verify.",
        logged(sealed(payload), tamper=lambda t: t.replace("\n7\n", "\n8\n")), payload,
        [V, "sceau.log.checkpointInvalid", T, S, M])
    add("log-checkpoint-no-timestamp",
        "The checkpoint carries only the log's plain Ed25519 signature (type 0x01), not "
        "its timestamped one (0x04): there is no trusted time.",
        logged(sealed(payload), signatures=lambda lines: lines[:1]), payload,
        [V, "sceau.log.checkpointInvalid", T, S, M])
    add("log-checkpoint-extension-line",
        "A checkpoint with an extension line after the root, validly signed by the log "
        "key: Sceau checkpoints have exactly three lines.",
        logged(sealed(payload), extension="sceau-extension\n"),
        payload, [V, "sceau.log.checkpointInvalid", T, S, M])
    payload = canonicalize(claim(218))
    add("log-unknown-key",
        "The checkpoint is signed by another key under the same origin (the key 'other-"
        "log', not in the verifier's log keys).",
        logged(sealed(payload), signer="other-log"), payload,
        [V, "sceau.log.unknownKey", T, S, M])
    doc = sealed(payload)
    doc["log"] = {"reserved": "transparency log inclusion proof and checkpoint (SPEC.md "
                              "§6.1)"}
    add("log-malformed",
        "A 'log' member that is not {checkpoint, index, proof}. A verifier without log "
        "keys ignores it (valid-reserved-members); one with log keys reads it and fails.",
        doc, payload, [V, "sceau.log.malformed", T, S, M], require=False)
    return cases


# -- output -------------------------------------------------------------------------------


# -- embedded seals and the chunked binding (SPEC.md §4.4, §4.5, §6.3) ------------------------

#: Stand-in content for the chunked vectors: 3000 bytes (chunks of 1024, 1024 and 952).
CHUNKED_CONTENT = b"".join(hashlib.sha256(b"sceau chunked vector %d" % i).digest()
                           for i in range(94))[:3000]
#: Where the stand-in "sealed files" of these vectors hold their seal region.
REGION_START, REGION_LENGTH = 16, 64


def chunk_leaves(data: bytes, size: int) -> list[bytes]:
    """Leaf hashes of ``data`` cut into ``size``-byte chunks: SHA-256(0x00 || chunk)."""
    return [hashlib.sha256(b"\x00" + data[i:i + size]).digest()
            for i in range(0, len(data), size)]


def with_region(content: bytes) -> bytes:
    """``content`` as a sealed file holds it: a region (here 0xA5 bytes standing for the
    container's seal segment) inserted at REGION_START."""
    return content[:REGION_START] + b"\xa5" * REGION_LENGTH + content[REGION_START:]


def chunked_claim(n: int, content: bytes, **kw: Any) -> dict[str, Any]:
    """A claim whose hard binding is the chunked binding of ``content`` (1 KiB chunks)."""
    leaves = chunk_leaves(content, 1024)
    kw.setdefault("size", len(content))
    return claim(n, sha256=merkle_root(leaves), chunk_size=1024, chunks=leaves,
                 media_type="video/mp4", **kw)


def media_cases() -> list[Case]:
    cases: list[Case] = []
    region = [{"start": REGION_START, "length": REGION_LENGTH}]
    excl = [(REGION_START, REGION_LENGTH)]
    sealed_file = with_region(CONTENT)

    payload = canonicalize(claim(300, size=len(sealed_file), exclusions=excl))
    cases.append(Case(
        "embedded-exclusions",
        "A seal embedded in its file (SPEC.md §6.3): the claim's c2pa.hash.data excludes "
        "the 64-byte region at offset 16 that holds the seal, and its size is the whole "
        "file's. The verifier found the seal there and hashed the file without that "
        "range: the digest is the SHA-256 of the file before it was sealed.",
        text(sealed(payload)), [V, T, S, M], payload,
        content={"hex": sealed_file.hex(), "exclusions": region}))
    cases.append(Case(
        "embedded-exclusions-not-applied",
        "The same seal, but the verifier hashed the whole file, region included: that is "
        "not the content the binding names (§4.4), so it is a mismatch.",
        text(sealed(payload)), [V, T, S, "assertion.dataHash.mismatch"], payload,
        content={"hex": sealed_file.hex()}))

    payload = canonicalize(chunked_claim(301, CHUNKED_CONTENT))
    cases.append(Case(
        "chunked",
        "The chunked (Merkle) binding sceau.hash.chunked (§4.5): 3000 bytes in chunks of "
        "1024, leaves SHA-256(0x00 || chunk), root per RFC 9162 with SHA-256(0x01 || l || "
        "r) nodes. The verifier computes the leaves: every chunk matches.",
        text(sealed(payload)), [V, T, S, M], payload,
        content={"hex": CHUNKED_CONTENT.hex(), "chunk_size": 1024}, damaged=[]))
    damaged = bytearray(CHUNKED_CONTENT)
    damaged[1500] ^= 0x01
    cases.append(Case(
        "chunked-damaged",
        "The chunked seal; one byte of the content (offset 1500, in chunk 1) differs: a "
        "mismatch that names chunk 1 as damaged.",
        text(sealed(payload)), [V, T, S, "assertion.dataHash.mismatch"], payload,
        content={"hex": bytes(damaged).hex(), "chunk_size": 1024}, damaged=[1]))
    sealed_video = with_region(CHUNKED_CONTENT)
    payload = canonicalize(chunked_claim(302, CHUNKED_CONTENT, size=len(sealed_video),
                                         exclusions=excl))
    cases.append(Case(
        "chunked-embedded",
        "A chunked binding with an embedded seal: chunks are cut from the content, the "
        "file without the excluded region, so they are those of the unsealed file.",
        text(sealed(payload)), [V, T, S, M], payload,
        content={"hex": sealed_video.hex(), "exclusions": region, "chunk_size": 1024},
        damaged=[]))

    def bad_binding(n: int, name: str, description: str,
                    change: Callable[[dict[str, Any]], None]) -> None:
        obj = chunked_claim(n, CHUNKED_CONTENT)
        change(next(a["data"] for a in obj["assertions"]
                    if a["label"] == "sceau.hash.chunked"))
        payload = canonicalize(obj)
        cases.append(Case(name, description, text(sealed(payload)),
                          [V, "assertion.dataHash.malformed"], payload,
                          content={"hex": CHUNKED_CONTENT.hex(), "chunk_size": 1024}))

    bad_binding(303, "claim-chunked-root-mismatch",
                "A correctly signed chunked binding whose root is not the Merkle root of "
                "its chunk hashes (the first two leaves swapped).",
                lambda d: d["chunks"].__setitem__(slice(0, 2), d["chunks"][1::-1]))
    bad_binding(304, "claim-chunked-count",
                "A correctly signed chunked binding listing 2 chunk hashes for 3000 bytes "
                "in chunks of 1024 (3 are needed).",
                lambda d: d["chunks"].pop())
    bad_binding(305, "claim-chunked-size-not-power-of-two",
                "A correctly signed chunked binding whose chunk_size is 1000, not a power "
                "of two.", lambda d: d.update(chunk_size=1000))
    return cases


# -- key history vectors (SPEC.md §6.2.8) -----------------------------------------------

HISTORY_FORMAT = "sceau-key-history-vector/1"
HISTORY_DIR = "keyhistory"
H_T1 = _t("2026-01-01T00:00:00Z")
H_T2 = _t("2026-02-01T00:00:00Z")
H_T3 = _t("2026-03-01T00:00:00Z")
H_ISSUED = _t("2026-03-14T00:00:00Z")
H_EXPIRES = _t("2026-03-16T00:00:00Z")
#: Labels of the key-history TEST VECTOR keys (seeds derived like the others).
HISTORY_KEYS = ("history-root", "history-root-2", "history-1", "history-2", "history-3",
                "history-stranger")


def hkey(label: str) -> LocalSigner:
    """A key-history TEST VECTOR key."""
    return LocalSigner.from_seed(seed(label))


def hrec(label: str, status: KeyStatus = KeyStatus.ACTIVE, tenant: str = NEWS,
         compromised_since: datetime | None = None) -> KeyRecord:
    return KeyRecord(hkey(label).public_key, tenant, status,
                     compromised_since=compromised_since)


def raw_statement(statement: KeyStatement, labels: list[str]) -> bytes:
    """A statement envelope signed by exactly these keys, in this order, without the
    builder's checks (for the invalid vectors)."""
    payload = statement.payload()
    message = pae(KEY_STATEMENT_PAYLOAD_TYPE, payload)
    return Envelope(KEY_STATEMENT_PAYLOAD_TYPE, payload, tuple(
        Signature(hkey(n).keyid, hkey(n).sign(message)) for n in labels)).to_bytes()


def history(envelopes: list[bytes], head_key: str, *, issued: datetime = H_ISSUED,
            expires: datetime = H_EXPIRES, head_statement: bytes | None = None) -> bytes:
    last = envelopes[-1] if head_statement is None else head_statement
    # Read without the rules: invalid vectors have heads over statements that break them.
    stmt_payload = base64.urlsafe_b64decode(loads(last)["payload"] + "==")
    stmt = loads(stmt_payload)
    tenant = stmt["tenant"]
    head_payload = canonicalize(HistoryHead(tenant, stmt["version"],
                                            statement_digest(stmt_payload),
                                            issued, expires).to_json())
    signer = hkey(head_key)
    head = Envelope(KEY_HISTORY_PAYLOAD_TYPE, head_payload, (Signature(
        signer.keyid, signer.sign(pae(KEY_HISTORY_PAYLOAD_TYPE, head_payload))),))
    return canonicalize({"tenant": tenant,
                         "statements": [loads(e) for e in envelopes],
                         "head": head.to_json()})


@dataclass
class HistoryCase:
    """One key-history vector: ``keyhistory/valid-<name>.json`` or ``invalid-<name>``."""

    name: str
    description: str
    history: bytes
    anchor: dict[str, Any]
    code: str | None  # None: the history verifies
    now: datetime = NOW

    @property
    def filename(self) -> str:
        return f"{HISTORY_DIR}/{'valid' if self.code is None else 'invalid'}-{self.name}.json"


def history_cases() -> list[HistoryCase]:
    root = {"root": hkey("history-root").keyid}
    first_key = {"key": hkey("history-1").keyid}
    r, r2, k1, k2, k3 = ("history-root", "history-root-2", "history-1", "history-2",
                         "history-3")
    v1 = KeyStatement.first(NEWS, [hrec(k1)], H_T1, root=hkey(r).public_key)
    e1 = sign_statement(v1, [hkey(k1), hkey(r)])
    v2 = v1.successor([hrec(k1, KeyStatus.RETIRED), hrec(k2)], H_T2)
    e2 = sign_statement(v2, [hkey(k1), hkey(k2), hkey(r)], previous=v1)
    cases: list[HistoryCase] = []
    kh = "sceau.keyHistory."

    def add(name: str, description: str, doc: bytes, code: str | None,
            anchor: dict[str, Any] = root, now: datetime = NOW) -> None:
        cases.append(HistoryCase(name, description, doc, anchor, code, now))

    add("first", "Version 1 only: key history-1 active, signed by it and the root.",
        history([e1], k1), None)
    add("rotation", "Version 2 retires history-1 and activates history-2: signed by the "
        "outgoing key, the incoming key and the root.", history([e1, e2], k2), None)
    add("rotation-pinned-key", "The rotation, verified from a pinned first key (no root "
        "pin).", history([e1, e2], k2), None, first_key)
    # Pre-published key: the root signs its addition; activating it needs no root.
    p2 = v1.successor([hrec(k1), hrec(k2, KeyStatus.PENDING)], H_T2)
    p3 = p2.successor([hrec(k1, KeyStatus.RETIRED), hrec(k2)], H_T3)
    pe2 = sign_statement(p2, [hkey(k1), hkey(r)], previous=v1)
    pe3 = sign_statement(p3, [hkey(k1), hkey(k2)], previous=p2)
    add("prepublished-activation", "history-2 is added pending (root and active key sign), "
        "then activated by the outgoing and incoming keys alone: no key added or revoked, "
        "so the offline root is not needed.", history([e1, pe2, pe3], k2), None)
    # Emergency: history-2 stolen; the root and the new key revoke it.
    v3 = v2.successor([hrec(k1, KeyStatus.RETIRED),
                       hrec(k2, KeyStatus.REVOKED, compromised_since=H_T3), hrec(k3)], H_T3)
    e3 = sign_statement(v3, [hkey(k3), hkey(r)], previous=v2)
    add("emergency-revocation", "history-2 is revoked (compromised since 2026-03-01) and "
        "history-3 activated by the root and history-3 without the stolen key's signature.",
        history([e1, e2, e3], k3), None)
    n1 = KeyStatement.first(NEWS, [hrec(k1)], H_T1)
    n2 = n1.successor([hrec(k1, KeyStatus.RETIRED), hrec(k2)], H_T2)
    ne1 = sign_statement(n1, [hkey(k1)])
    ne2 = sign_statement(n2, [hkey(k1), hkey(k2)], previous=n1)
    add("no-root", "A tenant without a root: each rotation is signed by the outgoing and "
        "incoming keys.", history([ne1, ne2], k2), None, first_key)
    rr2 = v2.successor([hrec(k1, KeyStatus.RETIRED), hrec(k2)], H_T3,
                       root=hkey(r2).public_key)
    rre2 = sign_statement(rr2, [hkey(k2), hkey(r), hkey(r2)], previous=v2)
    add("root-rotation", "Version 3 replaces the root: signed by the active key, the old "
        "root and the new root.", history([e1, e2, rre2], k2), None)
    seen_v1 = {**root, "version": 1, "statement": b64url_encode(statement_digest(v1))}
    add("from-bundle", "Walk forward from a saved bundle at version 1.",
        history([e1, e2], k2), None, seen_v1)

    add("expired", "The head expired at 2026-03-16T00:00:00Z; the verifier's time is that "
        "instant (a frozen history).", history([e1, e2], k2), kh + "expired",
        now=H_EXPIRES)
    seen_v3 = {**root, "version": 3, "statement": b64url_encode(statement_digest(v3))}
    add("rollback", "The verifier saw version 3; the document stops at version 2.",
        history([e1, e2], k2), kh + "rollback", seen_v3)
    add("fork", "The verifier saw another version 2 (the pre-published one).",
        history([e1, e2], k2), kh + "fork",
        {**root, "version": 2, "statement": b64url_encode(statement_digest(p2))})
    add("missing-outgoing-signature", "Version 2 is signed by the incoming key and the "
        "root, not by the outgoing key (which is retired, not revoked).",
        history([e1, raw_statement(v2, [k2, r])], k2), kh + "signatureMissing")
    add("missing-incoming-signature", "Version 2 is signed by the outgoing key and the root, "
        "not by the incoming key.",
        history([e1, raw_statement(v2, [k1, r])], k2), kh + "signatureMissing")
    add("missing-root-signature", "Version 2 adds a key without the root's signature.",
        history([e1, raw_statement(v2, [k1, k2])], k2), kh + "signatureMissing")
    add("no-root-one-signature", "Without a root, version 2 is signed by the incoming key "
        "only.", history([ne1, raw_statement(n2, [k2])], k2), kh + "signatureMissing",
        first_key)
    flipped = loads(e2)
    sig = bytearray(base64.urlsafe_b64decode(flipped["signatures"][0]["sig"] + "=="))
    sig[10] ^= 1
    flipped["signatures"][0]["sig"] = b64url_encode(bytes(sig))
    add("signature-flipped-bit", "One bit of version 2's first signature flipped.",
        history([e1, canonicalize(flipped)], k2), kh + "signatureInvalid")
    add("stray-signer", "Version 2 also carries a signature by a key that may not sign it.",
        history([e1, raw_statement(v2, [k1, k2, r, "history-stranger"])], k2),
        kh + "signatureInvalid")
    bad_prev = KeyStatement(NEWS, 2, H_T2, v2.keys,
                            hashlib.sha256(b"not version 1").digest(), v2.root)
    add("previous-wrong", "Version 2's 'previous' is not the digest of version 1.",
        history([e1, raw_statement(bad_prev, [k1, k2, r])], k2), kh + "chainBroken")
    gap = KeyStatement(NEWS, 3, H_T2, v2.keys, statement_digest(v1), v2.root)
    add("version-gap", "Version 1 is followed by version 3.",
        history([e1, raw_statement(gap, [k1, k2, r])], k2), kh + "chainBroken")
    add("head-names-old-statement", "The head names version 1 while the document holds "
        "version 2 (a stale head, signed by the active key).",
        history([e1, e2], k2, head_statement=e1), kh + "chainBroken")
    gone = v1.successor([hrec(k2)], H_T2)
    add("key-disappears", "Version 2 drops history-1 (keys are never removed).",
        history([e1, raw_statement(gone, [k1, k2, r])], k2), kh + "transitionInvalid")
    r3 = v2.successor([hrec(k1, KeyStatus.REVOKED), hrec(k2)], H_T3)
    re3 = sign_statement(r3, [hkey(k2), hkey(r)], previous=v2)
    back = r3.successor([hrec(k1, KeyStatus.RETIRED), hrec(k2)], H_T3)
    add("revoked-returns", "Version 4 turns revoked history-1 back into retired.",
        history([e1, e2, re3, raw_statement(back, [k2, r])], k2), kh + "transitionInvalid")
    c3 = v2.successor([hrec(k1, KeyStatus.REVOKED, compromised_since=H_T1), hrec(k2)], H_T3)
    ce3 = sign_statement(c3, [hkey(k2), hkey(r)], previous=v2)
    later = c3.successor([hrec(k1, KeyStatus.REVOKED, compromised_since=H_T2), hrec(k2)],
                         H_T3)
    add("compromise-moved-later", "Version 4 moves history-1's compromise time later.",
        history([e1, e2, ce3, raw_statement(later, [k2, r])], k2), kh + "transitionInvalid")
    two = v1.successor([hrec(k1), hrec(k2)], H_T2)
    add("two-active", "Version 2 has two active keys.",
        history([e1, raw_statement(two, [k1, k2, r])], k2), kh + "transitionInvalid")
    add("untrusted-anchor", "The verifier pins another root than the history names.",
        history([e1, e2], k2), kh + "untrustedAnchor", {"root": hkey(r2).keyid})
    o1 = KeyStatement.first(AI, [hrec(k1, tenant=AI)], H_T1)
    add("tenant-mismatch", "Another tenant's history where example-news's was asked for.",
        history([sign_statement(o1, [hkey(k1)])], k1), kh + "tenantMismatch", first_key)
    odd = loads(e1)
    odd_payload = v1.payload().replace(b'"issued"', b' "issued"', 1)
    odd["payload"] = b64url_encode(odd_payload)
    odd["signatures"] = [{"keyid": hkey(n).keyid, "sig": b64url_encode(
        hkey(n).sign(pae(KEY_STATEMENT_PAYLOAD_TYPE, odd_payload)))} for n in (k1, r)]
    add("head-wrong-signer", "The head is signed by the retired key history-1.",
        history([e1, e2], k1), kh + "signatureMissing")
    add("statement-not-canonical", "Version 1's payload has a space: valid JSON, signed, "
        "but not its canonical form.", history([canonicalize(odd)], k1), kh + "malformed")
    return cases


def _history_vector(case: HistoryCase) -> dict[str, Any]:
    a = case.anchor
    anchor = TrustAnchor(NEWS, root_keyid=a.get("root"), keyid=a.get("key"),
                         version=a.get("version", 0),
                         digest=None if "statement" not in a else
                         base64.urlsafe_b64decode(a["statement"] + "="))
    expected: dict[str, Any]
    try:
        verified = verify_key_history(case.history, anchor, now=case.now)
    except KeyHistoryError as exc:
        if exc.code != case.code:
            raise AssertionError(f"{case.filename}: expected {case.code}, reference "
                                 f"verifier says {exc.code} ({exc.detail})") from None
        expected = {"ok": False, "code": exc.code}
    else:
        if case.code is not None:
            raise AssertionError(f"{case.filename}: expected {case.code}, it verifies")
        expected = {"ok": True, "version": verified.version,
                    "keys": verified.ring.to_jwks()}
    return {"format": HISTORY_FORMAT, "description": case.description, "tenant": NEWS,
            "anchor": a, "now": format_time(case.now),
            "history": case.history.decode("utf-8"), "expected": expected}


def build_key_history() -> dict[str, bytes]:
    """The key-history vector files (paths relative to tests/vectors/) and their bytes."""
    files: dict[str, bytes] = {}
    for case in history_cases():
        if case.filename in files:
            raise AssertionError(f"duplicate vector name {case.filename}")
        files[case.filename] = _dump(_history_vector(case))
    return files


def _content_digest(content: dict[str, Any] | None) -> ContentDigest | None:
    """The verifier's digest of a vector's content (SPEC.md §9): the ``hex`` bytes minus
    the ``exclusions`` (where the verifier found the embedded seal), hashed plainly or,
    with ``chunk_size``, as a chunked binding (§4.5)."""
    if content is None:
        return None
    if "hex" in content:
        data = bytes.fromhex(content["hex"])
        excluded = tuple((e["start"], e["length"]) for e in content.get("exclusions", []))
        kept = bytearray(data)
        for start, length in reversed(excluded):
            del kept[start:start + length]
        size = content.get("chunk_size")
        if size is None:
            return ContentDigest("sha256", hashlib.sha256(kept).digest(), len(data),
                                 excluded)
        leaves = chunk_leaves(bytes(kept), size)
        return ContentDigest("sha256", merkle_root(leaves), len(data), excluded, size,
                             tuple(leaves))
    return ContentDigest("sha256", bytes.fromhex(content["sha256"]), content["size"])


def _vector(case: Case, jwks: dict[str, Any]) -> dict[str, Any]:
    seal_id = None if case.payload is None else hashlib.sha256(case.payload).hexdigest()
    doc: dict[str, Any] = {
        "format": FORMAT,
        "description": case.description,
        "keys": jwks,
        "trusted_tenants": case.trusted_tenants,
        "now": format_time(case.now),
        "content": case.content,
        "seal": case.seal,
        "expected": {"ok": case.ok, "status_codes": case.codes, "seal_id": seal_id},
    }
    if case.damaged is not None:
        doc["expected"]["damaged_chunks"] = case.damaged
    if case.log_keys is not None:
        doc["log_keys"] = case.log_keys
        doc["require_log"] = case.require_log
    # Cross-check with the reference implementation before anything is written.
    verdict = verify_seal(case.seal.encode("utf-8"),
                          KeyRing.from_jwks(jwks, case.trusted_tenants), now=case.now,
                          content=_content_digest(case.content),
                          log_keys=_log_keys(doc), require_log=case.require_log)
    got = (verdict.ok, list(verdict.status_codes), verdict.seal_id)
    if case.damaged is not None and list(verdict.damaged_chunks) != case.damaged:
        raise AssertionError(f"{case.filename}: damaged chunks {verdict.damaged_chunks}")
    if got != (case.ok, case.codes, seal_id):
        raise AssertionError(f"{case.filename}: expected {(case.ok, case.codes, seal_id)}, "
                             f"reference verifier says {got}")
    return doc


def _log_keys(doc: dict[str, Any]) -> list[LogKey] | None:
    """The verifier's log keys of a vector file (SPEC.md §9): absent or null is none."""
    vkeys = doc.get("log_keys")
    return None if vkeys is None else [LogKey.from_vkey(v) for v in vkeys]


def _dump(doc: Any) -> bytes:
    return (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def keys_document() -> dict[str, Any]:
    """keys.json: every test key's PRIVATE seed, labelled as test-only."""
    return {
        "warning": "TEST VECTOR ONLY. These Ed25519 private seeds are public. Never use "
                   "them, or anything they signed, outside tests.",
        "seed_derivation": "seed = SHA-256(UTF-8('sceau test vector key v1: ' + label))",
        "keys": [
            {
                "label": k.label,
                "seed_hex": seed(k.label).hex(),
                "public_x": b64url_encode(k.signer.public_key),
                "kid": k.keyid,
                "tenant": k.tenant,
                "status": k.status.value,
                "in_verifier_ring": k.in_ring,
            }
            for k in KEYS.values()
        ],
        "log_keys": [
            {
                "label": label,
                "seed_hex": seed(label).hex(),
                "vkey": log_signer(label).key.vkey(),
                "in_verifier_log_keys": label == "log",
            }
            for label in ("log", "other-log")
        ],
        "key_history_keys": [
            {"label": label, "seed_hex": seed(label).hex(),
             "public_x": b64url_encode(hkey(label).public_key), "kid": hkey(label).keyid}
            for label in HISTORY_KEYS
        ],
    }


def build() -> dict[str, bytes]:
    """Every output file name and its exact bytes."""
    jwks = ring_jwks()
    files: dict[str, bytes] = {"keys.json": _dump(keys_document())}
    for case in valid_cases() + invalid_cases() + log_cases() + media_cases():
        if case.filename in files:
            raise AssertionError(f"duplicate vector name {case.filename}")
        files[case.filename] = _dump(_vector(case, jwks))
    return files


def main(argv: list[str]) -> int:
    files = {**build(), **build_key_history()}
    on_disk = {p.relative_to(HERE).as_posix()
               for p in (*HERE.glob("*.json"), *HERE.glob(f"{HISTORY_DIR}/*.json"))}
    if "--check" in argv:
        stale = sorted(on_disk - set(files))
        differ = sorted(n for n, b in files.items()
                        if not (HERE / n).is_file() or (HERE / n).read_bytes() != b)
        for name in stale:
            print(f"stale: {name}")
        for name in differ:
            print(f"differs: {name}")
        return 1 if stale or differ else 0
    for name in sorted(on_disk - set(files)):
        (HERE / name).unlink()
    (HERE / HISTORY_DIR).mkdir(exist_ok=True)
    for name, data in files.items():
        (HERE / name).write_bytes(data)
    valid = sum(Path(n).name.startswith("valid-") for n in files)
    invalid = sum(Path(n).name.startswith("invalid-") for n in files)
    print(f"wrote {valid} valid and {invalid} invalid vectors to {HERE}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
