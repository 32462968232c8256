"""The transparency log (SPEC.md §6.1): storage, appends, proofs and the log's key.

All of the log's SQL lives here.  The tree is RFC 9162's (``sceau.merkle``): the store
keeps every leaf hash and every complete perfect subtree above them (``log_nodes``, by
level and index), so an inclusion or consistency proof reads O(log n) rows by primary key
in one query.
``log_state`` (one row) holds the size, the tree's right edge (``Frontier``), the latest
checkpoint and its timestamp.

Appends run in the group-commit writer's transaction (:meth:`TransparencyLog.append_seals`):
lock the state row (``SELECT ... FOR UPDATE`` on PostgreSQL; on SQLite the first statement
is a write, which takes the database's write lock), append the batch's leaves, sign one
checkpoint, give every seal its ``log`` member, insert the seals and the tree's new rows,
update the state, commit.  Whatever the number of replicas, appends happen one after the other
on one tree: there is exactly one sequence and the log never forks.  A crash before the
commit leaves nothing behind; a seal is never answered before its commit.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Row,
    bindparam,
    insert,
    select,
    tuple_,
    update,
)
from sqlalchemy.exc import IntegrityError

from sceau import Signer
from sceau.checkpoint import Checkpoint, CheckpointError, LogKey, LogSigner, sign_checkpoint
from sceau.errors import ConflictError, KeyCustodyError, NotFoundError, ValidationError
from sceau.logproof import attach_logs, seal_leaf_hash
from sceau.merkle import (
    EMPTY_ROOT,
    MAX_TREE_SIZE,
    Frontier,
    NodeID,
    consistency_proof,
    inclusion_proof,
)
from sceau_keys import Custody
from sceau_service.db import log_keys, log_nodes, log_state, seals
from sceau_service.refreshing import RefreshAhead
from sceau_service.store import SEAL_COLUMNS, SEAL_PG_TYPES, SealRow, Store, bulk_insert

__all__ = [
    "DEFAULT_ORIGIN_PREFIX",
    "MAX_ENTRIES",
    "LogEntry",
    "LogKeyCache",
    "LogKeyRow",
    "LogState",
    "TransparencyLog",
]

#: Origin of a log created without one: ``sceau.local/log-<first 8 characters of key id>``.
DEFAULT_ORIGIN_PREFIX = "sceau.local/log-"
#: Most entries one ``entries`` call returns.
MAX_ENTRIES = 1000
# PostgreSQL types of the columns, for binary COPY (sceau_service.db's schema).
_NODE_COLUMNS = ("level", "idx", "hash", "seal_id")
_NODE_TYPES = ("int2", "int8", "bytea", "text")
# The append's statements, built once: it runs for every batch.
_READ_STATE = select(log_state).where(log_state.c.id == 1)
_READ_STATE_LOCKED = _READ_STATE.with_for_update()
_TOUCH_STATE_RETURNING = (update(log_state).where(log_state.c.id == 1)
                          .values(size=log_state.c.size).returning(*log_state.c))
_WRITE_STATE = update(log_state).where(log_state.c.id == 1).values(
    size=bindparam("new_size"), frontier=bindparam("new_frontier"),
    timestamp=bindparam("new_timestamp"), checkpoint=bindparam("new_checkpoint"))


@dataclass(frozen=True, slots=True)
class LogState:
    """Where the log is: its origin, active key, size, right edge and latest checkpoint."""

    origin: str
    keyid: str
    size: int
    frontier: Frontier
    timestamp: int
    checkpoint: str


@dataclass(frozen=True, slots=True)
class LogKeyRow:
    """One of the log's keys, as published (retired keys stay: old checkpoints need them)."""

    keyid: str
    public_key: bytes
    status: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class LogEntry:
    """Entry ``index`` of the log: the seal it logs and its leaf hash."""

    index: int
    seal_id: str
    leaf_hash: bytes


class _Source:
    """A ``sceau.merkle.HashSource`` over the store: one query by primary key."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def node_hashes(self, ids: Sequence[NodeID]) -> Sequence[bytes]:
        wanted = sorted({(i.level, i.index) for i in ids})
        rows = self._conn.execute(
            select(log_nodes.c.level, log_nodes.c.idx, log_nodes.c.hash)
            .where(tuple_(log_nodes.c.level, log_nodes.c.idx).in_(wanted)))
        found = {NodeID(r.level, r.idx): bytes(r.hash) for r in rows}
        return [found[i] for i in ids]


class TransparencyLog:
    """The service's log over one engine.  ``custody`` holds the log's private key (None:
    read-only); ``clock`` gives the checkpoints' time."""

    def __init__(self, store: Store, custody: Custody | None,
                 clock: Callable[[], datetime]) -> None:
        self._store = store
        self._engine: Engine = store.engine
        self._custody = custody
        self._clock = clock
        self._signers: dict[str, Signer] = {}
        self._public_keys: dict[str, bytes] = {}

    # -- the log's key -----------------------------------------------------------------

    def _load_signer(self, keyid: str, origin: str, public_key: bytes) -> LogSigner:
        signer = self._signers.get(keyid)
        if signer is None:
            if self._custody is None:
                raise KeyCustodyError("no key custody is configured (set "
                                      "SCEAU_KEY_PASSPHRASE) to sign log checkpoints")
            signer = self._custody.signer(keyid)
            if signer.keyid != keyid:
                raise KeyCustodyError(f"custody returned another key than log key {keyid}")
            self._signers[keyid] = signer
        return LogSigner(origin, public_key, signer.sign)

    def create_key(self, origin: str | None = None) -> LogKeyRow:
        """Generate a log key in custody and make it the log's active key.

        The first key creates the log (origin ``origin``, or a default derived from the
        key) with a signed checkpoint of the empty tree; a later one rotates: the previous
        key is retired (still published, since old checkpoints carry its signatures) and
        ``origin``, if given, must be the log's.
        """
        if self._custody is None:
            raise KeyCustodyError("set SCEAU_KEY_PASSPHRASE to create the log's key")
        if origin is not None:
            try:
                Checkpoint(origin, 0, EMPTY_ROOT)
            except CheckpointError as exc:
                raise ValidationError(f"log origin {origin[:300]!r}: {exc}") from None
            existing = self.state()
            if existing is not None and origin != existing.origin:
                raise ConflictError(f"the log's origin is {existing.origin!r}; it never "
                                    "changes")
        signer = self._custody.generate()
        public = self._custody.public_key(signer.keyid)
        now = self._clock().replace(microsecond=0)
        with self._engine.begin() as conn:
            state = self._lock_state(conn)
            if state is not None and origin is not None and origin != state.origin:
                raise ConflictError(f"the log's origin is {state.origin!r}; it never changes")
            conn.execute(update(log_keys).where(log_keys.c.status == "active")
                         .values(status="retired"))
            conn.execute(insert(log_keys).values(keyid=signer.keyid, public_key=public,
                                                 status="active", created_at=now))
            name = (state.origin if state is not None
                    else origin or DEFAULT_ORIGIN_PREFIX + signer.keyid[:8])
            log_signer = self._load_signer(signer.keyid, name, public)
            if state is None:
                stamp = int(now.timestamp())
                note = sign_checkpoint(Checkpoint(name, 0, EMPTY_ROOT), log_signer, stamp)
                try:
                    conn.execute(insert(log_state).values(
                        id=1, origin=name, keyid=signer.keyid, size=0, frontier=b"",
                        timestamp=stamp, checkpoint=note))
                except IntegrityError:  # another process created the log just now
                    raise ConflictError("the log was created concurrently; retry") from None
            else:
                # The next append signs with the new key; the latest checkpoint stays as
                # it is (signed by the previous key, which stays published).
                conn.execute(update(log_state).where(log_state.c.id == 1)
                             .values(keyid=signer.keyid))
        return LogKeyRow(signer.keyid, public, "active", now)

    def ensure_key(self, origin: str | None = None) -> str:
        """The log's active key id, creating the log if there is none, or rotating to a
        new key if this custody does not hold the active one (a data directory that
        joins an existing database: tests and dev set-ups).  Operators rotate with
        ``sceau-service create-log-key``."""
        state = self.state()
        if state is not None:
            try:
                if self._custody is not None:
                    self._custody.signer(state.keyid)
                    return state.keyid
            except KeyCustodyError:
                pass
        try:
            return self.create_key(origin if state is None else None).keyid
        except ConflictError:
            state = self.state()
            if state is None:
                raise
            return state.keyid

    def keys(self) -> list[LogKeyRow]:
        """Every log key: the active one first, then retired ones, newest first."""
        with self._engine.connect() as conn:
            rows = conn.execute(select(log_keys)).all()
        keys = [LogKeyRow(r.keyid, bytes(r.public_key), r.status, r.created_at) for r in rows]
        return sorted(keys, key=lambda k: (k.status != "active", -k.created_at.timestamp(),
                                           k.keyid))

    def verifier_keys(self) -> list[LogKey]:
        """What a verifier needs: every log key under the log's origin (empty: no log)."""
        state = self.state()
        if state is None:
            return []
        return [LogKey(state.origin, k.public_key) for k in self.keys()]

    # -- reading -----------------------------------------------------------------------

    @staticmethod
    def _row_state(row: Row[Any]) -> LogState:
        size = int(row.size)
        return LogState(row.origin, row.keyid, size, Frontier.from_bytes(size, bytes(row.frontier)),
                        int(row.timestamp), row.checkpoint)

    def state(self, conn: Connection | None = None) -> LogState | None:
        """The log's state, or None when no log was created."""
        if conn is None:
            with self._engine.connect() as own:
                return self.state(own)
        row = conn.execute(select(log_state).where(log_state.c.id == 1)).first()
        return None if row is None else self._row_state(row)

    def _require(self, conn: Connection) -> LogState:
        state = self.state(conn)
        if state is None:
            raise NotFoundError("this service has no transparency log yet")
        return state

    def checkpoint(self) -> str:
        """The latest signed checkpoint (C2SP signed note)."""
        with self._engine.connect() as conn:
            return self._require(conn).checkpoint

    def index_of(self, leaf_hash: bytes) -> int:
        """The index of the entry with this leaf hash; :class:`NotFoundError` if none."""
        with self._engine.connect() as conn:
            idx = conn.execute(select(log_nodes.c.idx)
                               .where(log_nodes.c.level == 0,
                                      log_nodes.c.hash == leaf_hash)).scalar()
        if idx is None:
            raise NotFoundError("no log entry has this leaf hash")
        return int(idx)

    def inclusion(self, index: int, tree_size: int | None) -> tuple[LogEntry, int, list[bytes],
                                                                    str | None]:
        """Entry ``index``, the tree size used, the inclusion proof in it, and the
        checkpoint of that size when ``tree_size`` is None (the latest)."""
        with self._engine.connect() as conn:
            state = self._require(conn)
            size = state.size if tree_size is None else tree_size
            if not 0 < size <= state.size:
                raise ValidationError(f"tree_size must be in [1, {state.size}] (the log's "
                                      "size)")
            if index >= size:
                raise ValidationError(f"index {index} is not below tree_size {size}")
            row = conn.execute(select(log_nodes).where(log_nodes.c.level == 0,
                                                       log_nodes.c.idx == index)).one()
            proof = inclusion_proof(index, size, _Source(conn))
        entry = LogEntry(index, row.seal_id, bytes(row.hash))
        return entry, size, proof, state.checkpoint if tree_size is None else None

    def consistency(self, first: int, second: int | None) -> tuple[int, list[bytes],
                                                                   str | None]:
        """The second size used, the consistency proof from ``first`` to it, and the
        checkpoint when ``second`` is None (the latest)."""
        with self._engine.connect() as conn:
            state = self._require(conn)
            size = state.size if second is None else second
            if not size <= state.size:
                raise ValidationError(f"second must be at most {state.size} (the log's size)")
            if first > size:
                raise ValidationError(f"first ({first}) must not exceed second ({size})")
            proof = consistency_proof(first, size, _Source(conn))
        return size, proof, state.checkpoint if second is None else None

    def entries(self, start: int, end: int) -> list[LogEntry]:
        """Entries ``[start, end)``: at most :data:`MAX_ENTRIES`, within the log."""
        if end <= start or end - start > MAX_ENTRIES:
            raise ValidationError(f"need start < end <= start + {MAX_ENTRIES}")
        with self._engine.connect() as conn:
            state = self._require(conn)
            if end > state.size:
                raise ValidationError(f"end must be at most {state.size} (the log's size)")
            rows = conn.execute(select(log_nodes).where(log_nodes.c.level == 0,
                                                        log_nodes.c.idx >= start,
                                                        log_nodes.c.idx < end)
                                .order_by(log_nodes.c.idx)).all()
        return [LogEntry(int(r.idx), r.seal_id, bytes(r.hash)) for r in rows]

    # -- appending ---------------------------------------------------------------------

    def _lock_state(self, conn: Connection) -> LogState | None:
        """Read the state row, holding the lock that serialises appends until commit."""
        if conn.dialect.name == "postgresql":
            row = conn.execute(_READ_STATE_LOCKED).first()
        else:
            # SQLite: a write first, so this transaction holds the database's write lock
            # (waiting up to busy_timeout for another writer) before it reads anything;
            # RETURNING reads the row in the same statement (SQLite >= 3.35).
            row = conn.execute(_TOUCH_STATE_RETURNING).first()
        return None if row is None else self._row_state(row)

    def append_seals(self, rows: Sequence[SealRow],
                     conn: Connection | None = None) -> list[bytes]:
        """Store ``rows`` and log them, in one transaction (on ``conn``, which must have
        none open, when given: the group-commit writer keeps one); returns each seal's
        final envelope (with its ``log`` member), which is what was stored."""
        if not rows:
            return []
        if conn is None:
            with self._engine.connect() as own:
                return self.append_seals(rows, own)
        with conn.begin():
            state = self._lock_state(conn)
            if state is None:
                raise KeyCustodyError("the transparency log has no key: run "
                                      "'sceau-service create-log-key'")
            public = self._public_keys.get(state.keyid)
            if public is None:  # keys never change: read each one once
                public = bytes(conn.execute(select(log_keys.c.public_key)
                                            .where(log_keys.c.keyid == state.keyid))
                               .scalar_one())
                self._public_keys[state.keyid] = public
            signer = self._load_signer(state.keyid, state.origin, public)
            if state.size + len(rows) > MAX_TREE_SIZE:
                raise ValidationError("the log is full")
            leaves = [seal_leaf_hash(r.seal_id) for r in rows]
            result = state.frontier.append(leaves, proofs=True)
            size = result.frontier.size
            # Checkpoint times never go back, whatever the replicas' clocks say.
            stamp = max(state.timestamp, int(self._clock().timestamp()))
            note = sign_checkpoint(Checkpoint(state.origin, size, result.frontier.root()),
                                   signer, stamp)
            envelopes = attach_logs([row.envelope for row in rows], state.size,
                                    result.proofs, note)
            # The seals, as the store's insert_seals writes them (with COPY on PostgreSQL).
            bulk_insert(conn, seals, SEAL_COLUMNS, SEAL_PG_TYPES, [
                (r.seal_id, r.tenant_id, r.keyid, r.content_sha256, r.size, r.media_type,
                 r.created_at, env) for r, env in zip(rows, envelopes, strict=True)])
            # The tree's new rows: the leaves (with their seals) and the completed nodes.
            tree: list[tuple[int, int, bytes, str | None]] = [
                (0, state.size + i, leaf, row.seal_id)
                for i, (row, leaf) in enumerate(zip(rows, leaves, strict=True))]
            tree.extend((node.level, node.index, h, None) for node, h in result.nodes.items())
            bulk_insert(conn, log_nodes, _NODE_COLUMNS, _NODE_TYPES, tree)
            conn.execute(_WRITE_STATE, {"new_size": size,
                                        "new_frontier": result.frontier.to_bytes(),
                                        "new_timestamp": stamp, "new_checkpoint": note})
        return envelopes


class LogKeyCache:
    """The log's verifier keys (for ``POST /v1/verify`` and lookups), at most ``ttl``
    seconds old; reloaded in the background before they expire (:class:`RefreshAhead`)."""

    def __init__(self, log: TransparencyLog, ttl: float) -> None:
        self._log = log
        self._cache: RefreshAhead[list[LogKey]] = RefreshAhead(self._load, ttl)

    async def get(self) -> list[LogKey]:
        """The current keys (from cache when fresh); empty when there is no log."""
        return await self._cache.get()

    async def _load(self) -> list[LogKey]:
        return await asyncio.to_thread(self._log.verifier_keys)
