"""Fixtures for the HTTP tests: settings on a temp data dir, a stand-in recognizer, pages.

`StubRecognizer` stands in for the CRNN where a test needs to know exactly which words
are on a page and where: a test draws words with `make_page` and the stub "reads" them
back from the table it was given (keyed by page size), so tests run in milliseconds and
without a trained model. Tests that need the real bundle use `real_bundle`, which skips
with the reason when the bundle named in `config.yaml` is absent.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from indexer.archive import Archive
from inkdex.settings import Settings, load_settings
from recognizer.transcript import BBox, Line, PageTranscript, Word

REPO = Path(__file__).resolve().parents[2]
BUNDLE = load_settings(REPO / "config.yaml").model.bundle


@dataclass(frozen=True)
class Page:
    """A synthesized page: PNG bytes and the box of each word drawn on it."""

    png: bytes
    width: int
    height: int
    words: tuple[tuple[str, BBox], ...]


def make_page(words: Sequence[str], width: int = 640, height: int = 160) -> Page:
    """Black words on white, one line, with the exact box of each word."""
    img = np.full((height, width), 255, np.uint8)
    font, scale, thick = cv2.FONT_HERSHEY_SIMPLEX, 1.4, 3
    x, baseline_y = 20, height // 2 + 15
    boxes = []
    for w in words:
        (tw, th), base = cv2.getTextSize(w, font, scale, thick)
        cv2.putText(img, w, (x, baseline_y), font, scale, 0, thick, cv2.LINE_AA)
        boxes.append((w, (x - 2, baseline_y - th - 2, tw + 4, th + base + 4)))
        x += tw + 40
    if x > width:
        raise ValueError(f"{width}px is too narrow for {words}")
    ok, buf = cv2.imencode(".png", img)
    assert ok
    return Page(buf.tobytes(), width, height, tuple(boxes))


class StubRecognizer:
    """Reads back the words of pages made by `make_page` (registered by page size)."""

    version = "stub-0.1"
    height = 32

    def __init__(self) -> None:
        self.pages: dict[tuple[int, int], Page] = {}

    def expect(self, page: Page) -> Page:
        self.pages[(page.width, page.height)] = page
        return page

    def transcribe_pages(self, images: Sequence[np.ndarray]) -> list[PageTranscript]:
        return [self.transcribe(im) for im in images]

    def transcribe(self, image: np.ndarray) -> PageTranscript:
        h, w = image.shape[:2]
        page = self.pages.get((w, h))
        words = tuple(
            Word(bbox=box, text=text, confidence=0.9, alternatives=((text, 0.9),))
            for text, box in (page.words if page else ())
        )
        lines = ()
        if words:
            x0 = min(b.bbox[0] for b in words)
            y0 = min(b.bbox[1] for b in words)
            x1 = max(b.bbox[0] + b.bbox[2] for b in words)
            y1 = max(b.bbox[1] + b.bbox[3] for b in words)
            text = " ".join(x.text for x in words)
            lines = (Line(bbox=(x0, y0, x1 - x0, y1 - y0), text=text, confidence=0.9, words=words),)
        return PageTranscript(self.version, w, h, lines)


@pytest.fixture(scope="session")
def recognizer() -> StubRecognizer:
    return StubRecognizer()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    models = tmp_path / "models"
    (models / "inkdex-hw-9.9").mkdir(parents=True)
    return load_settings(
        None,
        {
            "data_dir": str(tmp_path / "data"),
            "model": {"bundle": str(models / "inkdex-hw-9.9"), "models_dir": str(models)},
            "upload": {"max_bytes": 2_000_000, "max_pixels": 4_000_000},
            "inbox": {"enabled": False},
        },
    )


@pytest.fixture
def archive(settings: Settings, recognizer: StubRecognizer) -> Iterator[Archive]:
    """The real archive on the temp data dir, reading pages with the stub recognizer."""
    arch = Archive.open(settings, recognizer=recognizer)
    yield arch
    arch.close()


@pytest.fixture
def client(settings: Settings, archive: Archive) -> Iterator[TestClient]:
    """The app on that archive; its lifespan starts and stops the ingest worker."""
    with TestClient(create_app(settings, archive)) as c:
        yield c


@pytest.fixture
def new_page(recognizer: StubRecognizer) -> Callable[..., Page]:
    """`new_page(words, width=640, height=160)`: a PNG page the stub recognizer will read."""

    def make(words: Sequence[str], width: int = 640, height: int = 160) -> Page:
        return recognizer.expect(make_page(words, width, height))

    return make


@pytest.fixture
def wait_done() -> Callable[[TestClient, str], dict]:
    """`wait_done(client, doc_id)`: poll the document until it is indexed or failed."""

    def wait(client: TestClient, doc_id: str, timeout_s: float = 30.0) -> dict:
        deadline = time.monotonic() + timeout_s
        while True:
            body = client.get(f"/documents/{doc_id}").json()
            if body["status"] in ("indexed", "failed"):
                return body
            if time.monotonic() > deadline:
                raise AssertionError(f"document {doc_id} still {body['status']} after {timeout_s}s")
            time.sleep(0.05)

    return wait
