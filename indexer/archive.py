"""The archive facade: the one object the CLI and the HTTP API use.

An `Archive` owns a data directory and the background parts that fill it:

```
inbox/                 watched; files are left in place and remembered by
                       (path, size, mtime) so each is ingested once
originals/ab/<sha256>  every accepted file, content-addressed, never modified
transcripts/<model>/<sha256>.json
index/<generation>/    Whoosh index generations; index/CURRENT names the live one
failed/                copies of files that could not be read, with .error.txt beside
inkdex.sqlite          documents, jobs, inbox ledger, rebuild progress (WAL)
worker.lock            held by the one process that runs the ingest worker
```

Everything else in `indexer/` is reached through it. Searching never imports
TensorFlow; the model is loaded the first time a page must be recognised.
"""

from __future__ import annotations

import functools
import gc
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from indexer import index
from indexer.generations import Generations, LiveIndex
from indexer.highlight import Match, find_matches, snippet
from indexer.index import QueryError
from indexer.pipeline import (
    IngestError,
    LazyRecognizer,
    ModelUnavailable,
    Pipeline,
    Recognizer,
    Worker,
)
from indexer.queue import JobQueue
from indexer.reading import fingerprint as reading_fingerprint
from indexer.rebuild import Rebuilder, RebuildError, RebuildRunning
from indexer.store import (
    Database,
    DocStatus,
    Document,
    OriginalStore,
    StoreError,
    TranscriptStore,
    now,
)
from indexer.watcher import InboxWatcher
from inkdex.settings import Settings
from recognizer.transcript import PageTranscript

log = logging.getLogger(__name__)

__all__ = [
    "Archive",
    "ArchiveBusy",
    "DocStatus",
    "Document",
    "DocumentNotFound",
    "DuplicateDocument",
    "Hit",
    "IngestError",
    "Match",
    "ModelUnavailable",
    "QueryError",
    "RebuildError",
    "RebuildRunning",
    "SearchResult",
]

DOC_ID_LEN = 16
MIN_CONFIDENCE_SCAN = 1000  # hits examined when filtering by confidence


@dataclass(frozen=True)
class Hit:
    """A matching document. `snippet` is HTML: escaped text, matched words in ``<mark>``."""

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


class ArchiveBusy(RuntimeError):
    """Another process runs the ingest worker (or a rebuild) on this data directory."""


class Archive:
    """Facade over the stores, the queue, the index and the background threads."""

    def __init__(
        self,
        settings: Settings,
        recognizer: Recognizer | None = None,
        recognizer_factory: Callable[[Path], Recognizer] | None = None,
    ) -> None:
        self.settings = settings
        root = settings.data_dir
        self.root = root
        self.inbox_dir = root / "inbox"
        self.failed_dir = root / "failed"
        for d in (root, self.inbox_dir, self.failed_dir):
            d.mkdir(parents=True, exist_ok=True)
        self.db = Database(root / "inkdex.sqlite")
        self.originals = OriginalStore(root / "originals")
        self.transcripts = TranscriptStore(root / "transcripts")
        self.queue = JobQueue(self.db)
        self.generations = Generations(root / "index")
        self._recognizer: Recognizer = recognizer or LazyRecognizer(settings.model.bundle, settings)
        self._factory = recognizer_factory
        self.live = LiveIndex(self.generations, model=self._recognizer.version)
        self.pipeline = Pipeline(
            settings=settings,
            db=self.db,
            queue=self.queue,
            originals=self.originals,
            transcripts=self.transcripts,
            live=self.live,
            recognizer=lambda: self._recognizer,
            failed_dir=self.failed_dir,
            reading=lambda: self.reading,
        )
        self.worker = Worker(self.pipeline, self.queue)
        self.rebuilder = Rebuilder(
            settings=settings,
            db=self.db,
            originals=self.originals,
            transcripts=self.transcripts,
            generations=self.generations,
            live=self.live,
            recognizer_for=self._recognizer_for,
            reading_for=self._reading_for,
        )
        self.watcher: InboxWatcher | None = None
        self._lock_fd: int | None = None
        self._lock_guard = threading.Lock()
        self._started = False

    @classmethod
    def open(
        cls,
        settings: Settings,
        recognizer: Recognizer | None = None,
        recognizer_factory: Callable[[Path], Recognizer] | None = None,
    ) -> Archive:
        """Open (creating when needed) the archive in `settings.data_dir`.

        `recognizer` (anything with `version` and `transcribe_pages(images)`) is used
        for ingest; when None, the bundle named by ``settings.model.bundle`` is loaded
        the first time a page must be recognised. `recognizer_factory(bundle)` makes
        the recognizer for a rebuild with another bundle (default: load the bundle).
        """
        return cls(settings, recognizer, recognizer_factory)

    @property
    def model_version(self) -> str:
        """The active model: new documents are transcribed with it."""
        return self._recognizer.version

    @functools.cached_property
    def reading(self) -> str:
        """The fingerprint of the active bundle's files and the reading settings
        (`indexer.reading`), recorded with every document read."""
        rec = self._recognizer
        bundle = rec.bundle if isinstance(rec, LazyRecognizer) else self.settings.model.bundle
        return reading_fingerprint(self.settings.model, bundle)

    def read_otherwise(self) -> int:
        """Indexed documents the active model read with other settings or bundle files
        than now (`inkdex reindex --retranscribe` reads them again)."""
        return self.db.count_read_otherwise(self.model_version, self.reading)

    # --- documents -------------------------------------------------------------------

    def add_file(
        self, path: Path, filename: str | None = None, source_path: str | None = None
    ) -> Document:
        """Copy `path` into the originals store and queue it; raises `DuplicateDocument`.

        Raises `FileNotFoundError`/`IsADirectoryError`/`OSError` when `path` cannot be read.
        """
        path = Path(path)
        if not path.is_file():
            if path.is_dir():
                raise IsADirectoryError(f"{path} is a folder, not a file")
            raise FileNotFoundError(f"no such file: {path}")
        name = filename or path.name
        stored = self.originals.put(path)
        existing = self.db.document_by_sha(stored.sha256)
        if existing is not None:
            raise DuplicateDocument(existing.doc_id, name)
        t = now()
        doc = Document(
            doc_id=stored.sha256[:DOC_ID_LEN],
            filename=name,
            source_path=source_path,
            sha256=stored.sha256,
            size=stored.size,
            media_type=stored.media_type,
            status=DocStatus.queued,
            model_version=None,
            error=None,
            pages=None,
            created_at=t,
            updated_at=t,
        )
        try:
            with self.db.tx() as c:
                self.db.insert_document(c, doc)
                self.queue.enqueue(c, doc.doc_id)
        except sqlite3.IntegrityError:  # the same content added concurrently
            existing = self.db.document_by_sha(stored.sha256)
            if existing is None:
                raise
            raise DuplicateDocument(existing.doc_id, name) from None
        log.info("queued %s as %s", name, doc.doc_id)
        self.worker.wake()
        return doc

    def get(self, doc_id: str) -> Document:
        doc = self.db.document(doc_id)
        if doc is None:
            raise DocumentNotFound(doc_id)
        return doc

    def transcript(self, doc_id: str) -> list[PageTranscript] | None:
        """The pages of the document's current transcript, or None before it is read."""
        doc = self.get(doc_id)
        if doc.model_version is None:
            return None
        return self.transcripts.load(doc.model_version, doc.sha256)

    def list_documents(
        self, status: DocStatus | None = None, limit: int = 50, offset: int = 0
    ) -> tuple[int, list[Document]]:
        """(total matching, one page of documents), newest first."""
        if limit < 0 or offset < 0:
            raise ValueError("limit and offset must not be negative")
        return self.db.list_documents(DocStatus(status) if status else None, limit, offset)

    def delete(self, doc_id: str) -> None:
        """Remove the document from the index, the stores and the database."""
        doc = self.get(doc_id)
        with self.db.tx() as c:
            self.db.delete_document(c, doc_id)
        self.live.submit(lambda w: index.remove_document(w, doc_id)).result()
        self.originals.delete(doc.sha256)
        self.transcripts.delete_all(doc.sha256)
        log.info("deleted %s (%s)", doc_id, doc.filename)

    def original_path(self, doc_id: str) -> Path:
        doc = self.get(doc_id)
        path = self.originals.path(doc.sha256)
        if not path.is_file():
            raise StoreError(f"the original of {doc_id} is missing from {path.parent}")
        return path

    # --- search ----------------------------------------------------------------------

    def search(
        self,
        q: str,
        limit: int = 10,
        offset: int = 0,
        fuzzy: bool = False,
        min_confidence: float = 0.0,
    ) -> SearchResult:
        """Keyword search; raises `QueryError` for a bad or too long query.

        Documents with a query word as its 1-best reading rank above those where it is
        only an alternative reading (and, with `fuzzy`, above near matches).
        `min_confidence` drops matched words read with a lower probability, and hits
        left without matched words.
        """
        max_len = self.settings.api.max_query_length
        if len(q) > max_len:
            raise QueryError(
                f"the query is {len(q)} characters long; the limit is {max_len} "
                "(api.max_query_length)"
            )
        if limit < 1 or offset < 0:
            raise QueryError("limit must be at least 1 and offset at least 0")
        if not 0.0 <= min_confidence <= 1.0:
            raise QueryError("min_confidence must be between 0 and 1")
        limit = min(limit, self.settings.index.max_limit)
        dist = self.settings.index.fuzzy_max_distance
        filtering = min_confidence > 0.0
        want_off, want_lim = (0, MIN_CONFIDENCE_SCAN) if filtering else (offset, limit)
        cap = self.settings.index.max_expansion
        found = self.live.search(lambda s: index.search(s, q, want_lim, want_off, fuzzy, dist, cap))
        docs = self.db.documents([d for d, _ in found.hits])
        min_alt = self.settings.index.alternative_min_prob
        hits: list[Hit] = []
        tables = found.tables or (None,) * len(found.hits)
        for (doc_id, score), table in zip(found.hits, tables, strict=True):
            doc = docs.get(doc_id)
            if doc is None:  # deleted a moment ago
                continue
            if table is not None:  # kept in the index: no transcript to read
                matches = table.find_matches(found.terms, min_confidence, min_alt)
                text = table.snippet(matches)
            else:  # an index made before word tables were kept
                pages = self._pages_json(doc)
                matches = find_matches(pages, found.terms, min_confidence, min_alt)
                text = snippet(pages, matches)
            if filtering and not matches:
                continue
            hits.append(Hit(doc_id, doc.filename, score, text, tuple(matches)))
        if filtering:
            return SearchResult(len(hits), tuple(hits[offset : offset + limit]))
        return SearchResult(found.total, tuple(hits))

    def _pages_json(self, doc: Document) -> list[dict[str, Any]]:
        """The document's transcript as stored (JSON form), for matching and snippets
        where the index keeps no word table for it.

        Not cached: parsed transcripts are many small objects, and keeping hundreds
        alive makes every full garbage collection (a search-time pause) slower.
        """
        models = [doc.model_version] if doc.model_version else []
        gen_model = self.live.generation.model
        if gen_model not in models:
            models.append(gen_model)
        for model in models:
            try:
                pages = self.transcripts.load_json(model, doc.sha256)
            except StoreError as exc:
                log.warning("%s", exc)
                continue
            if pages is not None:
                return pages
        return []

    # --- status ----------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """`{"model", "index_generation", "documents", "queue"}` for /health.

        `model` is the model the live index was built with.
        """
        gen = self.live.generation
        current = self.generations.current() or gen
        return {
            "model": current.model,
            "index_generation": current.name,
            "documents": self.db.count_documents(),
            "queue": self.queue.pending(),
        }

    # --- work ------------------------------------------------------------------------

    @contextmanager
    def _worker_lock(self) -> Iterator[bool]:
        """Hold ``worker.lock`` (True), unless this archive already holds it (False)."""
        with self._lock_guard:
            if self._lock_fd is not None:
                held = False
            else:
                self._take_lock()
                held = True
        try:
            yield held
        finally:
            if held:
                self._release_lock()

    def _take_lock(self) -> None:
        import fcntl

        fd = os.open(self.root / "worker.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise ArchiveBusy(
                f"another inkdex process is running the worker for {self.root} "
                "(stop it, or let it do the work)"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._lock_fd = fd

    def _release_lock(self) -> None:
        import fcntl

        with self._lock_guard:
            if self._lock_fd is not None:
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
                os.close(self._lock_fd)
                self._lock_fd = None

    def process_pending(
        self, max_jobs: int | None = None, progress: Callable[[int], Any] | None = None
    ) -> int:
        """Run queued jobs in this thread until none is left (waiting out retry delays).

        Returns the number of jobs taken; `progress(n)` is told of each batch. Raises `ArchiveBusy` when another process
        runs the worker, `ModelUnavailable` when the model cannot be loaded (the
        documents stay queued).
        """
        done = 0
        with self._worker_lock() as fresh:
            if fresh:
                self.queue.requeue_running()
            while max_jobs is None or done < max_jobs:
                limit = None if max_jobs is None else max_jobs - done
                n = self.pipeline.run_batch(limit)
                if n:
                    done += n
                    if progress is not None:
                        progress(n)
                    continue
                wait = self.queue.next_ready_in()
                if wait is None:
                    break
                time.sleep(min(wait, 5.0) + 0.01)
        return done

    def start(self) -> None:
        """Start the inbox watcher, the ingest worker and (when needed) a rebuild.

        Jobs a previous process left half-done are queued again; an interrupted rebuild
        resumes; when the live index was built with another model than the active one,
        a rebuild with the active model starts in the background.
        """
        if self._started:
            return
        with self._lock_guard:
            if self._lock_fd is None:
                self._take_lock()
        n = self.queue.requeue_running()
        if n:
            log.info("re-queued %d job(s) left unfinished by a previous run", n)
        self._maybe_rebuild()
        if self.settings.worker.enabled:
            self.worker.start()
        if self.settings.inbox.enabled:
            self.watcher = InboxWatcher(
                self.inbox_dir, self.settings.inbox, self._take_inbox_file, self._inbox_known
            )
            self.watcher.start()
        self._started = True
        # Move everything alive after start-up (imports, settings, readers) out of the
        # garbage collector's way, so full collections stay short during searches.
        gc.freeze()

    def _maybe_rebuild(self) -> None:
        interrupted = self.rebuilder.interrupted()
        live_model = self.live.generation.model
        if interrupted is not None:
            bundle = Path(interrupted.bundle) if interrupted.bundle else None
            log.info("resuming the interrupted rebuild %s", interrupted.job_id)
            self.rebuilder.start(interrupted.model, bundle, interrupted.retranscribe)
            return
        if live_model == self.model_version:
            if self.live.doc_count() == 0 and self.db.count_documents(DocStatus.indexed):
                log.warning("the live index is empty but documents are indexed; rebuilding it")
                self.rebuilder.start(self.model_version, self._bundle_path(self.model_version))
            elif n := self.read_otherwise():
                log.warning(
                    "%d indexed document(s) were read with other reading settings or bundle "
                    "files than %s has now; `inkdex reindex --retranscribe` (or POST "
                    '/admin/reindex {"retranscribe": true}) reads them again',
                    n,
                    self.model_version,
                )
            return
        bundle = self._bundle_path(self.model_version)
        if isinstance(self._recognizer, LazyRecognizer) and not self._recognizer.bundle.is_dir():
            log.warning(
                "the index was built with %s but the configured model %s is missing; "
                "keeping the current index",
                live_model,
                self._recognizer.bundle,
            )
            return
        log.info("the index was built with %s; rebuilding with %s", live_model, self.model_version)
        self.rebuilder.start(self.model_version, bundle)

    def stop(self) -> None:
        """Stop the background threads (the job in hand is finished, a rebuild paused)."""
        if self.watcher is not None:
            self.watcher.stop()
            self.watcher = None
        self.worker.stop()
        self.rebuilder.stop()
        self.live.stop()
        if self._started:
            self._release_lock()
        self._started = False

    def close(self) -> None:
        self.stop()
        self.live.close()
        self.db.close()

    # --- inbox -----------------------------------------------------------------------

    def _inbox_known(self, path: Path, st: os.stat_result) -> bool:
        rel = str(path.relative_to(self.inbox_dir))
        return self.db.inbox_seen(rel, st.st_size, st.st_mtime_ns)

    def _take_inbox_file(self, path: Path) -> None:
        """Ingest a settled inbox file once (remembered by path, size and mtime)."""
        st = path.stat()
        rel = str(path.relative_to(self.inbox_dir))
        if self.db.inbox_seen(rel, st.st_size, st.st_mtime_ns):
            return
        try:
            doc = self.add_file(path, filename=path.name, source_path=rel)
            sha, doc_id, outcome = doc.sha256, doc.doc_id, "queued"
        except DuplicateDocument as dup:
            existing = self.db.document(dup.existing_id)
            sha, doc_id, outcome = (
                (existing.sha256 if existing else None),
                dup.existing_id,
                "duplicate",
            )
            log.info("inbox %s is already in the archive as %s", rel, dup.existing_id)
        self.db.inbox_record(rel, st.st_size, st.st_mtime_ns, sha, doc_id, outcome)

    # --- rebuild ---------------------------------------------------------------------

    def _bundle_path(self, model: str) -> Path | None:
        if isinstance(self._recognizer, LazyRecognizer) and self._recognizer.version == model:
            return self._recognizer.bundle
        candidate = self.settings.model.models_dir / model
        return candidate if candidate.is_dir() else None

    def _reading_for(self, model: str, bundle: Path | None) -> str | None:
        if model == self.model_version:
            return self.reading
        return reading_fingerprint(self.settings.model, bundle) if bundle is not None else None

    def _recognizer_for(self, model: str, bundle: Path | None) -> Recognizer:
        if model == self._recognizer.version:
            return self._recognizer
        if bundle is None:
            raise RebuildError(f"no model bundle for {model!r} to re-transcribe with")
        if self._factory is not None:
            return self._factory(bundle)
        return LazyRecognizer(bundle, self.settings)

    def start_reindex(self, model: Path | None = None, retranscribe: bool = False) -> str:
        """Start rebuilding the index in the background; returns the job id.

        `model` is a bundle folder: every original is transcribed again with it. Without
        it, the index is rebuilt from the transcripts of the active model. With
        `retranscribe`, every original is read again even by the model that made its
        transcript (with the reading settings in force now).
        Raises `RebuildRunning` when a rebuild is already in progress.
        """
        name, bundle = self._reindex_target(model)
        return self.rebuilder.start(name, bundle, retranscribe)

    def reindex(
        self,
        model: Path | None = None,
        progress: Callable[[int, int], None] | None = None,
        retranscribe: bool = False,
    ) -> dict[str, Any]:
        """Rebuild in this thread (resuming an interrupted rebuild of the same kind)."""
        name, bundle = self._reindex_target(model)
        with self._worker_lock():
            job = self.rebuilder.create(name, bundle, retranscribe)
            self.rebuilder.run(job.job_id, progress)
        return self.reindex_progress()

    def _reindex_target(self, model: Path | None) -> tuple[str, Path | None]:
        if model is None:
            return self.model_version, self._bundle_path(self.model_version)
        model = Path(model)
        if not model.is_dir():
            raise RebuildError(f"model bundle not found: {model}")
        return model.name, model

    def reindex_progress(self) -> dict[str, Any]:
        """The latest rebuild: `{"job_id", "state", "model", "generation", "done", "total",
        "error", "started_at", "finished_at"}`; state is idle, running, interrupted, done
        or failed."""
        return self.rebuilder.progress()
