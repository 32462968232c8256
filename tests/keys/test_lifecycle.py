"""The key lifecycle state machine, rotation planning and the rotation policy (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sceau import KeyStatus
from sceau.errors import InvalidKeyTransitionError, NotFoundError, ValidationError
from sceau_keys.lifecycle import (
    ALLOWED_TRANSITIONS,
    KeyLife,
    RotationPolicy,
    active_key,
    check_series,
    check_transition,
    plan_new_pending,
    plan_revocation,
    plan_rotation,
)

T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
P, A, R, X = KeyStatus.PENDING, KeyStatus.ACTIVE, KeyStatus.RETIRED, KeyStatus.REVOKED


# -- the state machine, as a table ----------------------------------------------------------

TRANSITIONS = [
    (P, P, True), (P, A, True), (P, R, False), (P, X, True),
    (A, P, False), (A, A, True), (A, R, True), (A, X, True),
    (R, P, False), (R, A, False), (R, R, True), (R, X, True),
    (X, P, False), (X, A, False), (X, R, False), (X, X, True),
]


@pytest.mark.parametrize(("before", "after", "allowed"), TRANSITIONS)
def test_transition_table(before: KeyStatus, after: KeyStatus, allowed: bool) -> None:
    assert len(TRANSITIONS) == len(KeyStatus) ** 2
    old, new = KeyLife("k", before, T0), KeyLife("k", after, T0)
    if allowed:
        check_transition(old, new)
    else:
        with pytest.raises(InvalidKeyTransitionError):
            check_transition(old, new)
    assert (after in ALLOWED_TRANSITIONS[before] or after is before) == allowed


@pytest.mark.parametrize(("old", "new", "allowed"), [
    (None, T0, True),                        # revoked now
    (T0, T0 - timedelta(days=1), True),      # earlier: allowed
    (T0, T0, True),                          # unchanged
    (T0, T0 + timedelta(seconds=1), False),  # later: never
    (T0, None, False),                       # removed: never
])
def test_compromise_time_only_moves_earlier(old: datetime | None, new: datetime | None,
                                            allowed: bool) -> None:
    before = KeyLife("k", X if old else A, T0, None, old)
    after = KeyLife("k", X, T0, None, new)
    if old is None and new is not None:
        before = KeyLife("k", A, T0)
    if allowed:
        check_transition(before, after)
    else:
        with pytest.raises(InvalidKeyTransitionError):
            check_transition(before, after)


def test_windows_are_fixed_once_published() -> None:
    key = KeyLife("k", A, T0, T0 + timedelta(days=30))
    for changed in (KeyLife("k", R, T0, T0 + timedelta(days=31)),
                    KeyLife("k", R, T0, None),
                    KeyLife("k", R, T0 - timedelta(seconds=1), T0 + timedelta(days=30))):
        with pytest.raises(InvalidKeyTransitionError, match="window"):
            check_transition(key, changed)


def test_series_invariants() -> None:
    check_series([KeyLife("a", A, T0), KeyLife("b", R, T0), KeyLife("c", P, T0)])
    with pytest.raises(InvalidKeyTransitionError, match="more than one active"):
        check_series([KeyLife("a", A, T0), KeyLife("b", A, T0)])
    with pytest.raises(InvalidKeyTransitionError, match="twice"):
        check_series([KeyLife("a", R, T0), KeyLife("a", R, T0)])
    with pytest.raises(InvalidKeyTransitionError, match="ends before"):
        check_series([KeyLife("a", R, T0, T0 - timedelta(seconds=1))])
    with pytest.raises(InvalidKeyTransitionError, match="compromised"):
        check_series([KeyLife("a", R, T0, None, T0)])


# -- planning ---------------------------------------------------------------------------------


def test_first_rotation_activates_a_new_key() -> None:
    plan = plan_rotation([], "k1", T0.replace(microsecond=123))
    assert plan.outgoing is None and plan.incoming == "k1"
    assert plan.keys == (KeyLife("k1", A, T0, None),)
    assert plan.changed == plan.keys


def test_rotation_retires_the_outgoing_key_and_keeps_its_window() -> None:
    keys = [KeyLife("k1", A, T0, T0 + timedelta(days=40)), KeyLife("k0", R, T0)]
    now = T0 + timedelta(days=30)
    plan = plan_rotation(keys, "k2", now, now + timedelta(days=40))
    assert plan.outgoing == "k1" and plan.incoming == "k2"
    assert plan.get("k1") == KeyLife("k1", R, T0, T0 + timedelta(days=40))
    assert plan.get("k2") == KeyLife("k2", A, now, now + timedelta(days=40))
    assert {k.keyid for k in plan.changed} == {"k1", "k2"}  # k0 untouched
    with pytest.raises(NotFoundError):
        plan.get("nope")


def test_rotation_to_a_pending_key_keeps_its_published_window() -> None:
    keys = plan_new_pending([KeyLife("k1", A, T0)], "k2", T0 + timedelta(days=1)).keys
    assert keys[1] == KeyLife("k2", P, T0 + timedelta(days=1))
    plan = plan_rotation(keys, "k2", T0 + timedelta(days=9))
    assert plan.get("k2") == KeyLife("k2", A, T0 + timedelta(days=1))
    assert plan.get("k1").status is R


@pytest.mark.parametrize("status", [A, R, X])
def test_only_pending_or_new_keys_can_be_activated(status: KeyStatus) -> None:
    keys = [KeyLife("k1", status, T0, None, T0 if status is X else None)]
    with pytest.raises(InvalidKeyTransitionError):
        plan_rotation(keys, "k1", T0)


def test_new_key_ids_are_unique() -> None:
    with pytest.raises(InvalidKeyTransitionError, match="already exists"):
        plan_new_pending([KeyLife("k1", R, T0)], "k1", T0)


def test_revoking_the_active_key_needs_a_replacement() -> None:
    keys = [KeyLife("k1", A, T0)]
    now = T0 + timedelta(days=3)
    with pytest.raises(InvalidKeyTransitionError, match="replacement"):
        plan_revocation(keys, "k1", T0 + timedelta(days=2), now)
    plan = plan_revocation(keys, "k1", T0 + timedelta(days=2), now, "k2")
    assert plan.get("k1") == KeyLife("k1", X, T0, None, T0 + timedelta(days=2))
    assert plan.get("k2") == KeyLife("k2", A, now)
    assert plan.incoming == "k2"


def test_revoking_a_retired_key_keeps_the_active_one() -> None:
    keys = [KeyLife("k1", R, T0), KeyLife("k2", A, T0)]
    plan = plan_revocation(keys, "k1", None, T0)
    assert plan.get("k1").status is X and plan.get("k1").compromised_since is None
    assert plan.outgoing == plan.incoming == "k2"
    with pytest.raises(InvalidKeyTransitionError, match="only made when"):
        plan_revocation(keys, "k1", None, T0, "k3")


def test_revocation_rules() -> None:
    keys = [KeyLife("k1", X, T0, None, T0 + timedelta(days=2)), KeyLife("k2", A, T0)]
    now = T0 + timedelta(days=5)
    earlier = plan_revocation(keys, "k1", T0 + timedelta(days=1), now)
    assert earlier.get("k1").compromised_since == T0 + timedelta(days=1)
    for since in (T0 + timedelta(days=2), T0 + timedelta(days=3), None):
        with pytest.raises(InvalidKeyTransitionError, match="earlier"):
            plan_revocation(keys, "k1", since, now)
    with pytest.raises(ValidationError, match="future"):
        plan_revocation(keys, "k2", now + timedelta(seconds=1), now, "k3")
    with pytest.raises(NotFoundError):
        plan_revocation(keys, "nope", None, now)
    with pytest.raises(ValidationError, match="timezone"):
        plan_revocation(keys, "k2", datetime(2026, 1, 1), now, "k3")


# -- the policy ------------------------------------------------------------------------------


def test_policy_due_and_windows() -> None:
    policy = RotationPolicy.days(30, 2)
    active = KeyLife("k1", A, T0, policy.window_end(T0))
    assert active.not_after == T0 + timedelta(days=32)
    assert not policy.due(active, T0 + timedelta(days=30, seconds=-1))
    assert policy.due(active, T0 + timedelta(days=30))
    assert not policy.due(None, T0 + timedelta(days=300))
    assert not policy.due(KeyLife("k1", A), T0)  # no start: never due
    with pytest.raises(ValidationError):
        RotationPolicy.days(0, 0)
    with pytest.raises(ValidationError):
        RotationPolicy.days(7, 7)
    with pytest.raises(ValidationError):
        RotationPolicy(timedelta(days=1), timedelta(seconds=-1))


# -- properties: any sequence of operations keeps the invariants --------------------------------

_OPS = st.lists(st.tuples(st.sampled_from(["rotate", "pending", "activate", "revoke"]),
                          st.integers(0, 20), st.integers(0, 10 * 86400)),
                max_size=25)


@settings(max_examples=300, deadline=None)
@given(_OPS)
def test_any_operation_sequence_keeps_the_invariants(ops: list[tuple[str, int, int]]) -> None:
    keys: list[KeyLife] = []
    now = T0
    fresh = 0
    for op, pick, step in ops:
        now += timedelta(seconds=step)
        fresh += 1
        try:
            if op == "rotate":
                plan = plan_rotation(keys, f"n{fresh}", now)
            elif op == "pending":
                plan = plan_new_pending(keys, f"n{fresh}", now)
            elif op == "activate" and keys:
                plan = plan_rotation(keys, keys[pick % len(keys)].keyid, now)
            elif op == "revoke" and keys:
                target = keys[pick % len(keys)]
                replacement = f"n{fresh}" if target.status is A else None
                plan = plan_revocation(keys, target.keyid, now - timedelta(seconds=pick),
                                       now, replacement)
            else:
                continue
        except (InvalidKeyTransitionError, ValidationError):
            continue
        before = {k.keyid: k for k in keys}
        check_series(plan.keys)
        # never deleted, every change allowed, and exactly one active once there was one
        assert set(before) <= {k.keyid for k in plan.keys}
        for key in plan.keys:
            if key.keyid in before:
                check_transition(before[key.keyid], key)
        if active_key(keys) is not None:
            assert active_key(plan.keys) is not None
        keys = list(plan.keys)
