"""The MV3 extension (``extension/``): its logic under Node, and the unpacked extension
loaded into headless Chromium, on a local page, against a real `sceau-service`.

The page holds a captured picture, an AI-generated one, an edited one served from another
origin (fetched by the service worker) and an unsealed one: the first three get a badge
with their label and signer, the last gets nothing.
"""

from __future__ import annotations

import functools
import http.server
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from sceau import Client, hash_file

from .. import mediafiles
from ..conftest import ServerProcess, _in_ci
from .conftest import CHROMIUM_ARGS, ROOT, console_errors

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Playwright

pytestmark = pytest.mark.e2e

EXTENSION = ROOT / "extension"


def test_extension_logic_under_node() -> None:
    """`node --test extension/` passes (the pure logic: hex, hashing, batching, badges)."""
    node = shutil.which("node")
    if node is None:
        message = "node is not installed: the extension's logic tests cannot run"
        if _in_ci():
            pytest.fail(message)
        sys.stderr.write(f"\n!!! SKIPPING {message}\n")
        pytest.skip(message)
    run = subprocess.run([node, "--test", "extension/"], cwd=ROOT, capture_output=True,
                         text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    passed = re.search(r"^# pass (\d+)$", run.stdout, re.MULTILINE)
    failed = re.search(r"^# fail (\d+)$", run.stdout, re.MULTILINE)
    assert passed and failed, run.stdout
    assert int(passed.group(1)) >= 10 and int(failed.group(1)) == 0, run.stdout


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def site(page_server: ServerProcess,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A local web site (its own origin) with sealed and unsealed pictures."""
    root = tmp_path_factory.mktemp("site")
    captured, ai, edited, unsealed = (root / n for n in (
        "captured.jpg", "ai.png", "edited.png", "unsealed.jpg"))
    mediafiles.jpeg(captured)
    mediafiles.gradient(96, 72).rotate(90, expand=True).save(ai, "PNG")
    mediafiles.gradient(120, 80).save(edited, "PNG")
    mediafiles.gradient(100, 70).save(unsealed, "JPEG", quality=75)
    with Client(page_server.url, page_server.token) as client:
        client.seal(hash_file(captured), media_type="image/jpeg",
                    digital_source_type="digitalCapture", publisher="Example News")
        client.seal(hash_file(ai), media_type="image/png",
                    digital_source_type="trainedAlgorithmicMedia",
                    software_agent={"name": "Test Diffusion", "version": "2"})
        client.seal(hash_file(edited), media_type="image/png",
                    digital_source_type="humanEdits")
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root)))
    port = server.server_address[1]
    # "localhost" and "127.0.0.1" are two origins: the edited picture is cross-origin.
    (root / "index.html").write_text(f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,">
<title>Sceau extension test page</title></head>
<body style="font-family: sans-serif">
<h1>A news page</h1>
<figure><img id="captured" src="captured.jpg" width="192" height="128" alt="harbour">
<figcaption>Captured</figcaption></figure>
<figure><img id="ai" src="ai.png" width="144" height="192" alt="robot">
<figcaption>AI-generated</figcaption></figure>
<figure><img id="edited" src="http://localhost:{port}/edited.png" width="240" height="160"
  alt="street"><figcaption>Edited, from another origin</figcaption></figure>
<figure><img id="unsealed" src="unsealed.jpg" width="200" height="140" alt="holiday">
<figcaption>No seal</figcaption></figure>
</body></html>""")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def extension_context(playwright_instance: Playwright, chromium_path: str,
                      tmp_path: Path) -> Iterator[BrowserContext]:
    """Chromium with the unpacked extension loaded, headless, on a fresh profile."""
    context = playwright_instance.chromium.launch_persistent_context(
        str(tmp_path / "profile"), executable_path=chromium_path, headless=True,
        args=[*CHROMIUM_ARGS, f"--disable-extensions-except={EXTENSION}",
              f"--load-extension={EXTENSION}"],
        ignore_default_args=["--disable-extensions"], locale="en-US",
        viewport={"width": 900, "height": 1100})
    try:
        yield context
    finally:
        context.close()


def _extension_id(context: BrowserContext) -> str:
    workers = context.service_workers or [context.wait_for_event("serviceworker")]
    match = re.fullmatch(r"chrome-extension://([a-p]{32})/background\.js", workers[0].url)
    assert match, workers[0].url
    return match.group(1)


def test_extension_badges_sealed_pictures(extension_context: BrowserContext, site: str,
                                          page_server: ServerProcess,
                                          artifacts_dir: Path) -> None:
    ext_id = _extension_id(extension_context)

    # The reader points the extension at this Sceau service in its options page.
    options = extension_context.new_page()
    options.goto(f"chrome-extension://{ext_id}/options.html")
    assert options.input_value("#backend") == "http://127.0.0.1:8000"
    options.fill("#backend", page_server.url + "/")
    options.click("#save")
    options.wait_for_function("() => document.getElementById('status').textContent === "
                              "'Saved.'")
    assert options.input_value("#backend") == page_server.url
    # Reading other sites' pictures is opt-in (an optional host permission), off at first.
    assert not options.is_checked("#all-sites")
    options.screenshot(path=str(artifacts_dir / "extension-options.png"))
    options.close()

    page = extension_context.new_page()
    errors = console_errors(page)
    page.goto(site + "/index.html")
    page.wait_for_function(
        "() => document.querySelectorAll('[data-sceau-badge]').length >= 3"
        " && Number(document.documentElement.dataset.sceauScanned || 0) >= 1",
        timeout=20_000)
    badges = page.eval_on_selector_all("[data-sceau-badge]", """els => els.map(b => ({
        kind: b.dataset.sceauBadge, text: b.textContent, label: b.getAttribute('aria-label'),
        top: b.getBoundingClientRect().top, left: b.getBoundingClientRect().left}))""")
    assert sorted(b["kind"] for b in badges) == ["ai_generated", "captured", "edited"]
    by_kind = {b["kind"]: b for b in badges}
    assert "AI-generated" in by_kind["ai_generated"]["text"]
    assert by_kind["captured"]["label"].endswith("signed by dev")
    # Each badge sits on its own picture's top-left corner.
    for kind, image_id in (("captured", "captured"), ("ai_generated", "ai"),
                           ("edited", "edited")):
        box = page.eval_on_selector(f"#{image_id}", "i => { const r = "
                                    "i.getBoundingClientRect(); return [r.left, r.top]; }")
        assert abs(by_kind[kind]["left"] - box[0] - 4) < 2, (kind, box, by_kind[kind])
        assert abs(by_kind[kind]["top"] - box[1] - 4) < 2, (kind, box, by_kind[kind])
    # The unsealed picture gets nothing: no seal is not a verdict.
    assert page.evaluate("document.querySelectorAll('.sceau-ext-anchor').length") == 3
    assert "fake" not in page.inner_text("body").lower()

    # Hover and keyboard focus show the label, the signer and the summary.
    captured = page.locator("[data-sceau-badge=captured]")
    captured.hover()
    tip = page.locator(".sceau-ext-anchor:hover .sceau-ext-tip")
    assert tip.is_visible()
    assert "Signed by dev" in tip.inner_text()
    assert "verified" in tip.inner_text().lower()
    page.mouse.move(800, 1000)
    ai_badge = page.locator("[data-sceau-badge=ai_generated]")
    ai_badge.focus()
    focused_tip = page.locator(".sceau-ext-anchor:focus-within .sceau-ext-tip")
    assert focused_tip.is_visible()
    assert "AI-generated" in focused_tip.inner_text()
    page.screenshot(path=str(artifacts_dir / "extension-badges.png"), full_page=True)
    assert errors == []
