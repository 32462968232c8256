"""Shared fixtures: databases (SQLite and a real PostgreSQL), the app, a server process."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import httpx
import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import URL, make_url

from .softhsm import SoftHsm, softhsm_session

PG_ENV = "SCEAU_TEST_POSTGRES_URL"
PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
TEST_PASSPHRASE = "test-passphrase-not-a-secret"


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _admin_url() -> URL:
    return make_url(os.environ.get(PG_ENV, PG_DEFAULT))


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[Engine]:
    """An AUTOCOMMIT engine on the PostgreSQL server, to create and drop test databases.

    Skipped loudly when no server is reachable, except in CI, where that fails.
    """
    url = _admin_url()
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        engine.dispose()
        message = f"PostgreSQL not reachable at {url.render_as_string()}: {exc}"
        if _in_ci():
            pytest.fail(message)
        sys.stderr.write(f"\n!!! SKIPPING PostgreSQL tests: {message}\n")
        pytest.skip(message)
    yield engine
    engine.dispose()


@contextmanager
def fresh_database(admin: Engine) -> Iterator[str]:
    """A new, empty PostgreSQL database, dropped on exit; yields its URL."""
    name = f"sceau_test_{secrets.token_hex(6)}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield _admin_url().set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def postgres_server_url(postgres_admin: Engine) -> Iterator[str]:
    """One PostgreSQL database shared by this session's tests (each uses its own tenant)."""
    with fresh_database(postgres_admin) as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def isolated_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database of this test's own: a new SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'sceau.db'}"
        return
    with fresh_database(request.getfixturevalue("postgres_admin")) as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each storage test runs on SQLite (a new file) and on the real PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'sceau.db'}"
    url: str = request.getfixturevalue("postgres_server_url")
    return url


@pytest.fixture(scope="session")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SoftHsm]:
    """A private SoftHSM2 with initialised tokens for this session (tests/softhsm.py).

    Skipped loudly when SoftHSM2 or python-pkcs11 is missing, except in CI, where that
    fails.
    """
    yield from softhsm_session(tmp_path_factory.mktemp("softhsm"))


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class ServerProcess:
    """A real ``sceau-service`` process on a random loopback port."""

    url: str
    token: str
    data_dir: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    log: BinaryIO


def start_server(tmp_path: Path, database_url: str | None = None,
                 name: str = "server", extra_env: dict[str, str] | None = None
                 ) -> ServerProcess:
    """Bootstrap a data dir (tenant ``dev``, key, token) and start the service on it.

    Several servers started on the same ``tmp_path`` share the data dir (keys, dev token)
    and, given the same ``database_url``, the database: replicas.  ``extra_env`` adds to
    the server's environment (e.g. the PKCS#11 custody's settings).
    """
    data_dir = tmp_path / "data"
    env = {**os.environ, "SCEAU_DATA_DIR": str(data_dir),
           "SCEAU_KEY_PASSPHRASE": TEST_PASSPHRASE, **(extra_env or {})}
    if database_url:
        env["SCEAU_DATABASE_URL"] = database_url
    port = free_port()
    bindir = Path(sys.executable).parent
    log_path = tmp_path / f"{name}.log"
    log = open(log_path, "wb")  # noqa: SIM115 - lives as long as the process
    proc = subprocess.Popen(
        [str(bindir / "sceau-service"), "dev", "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        if proc.poll() is not None:
            log.close()
            raise RuntimeError(f"server exited: {log_path.read_text()}")
        try:
            if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            log.close()
            raise RuntimeError(f"server did not start: {log_path.read_text()}")
        time.sleep(0.1)
    token = (data_dir / "dev-token").read_text().strip()
    return ServerProcess(url, token, data_dir, env, proc, log)


def stop_server(server: ServerProcess) -> None:
    """Terminate the process and wait for it."""
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()
    server.log.close()
