"""Persistent state: originals by SHA-256, transcripts per model version, the SQLite database.

The originals and the transcripts are the source of truth (the index is derived
from them). Every file write is atomic: a temporary file in the same folder,
fsync, rename, fsync of the folder, so a crash leaves either the old state or the
new one, never half a file.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
import tempfile
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from inkdex.fileio import atomic_write_bytes, fsync_dir
from recognizer.transcript import PageTranscript

log = logging.getLogger(__name__)

CHUNK = 1 << 20


class StoreError(RuntimeError):
    """A stored file or record is missing or unreadable."""


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


def now() -> datetime:
    return datetime.now(UTC)


def iso(dt: datetime) -> str:
    return dt.isoformat(timespec="microseconds")


# --- files ---------------------------------------------------------------------------


def sniff_media_type(head: bytes, filename: str = "") -> str:
    """The media type from the first bytes of a file (the name only as a last resort)."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "image/tiff"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head.startswith(b"BM"):
        return "image/bmp"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1"):
        return "image/heic"
    import mimetypes

    guessed, _ = mimetypes.guess_type(filename)
    return guessed or "application/octet-stream"


@dataclass(frozen=True)
class StoredFile:
    sha256: str
    size: int
    media_type: str
    path: Path


class OriginalStore:
    """Accepted files by content: ``originals/ab/<sha256>``; never modified once written."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._tmp = root / ".tmp"
        self._tmp.mkdir(parents=True, exist_ok=True)

    def path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256

    def put(self, src: Path) -> StoredFile:
        """Copy `src` in (hashing while copying); a file already stored is not rewritten."""
        h = hashlib.sha256()
        size = 0
        head = b""
        fd, tmp = tempfile.mkstemp(prefix="in-", dir=self._tmp)
        try:
            with open(src, "rb") as fin, os.fdopen(fd, "wb") as fout:
                while chunk := fin.read(CHUNK):
                    if not head:
                        head = chunk[:64]
                    h.update(chunk)
                    fout.write(chunk)
                    size += len(chunk)
                fout.flush()
                os.fsync(fout.fileno())
            sha = h.hexdigest()
            dest = self.path(sha)
            if dest.exists() and dest.stat().st_size == size:
                Path(tmp).unlink()
            else:
                dest.parent.mkdir(exist_ok=True)
                os.replace(tmp, dest)
                fsync_dir(dest.parent)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return StoredFile(sha, size, sniff_media_type(head, src.name), dest)

    def delete(self, sha256: str) -> None:
        self.path(sha256).unlink(missing_ok=True)


class TranscriptStore:
    """``transcripts/<model_version>/<sha256>.json`` holding ``{"pages": [...]}``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def path(self, model_version: str, sha256: str) -> Path:
        return self.root / model_version / f"{sha256}.json"

    def exists(self, model_version: str, sha256: str) -> bool:
        return self.path(model_version, sha256).is_file()

    def save(self, model_version: str, sha256: str, pages: Sequence[PageTranscript]) -> None:
        doc = {"pages": [p.to_dict() for p in pages]}
        data = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        atomic_write_bytes(self.path(model_version, sha256), data)

    def load_json(self, model_version: str, sha256: str) -> list[dict[str, Any]] | None:
        """The stored pages in their JSON form (cheaper than `load` when only read once)."""
        path = self.path(model_version, sha256)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            pages = json.loads(data)["pages"]
            if not isinstance(pages, list):
                raise TypeError("'pages' is not a list")
            return pages
        except (ValueError, KeyError, TypeError) as exc:
            raise StoreError(f"transcript {path} is unreadable: {exc}") from exc

    def load(self, model_version: str, sha256: str) -> list[PageTranscript] | None:
        """The stored pages, or None when this model has not transcribed the file."""
        path = self.path(model_version, sha256)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            return [PageTranscript.from_dict(p) for p in json.loads(data)["pages"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise StoreError(f"transcript {path} is unreadable: {exc}") from exc

    def delete_all(self, sha256: str) -> None:
        """Remove the file's transcripts for every model version."""
        for model_dir in self.root.iterdir():
            (model_dir / f"{sha256}.json").unlink(missing_ok=True)


# --- database ------------------------------------------------------------------------

SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    doc_id        TEXT PRIMARY KEY,
    filename      TEXT NOT NULL,
    source_path   TEXT,
    sha256        TEXT NOT NULL UNIQUE,
    size          INTEGER NOT NULL,
    media_type    TEXT NOT NULL,
    status        TEXT NOT NULL,
    model_version TEXT,
    error         TEXT,
    pages         INTEGER,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    reading       TEXT
);
CREATE INDEX IF NOT EXISTS documents_status ON documents (status, created_at);
CREATE INDEX IF NOT EXISTS documents_created ON documents (created_at);
CREATE TABLE IF NOT EXISTS jobs (
    job_id     INTEGER PRIMARY KEY AUTOINCREMENT,
    doc_id     TEXT NOT NULL UNIQUE,
    state      TEXT NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0,
    not_before REAL NOT NULL DEFAULT 0,
    error      TEXT,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_ready ON jobs (state, not_before, job_id);
CREATE TABLE IF NOT EXISTS inbox_files (
    path     TEXT PRIMARY KEY,
    size     INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    sha256   TEXT,
    doc_id   TEXT,
    outcome  TEXT NOT NULL,
    seen_at  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS reindex_jobs (
    job_id      TEXT PRIMARY KEY,
    model       TEXT NOT NULL,
    bundle      TEXT,
    generation  TEXT NOT NULL,
    state       TEXT NOT NULL,
    done        INTEGER NOT NULL DEFAULT 0,
    total       INTEGER NOT NULL DEFAULT 0,
    error       TEXT,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    retranscribe INTEGER NOT NULL DEFAULT 0
);
"""

_DOC_COLUMNS = (
    "doc_id, filename, source_path, sha256, size, media_type, status, model_version, "
    "error, pages, created_at, updated_at"
)


# Columns added after a data dir's database was first created: (table, column, definition).
_ADDED_COLUMNS = (
    ("reindex_jobs", "retranscribe", "INTEGER NOT NULL DEFAULT 0"),
    # the fingerprint of the bundle files and settings that read the document
    # (indexer/reading.py); NULL = not recorded
    ("documents", "reading", "TEXT"),
)


def _add_missing_columns(c: sqlite3.Connection) -> None:
    """Bring a database made by an earlier version up to `SCHEMA`."""
    for table, column, definition in _ADDED_COLUMNS:
        have = {row[1] for row in c.execute(f"PRAGMA table_info({table})")}
        if column not in have:
            c.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")


def _document(row: sqlite3.Row | tuple[Any, ...]) -> Document:
    return Document(
        doc_id=row[0],
        filename=row[1],
        source_path=row[2],
        sha256=row[3],
        size=row[4],
        media_type=row[5],
        status=DocStatus(row[6]),
        model_version=row[7],
        error=row[8],
        pages=row[9],
        created_at=datetime.fromisoformat(row[10]),
        updated_at=datetime.fromisoformat(row[11]),
    )


class Database:
    """The SQLite database (WAL): documents, jobs, inbox ledger, rebuild progress.

    One connection per thread; `tx()` gives a write transaction (BEGIN IMMEDIATE),
    `conn()` a connection for reads.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        c = self.conn()
        c.executescript(SCHEMA)
        _add_missing_columns(c)

    def conn(self) -> sqlite3.Connection:
        c = getattr(self._local, "conn", None)
        if c is None:
            c = sqlite3.connect(
                self.path, timeout=30.0, isolation_level=None, check_same_thread=False
            )
            c.execute("PRAGMA journal_mode=WAL")
            c.execute("PRAGMA synchronous=NORMAL")
            c.execute("PRAGMA busy_timeout=30000")
            self._local.conn = c
            with self._lock:
                self._all.append(c)
        return c

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: committed when the block ends, rolled back on an exception."""
        c = self.conn()
        c.execute("BEGIN IMMEDIATE")
        try:
            yield c
        except BaseException:
            c.execute("ROLLBACK")
            raise
        c.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            for c in self._all:
                try:
                    c.close()
                except sqlite3.Error:
                    pass
            self._all.clear()
        self._local = threading.local()

    # documents

    def insert_document(self, c: sqlite3.Connection, doc: Document) -> None:
        c.execute(
            f"INSERT INTO documents ({_DOC_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                doc.doc_id,
                doc.filename,
                doc.source_path,
                doc.sha256,
                doc.size,
                doc.media_type,
                doc.status.value,
                doc.model_version,
                doc.error,
                doc.pages,
                iso(doc.created_at),
                iso(doc.updated_at),
            ),
        )

    def document(self, doc_id: str) -> Document | None:
        row = (
            self.conn()
            .execute(f"SELECT {_DOC_COLUMNS} FROM documents WHERE doc_id = ?", (doc_id,))
            .fetchone()
        )
        return _document(row) if row else None

    def documents(self, doc_ids: Sequence[str]) -> dict[str, Document]:
        """The documents with these ids (missing ones are left out)."""
        out: dict[str, Document] = {}
        ids = list(doc_ids)
        for i in range(0, len(ids), 500):
            part = ids[i : i + 500]
            marks = ",".join("?" * len(part))
            for row in self.conn().execute(
                f"SELECT {_DOC_COLUMNS} FROM documents WHERE doc_id IN ({marks})", part
            ):
                d = _document(row)
                out[d.doc_id] = d
        return out

    def document_by_sha(self, sha256: str) -> Document | None:
        row = (
            self.conn()
            .execute(f"SELECT {_DOC_COLUMNS} FROM documents WHERE sha256 = ?", (sha256,))
            .fetchone()
        )
        return _document(row) if row else None

    def list_documents(
        self, status: DocStatus | None = None, limit: int = 50, offset: int = 0
    ) -> tuple[int, list[Document]]:
        where, args = ("WHERE status = ?", [status.value]) if status else ("", [])
        c = self.conn()
        total = c.execute(f"SELECT COUNT(*) FROM documents {where}", args).fetchone()[0]
        rows = c.execute(
            f"SELECT {_DOC_COLUMNS} FROM documents {where} "
            "ORDER BY created_at DESC, doc_id LIMIT ? OFFSET ?",
            [*args, limit, offset],
        ).fetchall()
        return total, [_document(r) for r in rows]

    def iter_documents(self, status: DocStatus | None = None) -> Iterator[Document]:
        """Every document (oldest first), read in pages so a long scan holds no lock."""
        last = ""
        while True:
            where = "doc_id > ?" + (" AND status = ?" if status else "")
            args: list[Any] = [last] + ([status.value] if status else [])
            rows = (
                self.conn()
                .execute(
                    f"SELECT {_DOC_COLUMNS} FROM documents WHERE {where} ORDER BY doc_id LIMIT 1000",
                    args,
                )
                .fetchall()
            )
            if not rows:
                return
            for r in rows:
                yield _document(r)
            last = rows[-1][0]

    def count_documents(self, status: DocStatus | None = None) -> int:
        if status is None:
            return self.conn().execute("SELECT COUNT(*) FROM documents").fetchone()[0]
        return (
            self.conn()
            .execute("SELECT COUNT(*) FROM documents WHERE status = ?", (status.value,))
            .fetchone()[0]
        )

    def set_status(
        self,
        c: sqlite3.Connection,
        doc_id: str,
        status: DocStatus,
        *,
        error: str | None = None,
        model_version: str | None = None,
        pages: int | None = None,
        reading: str | None = None,
    ) -> None:
        """Set the status (and, when given, model version, page count and reading
        fingerprint; error always)."""
        c.execute(
            "UPDATE documents SET status = ?, error = ?, "
            "model_version = COALESCE(?, model_version), pages = COALESCE(?, pages), "
            "reading = COALESCE(?, reading), updated_at = ? WHERE doc_id = ?",
            (status.value, error, model_version, pages, reading, iso(now()), doc_id),
        )

    def set_reading(self, c: sqlite3.Connection, doc_ids: Iterable[str], reading: str) -> None:
        """Record that `doc_ids` were read by what `reading` fingerprints."""
        c.executemany(
            "UPDATE documents SET reading = ? WHERE doc_id = ?", ((reading, d) for d in doc_ids)
        )

    def count_read_otherwise(self, model_version: str, reading: str) -> int:
        """Indexed documents read by `model_version` with another recorded fingerprint."""
        return (
            self.conn()
            .execute(
                "SELECT COUNT(*) FROM documents WHERE status = ? AND model_version = ? "
                "AND reading IS NOT NULL AND reading != ?",
                (DocStatus.indexed.value, model_version, reading),
            )
            .fetchone()[0]
        )

    def set_model_version(self, c: sqlite3.Connection, doc_id: str, model_version: str) -> None:
        c.execute(
            "UPDATE documents SET model_version = ?, updated_at = ? WHERE doc_id = ?",
            (model_version, iso(now()), doc_id),
        )

    def delete_document(self, c: sqlite3.Connection, doc_id: str) -> None:
        c.execute("DELETE FROM jobs WHERE doc_id = ?", (doc_id,))
        c.execute("DELETE FROM documents WHERE doc_id = ?", (doc_id,))
        c.execute("UPDATE inbox_files SET doc_id = NULL WHERE doc_id = ?", (doc_id,))

    # inbox ledger: files seen in the inbox, so none is ingested twice

    def inbox_seen(self, path: str, size: int, mtime_ns: int) -> bool:
        row = (
            self.conn()
            .execute(
                "SELECT 1 FROM inbox_files WHERE path = ? AND size = ? AND mtime_ns = ?",
                (path, size, mtime_ns),
            )
            .fetchone()
        )
        return row is not None

    def inbox_record(
        self,
        path: str,
        size: int,
        mtime_ns: int,
        sha256: str | None,
        doc_id: str | None,
        outcome: str,
    ) -> None:
        with self.tx() as c:
            c.execute(
                "INSERT OR REPLACE INTO inbox_files "
                "(path, size, mtime_ns, sha256, doc_id, outcome, seen_at) VALUES (?,?,?,?,?,?,?)",
                (path, size, mtime_ns, sha256, doc_id, outcome, iso(now())),
            )
