"""SQLite: WAL checkpoints off the group-commit writer's path.

By default the connection whose commit makes the write-ahead log pass 1,000 pages runs the
checkpoint itself, inside that commit: it copies the log into the database and, with
``synchronous=NORMAL``, waits for two fsyncs (https://www.sqlite.org/wal.html#ckpt).  For
the service that connection is the writer's, so every few rounds one round, and all the
requests waiting on it, stalled for the disk.  The writer's connection therefore has
``wal_autocheckpoint=0`` and :class:`WalCheckpointer` checkpoints from a thread of its
own, on a connection of its own, shortly after commits: PASSIVE checkpoints, which wait
for no reader or writer (the next commit goes on while one runs), so the log is reset
between rounds as it was before, and the disk waits happen beside the requests instead of
in front of them.  Other connections (the CLI, the registry's rare writes) keep SQLite's
default.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from sqlalchemy import Connection, Engine

__all__ = ["WalCheckpointer", "writer_connect"]

log = logging.getLogger("sceau_service")

#: Seconds between the commit that asks for a checkpoint and the checkpoint: the commits of
#: that time are checkpointed together.
DEFAULT_DELAY = 0.25


def writer_connect(engine: Engine) -> Connection:
    """A connection for the group-commit writer: on SQLite, one that never checkpoints."""
    conn = engine.connect()
    if engine.dialect.name == "sqlite":
        conn.detach()  # never back to the pool, where others would stop checkpointing
        conn.exec_driver_sql("PRAGMA wal_autocheckpoint=0")
        conn.commit()  # ends SQLAlchemy's autobegun transaction: the writer begins its own
    return conn


class WalCheckpointer:
    """Runs ``PRAGMA wal_checkpoint(PASSIVE)`` on its own thread after :meth:`poke`."""

    def __init__(self, engine: Engine, delay: float = DEFAULT_DELAY) -> None:
        self._engine = engine
        self._delay = delay
        self._wanted = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._main, name="wal-checkpoint",
                                        daemon=True)
        self.checkpoints = 0

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    def poke(self) -> None:
        """Ask for a checkpoint soon (cheap: call it after every commit)."""
        self._wanted.set()

    def stop(self) -> None:
        """Run a last checkpoint and end the thread (blocks: call it off the loop)."""
        self._stopping.set()
        self._wanted.set()
        self._thread.join()

    def _main(self) -> None:
        conn: Any = None
        try:
            while not self._stopping.is_set():
                self._wanted.wait()
                # Let the commits of the next moments join this checkpoint (a stop
                # cuts the wait short).
                self._stopping.wait(self._delay)
                self._wanted.clear()
                conn = self._checkpoint(conn)
            # The writer has stopped: this one covers everything it committed.
            conn = self._checkpoint(conn)
        finally:
            if conn is not None:
                conn.close()

    def _checkpoint(self, conn: Any) -> Any:
        """One PASSIVE checkpoint; returns the connection to use next time (None after a
        failure: a busy or broken database is tried again at the next poke)."""
        try:
            if conn is None:
                conn = self._engine.raw_connection()
            conn.driver_connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            self.checkpoints += 1
        except Exception:
            log.warning("WAL checkpoint failed", exc_info=True)
            if conn is not None:
                conn.invalidate()
            return None
        return conn
