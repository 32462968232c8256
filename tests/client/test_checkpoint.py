"""Signed notes, checkpoints, log keys (sceau.checkpoint) and the ``log`` member
(sceau.logproof): known answers, round trips, hostile input.

Known answers from other implementations:

* golang.org/x/mod/sumdb/note, note_test.go and its package documentation: the verifier key
  ``PeterNeumann+c74f20a3+...`` and its signed note (type 0x01 Ed25519).
* A checkpoint of the Certificate Transparency staging log
  ``arche2025h1.staging.ct.transparency.dev`` cosigned by the public witness
  ``remora.n621.de`` (type 0x04 timestamped Ed25519, C2SP tlog-cosignature), with the
  witness's verifier key, as quoted in a public test suite of witness cosignatures.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sceau.canonical import canonicalize
from sceau.checkpoint import (
    COSIGNATURE_V1,
    ED25519,
    MAX_NOTE_BYTES,
    Checkpoint,
    CheckpointError,
    LogKey,
    LogSigner,
    NoteSignature,
    UnknownLogKeyError,
    format_note,
    open_checkpoint,
    parse_note,
    sign_checkpoint,
)
from sceau.encoding import b64url_encode
from sceau.envelope import parse_envelope
from sceau.local import LocalSigner
from sceau.logproof import (
    LEAF_PREFIX,
    LogOutcome,
    LogProof,
    LogProofError,
    attach_log,
    attach_logs,
    check_log,
    seal_leaf,
    seal_leaf_hash,
)
from sceau.merkle import MemorySource, inclusion_proof, leaf_hash, tree_root

from .test_vectors import _generator

# -- known answers --------------------------------------------------------------------------

GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = ("If you think cryptography is the answer to your problem,\n"
           "then you don't know what your problem is.\n")
GO_NOTE = (GO_TEXT + "\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInN"
           "IuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n")

CT_CHECKPOINT = """arche2025h1.staging.ct.transparency.dev
1432088532
U7WM79jrzyhGZ5/GUBTpM7NzwdyfFx61t3RovgcC4Ro=

\u2014 arche2025h1.staging.ct.transparency.dev zTM8sQAAAZ5W0WdjBAMARjBEAiBjW5IQf9pvsYLfQFX6hoGREPMHbdQ3urbllzalApkptQIgIpwtEroeW2BXaHAI4kJXFbon5Ch9MNL5zRNZ55lvGt0=
\u2014 arche2025h1.staging.ct.transparency.dev ui8GwCF1+kWqZrxGdhj4aX3gcw7XUlXQQabg/27lefwhUkzbC3NygNI75MdhL1bfTW9g8Ei59RA23oHP7Ry1k3ZFWwQ=
\u2014 transparency.dev/DEV:witness-little-garden 2AQqhwAAAABqEiEgzgFIqqhbUoDwjMWE6UP8nd8/KYTzwZ2rhIgcqoXHAwVkjZr4AscylP3v7sEodkRAErumC2q44vdgJY096st5BQ==
\u2014 witness1.smartit.nu/witness1 pIyCDwAAAABqEiEghIp82KWebrw7/oHQwlTAm3g2RKS4+eebl8eO0WH+/iEcxZ75W3u5hNI7TOQtmJbqmNWVuE0tgh0XwzdZsDsUAQ==
\u2014 remora.n621.de 2net5wAAAABqEiEgPlfF3V06o0Y+fHM+J5J9s27wgxxcOVSpZ/2g/KSiXCg9DEZI+aVCIobWX9sXTynk5XeU/zZ0WBxtqB0DrAWfBw==
\u2014 witness.stagemole.eu Z/euoAAAAABqEiEgw0i+7g2ENfDAWHmtRzCfKTHSDwYDJA2NmKeGi9Y8FtEyOUvVr+AJmIY/2TUFucgKi7lI7cUiOvKFYe/TmN9DAg==
"""  # noqa: E501
REMORA_VKEY = "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2"


def test_go_note_known_answer() -> None:
    key = LogKey.from_vkey(GO_VKEY)
    assert key.name == "PeterNeumann" and key.vkey() == GO_VKEY
    note = parse_note(GO_NOTE)
    assert note.text == GO_TEXT
    (sig,) = note.signatures
    assert sig.key_id == key.key_id == bytes.fromhex("c74f20a3")
    assert key._verify(sig.signature, GO_TEXT.encode())
    assert format_note(note.text, note.signatures) == GO_NOTE
    assert not key._verify(sig.signature, GO_TEXT.replace("problem", "Problem").encode())


def test_timestamped_cosignature_known_answer() -> None:
    raw = base64.b64decode(REMORA_VKEY.split("+", 2)[2])
    assert raw[0] == COSIGNATURE_V1
    witness = LogKey("remora.n621.de", raw[1:])
    assert witness.cosignature_key_id == bytes.fromhex("da77ade7")
    note = parse_note(CT_CHECKPOINT)
    cp = Checkpoint.parse(note.text)
    assert (cp.origin, cp.size) == ("arche2025h1.staging.ct.transparency.dev", 1432088532)
    (sig,) = [s for s in note.signatures if s.name == "remora.n621.de"]
    (timestamp,) = struct.unpack(">Q", sig.signature[:8])
    message = f"cosignature/v1\ntime {timestamp}\n{note.text}".encode()
    assert witness._verify(sig.signature[8:], message)
    assert not witness._verify(sig.signature[8:], message.replace(b"1432088532", b"1432088533"))
    # Parsed and formatted back byte for byte, signatures by every party included.
    assert format_note(note.text, note.signatures) == CT_CHECKPOINT


def test_key_ids_follow_c2sp() -> None:
    key = LogKey("log.example/x", bytes(range(32)))
    for sig_type, got in ((ED25519, key.key_id), (COSIGNATURE_V1, key.cosignature_key_id)):
        want = hashlib.sha256(b"log.example/x\n" + bytes([sig_type]) + bytes(range(32)))
        assert got == want.digest()[:4]
    assert key.key_id != key.cosignature_key_id


# -- signing and opening ------------------------------------------------------------------

ORIGIN = "log.example/test"
SIGNER = LocalSigner.from_seed(hashlib.sha256(b"checkpoint test log key").digest())
LOG = LogSigner(ORIGIN, SIGNER.public_key, SIGNER.sign)
OTHER = LocalSigner.from_seed(hashlib.sha256(b"another log key").digest())
OTHER_LOG = LogSigner(ORIGIN, OTHER.public_key, OTHER.sign)
WHEN = 1773480450  # 2026-03-14T09:27:30Z
CP = Checkpoint(ORIGIN, 7, hashlib.sha256(b"root").digest())


def signed(cp: Checkpoint = CP, signer: LogSigner = LOG, when: int = WHEN) -> str:
    return sign_checkpoint(cp, signer, when)


def test_sign_and_open() -> None:
    text = signed()
    lines = text.split("\n")
    assert lines[:4] == [ORIGIN, "7", base64.b64encode(CP.root).decode(), ""]
    assert lines[4].startswith(f"\u2014 {ORIGIN} ") and lines[5].startswith(f"\u2014 {ORIGIN} ")
    opened = open_checkpoint(text, [LOG.key])
    assert opened.checkpoint == CP and opened.timestamp == WHEN and opened.text == text
    assert opened.time == datetime(2026, 3, 14, 9, 27, 30, tzinfo=UTC)
    assert open_checkpoint(text.encode(), [OTHER_LOG.key, LOG.key]).checkpoint == CP
    # The plain signature alone is what generic signed-note tools check.
    note = parse_note(text)
    assert LOG.key._verify(note.signatures[0].signature, note.text.encode())


def test_generator_spells_the_same_signatures() -> None:
    """The vector generator writes the log's signatures from the spec's prose; they must
    equal the implementation's, byte for byte."""
    gen = _generator()
    signer = gen.log_signer()
    cp = Checkpoint(gen.LOG_ORIGIN, 3, bytes(32))
    when = datetime(2026, 3, 14, 9, 27, 30, tzinfo=UTC)
    lines = gen.sign_note(cp.body(), signer, when)
    assert sign_checkpoint(cp, signer, int(when.timestamp())) == (
        cp.body() + "\n" + "".join(line + "\n" for line in lines))


def test_open_rejections() -> None:
    text = signed()
    with pytest.raises(UnknownLogKeyError):
        open_checkpoint(text, [OTHER_LOG.key])
    with pytest.raises(UnknownLogKeyError):
        open_checkpoint(text, [])
    with pytest.raises(UnknownLogKeyError):  # the key is known under another name only
        open_checkpoint(text, [LogKey("log.example/other", SIGNER.public_key)])
    with pytest.raises(CheckpointError, match="signature on the checkpoint fails"):
        open_checkpoint(text.replace("\n7\n", "\n8\n"), [LOG.key])
    note = parse_note(text)
    plain, stamped = note.signatures
    with pytest.raises(CheckpointError, match="no timestamped signature"):
        open_checkpoint(format_note(note.text, [plain]), [LOG.key])
    forged = NoteSignature(ORIGIN, stamped.key_id,
                           struct.pack(">Q", WHEN - 3600) + stamped.signature[8:])
    with pytest.raises(CheckpointError, match="timestamped signature fails"):
        open_checkpoint(format_note(note.text, [plain, forged]), [LOG.key])
    short = NoteSignature(ORIGIN, stamped.key_id, stamped.signature[:-1])
    with pytest.raises(CheckpointError, match="8 \\+ 64"):
        open_checkpoint(format_note(note.text, [short]), [LOG.key])
    short_plain = NoteSignature(ORIGIN, plain.key_id, plain.signature[:63])
    with pytest.raises(CheckpointError):
        open_checkpoint(format_note(note.text, [short_plain, stamped]), [LOG.key])
    huge = NoteSignature(ORIGIN, stamped.key_id, struct.pack(">Q", 1 << 63)
                         + stamped.signature[8:])
    with pytest.raises(CheckpointError, match="out of range"):
        open_checkpoint(format_note(note.text, [huge]), [LOG.key])


def test_unknown_signatures_are_ignored_and_earliest_time_wins() -> None:
    note = parse_note(signed())
    stranger = NoteSignature("witness.example/w", b"\x00\x01\x02\x03", b"\x00" * 72)
    text = format_note(note.text, [stranger, *note.signatures])
    assert open_checkpoint(text, [LOG.key]).timestamp == WHEN
    # Two known log keys (a rotation): both must verify; the earliest time is kept.
    other = parse_note(signed(signer=OTHER_LOG, when=WHEN - 10)).signatures
    both = format_note(note.text, [*note.signatures, *other])
    assert open_checkpoint(both, [LOG.key, OTHER_LOG.key]).timestamp == WHEN - 10
    assert open_checkpoint(both, [LOG.key]).timestamp == WHEN


def test_sign_rejections() -> None:
    with pytest.raises(CheckpointError, match="origin"):
        sign_checkpoint(Checkpoint("log.example/else", 1, bytes(32)), LOG, WHEN)
    with pytest.raises(CheckpointError, match="timestamp"):
        sign_checkpoint(CP, LOG, -1)
    with pytest.raises(CheckpointError):
        format_note("no newline", [])


# -- hostile input ------------------------------------------------------------------------

GOOD = signed()
GOOD_TEXT, GOOD_SIGS = GOOD.split("\n\n", 1)


@pytest.mark.parametrize("note", [
    pytest.param("", id="empty"),
    pytest.param(GOOD.rstrip("\n"), id="no-final-newline"),
    pytest.param(GOOD_TEXT + "\n" + GOOD_SIGS, id="no-blank-line"),
    pytest.param(GOOD_TEXT + "\n\n", id="no-signature"),
    pytest.param("\n\n" + GOOD_SIGS, id="empty-text"),
    pytest.param(GOOD.replace("\n", "\r\n"), id="crlf"),
    pytest.param(GOOD.replace(ORIGIN, ORIGIN + "\t"), id="tab"),
    pytest.param("\ufeff" + GOOD, id="bom"),
    pytest.param(GOOD.replace("\u2014", "-"), id="hyphen-not-em-dash"),
    pytest.param(GOOD.replace(f"\u2014 {ORIGIN} ", f"\u2014 {ORIGIN}  "), id="two-spaces"),
    pytest.param(GOOD.replace(f"\u2014 {ORIGIN} ", f"\u2014 {ORIGIN}"), id="no-space"),
    pytest.param(GOOD.replace(f"\u2014 {ORIGIN} ", "\u2014 a+b "), id="plus-in-name"),
    pytest.param(GOOD.replace(f"\u2014 {ORIGIN} ", "\u2014 a\u00a0b "), id="nbsp-in-name"),
    pytest.param(GOOD_TEXT + "\n\n\u2014 x AAAA\n", id="signature-too-short"),
    pytest.param(GOOD_TEXT + "\n\n\u2014 x AAAAAA==\n", id="signature-4-bytes"),
    pytest.param(GOOD_TEXT + "\n\n\u2014 x AAAAAAA\n", id="unpadded-base64"),
    pytest.param(GOOD_TEXT + "\n\n\u2014 x AAAAAAB=\n", id="non-canonical-base64"),
    pytest.param(GOOD_TEXT + "\n\n\u2014 x AAAA-_A=\n", id="base64url-alphabet"),
    pytest.param(GOOD_TEXT + "\n\n" + "\u2014 x AAAAAAA=\n" * 17, id="17-signatures"),
    pytest.param(GOOD_TEXT + "\n" + "x" * MAX_NOTE_BYTES + "\n\n" + GOOD_SIGS, id="oversize"),
    pytest.param(GOOD + "\n", id="trailing-blank-line"),
])
def test_parse_note_rejects(note: str) -> None:
    with pytest.raises(CheckpointError):
        parse_note(note)
    with pytest.raises(CheckpointError):
        open_checkpoint(note, [LOG.key])


def test_parse_note_rejects_bad_bytes() -> None:
    with pytest.raises(CheckpointError, match="UTF-8"):
        parse_note(GOOD.encode() + b"\xff")
    with pytest.raises(CheckpointError, match="UTF-8"):
        parse_note("\ud800" + GOOD)
    assert parse_note(GOOD.encode()) == parse_note(GOOD)


ROOT_B64 = base64.b64encode(CP.root).decode()


@pytest.mark.parametrize("text", [
    pytest.param(f"{ORIGIN}\n7\n{ROOT_B64}\next\n", id="extension-line"),
    pytest.param(f"{ORIGIN}\n07\n{ROOT_B64}\n", id="leading-zero"),
    pytest.param(f"{ORIGIN}\n+7\n{ROOT_B64}\n", id="plus-sign"),
    pytest.param(f"{ORIGIN}\n-7\n{ROOT_B64}\n", id="negative"),
    pytest.param(f"{ORIGIN}\n7.0\n{ROOT_B64}\n", id="fraction"),
    pytest.param(f"{ORIGIN}\n\u0667\n{ROOT_B64}\n", id="arabic-digit"),
    pytest.param(f"{ORIGIN}\n{1 << 53}\n{ROOT_B64}\n", id="size-beyond-2^53-1"),
    pytest.param(f"{ORIGIN}\n7\n{ROOT_B64.rstrip('=')}\n", id="root-unpadded"),
    pytest.param(f"{ORIGIN}\n7\n{base64.b64encode(bytes(31)).decode()}\n", id="root-31-bytes"),
    pytest.param(f"{ORIGIN}\n7\n{base64.urlsafe_b64encode(bytes([251] * 32)).decode()}\n",
                 id="root-base64url"),
    pytest.param(f"{ORIGIN} x\n7\n{ROOT_B64}\n", id="origin-space"),
    pytest.param(f"log+x\n7\n{ROOT_B64}\n", id="origin-plus"),
    pytest.param(f"log\u00e9\n7\n{ROOT_B64}\n", id="origin-non-ascii"),
    pytest.param(f"\n7\n{ROOT_B64}\n", id="origin-empty"),
    pytest.param(f"{'x' * 256}\n7\n{ROOT_B64}\n", id="origin-256"),
    pytest.param(f"{ORIGIN}\n7\n", id="two-lines"),
])
def test_checkpoint_parse_rejects(text: str) -> None:
    with pytest.raises(CheckpointError):
        Checkpoint.parse(text)


def test_checkpoint_fields_are_checked() -> None:
    with pytest.raises(CheckpointError):
        Checkpoint(ORIGIN, -1, bytes(32))
    with pytest.raises(CheckpointError):
        Checkpoint(ORIGIN, True, bytes(32))
    with pytest.raises(CheckpointError):
        Checkpoint(ORIGIN, 1, bytes(31))
    assert Checkpoint.parse(CP.body()) == CP
    assert Checkpoint.parse(f"{ORIGIN}\n0\n{ROOT_B64}\n").size == 0


@pytest.mark.parametrize("vkey", [
    "", "PeterNeumann", "PeterNeumann+c74f20a3", "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbz"
    "hKqiBfsVkmqq/LDE4izWy10TW", "PeterNeumann+c74f20a+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4iz"
    "Wy10TW", "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T",
    "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    REMORA_VKEY,  # a type 0x04 key is not a log key
    "+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
])
def test_vkey_rejects(vkey: str) -> None:
    with pytest.raises(CheckpointError):
        LogKey.from_vkey(vkey)


def test_log_key_checks() -> None:
    with pytest.raises(CheckpointError):
        LogKey(ORIGIN, bytes(31))
    with pytest.raises(CheckpointError):
        LogKey("", bytes(32))
    assert LogKey.from_vkey(GO_VKEY.replace("c74f20a3", "C74F20A3")).vkey() == GO_VKEY


@settings(max_examples=400, deadline=None)
@given(st.integers(0, len(GOOD.encode()) - 1), st.integers(1, 255))
def test_mutated_checkpoints_never_pass_as_another(at: int, xor: int) -> None:
    """Any one-byte change either fails with CheckpointError or leaves what was signed
    (a mutated signature line may turn into an unknown key's, which is ignored)."""
    data = bytearray(GOOD.encode())
    data[at] ^= xor
    try:
        opened = open_checkpoint(bytes(data), [LOG.key])
    except CheckpointError:
        return
    assert opened.checkpoint == CP and opened.timestamp == WHEN


# -- the log member -----------------------------------------------------------------------

SEAL_ID = hashlib.sha256(b"a payload").hexdigest()


def test_seal_leaf() -> None:
    leaf = seal_leaf(SEAL_ID)
    assert len(leaf) == 50 and leaf == b"sceau-log-leaf-v1\n" + bytes.fromhex(SEAL_ID)
    assert leaf.startswith(LEAF_PREFIX)
    assert seal_leaf_hash(SEAL_ID) == hashlib.sha256(b"\x00" + leaf).digest()
    assert seal_leaf(bytes.fromhex(SEAL_ID)) == leaf
    for bad in (SEAL_ID.upper(), SEAL_ID[:-2], b"\x00" * 31):
        with pytest.raises(ValueError):
            seal_leaf(bad)


def _log_member(index: int = 2, size: int = 5, sid: str = SEAL_ID,
                signer: LogSigner = LOG) -> dict[str, Any]:
    ids = [hashlib.sha256(bytes([i])).hexdigest() for i in range(size)]
    ids[index] = sid
    leaves = [seal_leaf_hash(i) for i in ids]
    text = sign_checkpoint(Checkpoint(ORIGIN, size, tree_root(leaves)), signer, WHEN)
    proof = inclusion_proof(index, size, MemorySource.from_leaves(leaves))
    return LogProof(index, tuple(proof), text).to_json()


def test_check_log_outcomes() -> None:
    good = _log_member()
    ok = check_log(good, SEAL_ID, [LOG.key])
    assert ok.outcome is LogOutcome.INCLUDED and ok.checkpoint is not None
    assert ok.checkpoint.checkpoint.size == 5 and ok.checkpoint.timestamp == WHEN
    other_sid = hashlib.sha256(b"other").hexdigest()
    cases: list[tuple[Any, str, LogOutcome]] = [
        ({"reserved": True}, SEAL_ID, LogOutcome.MALFORMED),
        ({**good, "index": 3}, SEAL_ID, LogOutcome.PROOF_INVALID),
        ({**good, "index": 5}, SEAL_ID, LogOutcome.PROOF_INVALID),
        (good, other_sid, LogOutcome.PROOF_INVALID),
        ({**good, "proof": good["proof"][:-1]}, SEAL_ID, LogOutcome.PROOF_INVALID),
        ({**good, "checkpoint": good["checkpoint"].replace("\n5\n", "\n6\n")}, SEAL_ID,
         LogOutcome.CHECKPOINT_INVALID),
        (_log_member(signer=OTHER_LOG), SEAL_ID, LogOutcome.UNKNOWN_KEY),
    ]
    for member, sid, want in cases:
        assert check_log(member, sid, [LOG.key]).outcome is want, (member, want)


@pytest.mark.parametrize("change", [
    pytest.param(lambda m: None, id="not-an-object"),
    pytest.param(lambda m: {**m, "extra": 1}, id="extra-member"),
    pytest.param(lambda m: {k: v for k, v in m.items() if k != "index"}, id="no-index"),
    pytest.param(lambda m: {**m, "index": -1}, id="negative-index"),
    pytest.param(lambda m: {**m, "index": True}, id="bool-index"),
    pytest.param(lambda m: {**m, "index": "2"}, id="string-index"),
    pytest.param(lambda m: {**m, "index": 1 << 53}, id="huge-index"),
    pytest.param(lambda m: {**m, "proof": "abc"}, id="proof-not-array"),
    pytest.param(lambda m: {**m, "proof": [b64url_encode(bytes(31))]}, id="hash-31-bytes"),
    pytest.param(lambda m: {**m, "proof": [base64.b64encode(bytes([251] * 32)).decode()]},
                 id="hash-standard-base64"),
    pytest.param(lambda m: {**m, "proof": [b64url_encode(bytes(32)) + "="]}, id="padded"),
    pytest.param(lambda m: {**m, "proof": [1]}, id="hash-not-string"),
    pytest.param(lambda m: {**m, "proof": [b64url_encode(bytes(32))] * 65}, id="65-hashes"),
    pytest.param(lambda m: {**m, "checkpoint": ""}, id="empty-checkpoint"),
    pytest.param(lambda m: {**m, "checkpoint": 7}, id="checkpoint-not-string"),
    pytest.param(lambda m: {**m, "checkpoint": "x" * (MAX_NOTE_BYTES + 1)}, id="huge-note"),
])
def test_log_member_rejects(change: Any) -> None:
    member = change(_log_member())
    with pytest.raises(LogProofError):
        LogProof.from_json(member)
    assert check_log(member, SEAL_ID, [LOG.key]).outcome is LogOutcome.MALFORMED


def test_attach_log_splices_canonically() -> None:
    signer = LocalSigner.from_seed(bytes(32))
    from sceau.envelope import sign_envelope

    envelope = sign_envelope(canonicalize({"a": 1}), signer).to_bytes()
    proof = LogProof.from_json(_log_member())
    out = attach_log(envelope, proof)
    parsed = parse_envelope(out)
    assert parsed.log == proof.to_json()
    assert parsed.to_bytes() == out  # still canonical
    # With a keyHistory member the general path is taken; same result as building it.
    doc = parse_envelope(envelope).to_json()
    doc["keyHistory"] = ["x"]
    with_history = canonicalize(doc)
    assert attach_log(with_history, proof) == canonicalize({**doc, "log": proof.to_json()})


def test_attach_logs_equals_attach_log_one_by_one() -> None:
    from sceau.envelope import sign_envelope

    signer = LocalSigner.from_seed(bytes(32))
    envelopes = [sign_envelope(canonicalize({"n": i}), signer).to_bytes() for i in range(6)]
    doc = parse_envelope(envelopes[5]).to_json()
    doc["keyHistory"] = ["x"]
    envelopes[5] = canonicalize(doc)  # the general path, in a batch
    note = signed()
    proofs = [[hashlib.sha256(bytes([i, j])).digest() for j in range(i % 4)] + [bytes(32)]
              for i in range(6)]
    batch = attach_logs(envelopes, 40, proofs, note)
    for i, (envelope, proof) in enumerate(zip(envelopes, proofs, strict=True)):
        assert batch[i] == attach_log(envelope, LogProof(40 + i, tuple(proof), note))
    with pytest.raises(ValueError):
        attach_logs(envelopes, 0, proofs[:-1], note)
    with pytest.raises(ValueError):
        attach_logs(envelopes[:1], 0, [[bytes(31)]], note)


def test_leaf_hash_of_entry_is_rfc9162() -> None:
    assert seal_leaf_hash(SEAL_ID) == leaf_hash(seal_leaf(SEAL_ID))
