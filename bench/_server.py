"""Start and stop real server processes on loopback for the service benchmark.

The same approach as ``tests/conftest.py``'s ``start_server``: ``sceau-service dev`` on a
random loopback port with a fresh data directory (tenant ``dev``, an encrypted key, a dev
token), waiting for ``/readyz``.  Kept here so the benchmark does not depend on the tests.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

BENCH_PASSPHRASE = "bench-passphrase-not-a-secret"


@dataclass
class Server:
    """A server process on ``url``; ``token`` is empty for the bare app."""

    url: str
    token: str
    process: subprocess.Popen[bytes]
    log: Path

    def cpu_seconds(self) -> float:
        """User + system CPU time the process (all its threads) has used so far."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait_ready(proc: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"server did not start: {log.read_text()[-2000:]}")
        time.sleep(0.1)


def start_service(workdir: Path, database_url: str | None = None,
                  extra_env: dict[str, str] | None = None) -> Server:
    """``sceau-service dev`` (one uvicorn worker) on a fresh data dir in ``workdir``;
    ``extra_env`` adds settings (e.g. ``{"SCEAU_LOG": "false"}``)."""
    data_dir = workdir / "data"
    env = {**os.environ, "SCEAU_DATA_DIR": str(data_dir),
           "SCEAU_KEY_PASSPHRASE": BENCH_PASSPHRASE, **(extra_env or {})}
    env.pop("SCEAU_DATABASE_URL", None)
    if database_url:
        env["SCEAU_DATABASE_URL"] = database_url
    port = free_port()
    log = workdir / "service.log"
    exe = Path(sys.executable).parent / "sceau-service"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [str(exe), "dev", "--host", "127.0.0.1", "--port", str(port)],
            env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    _wait_ready(proc, url + "/readyz", log)
    token = (data_dir / "dev-token").read_text().strip()
    return Server(url, token, proc, log)


def start_bare(workdir: Path) -> Server:
    """The bare FastAPI signing app (``bench/bare_app.py``)."""
    port = free_port()
    log = workdir / "bare.log"
    root = Path(__file__).resolve().parent.parent
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bench.bare_app", "--port", str(port)],
            cwd=root, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    _wait_ready(proc, url + "/healthz", log)
    return Server(url, "", proc, log)


def stop(server: Server) -> None:
    """Terminate the process and wait for it."""
    server.process.terminate()
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


@contextlib.contextmanager
def postgres_database(admin_url: str) -> Iterator[str | None]:
    """A fresh database ``sceau_bench_<random>`` on the server at ``admin_url``, dropped
    afterwards; yields None when the server is not reachable."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    url = make_url(admin_url)
    name = f"sceau_bench_{secrets.token_hex(6)}"
    try:
        admin = create_engine(url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        print(f"PostgreSQL not reachable at {url.render_as_string()}: "
              f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
        yield None
        return
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
