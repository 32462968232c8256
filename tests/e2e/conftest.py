"""End-to-end fixtures: a real server per test, and the `sceau` CLI run against it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..conftest import ServerProcess, start_server, stop_server

SCEAU = str(Path(sys.executable).parent / "sceau")


@pytest.fixture
def server(isolated_database_url: str, tmp_path: Path) -> Iterator[ServerProcess]:
    """A `sceau-service` process on its own database (SQLite file or fresh PostgreSQL)."""
    srv = start_server(tmp_path, isolated_database_url)
    try:
        yield srv
    finally:
        stop_server(srv)


def run_sceau(args: list[str], server: ServerProcess,
              cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run the `sceau` CLI with SCEAU_SERVER/SCEAU_TOKEN pointing at ``server``."""
    env = {**os.environ, "SCEAU_SERVER": server.url, "SCEAU_TOKEN": server.token}
    return subprocess.run([SCEAU, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120, check=False)
