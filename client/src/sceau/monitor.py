"""Monitoring a transparency log: is the latest checkpoint consistent with the last one seen?

A monitor keeps the last checkpoint it verified.  Each run it fetches the log's latest
checkpoint, opens it with the log keys it pinned (:func:`sceau.checkpoint.open_checkpoint`),
and asks the log for the RFC 9162 §2.1.4 consistency proof from the saved tree to the new
one.  Outcomes:

* ``ok`` — the new tree extends the saved one (or is the same tree);
* ``first`` — nothing was saved yet: the checkpoint verifies, and becomes the reference;
* ``bad_signature`` — the checkpoint does not open with the pinned keys;
* ``rollback`` — the log is smaller than, or dated before, what was seen already;
* ``fork`` — the same size with another root, or a consistency proof that fails: the log
  showed two histories, which a correct log never does (C2SP tlog-checkpoint).

The state is a small JSON file (server, origin, pinned verifier keys, checkpoint) written
atomically (:func:`sceau.atomic.atomic_write`), and only after a run found no problem, so
that a fork or a rollback keeps the evidence of the earlier view.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from sceau.atomic import atomic_write
from sceau.checkpoint import (
    CheckpointError,
    LogKey,
    SignedCheckpoint,
    open_checkpoint,
)
from sceau.client import Client
from sceau.errors import ValidationError
from sceau.merkle import ProofError, verify_consistency
from sceau.strictjson import loads
from sceau.timefmt import format_time

__all__ = [
    "STATE_FORMAT",
    "MonitorResult",
    "MonitorState",
    "Outcome",
    "monitor_log",
]

STATE_FORMAT = "sceau-log-monitor/1"
_MAX_STATE_BYTES = 1 << 20


class Outcome(StrEnum):
    """What a monitor run found."""

    OK = "ok"
    FIRST = "first"
    BAD_SIGNATURE = "bad_signature"
    ROLLBACK = "rollback"
    FORK = "fork"


@dataclass(frozen=True, slots=True)
class MonitorState:
    """What a monitor remembers between runs."""

    server: str
    origin: str
    vkeys: tuple[str, ...]
    checkpoint: str

    def keys(self) -> list[LogKey]:
        """The pinned log keys."""
        return [LogKey.from_vkey(v) for v in self.vkeys]

    def to_json(self) -> dict[str, Any]:
        """The state file's contents."""
        return {"format": STATE_FORMAT, "server": self.server, "origin": self.origin,
                "vkeys": list(self.vkeys), "checkpoint": self.checkpoint}

    @classmethod
    def from_json(cls, doc: Any) -> MonitorState:
        """Read a state file's contents; :class:`ValidationError` when they are not one."""
        if not isinstance(doc, dict) or doc.get("format") != STATE_FORMAT:
            raise ValidationError(f"not a {STATE_FORMAT} state file")
        server, origin = doc.get("server"), doc.get("origin")
        vkeys, checkpoint = doc.get("vkeys"), doc.get("checkpoint")
        if not (isinstance(server, str) and isinstance(origin, str)
                and isinstance(checkpoint, str) and isinstance(vkeys, list) and vkeys
                and all(isinstance(v, str) for v in vkeys)):
            raise ValidationError("state file lacks server, origin, vkeys or checkpoint")
        state = cls(server, origin, tuple(vkeys), checkpoint)
        try:
            state.keys()
        except CheckpointError as exc:
            raise ValidationError(f"state file: {exc}") from None
        return state

    @classmethod
    def load(cls, path: str | Path) -> MonitorState | None:
        """The state saved at ``path``, or None when there is no file.  Raises OSError or
        :class:`ValidationError` for a file that cannot be read."""
        try:
            with open(path, "rb") as f:
                data = f.read(_MAX_STATE_BYTES + 1)
        except FileNotFoundError:
            return None
        return cls.from_json(loads(data, max_bytes=_MAX_STATE_BYTES))

    def save(self, path: str | Path) -> None:
        """Write the state atomically (mode 0600; the parent directory must exist)."""
        data = json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n"
        atomic_write(path, data.encode("utf-8"), mode=0o600)


@dataclass(frozen=True, slots=True)
class MonitorResult:
    """A monitor run's outcome, a sentence for people, and the checkpoints involved."""

    outcome: Outcome
    message: str
    previous: SignedCheckpoint | None = None
    current: SignedCheckpoint | None = None


def monitor_log(client: Client, keys: list[LogKey],
                previous: str | None = None) -> MonitorResult:
    """Fetch the latest checkpoint from ``client``'s service, verify it with ``keys``, and
    check it is consistent with ``previous`` (a checkpoint this monitor verified before).

    Network and service errors propagate (:class:`~sceau.errors.SceauError`); what the log
    did wrong is the result's :class:`Outcome`.
    """
    text = client.log_checkpoint()
    try:
        current = open_checkpoint(text, keys)
    except CheckpointError as exc:
        return MonitorResult(Outcome.BAD_SIGNATURE, f"the latest checkpoint does not verify "
                             f"with the pinned log key(s): {exc}")
    cp = current.checkpoint
    if previous is None:
        return MonitorResult(Outcome.FIRST, f"log {cp.origin}: checkpoint of size {cp.size} "
                             f"at {_when(current)} verified; saved as the reference",
                             None, current)
    try:
        before = open_checkpoint(previous, keys)
    except CheckpointError as exc:
        raise ValidationError(f"the saved checkpoint does not verify: {exc}") from None
    old = before.checkpoint
    if old.origin != cp.origin:
        return MonitorResult(Outcome.BAD_SIGNATURE, f"the log's origin changed from "
                             f"{old.origin!r} to {cp.origin!r}", before, current)
    if cp.size < old.size:
        return MonitorResult(Outcome.ROLLBACK, f"the log shrank from {old.size} to {cp.size} "
                             "entries", before, current)
    if current.timestamp < before.timestamp:
        return MonitorResult(Outcome.ROLLBACK, f"the log's time went back from "
                             f"{_when(before)} to {_when(current)}", before, current)
    if cp.size == old.size:
        if cp.root != old.root:
            return MonitorResult(Outcome.FORK, f"two different trees of size {cp.size}",
                                 before, current)
        return MonitorResult(Outcome.OK, f"log {cp.origin}: still {cp.size} entries, same "
                             f"tree (checkpoint {_when(current)})", before, current)
    proof = client.log_consistency_proof(old.size, cp.size)
    try:
        verify_consistency(old.size, cp.size, proof.proof, old.root, cp.root)
    except ProofError as exc:
        return MonitorResult(Outcome.FORK, f"the tree of size {cp.size} does not extend the "
                             f"saved tree of size {old.size}: {exc}", before, current)
    return MonitorResult(Outcome.OK, f"log {cp.origin}: {old.size} -> {cp.size} entries, "
                         f"consistent (checkpoint {_when(current)})", before, current)


def _when(signed: SignedCheckpoint) -> str:
    return format_time(signed.time)
