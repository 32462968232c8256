"""Group commit: seals from concurrent requests are written in one transaction.

A request hands its rows to :meth:`SealWriter.write` and waits.  One background task takes
everything queued, inserts it in a worker thread in one transaction, and wakes each
waiter.  While one batch is being written the next one gathers, so batches grow with load
and no request waits on a timer: under light load a batch is a single request.

With a transparency log (``sceau_service.tlog``), the same transaction appends the batch
to the log and signs one checkpoint for it; each waiter gets its seals' final envelopes,
which carry their inclusion proofs (SPEC.md §6.1).
"""

from __future__ import annotations

import asyncio
import functools
import queue
import threading
from collections import deque
from collections.abc import Callable, Sequence

from sqlalchemy import Connection, Engine

from sceau.errors import ServiceUnavailableError
from sceau_service.store import SealRow, Store
from sceau_service.tlog import TransparencyLog
from sceau_service.walcheckpoint import WalCheckpointer, writer_connect

__all__ = ["SealWriter"]

Commit = Callable[[Sequence[SealRow], Connection | None], list[bytes]]


class SealWriter:
    """Batches seal inserts across requests; every answer waits for its commit."""

    def __init__(self, store: Store, max_rows: int = 2048,
                 log: TransparencyLog | None = None) -> None:
        self._store = store
        self._max_rows = max_rows
        self._commit: Commit = self._insert if log is None else log.append_seals
        self._pending: deque[tuple[Sequence[SealRow], asyncio.Future[list[bytes]]]] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._thread: _CommitThread | None = None
        self._checkpointer: WalCheckpointer | None = None
        self._closing = False

    def start(self) -> None:
        """Start the background writer on the running loop."""
        loop = asyncio.get_running_loop()
        # The thread keeps one connection of the store's engine (none for a store
        # without one, as in tests): no pool check-out, reset or ping per batch.  On
        # SQLite, checkpoints run beside it (sceau_service.walcheckpoint).
        engine: Engine | None = getattr(self._store, "engine", None)
        connect = None
        if engine is not None:
            connect = functools.partial(writer_connect, engine)
            if engine.dialect.name == "sqlite":
                self._checkpointer = WalCheckpointer(engine)
                self._checkpointer.start()
        self._thread = _CommitThread(
            self._commit, loop, connect,
            None if self._checkpointer is None else self._checkpointer.poke)
        self._task = loop.create_task(self._run(), name="seal-writer")

    def _insert(self, rows: Sequence[SealRow], conn: Connection | None) -> list[bytes]:
        self._store.insert_seals(rows, conn)
        return [r.envelope for r in rows]

    async def write(self, rows: Sequence[SealRow]) -> list[bytes]:
        """Queue ``rows`` and return, once they are committed, each row's envelope as
        stored (with its ``log`` member when the service keeps a log); or raise."""
        if self._closing or self._task is None:
            raise ServiceUnavailableError("service is shutting down")
        fut: asyncio.Future[list[bytes]] = asyncio.get_running_loop().create_future()
        self._pending.append((rows, fut))
        self._wake.set()
        return await fut

    def _take(self) -> list[tuple[Sequence[SealRow], asyncio.Future[list[bytes]]]]:
        taken: list[tuple[Sequence[SealRow], asyncio.Future[list[bytes]]]] = []
        count = 0
        while self._pending and (not taken or count + len(self._pending[0][0]) <= self._max_rows):
            item = self._pending.popleft()
            taken.append(item)
            count += len(item[0])
        return taken

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                batch = self._take()
                rows = [r for item, _ in batch for r in item]
                assert self._thread is not None
                try:
                    envelopes = await self._thread.commit(rows)
                except Exception as exc:  # every waiter must hear of it
                    err = ServiceUnavailableError(f"could not store seals: {type(exc).__name__}")
                    for _, fut in batch:
                        if not fut.done():
                            fut.set_exception(err)
                else:
                    at = 0
                    for item, fut in batch:
                        if not fut.done():
                            fut.set_result(envelopes[at:at + len(item)])
                        at += len(item)
            if self._closing:
                return

    async def close(self) -> None:
        """Finish what is queued, then stop."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None
        if self._thread is not None:
            await asyncio.to_thread(self._thread.stop)
            self._thread = None
        if self._checkpointer is not None:
            await asyncio.to_thread(self._checkpointer.stop)
            self._checkpointer = None


class _CommitThread:
    """The one thread that runs the writer's commits.

    Work goes in through a queue and results come back with ``call_soon_threadsafe``:
    cheaper per batch than ``asyncio.to_thread``'s executor, future chaining and context
    copy, which showed as ~10% of the event loop's time under load.
    """

    def __init__(self, commit: Commit, loop: asyncio.AbstractEventLoop,
                 connect: Callable[[], Connection] | None,
                 committed: Callable[[], None] | None) -> None:
        self._commit = commit
        self._loop = loop
        self._connect = connect
        self._committed = committed
        self._jobs: queue.SimpleQueue[
            tuple[Sequence[SealRow], asyncio.Future[list[bytes]]] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._main, name="seal-writer", daemon=True)
        self._thread.start()

    def commit(self, rows: Sequence[SealRow]) -> asyncio.Future[list[bytes]]:
        """Commit ``rows`` on the thread; the future settles on the loop."""
        fut: asyncio.Future[list[bytes]] = self._loop.create_future()
        self._jobs.put((rows, fut))
        return fut

    def _main(self) -> None:
        conn: Connection | None = None
        try:
            while (job := self._jobs.get()) is not None:
                rows, fut = job
                try:
                    if conn is None and self._connect is not None:
                        conn = self._connect()
                    result = self._commit(rows, conn)
                except Exception as exc:  # handed to the waiting coroutine
                    if conn is not None:
                        # It may be broken (a database restart): the next batch takes a
                        # fresh one; its transaction was rolled back.
                        _close_quietly(conn)
                        conn = None
                    self._loop.call_soon_threadsafe(_settle, fut, None, exc)
                else:
                    self._loop.call_soon_threadsafe(_settle, fut, result, None)
                    if self._committed is not None:
                        self._committed()
        finally:
            if conn is not None:
                _close_quietly(conn)

    def stop(self) -> None:
        """Finish the queued commits and end the thread (blocks: call off-loop)."""
        self._jobs.put(None)
        self._thread.join()


def _close_quietly(conn: Connection) -> None:
    try:
        conn.close()
    except Exception:  # the connection is gone already; the pool forgets it
        conn.invalidate()


def _settle(fut: asyncio.Future[list[bytes]], result: list[bytes] | None,
            exc: Exception | None) -> None:
    if fut.done():  # the waiter was cancelled
        return
    if exc is not None:
        fut.set_exception(exc)
    else:
        assert result is not None
        fut.set_result(result)
