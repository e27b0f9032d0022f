"""The web page in a real headless Chromium against a real uvicorn server.

Upload a page through the page's upload control, wait until the recent-documents list
shows it indexed, search for a word on it, see the result with its snippet and
thumbnail, open the document view, click a transcript line and see it highlighted on
the page. Screenshots are saved in the test's tmp dir. Skips (with the reason) when
Chromium or Playwright is missing; `make test` installs Chromium when it can.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.main import create_app

CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _chromium() -> str:
    for candidate in (
        "/usr/bin/chromium",
        shutil.which("chromium"),
        shutil.which("chromium-browser"),
    ):
        if candidate and Path(candidate).exists():
            return candidate
    pytest.skip("no chromium binary (install the Debian 'chromium' package; `make test` does)")


@pytest.fixture
def server(settings, archive) -> Iterator[str]:
    """The app served by uvicorn on a free local port, in a background thread."""
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(settings, archive), log_level="warning", lifespan="on")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=15)
    sock.close()


def test_upload_search_and_open_a_document_in_the_browser(server, new_page, tmp_path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    executable = _chromium()
    page_img = new_page(["letters", "from", "the", "harbour"], width=900, height=180)
    upload = tmp_path / "harbour-letter.png"
    upload.write_bytes(page_img.png)
    errors: list[str] = []

    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("console", lambda m: m.type == "error" and errors.append(m.text))
            page.on("response", lambda r: r.status >= 400 and errors.append(f"{r.status} {r.url}"))
            page.goto(server + "/")
            sync_api.expect(page.locator("#health")).to_contain_text("documents")

            # Upload through the page and wait for the ingest status to say indexed.
            page.set_input_files("#file", str(upload))
            page.click("#upload-form button[type=submit]")
            indexed = page.locator('#recent li[data-status="indexed"]')
            sync_api.expect(indexed).to_have_count(1, timeout=30_000)
            sync_api.expect(indexed).to_contain_text("harbour-letter.png")

            # Search and see the hit with its snippet and highlighted thumbnail.
            page.fill("#q", "harbour")
            page.press("#q", "Enter")
            result = page.locator(".result")
            sync_api.expect(result).to_have_count(1)
            sync_api.expect(result.locator("h4")).to_have_text("harbour-letter.png")
            thumb = result.locator("img")
            page.wait_for_function(
                "img => img.complete && img.naturalWidth > 0", arg=thumb.element_handle()
            )
            assert thumb.evaluate("img => img.naturalWidth") == 320
            page.screenshot(path=str(tmp_path / "results.png"), full_page=True)

            # Open the document view: word boxes over the page, transcript beside it.
            result.click()
            sync_api.expect(page.locator("#doc-view")).to_be_visible()
            sync_api.expect(page.locator("#doc-title")).to_have_text("harbour-letter.png")
            sync_api.expect(page.locator("#transcript li")).to_have_count(1)
            sync_api.expect(page.locator("#boxes .word-box")).to_have_count(4)
            sync_api.expect(page.locator("#boxes .word-box.hit")).to_have_count(1)
            page.wait_for_function("() => document.querySelector('#page-image').naturalWidth > 0")

            # Click the line: it is highlighted in the transcript and on the image.
            page.click('#transcript li[data-line="0"]')
            sync_api.expect(page.locator('#transcript li[data-line="0"]')).to_have_class("active")
            line_box = page.locator('#boxes .line-box[data-line="0"]')
            sync_api.expect(line_box).to_have_class("box line-box active")

            # The hit box sits over the word on the displayed image.
            img_box = page.locator("#page-image").bounding_box()
            hit_box = page.locator("#boxes .word-box.hit").bounding_box()
            x, y, w, h = dict(page_img.words)["harbour"]
            scale = img_box["width"] / page_img.width
            assert abs(hit_box["x"] - (img_box["x"] + x * scale)) < 2
            assert abs(hit_box["y"] - (img_box["y"] + y * scale)) < 2
            assert abs(hit_box["width"] - w * scale) < 2
            page.screenshot(path=str(tmp_path / "document.png"), full_page=True)
        finally:
            browser.close()
    assert errors == []
