"""Fixtures for the HTTP tests: settings on a temp data dir, a stand-in recognizer, pages.

`StubRecognizer` stands in for the CRNN where a test needs to know exactly which words
are on a page and where: a test draws words with `make_page` and the stub "reads" them
back from the table it was given (keyed by page size), so tests run in milliseconds and
without a trained model. Tests that need the real bundle use `real_bundle`, which skips
with the reason when `models/inkdex-hw-0.1` is absent.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from indexer.archive import (
    DocStatus,
    Document,
    DocumentNotFound,
    DuplicateDocument,
    Hit,
    Match,
    QueryError,
    SearchResult,
)
from inkdex.settings import Settings, load_settings
from recognizer.preprocess import ImageLoadError, load_pages, sniff_media_type
from recognizer.transcript import BBox, Line, PageTranscript, Word

REPO = Path(__file__).resolve().parents[2]
BUNDLE = REPO / "models" / "inkdex-hw-0.1"
TOKEN = "s3cret-token"


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


class FakeArchive:
    """In-memory stand-in for `indexer.archive.Archive` with the same methods and errors."""

    def __init__(self, settings: Settings, recognizer: StubRecognizer) -> None:
        self.settings = settings
        self.recognizer = recognizer
        self.root = settings.data_dir / "originals"
        self.root.mkdir(parents=True, exist_ok=True)
        self.docs: dict[str, Document] = {}
        self.pages: dict[str, list[PageTranscript]] = {}
        self.started = self.stopped = False
        self.generation = 1
        self.reindex: dict[str, Any] = {"state": "idle", "job_id": None}

    def start(self) -> None:
        self.started = True

    def stop(self) -> None:
        self.stopped = True

    def close(self) -> None:
        pass

    def add_file(self, path: Path, filename: str | None = None, source_path=None) -> Document:
        data = Path(path).read_bytes()
        sha = hashlib.sha256(data).hexdigest()
        for d in self.docs.values():
            if d.sha256 == sha:
                raise DuplicateDocument(d.doc_id, filename)
        shutil.copyfile(path, self.root / sha)
        now = datetime.now(UTC)
        doc = Document(
            doc_id=sha[:12],
            filename=filename or Path(path).name,
            source_path=source_path,
            sha256=sha,
            size=len(data),
            media_type=sniff_media_type(data[:64]) or "application/octet-stream",
            status=DocStatus.queued,
            model_version=None,
            error=None,
            pages=None,
            created_at=now,
            updated_at=now,
        )
        self.docs[doc.doc_id] = doc
        return doc

    def process_pending(self, max_jobs: int | None = None) -> int:
        from dataclasses import replace

        n = 0
        for doc in list(self.docs.values()):
            if doc.status != DocStatus.queued:
                continue
            try:
                images = load_pages(self.original_path(doc.doc_id), 80_000_000)
            except ImageLoadError as exc:
                self.docs[doc.doc_id] = replace(doc, status=DocStatus.failed, error=str(exc))
            else:
                self.pages[doc.doc_id] = self.recognizer.transcribe_pages(images)
                self.docs[doc.doc_id] = replace(
                    doc,
                    status=DocStatus.indexed,
                    pages=len(images),
                    model_version=self.recognizer.version,
                )
            n += 1
        return n

    def get(self, doc_id: str) -> Document:
        if doc_id not in self.docs:
            raise DocumentNotFound(doc_id)
        return self.docs[doc_id]

    def transcript(self, doc_id: str) -> list[PageTranscript] | None:
        self.get(doc_id)
        return self.pages.get(doc_id)

    def list_documents(self, status=None, limit=50, offset=0):
        docs = [d for d in reversed(self.docs.values()) if status is None or d.status == status]
        return len(docs), docs[offset : offset + limit]

    def delete(self, doc_id: str) -> None:
        self.get(doc_id)
        self.docs.pop(doc_id)
        self.pages.pop(doc_id, None)

    def original_path(self, doc_id: str) -> Path:
        return self.root / self.get(doc_id).sha256

    def search(self, q, limit=10, offset=0, fuzzy=False, min_confidence=0.0) -> SearchResult:
        if q.count('"') % 2:
            raise QueryError(f"unbalanced quote in query {q!r}")
        terms = {t.lower() for t in q.split()}
        hits = []
        for doc_id, pages in self.pages.items():
            matches = tuple(
                Match(pi, li, wi, w.text, w.bbox, w.confidence)
                for pi, p in enumerate(pages)
                for li, line in enumerate(p.lines)
                for wi, w in enumerate(line.words)
                if w.text.lower() in terms
            )
            if matches:
                doc = self.docs[doc_id]
                hits.append(Hit(doc_id, doc.filename, float(len(matches)), "", matches))
        return SearchResult(len(hits), tuple(hits[offset : offset + limit]))

    def health(self) -> dict[str, Any]:
        return {
            "model": self.recognizer.version,
            "index_generation": f"{self.generation:04d}",
            "documents": len(self.docs),
            "queue": sum(d.status == DocStatus.queued for d in self.docs.values()),
        }

    def start_reindex(self, model: Path | None = None) -> str:
        self.generation += 1
        self.reindex = {"state": "done", "job_id": f"reindex-{self.generation:04d}"}
        return self.reindex["job_id"]

    def reindex_progress(self) -> dict[str, Any]:
        return dict(self.reindex)


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
        },
    )


@pytest.fixture
def archive(settings: Settings, recognizer: StubRecognizer) -> FakeArchive:
    return FakeArchive(settings, recognizer)


@pytest.fixture
def client(settings: Settings, archive: FakeArchive) -> Iterator[TestClient]:
    with TestClient(create_app(settings, archive)) as c:
        yield c


@pytest.fixture
def auth_client(settings: Settings, archive: FakeArchive) -> Iterator[TestClient]:
    settings.api.token = TOKEN
    with TestClient(create_app(settings, archive)) as c:
        yield c


@pytest.fixture
def new_page(recognizer: StubRecognizer) -> Callable[..., Page]:
    """`new_page(words, width=640, height=160)`: a PNG page the stub recognizer will read."""

    def make(words: Sequence[str], width: int = 640, height: int = 160) -> Page:
        return recognizer.expect(make_page(words, width, height))

    return make


@pytest.fixture
def wait_done(archive: Any) -> Callable[[TestClient, str], dict]:
    """`wait_done(client, doc_id)`: poll the document until it is indexed or failed."""

    def wait(client: TestClient, doc_id: str, timeout_s: float = 30.0) -> dict:
        deadline = time.monotonic() + timeout_s
        while True:
            if isinstance(archive, FakeArchive):
                archive.process_pending()
            body = client.get(f"/documents/{doc_id}").json()
            if body["status"] in ("indexed", "failed"):
                return body
            if time.monotonic() > deadline:
                raise AssertionError(f"document {doc_id} still {body['status']} after {timeout_s}s")
            time.sleep(0.05)

    return wait
