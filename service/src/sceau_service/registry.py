"""The key registry: tenants' key series, their lifecycle, rotation and key statements.

Every change to a tenant's keys (a new pending key, an activation or rotation, a
revocation, a new root key) is one database transaction that

1. bumps the tenant's key series (``Store.bump_key_series``: the row lock that makes
   concurrent changes to one tenant run one after the other; the partial unique index on
   active keys and the statements' primary key are the backstops),
2. plans the change with :mod:`sceau_keys.lifecycle` (pure),
3. writes the key rows, and
4. appends a key statement (``sceau.keyhistory``) signed by the outgoing and incoming
   active keys and by the tenant's root key where one exists.

Private keys never leave custody: new keys are generated there (their ids derived from the
public key), and statements are signed through :class:`sceau_keys.Custody` signers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from sceau import KeyStatus, Signer, key_id
from sceau.errors import (
    ConflictError,
    KeyCustodyError,
    NotFoundError,
    SceauError,
    ValidationError,
)
from sceau.keyhistory import KeyStatement, read_statement, required_signers, sign_statement
from sceau_keys import Custody, EncryptedFileCustody
from sceau_keys.lifecycle import (
    KeyLife,
    Plan,
    RotationPolicy,
    plan_new_pending,
    plan_revocation,
    plan_rotation,
    whole_seconds,
)
from sceau_service.store import ROLE_ROOT, ROLE_SIGNING, KeyRow, Store, TenantRow

__all__ = ["DueRotations", "KeyChange", "Registry", "custody_label", "require_policy",
           "run_scheduled_rotations"]

log = logging.getLogger("sceau_service")


def _utcnow() -> datetime:
    return datetime.now(UTC)


def custody_label(custody: Custody) -> str:
    """What the ``custody`` column says about where a key lives."""
    if isinstance(custody, EncryptedFileCustody):
        return "file"
    label = getattr(custody, "backend", None)
    if isinstance(label, str) and label:
        return label[:32]
    return type(custody).__name__.lower().removesuffix("custody")[:32] or "custody"


@dataclass(frozen=True, slots=True)
class KeyChange:
    """What one registry transaction did."""

    tenant: str
    #: The version of the key statement that records the change (None while the tenant
    #: has no active key: a history starts with its first active key).
    version: int | None
    #: The tenant's active signing key before and after (None when there was none).
    outgoing: str | None
    incoming: str | None
    #: The key the operation was about (new, revoked, activated, new root).
    keyid: str
    keys: tuple[KeyRow, ...]


def _life(row: KeyRow) -> KeyLife:
    return KeyLife(row.keyid, row.status, row.not_before, row.not_after, row.compromised_since)


class Registry:
    """Key lifecycle operations over a :class:`Store` and a :class:`Custody`.

    ``root_custody`` (or ``root_custody_factory``, called when a root key is first needed)
    holds tenants' root keys when they are kept apart from the signing keys (another
    passphrase, another token); by default the signing custody holds them.
    ``on_change`` is called with the tenant id after every committed change (the app uses it
    to drop cached signers and key rings on this replica at once; other replicas notice
    within their check interval).
    """

    def __init__(self, store: Store, custody: Custody | None, *,
                 root_custody: Custody | None = None,
                 root_custody_factory: Callable[[], Custody | None] | None = None,
                 clock: Callable[[], datetime] = _utcnow,
                 on_change: Callable[[int], None] | None = None) -> None:
        self.store = store
        self._custody = custody
        self._root_custody = root_custody
        self._root_factory = root_custody_factory
        self._clock = clock
        self._on_change = on_change

    def custody(self) -> Custody:
        """The configured custody, or :class:`KeyCustodyError`."""
        if self._custody is None:
            raise KeyCustodyError("no key custody is configured (set SCEAU_KEY_PASSPHRASE)")
        return self._custody

    def root_custody(self) -> Custody:
        """Where root keys are: ``root_custody``, else what ``root_custody_factory`` makes
        the first time a root key is needed (a service opens an HSM's root token only
        then), else the signing custody."""
        if self._root_custody is None and self._root_factory is not None:
            self._root_custody = self._root_factory()
        return self._root_custody or self.custody()

    # -- reading -------------------------------------------------------------------------

    def keys(self, tenant: TenantRow) -> list[KeyRow]:
        """Every key of the tenant, both roles, oldest first."""
        return self.store.list_keys(tenant.id, role=None)

    def policy(self, tenant: TenantRow) -> RotationPolicy | None:
        """The tenant's scheduled rotation policy, if any."""
        rows = self.store.policies(tenant.id)
        if not rows:
            return None
        return RotationPolicy(timedelta(seconds=rows[0].every_seconds),
                              timedelta(seconds=rows[0].overlap_seconds))

    # -- changes -------------------------------------------------------------------------

    def _generate(self, root: bool = False) -> tuple[Signer, bytes]:
        custody = self.root_custody() if root else self.custody()
        signer = custody.generate()
        public = custody.public_key(signer.keyid)
        if key_id(public) != signer.keyid:  # ids are derived from the key, never chosen
            raise KeyCustodyError("custody returned a key whose id is not its thumbprint")
        return signer, public

    def _commit(self, tenant: TenantRow, keyid: str,
                change: Callable[[list[KeyRow], datetime], tuple[list[KeyRow], list[KeyRow]]],
                fresh: Sequence[Signer] = ()) -> KeyChange:
        """Run one change in one transaction.  ``change(rows, now)`` returns the rows to
        update and the rows to insert.  ``fresh``: signers of keys just generated."""
        try:
            return self._transaction(tenant, keyid, change, fresh)
        except IntegrityError:
            # The backstops (one active key per tenant and role, statement versions, key
            # ids) caught a race the tenant's lock should have prevented.
            raise ConflictError("the tenant's keys changed concurrently; retry") from None

    def _transaction(self, tenant: TenantRow, keyid: str,
                     change: Callable[[list[KeyRow], datetime],
                                      tuple[list[KeyRow], list[KeyRow]]],
                     fresh: Sequence[Signer]) -> KeyChange:
        with self.store.engine.begin() as conn:
            self.store.bump_key_series(conn, tenant.id)  # the tenant's lock, held to commit
            now = whole_seconds(self._clock())  # read under the lock: changes are in order
            before = self.store.list_keys_in(conn, tenant.id, role=None)
            updated, inserted = change(before, now)
            # Rows leaving the active state first: the one-active index holds at each step.
            for row in sorted(updated, key=lambda r: r.status is KeyStatus.ACTIVE):
                self.store.update_key_in(conn, row)
            for row in inserted:
                self.store.insert_key_in(conn, row)
            by_id = {r.keyid: r for r in before}
            by_id.update({r.keyid: r for r in (*updated, *inserted)})
            after = sorted(by_id.values(), key=lambda r: (r.created_at, r.keyid))
            version = self._append_statement(conn, tenant, after, now, fresh)
        if self._on_change is not None:
            self._on_change(tenant.id)
        return KeyChange(tenant.slug, version, _active(before), _active(after), keyid,
                         tuple(after))

    def _append_statement(self, conn: Connection, tenant: TenantRow, after: Sequence[KeyRow],
                          now: datetime, fresh: Sequence[Signer]) -> int | None:
        """Sign and store the statement of the tenant's keys as they now are (SPEC.md
        §6.2); none while the tenant has no active key."""
        signing = [r for r in after if r.role == ROLE_SIGNING]
        if _active(signing) is None:
            return None
        root_id = _active(after, ROLE_ROOT)
        root = next((r.public_key for r in after if r.keyid == root_id), None)
        records = [r.record() for r in signing]
        latest = self.store.latest_statement_in(conn, tenant.id)
        previous = None if latest is None else read_statement(latest[1])
        if previous is None:
            statement = KeyStatement.first(tenant.slug, records, now, root=root)
        else:
            # Replicas' clocks differ a little; issued times never go back.
            statement = previous.successor(records, max(now, previous.issued), root=root)
        by_id = {s.keyid: s for s in fresh}
        signers = []
        for kid in sorted(required_signers(statement, previous)):
            if kid in by_id:
                signers.append(by_id[kid])
            elif kid == root_id or (previous is not None and kid == previous.root_keyid):
                signers.append(self.root_custody().signer(kid))
            else:
                signers.append(self.custody().signer(kid))
        envelope = sign_statement(statement, signers, previous)
        self.store.insert_statement_in(conn, tenant.id, statement.version, envelope, now)
        return statement.version

    def _row(self, tenant: TenantRow, keyid: str, public: bytes, role: str,
             now: datetime, life: KeyLife) -> KeyRow:
        return KeyRow(keyid, tenant.id, tenant.slug, public, life.status,
                      custody_label(self.custody()), now, life.not_before, life.not_after,
                      life.compromised_since, role)

    def _apply_plan(self, tenant: TenantRow, rows: list[KeyRow], plan: Plan, now: datetime,
                    new: tuple[str, bytes] | None) -> tuple[list[KeyRow], list[KeyRow]]:
        by_id = {r.keyid: r for r in rows}
        updated, inserted = [], []
        for life in plan.changed:
            row = by_id.get(life.keyid)
            if row is None:
                assert new is not None and new[0] == life.keyid
                inserted.append(self._row(tenant, new[0], new[1], ROLE_SIGNING, now, life))
            else:
                updated.append(replace(row, status=life.status, not_before=life.not_before,
                                       not_after=life.not_after,
                                       compromised_since=life.compromised_since))
        return updated, inserted

    def _window_end(self, tenant: TenantRow, now: datetime) -> datetime | None:
        policy = self.policy(tenant)
        return None if policy is None else policy.window_end(now)

    def create_pending_key(self, tenant: TenantRow) -> KeyChange:
        """Generate a key and publish it as ``pending``: it signs nothing until a rotation
        activates it.  Publishing keys ahead (with the root key at hand) lets later
        rotations run without the root key: activating a published key needs only the
        outgoing and incoming keys (SPEC.md §6.2.3)."""
        signer, public = self._generate()

        def change(rows: list[KeyRow], now: datetime) -> tuple[list[KeyRow], list[KeyRow]]:
            signing = [r for r in rows if r.role == ROLE_SIGNING]
            plan = plan_new_pending([_life(r) for r in signing], signer.keyid, now,
                                    self._window_end(tenant, now))
            return self._apply_plan(tenant, signing, plan, now, (signer.keyid, public))

        return self._commit(tenant, signer.keyid, change, [signer])

    def rotate(self, tenant: TenantRow, *, to: str | None = None, new: bool = False,
               policy: RotationPolicy | None = None) -> KeyChange:
        """Retire the active key and activate another, in one transaction: the pending key
        ``to``; else the oldest pending key, if any (unless ``new``); else a key generated
        now.  With ``policy``, the rotation happens only if the policy finds the active key
        due once the tenant's lock is held, so that schedulers on several replicas rotate
        once (:class:`_NotDueError` otherwise)."""
        fresh: tuple[Signer, bytes] | None = None
        if to is None and (new or not any(r.status is KeyStatus.PENDING
                                          for r in self.store.list_keys(tenant.id))):
            fresh = self._generate()
        chosen: list[str] = []

        def change(rows: list[KeyRow], now: datetime) -> tuple[list[KeyRow], list[KeyRow]]:
            signing = [r for r in rows if r.role == ROLE_SIGNING]
            lives = [_life(r) for r in signing]
            if policy is not None and not policy.due(
                    next((k for k in lives if k.status is KeyStatus.ACTIVE), None), now):
                raise _NotDueError
            if fresh is not None:
                incoming = fresh[0].keyid
            elif to is not None:
                incoming = to
                if not any(r.keyid == to for r in signing):
                    raise NotFoundError(f"no key {to}")
            else:  # the oldest pending key, chosen under the lock
                pending = [r.keyid for r in signing if r.status is KeyStatus.PENDING]
                if not pending:
                    raise _RetryError  # a concurrent rotation took it: generate one
                incoming = pending[0]
            chosen.append(incoming)
            plan = plan_rotation(lives, incoming, now, self._window_end(tenant, now))
            return self._apply_plan(tenant, signing, plan, now,
                                    None if fresh is None else (incoming, fresh[1]))

        try:
            done = self._commit(tenant, "", change, [] if fresh is None else [fresh[0]])
        except _RetryError:
            return self.rotate(tenant, new=True, policy=policy)
        return replace(done, keyid=chosen[-1])

    def revoke(self, tenant: TenantRow, keyid: str,
               compromised_since: datetime | None) -> KeyChange:
        """Revoke the signing key ``keyid`` from ``compromised_since`` on (None: everything
        it signed).  Revoking the active key activates a newly generated key in the same
        transaction (never a pending one: it may have been exposed with the revoked one)."""
        target = next((r for r in self.store.list_keys(tenant.id) if r.keyid == keyid), None)
        if target is None:
            raise NotFoundError(f"no key {keyid}")
        fresh = self._generate() if target.status is KeyStatus.ACTIVE else None

        def change(rows: list[KeyRow], now: datetime) -> tuple[list[KeyRow], list[KeyRow]]:
            signing = [r for r in rows if r.role == ROLE_SIGNING]
            active = _active(signing)
            if active == keyid and fresh is None:
                raise _RetryError  # it became active since we looked: start again
            replacement = fresh[0].keyid if fresh is not None and active == keyid else None
            plan = plan_revocation([_life(r) for r in signing], keyid, compromised_since, now,
                                   replacement, self._window_end(tenant, now))
            return self._apply_plan(tenant, signing, plan, now,
                                    None if replacement is None or fresh is None
                                    else (replacement, fresh[1]))

        try:
            return self._commit(tenant, keyid, change, [] if fresh is None else [fresh[0]])
        except _RetryError:
            return self.revoke(tenant, keyid, compromised_since)

    def create_root_key(self, tenant: TenantRow) -> KeyChange:
        """Generate the tenant's root key (in the root custody: an encrypted file of its
        own or an HSM token); an existing root key is retired.  From then on, adding or
        revoking keys needs it (SPEC.md §6.2.3)."""
        signer, public = self._generate(root=True)
        label = custody_label(self.root_custody())

        def change(rows: list[KeyRow], now: datetime) -> tuple[list[KeyRow], list[KeyRow]]:
            updated = [replace(r, status=KeyStatus.RETIRED)
                       for r in rows if r.role == ROLE_ROOT and r.status is KeyStatus.ACTIVE]
            row = KeyRow(signer.keyid, tenant.id, tenant.slug, public, KeyStatus.ACTIVE, label,
                         now, now, None, None, ROLE_ROOT)
            return updated, [row]

        return self._commit(tenant, signer.keyid, change, [signer])

    # -- scheduled rotation --------------------------------------------------------------

    def set_policy(self, tenant: TenantRow, policy: RotationPolicy) -> None:
        """Set the tenant's scheduled rotation policy (keys made from now on get windows of
        ``every + overlap``)."""
        self.store.set_policy(tenant.id, int(policy.every.total_seconds()),
                              int(policy.overlap.total_seconds()), self._clock())

    def rotate_due(self, only: Iterable[str] | None = None) -> DueRotations:
        """Rotate every tenant (or those named in ``only``) whose policy says its active
        key is due.  Safe to run on every replica at once: the due check is repeated under
        the tenant's lock.  One tenant's failure (its custody unavailable, say) is reported
        and does not stop the others."""
        now = self._clock()
        wanted = None if only is None else set(only)
        tenants = {t.id: t for t in self.store.list_tenants()
                   if wanted is None or t.slug in wanted}
        result = DueRotations([], [])
        for row in self.store.policies():
            policy = RotationPolicy(timedelta(seconds=row.every_seconds),
                                    timedelta(seconds=row.overlap_seconds))
            tenant = tenants.get(row.tenant_id)
            active = None if tenant is None else self.store.active_key(tenant.id)
            if tenant is None or active is None or not policy.due(_life(active), now):
                continue
            try:
                result.rotated.append(self.rotate(tenant, policy=policy))
            except _NotDueError:
                continue
            except SceauError as exc:
                result.failed.append((tenant.slug, exc))
        return result


@dataclass(frozen=True, slots=True)
class DueRotations:
    """What :meth:`Registry.rotate_due` did: the rotations, and the tenants that failed."""

    rotated: list[KeyChange]
    failed: list[tuple[str, SceauError]]


class _NotDueError(Exception):
    """Another scheduler rotated first: the key is no longer due."""


class _RetryError(Exception):
    """The state changed between planning and locking; run the operation again."""


def _active(rows: Sequence[KeyRow], role: str = ROLE_SIGNING) -> str | None:
    return next((r.keyid for r in rows
                 if r.role == role and r.status is KeyStatus.ACTIVE), None)


def require_policy(every_days: int, overlap_days: int) -> RotationPolicy:
    """A policy in days, or :class:`ValidationError`."""
    if every_days < 1:
        raise ValidationError("every_days must be at least 1")
    return RotationPolicy.days(every_days, overlap_days)


async def run_scheduled_rotations(registry: Registry, every: float,
                                  stop: asyncio.Event) -> None:
    """Run :meth:`Registry.rotate_due` every ``every`` seconds until ``stop`` is set (the
    service's background task when SCEAU_ROTATE_DUE_SECONDS is set)."""
    while True:
        try:
            await asyncio.wait_for(stop.wait(), timeout=every)
            return
        except TimeoutError:
            pass
        try:
            due = await asyncio.to_thread(registry.rotate_due)
            for change in due.rotated:
                log.info("scheduled rotation: tenant %s now signs with %s (statement %s)",
                         change.tenant, change.incoming, change.version)
            for tenant, exc in due.failed:
                log.error("scheduled rotation of tenant %s failed: %s: %s", tenant, exc.code,
                          exc.detail)
        except Exception:
            log.exception("scheduled rotation failed; retrying in %s s", every)
