"""Signing key lifecycle: the state machine, rotation planning, the rotation policy.

Pure: no I/O, time passed in.  The service's registry (``sceau_service.registry``) reads a
tenant's key series, asks this module what a change does, and writes the result in one
transaction.  States and their meaning for a seal are SPEC.md §5.3 and §7.2; the rules
match the key history's (``sceau.keyhistory``, SPEC.md §6.2.2), so that every plan can be
recorded as a signed key statement:

- ``pending`` → ``active`` → ``retired``; any state → ``revoked``; never back.
- Exactly one ``active`` key per tenant at any instant (a rotation retires the outgoing key
  and activates the incoming one in the same step).
- A key's validity window is fixed when the key is created and never changes afterwards (a
  later statement can neither stretch an old key's window nor cut seals it already
  made).  Bounds are whole seconds, as the claim's ``created``.  Under a rotation policy a
  new key's window ends ``every + overlap`` after it starts: the next rotation is due after
  ``every``, and the outgoing key stays valid ``overlap`` longer, for seals signed by a
  replica that has not seen the rotation yet or logged a moment later.
- A revocation carries a compromise time that may only move earlier; a revoked key is never
  un-revoked.  Revoking the active key needs a replacement in the same step.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sceau import KeyStatus
from sceau.errors import InvalidKeyTransitionError, NotFoundError, ValidationError

__all__ = [
    "ALLOWED_TRANSITIONS",
    "KeyLife",
    "Plan",
    "RotationPolicy",
    "active_key",
    "check_series",
    "check_transition",
    "plan_new_pending",
    "plan_revocation",
    "plan_rotation",
    "whole_seconds",
]

#: The state machine (SPEC.md §5.3).  ``revoked`` → ``revoked`` only moves the compromise
#: time earlier (:func:`plan_revocation` checks that).
ALLOWED_TRANSITIONS: dict[KeyStatus, frozenset[KeyStatus]] = {
    KeyStatus.PENDING: frozenset({KeyStatus.ACTIVE, KeyStatus.REVOKED}),
    KeyStatus.ACTIVE: frozenset({KeyStatus.RETIRED, KeyStatus.REVOKED}),
    KeyStatus.RETIRED: frozenset({KeyStatus.REVOKED}),
    KeyStatus.REVOKED: frozenset({KeyStatus.REVOKED}),
}


def whole_seconds(when: datetime) -> datetime:
    """``when`` truncated to the second (validity bounds are whole seconds, as in claims);
    naive datetimes are refused."""
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValidationError("times must be timezone-aware")
    return when.replace(microsecond=0)


@dataclass(frozen=True, slots=True)
class KeyLife:
    """One key's lifecycle record (what the registry stores besides the key bytes)."""

    keyid: str
    status: KeyStatus
    not_before: datetime | None = None
    not_after: datetime | None = None
    compromised_since: datetime | None = None


@dataclass(frozen=True, slots=True)
class Plan:
    """The outcome of a lifecycle change: the whole series after it, and what changed."""

    keys: tuple[KeyLife, ...]
    #: Records that are new or differ from before (the registry writes exactly these).
    changed: tuple[KeyLife, ...]
    #: The active key before the change and after it (None when there is none).
    outgoing: str | None
    incoming: str | None

    def get(self, keyid: str) -> KeyLife:
        """The record of ``keyid`` after the change."""
        for key in self.keys:
            if key.keyid == keyid:
                return key
        raise NotFoundError(f"no key {keyid}")


def check_transition(before: KeyLife, after: KeyLife) -> None:
    """Raise :class:`InvalidKeyTransitionError` unless ``before`` → ``after`` is allowed:
    the status change is in :data:`ALLOWED_TRANSITIONS` (or none), the window is unchanged,
    and a compromise time is never removed or moved later."""
    if before.keyid != after.keyid:
        raise InvalidKeyTransitionError("a key's id never changes")
    if before.status is not after.status and after.status not in ALLOWED_TRANSITIONS[
            before.status]:
        raise InvalidKeyTransitionError(
            f"a {before.status.value} key cannot become {after.status.value}")
    if (before.not_before, before.not_after) != (after.not_before, after.not_after):
        raise InvalidKeyTransitionError(f"key {before.keyid}'s validity window is fixed")
    if before.compromised_since is not None and (
            after.compromised_since is None
            or after.compromised_since > before.compromised_since):
        raise InvalidKeyTransitionError(
            "a revoked key's compromise time may only move earlier")
    if before.status is KeyStatus.REVOKED and before.compromised_since is None \
            and after.compromised_since is not None:
        raise InvalidKeyTransitionError(
            "a key revoked for all time cannot get a compromise time")


def check_series(keys: Iterable[KeyLife]) -> None:
    """Raise :class:`InvalidKeyTransitionError` if a series breaks an invariant: ids
    unique, at most one active key, windows in order, compromise times on revoked keys."""
    seen: set[str] = set()
    active = 0
    for key in keys:
        if key.keyid in seen:
            raise InvalidKeyTransitionError(f"key {key.keyid} appears twice")
        seen.add(key.keyid)
        if key.status is KeyStatus.ACTIVE:
            active += 1
        if (key.not_before is not None and key.not_after is not None
                and key.not_after < key.not_before):
            raise InvalidKeyTransitionError(f"key {key.keyid} ends before it starts")
        if key.compromised_since is not None and key.status is not KeyStatus.REVOKED:
            raise InvalidKeyTransitionError(f"key {key.keyid} is compromised, not revoked")
    if active > 1:
        raise InvalidKeyTransitionError("more than one active key")


def active_key(keys: Iterable[KeyLife]) -> KeyLife | None:
    """The active key of a series, if any."""
    return next((k for k in keys if k.status is KeyStatus.ACTIVE), None)


def _index(keys: Sequence[KeyLife], keyid: str) -> int:
    for i, key in enumerate(keys):
        if key.keyid == keyid:
            return i
    raise NotFoundError(f"no key {keyid}")


def _finish(before: Sequence[KeyLife], after: list[KeyLife]) -> Plan:
    check_series(after)
    old = {k.keyid: k for k in before}
    for key in after:
        prev = old.get(key.keyid)
        if prev is not None:
            check_transition(prev, key)
    changed = tuple(k for k in after if old.get(k.keyid) != k)
    out, inc = active_key(before), active_key(after)
    return Plan(tuple(after), changed, None if out is None else out.keyid,
                None if inc is None else inc.keyid)


def _new_window(now: datetime, not_after: datetime | None) -> tuple[datetime, datetime | None]:
    start = whole_seconds(now)
    end = None if not_after is None else whole_seconds(not_after)
    if end is not None and end < start:
        raise ValidationError("a key's window cannot end before it starts")
    return start, end


def plan_new_pending(keys: Sequence[KeyLife], keyid: str, now: datetime,
                     not_after: datetime | None = None) -> Plan:
    """Add a new key as ``pending`` (published ahead of use; it signs nothing until it is
    activated).  Its window opens at ``now``."""
    if any(k.keyid == keyid for k in keys):
        raise InvalidKeyTransitionError(f"key {keyid} already exists")
    start, end = _new_window(now, not_after)
    return _finish(keys, [*keys, KeyLife(keyid, KeyStatus.PENDING, start, end)])


def plan_rotation(keys: Sequence[KeyLife], incoming: str, now: datetime,
                  not_after: datetime | None = None) -> Plan:
    """Make ``incoming`` the active key at ``now`` and retire the outgoing active key (if
    any).  ``incoming`` is a pending key of the series (its window stays as published) or
    a new key id, whose window is ``[now, not_after]``."""
    after = list(keys)
    if any(k.keyid == incoming for k in keys):
        i = _index(after, incoming)
        if after[i].status is not KeyStatus.PENDING:
            raise InvalidKeyTransitionError(
                f"only a pending key can be activated; {incoming} is {after[i].status.value}")
    else:
        start, end = _new_window(now, not_after)
        after.append(KeyLife(incoming, KeyStatus.PENDING, start, end))
    for i, key in enumerate(after):
        if key.status is KeyStatus.ACTIVE:
            after[i] = replace(key, status=KeyStatus.RETIRED)
        elif key.keyid == incoming:
            after[i] = replace(key, status=KeyStatus.ACTIVE)
    return _finish(keys, after)


def plan_revocation(keys: Sequence[KeyLife], keyid: str, compromised_since: datetime | None,
                    now: datetime, replacement: str | None = None,
                    not_after: datetime | None = None) -> Plan:
    """Revoke ``keyid``: seals it made at or after ``compromised_since`` fail (with no
    compromise time, every seal it made fails).  A compromise time may not be in the
    future, and on an already revoked key may only move earlier.  Revoking the active key
    activates ``replacement`` (a new key id, window ``[now, not_after]``, or a pending
    key) in the same step."""
    now = whole_seconds(now)
    if compromised_since is not None:
        compromised_since = whole_seconds(compromised_since)
        if compromised_since > now:
            raise ValidationError("compromised_since is in the future")
    after = list(keys)
    i = _index(after, keyid)
    key = after[i]
    if key.status is KeyStatus.REVOKED and not (
            key.compromised_since is not None and compromised_since is not None
            and compromised_since < key.compromised_since):
        raise InvalidKeyTransitionError(
            "a revoked key's compromise time may only move earlier")
    after[i] = replace(key, status=KeyStatus.REVOKED, compromised_since=compromised_since)
    if key.status is KeyStatus.ACTIVE and replacement is None:
        raise InvalidKeyTransitionError("revoking the active key needs a replacement")
    if key.status is not KeyStatus.ACTIVE and replacement is not None:
        raise InvalidKeyTransitionError(
            "a replacement is only made when the active key is revoked")
    if replacement is not None:
        if any(k.keyid == replacement for k in keys):
            j = _index(after, replacement)
            if after[j].status is not KeyStatus.PENDING:
                raise InvalidKeyTransitionError("the replacement must be a new or pending key")
            after[j] = replace(after[j], status=KeyStatus.ACTIVE)
        else:
            start, end = _new_window(now, not_after)
            after.append(KeyLife(replacement, KeyStatus.ACTIVE, start, end))
    return _finish(keys, after)


@dataclass(frozen=True, slots=True)
class RotationPolicy:
    """Scheduled rotation: a new active key every ``every``; each key's window ends
    ``every + overlap`` after it starts, so the outgoing key stays valid ``overlap`` after
    an on-time rotation."""

    every: timedelta
    overlap: timedelta

    def __post_init__(self) -> None:
        if self.every <= timedelta(0):
            raise ValidationError("the rotation period must be positive")
        if not timedelta(0) <= self.overlap < self.every:
            raise ValidationError("the overlap must be at least 0 and less than the period")

    @classmethod
    def days(cls, every_days: int, overlap_days: int) -> RotationPolicy:
        """A policy in whole days (the operator CLI's and the API's unit)."""
        return cls(timedelta(days=every_days), timedelta(days=overlap_days))

    def window_end(self, start: datetime) -> datetime:
        """Where the window of a key made at ``start`` under this policy ends."""
        return whole_seconds(start) + self.every + self.overlap

    def next_due(self, active: KeyLife) -> datetime | None:
        """When ``active`` is due for rotation (None: a key with no start is never due)."""
        return None if active.not_before is None else active.not_before + self.every

    def due(self, active: KeyLife | None, now: datetime) -> bool:
        """Whether ``active`` (the series' active key) is due for rotation at ``now``.
        A series with no active key is never due: its first key is the operator's act."""
        if active is None:
            return False
        when = self.next_due(active)
        return when is not None and now >= when
