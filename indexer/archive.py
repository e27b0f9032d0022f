"""The archive facade: the one object the CLI and the HTTP API use.

An `Archive` owns a data directory (originals, transcripts, index generations,
the SQLite database) and the background parts that fill it (inbox watcher,
ingest worker, index rebuild). Everything else in `indexer/` is reached through it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from inkdex.settings import Settings
from recognizer.transcript import BBox, PageTranscript

log = logging.getLogger(__name__)


class DocStatus(StrEnum):
    """Where a document is in the ingest pipeline; the API shows the value as is."""

    queued = "queued"
    processing = "processing"
    indexed = "indexed"
    failed = "failed"


@dataclass(frozen=True)
class Document:
    """One accepted file. `pages` is None until the file has been read."""

    doc_id: str
    filename: str
    source_path: str | None
    sha256: str
    size: int
    media_type: str
    status: DocStatus
    model_version: str | None
    error: str | None
    pages: int | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Match:
    """A word of a hit that matches the query. `page`, `line`, `word` are 0-based indexes."""

    page: int
    line: int
    word: int
    text: str
    bbox: BBox
    confidence: float


@dataclass(frozen=True)
class Hit:
    doc_id: str
    filename: str
    score: float
    snippet: str
    matches: tuple[Match, ...]


@dataclass(frozen=True)
class SearchResult:
    total: int
    hits: tuple[Hit, ...]


class DuplicateDocument(Exception):
    """The same content is already in the archive under `existing_id`."""

    def __init__(self, existing_id: str, filename: str | None = None) -> None:
        self.existing_id = existing_id
        what = f"{filename!r} " if filename else ""
        super().__init__(f"file {what}is already in the archive as document {existing_id}")


class DocumentNotFound(KeyError):
    """No document with this id."""

    def __init__(self, doc_id: str) -> None:
        self.doc_id = doc_id
        super().__init__(doc_id)

    def __str__(self) -> str:
        return f"no document with id {self.doc_id!r}"


class QueryError(ValueError):
    """The search query cannot be run (syntax, or longer than api.max_query_length)."""


class Archive:
    """Facade over the stores, the queue, the index and the background threads."""

    @classmethod
    def open(cls, settings: Settings, recognizer: Any | None = None) -> Archive:
        """Open (creating when needed) the archive in `settings.data_dir`.

        `recognizer` (anything with `version` and `transcribe_pages(images)`) is used
        for ingest; when None, the bundle named by `settings.model` is loaded the
        first time a page must be recognised.
        """
        raise NotImplementedError

    def add_file(
        self, path: Path, filename: str | None = None, source_path: str | None = None
    ) -> Document:
        """Copy `path` into the originals store and queue it; raises `DuplicateDocument`."""
        raise NotImplementedError

    def get(self, doc_id: str) -> Document:
        raise NotImplementedError

    def transcript(self, doc_id: str) -> list[PageTranscript] | None:
        """The pages of the document's current transcript, or None before it is read."""
        raise NotImplementedError

    def list_documents(
        self, status: DocStatus | None = None, limit: int = 50, offset: int = 0
    ) -> tuple[int, list[Document]]:
        """(total matching, one page of documents), newest first."""
        raise NotImplementedError

    def delete(self, doc_id: str) -> None:
        """Remove the document from the index, the stores and the database."""
        raise NotImplementedError

    def original_path(self, doc_id: str) -> Path:
        raise NotImplementedError

    def search(
        self,
        q: str,
        limit: int = 10,
        offset: int = 0,
        fuzzy: bool = False,
        min_confidence: float = 0.0,
    ) -> SearchResult:
        """Keyword search; raises `QueryError` for a bad or too long query."""
        raise NotImplementedError

    def health(self) -> dict[str, Any]:
        """`{"model", "index_generation", "documents", "queue"}` for /health."""
        raise NotImplementedError

    def process_pending(self, max_jobs: int | None = None) -> int:
        """Run queued jobs in this thread until none is left; returns the number done."""
        raise NotImplementedError

    def start(self) -> None:
        """Start the inbox watcher, the ingest worker and (when needed) a rebuild."""
        raise NotImplementedError

    def stop(self) -> None:
        """Stop the background threads, finishing the job in hand."""
        raise NotImplementedError

    def start_reindex(self, model: Path | None = None) -> str:
        """Start rebuilding the index in the background; returns the job id."""
        raise NotImplementedError

    def reindex_progress(self) -> dict[str, Any]:
        """The latest rebuild: `{"job_id", "state", "model", "generation", "done", "total",
        "error", "started_at", "finished_at"}`; state is idle, running, done or failed."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError
