"""Browser fixtures: Debian's Chromium driven by Playwright, a real `sceau-service`
process, and a directory for screenshots kept as test artefacts.

Chromium is the system one (``/usr/bin/chromium``, or ``SCEAU_CHROMIUM``); Playwright
never downloads a browser here.  Without Chromium or Playwright the browser tests skip
with a loud message, except under ``CI=true``, where they fail.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from ..conftest import ServerProcess, _in_ci, start_server, stop_server

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Playwright

ROOT = Path(__file__).resolve().parents[2]

#: Flags that let Chromium run headless as root in a container, with no background
#: traffic to Google services.
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",
]


def _unavailable(message: str) -> None:
    if _in_ci():
        pytest.fail(message)
    sys.stderr.write(f"\n!!! SKIPPING browser tests: {message}\n")
    pytest.skip(message)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """The system Chromium binary (skip loudly, or fail in CI, when absent)."""
    path = os.environ.get("SCEAU_CHROMIUM") or shutil.which("chromium") or shutil.which(
        "chromium-browser")
    if not path or not os.access(path, os.X_OK):
        _unavailable(f"no chromium binary ({path or 'not on PATH'}; apt-get install "
                     "chromium, or set SCEAU_CHROMIUM)")
    assert path is not None
    return path


@pytest.fixture(scope="module")
def playwright_instance() -> Iterator[Playwright]:
    """Playwright's driver (the Python package; no browser download).

    Module-scoped: while the sync API is open, its event loop counts as running in this
    thread, and ``asyncio.run`` in other test modules would refuse to start."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        _unavailable(f"playwright is not installed: {exc}")
        raise
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright_instance: Playwright, chromium_path: str) -> Iterator[Browser]:
    """One headless Chromium per module (each test opens its own context)."""
    instance = playwright_instance.chromium.launch(
        executable_path=chromium_path, args=CHROMIUM_ARGS, headless=True)
    try:
        yield instance
    finally:
        instance.close()


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Where screenshots go: ``$SCEAU_TEST_ARTIFACTS`` or ``test-artifacts/`` at the repo
    root (git-ignored); kept after the run."""
    base = Path(os.environ.get("SCEAU_TEST_ARTIFACTS") or ROOT / "test-artifacts")
    path = base / "browser"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def page_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A real `sceau-service dev` process (SQLite) shared by a module's tests."""
    server = start_server(tmp_path_factory.mktemp("browser-server"))
    try:
        yield server
    finally:
        stop_server(server)


def console_errors(page: Any, answered: tuple[str, ...] = ("/v1/verify",)) -> list[str]:
    """Collect the page's console errors and uncaught exceptions (CSP violations show up
    as console errors) into the returned list as they happen.

    Chromium logs every 4xx answer as an error; those of the ``answered`` paths are the
    page's expected answers (404 ``no_seal_found``) and are left out.
    """
    errors: list[str] = []

    def on_console(message: Any) -> None:
        if message.type != "error":
            return
        url = str(message.location.get("url", "")).split("?", 1)[0]
        if message.text.startswith("Failed to load resource") and url.endswith(answered):
            return
        errors.append(f"{message.text} ({url})")

    page.on("console", on_console)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return errors
