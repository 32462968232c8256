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
from collections import deque
from collections.abc import Callable, Sequence

from sceau.errors import ServiceUnavailableError
from sceau_service.store import SealRow, Store
from sceau_service.tlog import TransparencyLog

__all__ = ["SealWriter"]


class SealWriter:
    """Batches seal inserts across requests; every answer waits for its commit."""

    def __init__(self, store: Store, max_rows: int = 2048,
                 log: TransparencyLog | None = None) -> None:
        self._store = store
        self._max_rows = max_rows
        self._commit: Callable[[Sequence[SealRow]], list[bytes]] = (
            self._insert if log is None else log.append_seals)
        self._pending: deque[tuple[Sequence[SealRow], asyncio.Future[list[bytes]]]] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    def start(self) -> None:
        """Start the background writer on the running loop."""
        self._task = asyncio.get_running_loop().create_task(self._run(), name="seal-writer")

    def _insert(self, rows: Sequence[SealRow]) -> list[bytes]:
        self._store.insert_seals(rows)
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
                try:
                    envelopes = await asyncio.to_thread(self._commit, rows)
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
