"""Transparency log checkpoints: C2SP signed notes, checkpoints and log keys.

Pure: no I/O, no clock.  A checkpoint (C2SP tlog-checkpoint) is the note text::

    <origin>\\n<tree size, decimal>\\n<root hash, base64>\\n

signed as a C2SP signed note: after the text, an empty line, then signature lines
``— <key name> <base64(4-byte key id || signature)>``.  A Sceau log signs each checkpoint
with its Ed25519 key twice (SPEC.md §6.1):

* type 0x01, plain Ed25519 over the note text (C2SP signed-note), which any signed-note
  tool verifies;
* type 0x04, the timestamped Ed25519 signature of C2SP tlog-cosignature/v1 over
  ``"cosignature/v1\\ntime <t>\\n" || note text``: the log's signed statement that at
  POSIX time ``t`` the tree had this root.  That time is the seal's **trusted time**.

Both use the key name = the log's origin; key ids are
``SHA-256(name || 0x0A || type || public key)[:4]`` (C2SP signed-note), so the two
signature types never share an id.  Parsing is strict: one spelling for every field.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from sceau.merkle import HASH_SIZE, MAX_TREE_SIZE

__all__ = [
    "COSIGNATURE_V1",
    "ED25519",
    "MAX_NOTE_BYTES",
    "MAX_SIGNATURES",
    "Checkpoint",
    "CheckpointError",
    "LogKey",
    "LogSigner",
    "Note",
    "NoteSignature",
    "SignedCheckpoint",
    "UnknownLogKeyError",
    "format_note",
    "open_checkpoint",
    "parse_note",
    "sign_checkpoint",
]

#: C2SP signed-note signature type of plain Ed25519 signatures.
ED25519 = 0x01
#: C2SP signed-note signature type of timestamped Ed25519 cosignatures (tlog-cosignature).
COSIGNATURE_V1 = 0x04
#: Largest signed note accepted, in bytes (a Sceau checkpoint with 16 signatures is ~2 KiB).
MAX_NOTE_BYTES = 8192
#: Most signature lines accepted (C2SP signed-note asks verifiers to accept 16).
MAX_SIGNATURES = 16
#: Largest timestamp a verifier turns into a time: 9999-12-31T23:59:59Z.
MAX_TIMESTAMP = 253_402_300_799
_ED25519_KEY_LEN = 32
_ED25519_SIG_LEN = 64
_MAX_NAME_LEN = 255
_SIG_PREFIX = "\u2014 "  # em dash, space
_COSIG_HEADER = "cosignature/v1\n"
#: Origins and Sceau log key names: printable ASCII without space or '+'.
_ORIGIN = re.compile(r"[\x21-\x2a\x2c-\x7e]{1,255}")
_SIZE = re.compile(r"0|[1-9][0-9]{0,15}")
_HEX8 = re.compile(r"[0-9a-fA-F]{8}")


class CheckpointError(ValueError):
    """A note or checkpoint is malformed, or a signature by a known key fails."""


class UnknownLogKeyError(CheckpointError):
    """No signature on the checkpoint is by a log key the verifier knows."""


def _b64decode(text: str, what: str) -> bytes:
    """Standard base64 (RFC 4648 §4) with padding, in its one canonical spelling."""
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise CheckpointError(f"{what} is not base64") from None
    if base64.b64encode(data).decode("ascii") != text:
        raise CheckpointError(f"{what} is not canonical base64")
    return data


def _key_id(name: str, sig_type: int, public_key: bytes) -> bytes:
    """``SHA-256(name || 0x0A || type || public key)[:4]`` (C2SP signed-note)."""
    return hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([sig_type])
                          + public_key).digest()[:4]


def _check_name(name: str) -> str:
    """C2SP signed-note key names: non-empty, no Unicode spaces, no '+'."""
    if (not isinstance(name, str) or not name or len(name) > _MAX_NAME_LEN or "+" in name
            or any(c.isspace() for c in name) or "\u2014" in name
            or any(ord(c) < 0x20 for c in name)):
        raise CheckpointError("bad key name: non-empty, at most 255 characters, no spaces "
                              "or '+'")
    return name


# -- signed notes (C2SP signed-note) -----------------------------------------------------


@dataclass(frozen=True, slots=True)
class NoteSignature:
    """One signature line: key name, 4-byte key id, and the signature bytes after it."""

    name: str
    key_id: bytes
    signature: bytes

    def line(self) -> str:
        """``— <name> <base64(key id || signature)>`` without the newline."""
        blob = base64.b64encode(self.key_id + self.signature).decode("ascii")
        return f"{_SIG_PREFIX}{self.name} {blob}"


@dataclass(frozen=True, slots=True)
class Note:
    """A parsed signed note: its text (ending in a newline) and its signature lines."""

    text: str
    signatures: tuple[NoteSignature, ...]


def parse_note(data: bytes | str) -> Note:
    """Parse a C2SP signed note strictly; raise :class:`CheckpointError` otherwise.

    The note is valid UTF-8 of at most :data:`MAX_NOTE_BYTES` bytes, has no control
    character but newline, and ends with a newline.  The text is everything up to the
    last empty line (it keeps its final newline); after it come 1 to
    :data:`MAX_SIGNATURES` signature lines, each ``— <name> <base64>`` where the base64
    holds a 4-byte key id and at least one more byte.  Signatures are not verified here.
    """
    if isinstance(data, str):
        try:
            raw = data.encode("utf-8")
        except UnicodeEncodeError:
            raise CheckpointError("note is not UTF-8 text") from None
        text = data
    else:
        raw = bytes(data)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise CheckpointError("note is not valid UTF-8") from None
    if len(raw) > MAX_NOTE_BYTES:
        raise CheckpointError(f"note exceeds {MAX_NOTE_BYTES} bytes")
    if text.startswith("\ufeff"):
        raise CheckpointError("note starts with a byte order mark")
    if any(ord(c) < 0x20 and c != "\n" for c in text):
        raise CheckpointError("note holds a control character other than newline")
    if not text.endswith("\n"):
        raise CheckpointError("note does not end with a newline")
    split = text.rfind("\n\n")
    if split < 0:
        raise CheckpointError("note has no empty line before its signatures")
    body, sig_block = text[:split + 1], text[split + 2:]
    if not body.strip("\n"):
        raise CheckpointError("note text is empty")
    lines = sig_block[:-1].split("\n") if sig_block else []
    if not lines:
        raise CheckpointError("note has no signature")
    if len(lines) > MAX_SIGNATURES:
        raise CheckpointError(f"note has more than {MAX_SIGNATURES} signatures")
    signatures = []
    for line in lines:
        if not line.startswith(_SIG_PREFIX):
            raise CheckpointError("a signature line does not start with '— '")
        name, sep, blob = line[len(_SIG_PREFIX):].partition(" ")
        if not sep:
            raise CheckpointError("a signature line has no signature")
        _check_name(name)
        sig = _b64decode(blob, "signature")
        if len(sig) < 5:
            raise CheckpointError("a signature is shorter than its 4-byte key id plus one")
        signatures.append(NoteSignature(name, sig[:4], sig[4:]))
    return Note(body, tuple(signatures))


def format_note(text: str, signatures: Sequence[NoteSignature]) -> str:
    """The signed note: ``text`` (ending in a newline), an empty line, one line per
    signature."""
    if not text.endswith("\n") or not signatures:
        raise CheckpointError("a note's text ends with a newline and it has a signature")
    return text + "\n" + "".join(s.line() + "\n" for s in signatures)


# -- checkpoints (C2SP tlog-checkpoint) --------------------------------------------------


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A log's tree head: origin, tree size and root hash (C2SP tlog-checkpoint)."""

    origin: str
    size: int
    root: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.origin, str) or _ORIGIN.fullmatch(self.origin) is None:
            raise CheckpointError("origin must be 1-255 printable ASCII characters, no "
                                  "space or '+'")
        if (isinstance(self.size, bool) or not isinstance(self.size, int)
                or not 0 <= self.size <= MAX_TREE_SIZE):
            raise CheckpointError("tree size must be an integer in [0, 2**53 - 1]")
        if not isinstance(self.root, bytes) or len(self.root) != HASH_SIZE:
            raise CheckpointError(f"root hash must be {HASH_SIZE} bytes")

    def body(self) -> str:
        """The note text: origin, size and base64 root, each ending in a newline."""
        root = base64.b64encode(self.root).decode("ascii")
        return f"{self.origin}\n{self.size}\n{root}\n"

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        """Read a note text written by :meth:`body`: exactly three lines.  Sceau logs
        write no extension lines and Sceau verifiers accept none."""
        lines = text.split("\n")
        if len(lines) != 4 or lines[3] != "":
            raise CheckpointError("a checkpoint is exactly three lines: origin, size, root")
        origin, size, root = lines[:3]
        if _ORIGIN.fullmatch(origin) is None:
            raise CheckpointError("bad origin line")
        if _SIZE.fullmatch(size) is None:
            raise CheckpointError("bad tree size line: decimal, no leading zeros")
        root_bytes = _b64decode(root, "root hash")
        return cls(origin, int(size), root_bytes)


# -- keys --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LogKey:
    """A transparency log's public key as a verifier holds it: the key name (the log's
    origin) and the 32-byte Ed25519 public key."""

    name: str
    public_key: bytes

    def __post_init__(self) -> None:
        _check_name(self.name)
        if not isinstance(self.public_key, bytes) or len(self.public_key) != _ED25519_KEY_LEN:
            raise CheckpointError("an Ed25519 public key is 32 bytes")

    @property
    def key_id(self) -> bytes:
        """Key id of the plain Ed25519 signatures (type 0x01)."""
        return _key_id(self.name, ED25519, self.public_key)

    @property
    def cosignature_key_id(self) -> bytes:
        """Key id of the timestamped signatures (type 0x04)."""
        return _key_id(self.name, COSIGNATURE_V1, self.public_key)

    def vkey(self) -> str:
        """The C2SP / Go ``note`` verifier key: ``<name>+<hex key id>+<base64(0x01 ||
        key)>``."""
        data = base64.b64encode(bytes([ED25519]) + self.public_key).decode("ascii")
        return f"{self.name}+{self.key_id.hex()}+{data}"

    @classmethod
    def from_vkey(cls, text: str) -> LogKey:
        """Read :meth:`vkey` output; the key id must match the name and key."""
        if not isinstance(text, str):
            raise CheckpointError("a verifier key is text")
        name, sep1, rest = text.partition("+")
        key_id, sep2, data = rest.partition("+")
        if not (sep1 and sep2) or _HEX8.fullmatch(key_id) is None:
            raise CheckpointError("a verifier key is <name>+<8 hex digits>+<base64 key>")
        raw = _b64decode(data, "verifier key")
        if len(raw) != 1 + _ED25519_KEY_LEN or raw[0] != ED25519:
            raise CheckpointError("verifier key is not an Ed25519 (type 0x01) key")
        key = cls(name, raw[1:])
        if key.key_id != bytes.fromhex(key_id):
            raise CheckpointError("verifier key id does not match its name and key")
        return key

    def _verify(self, signature: bytes, message: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except InvalidSignature:
            return False
        return True


def _cosigned_message(timestamp: int, body: str) -> bytes:
    """What a timestamped signature covers (C2SP tlog-cosignature, Ed25519)."""
    return f"{_COSIG_HEADER}time {timestamp}\n{body}".encode()


@dataclass(frozen=True, slots=True)
class LogSigner:
    """What signs checkpoints: the key name (the log's origin), the public key, and a
    function that signs bytes with the private key (held in custody, never here)."""

    name: str
    public_key: bytes
    sign: Callable[[bytes], bytes]

    @property
    def key(self) -> LogKey:
        """The verifier's view of this signer."""
        return LogKey(self.name, self.public_key)


def sign_checkpoint(checkpoint: Checkpoint, signer: LogSigner, timestamp: int) -> str:
    """The signed note of ``checkpoint``: a plain Ed25519 signature and a timestamped one
    at POSIX ``timestamp`` (seconds), both by ``signer`` whose name must be the origin."""
    if signer.name != checkpoint.origin:
        raise CheckpointError("a log signs its checkpoints under its origin as key name")
    if isinstance(timestamp, bool) or not 0 <= timestamp <= MAX_TIMESTAMP:
        raise CheckpointError("timestamp out of range")
    key = signer.key
    body = checkpoint.body()
    plain = signer.sign(body.encode("utf-8"))
    stamped = signer.sign(_cosigned_message(timestamp, body))
    return format_note(body, [
        NoteSignature(key.name, key.key_id, plain),
        NoteSignature(key.name, key.cosignature_key_id,
                      struct.pack(">Q", timestamp) + stamped),
    ])


@dataclass(frozen=True, slots=True)
class SignedCheckpoint:
    """A checkpoint whose signatures verified, with the log's signed time."""

    checkpoint: Checkpoint
    #: POSIX seconds of the timestamped signature (the earliest, if several keys signed).
    timestamp: int
    #: The whole signed note, as received.
    text: str

    @property
    def time(self) -> datetime:
        """The log's signed time (UTC)."""
        return datetime.fromtimestamp(self.timestamp, UTC)


def open_checkpoint(data: bytes | str, keys: Sequence[LogKey]) -> SignedCheckpoint:
    """Verify a signed checkpoint against the log keys a verifier trusts.

    Signature lines by other keys are ignored (C2SP signed-note); a line whose name is the
    checkpoint's origin and whose key id is that of a known key (type 0x01 or 0x04) MUST
    verify.  At least one verified timestamped (0x04) signature is required: it gives the
    trusted time.  Raises :class:`UnknownLogKeyError` when no signature is by a known key
    for this origin, :class:`CheckpointError` for anything else.
    """
    note = parse_note(data)
    checkpoint = Checkpoint.parse(note.text)
    text = data if isinstance(data, str) else bytes(data).decode("utf-8")
    body = note.text.encode("utf-8")
    mine = [k for k in keys if k.name == checkpoint.origin]
    found = False
    times: list[int] = []
    for sig in note.signatures:
        if sig.name != checkpoint.origin:
            continue
        for key in mine:
            if sig.key_id == key.key_id:
                found = True
                if len(sig.signature) != _ED25519_SIG_LEN or not key._verify(sig.signature,
                                                                           body):
                    raise CheckpointError("the log's signature on the checkpoint fails")
            elif sig.key_id == key.cosignature_key_id:
                found = True
                if len(sig.signature) != 8 + _ED25519_SIG_LEN:
                    raise CheckpointError("a timestamped signature is 8 + 64 bytes")
                (timestamp,) = struct.unpack(">Q", sig.signature[:8])
                if timestamp > MAX_TIMESTAMP:
                    raise CheckpointError("the checkpoint's timestamp is out of range")
                if not key._verify(sig.signature[8:], _cosigned_message(timestamp,
                                                                         note.text)):
                    raise CheckpointError("the log's timestamped signature fails")
                times.append(timestamp)
    if not found:
        raise UnknownLogKeyError(f"no signature by a known key of log {checkpoint.origin!r}")
    if not times:
        raise CheckpointError("the checkpoint has no timestamped signature by the log")
    return SignedCheckpoint(checkpoint, min(times), text)
