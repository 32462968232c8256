"""The verify page at ``/`` in headless Chromium against a real `sceau-service` process.

Four cases, each uploaded through the page's real file input: an authentic capture
(digitalCapture), an AI-generated picture (trainedAlgorithmicMedia), an altered picture
(a sealed file with one pixel changed, checked against its sidecar seal) and a file with no
seal.  Screenshots of each land in the artefacts directory.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from sceau import Client, hash_file
from sceau.media import seal_file
from sceau.sidecar import write_sidecar

from .. import mediafiles
from ..conftest import ServerProcess
from .conftest import console_errors

if TYPE_CHECKING:
    from playwright.sync_api import Browser, FileChooser, Page

pytestmark = pytest.mark.e2e

PUBLISHER = "Le Quotidien d'Essai"
MODEL = "Test Diffusion"


@dataclass(frozen=True)
class Media:
    """The files of the four cases."""

    captured: Path
    ai_generated: Path
    altered: Path
    altered_seal: Path
    altered_embedded: Path
    unsealed: Path


def _seal(server: ServerProcess, path: Path, media_type: str, **claim: Any) -> bytes:
    with Client(server.url, server.token) as client:
        return client.seal(hash_file(path), media_type=media_type, **claim).envelope_bytes


@pytest.fixture(scope="module")
def media(page_server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Media:
    """Pictures made by Pillow, sealed through the real service (stored by hash)."""
    work = tmp_path_factory.mktemp("media")
    captured = work / "harbour.jpg"
    mediafiles.jpeg(captured)
    _seal(page_server, captured, "image/jpeg", digital_source_type="digitalCapture",
          publisher=PUBLISHER, author=["Jeanne Martin"], title="harbour.jpg")

    ai = work / "robot.png"
    mediafiles.gradient(80, 60).rotate(90, expand=True).save(ai, "PNG")
    _seal(page_server, ai, "image/png", digital_source_type="trainedAlgorithmicMedia",
          software_agent={"name": MODEL, "version": "2.1"}, publisher="Example AI")

    # Altered: sealed as made, then one pixel changed; the seal travels as a sidecar.
    altered = work / "street.png"
    image = mediafiles.gradient(72, 48)
    image.save(altered, "PNG")
    envelope = _seal(page_server, altered, "image/png", digital_source_type="digitalCapture",
                     publisher=PUBLISHER)
    sidecar = write_sidecar(altered, envelope)
    r, g, b = image.getpixel((10, 10))  # type: ignore[misc]
    image.putpixel((10, 10), ((r + 1) % 256, g, b))
    image.save(altered, "PNG")

    # Altered with the seal embedded in the file (sceau.media): one byte of the JPEG's
    # entropy-coded scan flipped after sealing, so decoded pixels change.
    embedded = work / "market.jpg"
    mediafiles.gradient(90, 60).save(embedded, "JPEG", quality=90)
    with Client(page_server.url, page_server.token) as client:
        seal_file(client, embedded, digital_source_type="digitalCapture",
                  publisher=PUBLISHER)
    before = mediafiles.pixels(embedded)
    data = bytearray(embedded.read_bytes())
    data[mediafiles.frame_data_offset(embedded)] ^= 0x10
    embedded.write_bytes(bytes(data))
    assert mediafiles.pixels(embedded) != before

    unsealed = work / "holiday.jpg"
    mediafiles.gradient(64, 64).save(unsealed, "JPEG", quality=80)
    return Media(captured, ai, altered, Path(sidecar), embedded, unsealed)


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh English-language browser context and page."""
    context = browser.new_context(locale="en-US", viewport={"width": 900, "height": 1000})
    try:
        yield context.new_page()
    finally:
        context.close()


def _open(page: Page, server: ServerProcess) -> list[str]:
    errors = console_errors(page)
    page.goto(server.url + "/")
    page.wait_for_selector("#file", state="attached")
    return errors


def _verdict(page: Page) -> dict[str, str]:
    """Wait for the result and read what a reader sees."""
    page.wait_for_function(
        "() => { const b = document.getElementById('badge');"
        " return b && b.dataset.kind && b.dataset.kind !== 'checking'; }")
    facts = page.eval_on_selector_all(
        "#facts dt", "dts => dts.map(dt => [dt.textContent, dt.nextElementSibling.textContent])")
    return {"kind": page.get_attribute("#badge", "data-kind") or "",
            "badge": page.inner_text("#badge-text"),
            "summary": page.inner_text("#summary"),
            **{str(k): str(v) for k, v in facts}}


def _shot(page: Page, artifacts: Path, name: str) -> None:
    path = artifacts / f"verify-page-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 1000


def _rgb(css: str) -> tuple[float, ...]:
    values = re.findall(r"[\d.]+", css)
    return tuple(float(v) for v in values[:3])


def _luminance(rgb: tuple[float, ...]) -> float:
    """WCAG 2.x relative luminance."""
    def channel(c: float) -> float:
        c /= 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _badge_contrast(page: Page) -> float:
    fg, bg = page.eval_on_selector(
        "#badge", "b => { const s = getComputedStyle(b); return [s.color, s.backgroundColor]; }")
    hi, lo = sorted((_luminance(_rgb(fg)), _luminance(_rgb(bg))), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_page_headers_and_static_files(page_server: ServerProcess) -> None:
    response = httpx.get(page_server.url + "/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "<script src=\"/static/app.js\"" in response.text
    assert "<script>" not in response.text and " on" + "click=" not in response.text
    assert httpx.get(page_server.url + "/static/app.js").headers[
        "content-type"].startswith("text/javascript")
    missing = httpx.get(page_server.url + "/static/../settings.py")
    assert missing.status_code == 404
    assert httpx.get(page_server.url + "/static/nothing.js").json()["code"] == "not_found"


def test_authentic_capture(page: Page, page_server: ServerProcess, media: Media,
                           artifacts_dir: Path) -> None:
    errors = _open(page, page_server)
    page.set_input_files("#file", media.captured)
    seen = _verdict(page)
    _shot(page, artifacts_dir, "captured")
    assert seen["kind"] == "captured"
    assert "captured" in seen["badge"].lower()
    assert seen["summary"].lower().startswith("verified")
    assert seen["Signed by"] == "dev"
    assert seen["Publisher (as the seal states)"] == PUBLISHER
    assert seen["Author (as the seal states)"] == "Jeanne Martin"
    # The trusted time comes from the transparency log, shown apart from the signer's.
    assert "UTC" in seen["Sealed at (trusted time, transparency log)"]
    assert "Time given by the signer" in seen
    assert page.get_attribute("#trusted-time time", "datetime")
    assert _badge_contrast(page) >= 4.5
    assert page.get_attribute("#result", "aria-live") == "polite"
    assert errors == []


def test_ai_generated(page: Page, page_server: ServerProcess, media: Media,
                      artifacts_dir: Path) -> None:
    errors = _open(page, page_server)
    page.set_input_files("#file", media.ai_generated)
    seen = _verdict(page)
    assert seen["kind"] == "ai_generated"
    assert "ai-generated" in seen["badge"].lower()
    assert seen["summary"].lower().startswith("verified")
    assert seen["Signed by"] == "dev"
    assert seen["Made with"] == f"{MODEL} 2.1"
    # Details on demand: closed at first, then the status codes and the claim.
    assert not page.is_visible("#status-codes")
    page.click("#details summary")
    assert "claimSignature.validated" in page.inner_text("#status-codes")
    assert "trainedAlgorithmicMedia" in page.inner_text("#claim")
    assert re.fullmatch(r"[0-9a-f]{64}", page.inner_text("#seal-id"))
    # Found by the file's hash among the seals the service stores.
    assert page.inner_text("#found-in").startswith("in this service")
    _shot(page, artifacts_dir, "ai-generated")
    assert _badge_contrast(page) >= 4.5
    assert errors == []


def test_drop_a_file(page: Page, page_server: ServerProcess, media: Media) -> None:
    """Dropping a file on the drop zone checks it (a real drop event with a File)."""
    errors = _open(page, page_server)
    page.evaluate(
        """([b64, name]) => {
            const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], name, {type: 'image/png'}));
            const zone = document.getElementById('drop');
            zone.dispatchEvent(new DragEvent('dragover', {dataTransfer: transfer,
                                                          bubbles: true, cancelable: true}));
            zone.dispatchEvent(new DragEvent('drop', {dataTransfer: transfer,
                                                      bubbles: true, cancelable: true}));
        }""", [base64.b64encode(media.ai_generated.read_bytes()).decode(),
               media.ai_generated.name])
    seen = _verdict(page)
    assert seen["kind"] == "ai_generated"
    assert seen["File"].startswith(media.ai_generated.name)
    assert errors == []


def test_altered(page: Page, page_server: ServerProcess, media: Media,
                 artifacts_dir: Path) -> None:
    errors = _open(page, page_server)
    page.click(".sidecar summary")
    page.set_input_files("#seal", media.altered_seal)
    page.set_input_files("#file", media.altered)
    seen = _verdict(page)
    page.click("#details summary")
    _shot(page, artifacts_dir, "altered")
    assert seen["kind"] == "altered"
    assert "altered" in seen["badge"].lower()
    assert seen["summary"].lower().startswith("not verified")
    assert "content" in seen["summary"].lower()
    # Who sealed the original is still shown: the signature over the claim holds.
    assert seen["Signed by"] == "dev"
    assert "assertion.dataHash.mismatch" in page.inner_text("#status-codes")
    assert _badge_contrast(page) >= 4.5
    assert errors == []


def test_altered_embedded(page: Page, page_server: ServerProcess, media: Media,
                          artifacts_dir: Path) -> None:
    """The seal travels inside the file; the file alone is uploaded."""
    errors = _open(page, page_server)
    page.set_input_files("#file", media.altered_embedded)
    seen = _verdict(page)
    page.click("#details summary")
    _shot(page, artifacts_dir, "altered-embedded")
    assert seen["kind"] == "altered"
    assert "altered" in seen["badge"].lower()
    assert seen["Signed by"] == "dev"
    assert seen["Publisher (as the seal states)"] == PUBLISHER
    assert page.inner_text("#found-in") == "in the file itself"
    assert "assertion.dataHash.mismatch" in page.inner_text("#status-codes")
    assert errors == []


def test_sealed_video(page: Page, page_server: ServerProcess, artifacts_dir: Path,
                      tmp_path: Path) -> None:
    """A video (MP4, H.264) with its seal embedded by `sceau.media`: captured."""
    video = mediafiles.make("mp4-h264", tmp_path, "interview")
    with Client(page_server.url, page_server.token) as client:
        seal_file(client, video, digital_source_type="digitalCapture", publisher=PUBLISHER)
    errors = _open(page, page_server)
    page.set_input_files("#file", video)
    seen = _verdict(page)
    _shot(page, artifacts_dir, "video")
    assert seen["kind"] == "captured"
    assert seen["summary"].lower().startswith("verified")
    assert seen["Publisher (as the seal states)"] == PUBLISHER
    assert page.text_content("#found-in") == "in the file itself"
    assert page.get_attribute("#preview video", "aria-label") == "Preview of the file you chose"
    assert errors == []


def test_seal_text_is_never_markup(page: Page, page_server: ServerProcess,
                                   tmp_path: Path) -> None:
    """Text from a seal (title, publisher) is shown as text: markup in it never runs."""
    hostile = '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script>'
    path = tmp_path / "hostile.png"
    mediafiles.gradient(50, 70).save(path, "PNG")
    _seal(page_server, path, "image/png", title=hostile, publisher=hostile)
    errors = _open(page, page_server)
    page.set_input_files("#file", path)
    seen = _verdict(page)
    assert seen["Title"] == hostile
    assert seen["Publisher (as the seal states)"] == hostile
    assert page.evaluate("() => window.pwned === undefined")
    assert page.evaluate("() => document.querySelectorAll('#result img[src=x], "
                         "#result script').length") == 0
    assert errors == []


def test_no_seal_is_not_fake(page: Page, page_server: ServerProcess, media: Media,
                             artifacts_dir: Path) -> None:
    errors = _open(page, page_server)
    page.set_input_files("#file", media.unsealed)
    seen = _verdict(page)
    _shot(page, artifacts_dir, "no-seal")
    assert seen["kind"] == "none"
    assert seen["badge"] == "No seal found"
    assert "does not mean the file is fake" in seen["summary"]
    assert "fake" not in seen["badge"].lower()
    # Neutral: grey, not the colours of a failed or altered seal.
    border = _rgb(page.eval_on_selector("#badge", "b => getComputedStyle(b).borderColor"))
    assert max(border) - min(border) < 16, border
    assert _badge_contrast(page) >= 4.5
    assert not page.is_visible("#details")
    assert errors == []


def test_keyboard_only(page: Page, page_server: ServerProcess, media: Media,
                       artifacts_dir: Path) -> None:
    """Everything works from the keyboard: reach the file input, open the chooser, open
    the details, switch the language."""
    # Listening before the page loads: Playwright then intercepts the chooser from the
    # start (a listener added just before the key press can miss it).
    choosers: list[FileChooser] = []
    # (Playwright cannot wrap a bound builtin such as list.append as a listener.)
    page.on("filechooser", lambda chooser: choosers.append(chooser))  # noqa: PLW0108
    errors = _open(page, page_server)
    # Every control has a name a screen reader can say.
    unlabelled = page.evaluate(
        "() => [...document.querySelectorAll('input, button, select, textarea')]"
        ".filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')"
        " && !el.textContent.trim()).map(el => el.outerHTML)")
    assert unlabelled == []
    order = []
    for _ in range(4):
        page.keyboard.press("Tab")
        order.append(page.evaluate("document.activeElement.id"))
        if order[-1] == "file":
            break
    assert order[-1] == "file", order
    # The focused drop zone is visibly marked.
    assert page.eval_on_selector("#drop", "d => getComputedStyle(d).outlineStyle") == "solid"
    page.keyboard.press("Space")
    for _ in range(100):
        if choosers:
            break
        page.wait_for_timeout(50)
    assert len(choosers) == 1
    choosers[0].set_files(media.captured)
    assert _verdict(page)["kind"] == "captured"

    for _ in range(6):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.parentElement.id") == "details":
            break
    assert page.evaluate("document.activeElement.parentElement.id") == "details"
    page.keyboard.press("Enter")
    assert page.is_visible("#status-codes")
    _shot(page, artifacts_dir, "keyboard-details")

    page.focus("#lang")
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.documentElement.lang === 'fr'")
    seen = _verdict(page)
    assert page.inner_text("h1") == "Vérifier une image ou une vidéo"
    assert seen["kind"] == "captured"
    assert seen["badge"].startswith("Captur")
    assert seen["Signé par"] == "dev"
    assert page.inner_text("#lang") == "English"
    assert errors == []


def test_french_reader(browser: Browser, page_server: ServerProcess, media: Media,
                       artifacts_dir: Path) -> None:
    """A browser set to French gets the page in French, with the service's French texts
    when it gives them."""
    context = browser.new_context(locale="fr-FR", viewport={"width": 900, "height": 900})
    try:
        page = context.new_page()
        errors = _open(page, page_server)
        assert page.evaluate("document.documentElement.lang") == "fr"
        page.set_input_files("#file", media.unsealed)
        seen = _verdict(page)
        assert seen["badge"] == "Aucun sceau trouvé"
        assert "ne veut pas dire que le fichier est faux" in seen["summary"]
        page.set_input_files("#file", media.ai_generated)
        page.wait_for_function(
            "() => document.getElementById('badge').dataset.kind === 'ai_generated'")
        seen = _verdict(page)
        assert "ia" in seen["badge"].lower()
        assert seen["Signé par"] == "dev"
        _shot(page, artifacts_dir, "french-ai-generated")
        assert errors == []
    finally:
        context.close()
