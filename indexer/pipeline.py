"""The ingest worker: load -> recognise -> store transcript -> index, one batch at a time.

Each step raises one error type, `IngestError`, marked permanent (the file cannot be
read: the document ends ``failed`` with the reason, and a copy goes to ``failed/``)
or transient (I/O trouble, a locked index: the job is retried with exponential
backoff, then failed after ``worker.max_attempts``). A failing document never
blocks the others. Pages of several documents are recognised together
(``worker.batch_pages`` at a time) for throughput. A transcript already stored for
the model is reused, and the index update replaces by doc id, so a job that is
run twice (after a crash) indexes its document once.
"""

from __future__ import annotations

import gc
import logging
import shutil
import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from indexer import index
from indexer.generations import LiveIndex
from indexer.queue import Job, JobQueue
from indexer.store import Database, DocStatus, Document, OriginalStore, StoreError, TranscriptStore
from inkdex.settings import Settings
from recognizer.transcript import PageTranscript

if TYPE_CHECKING:  # numpy and OpenCV load only when pages are actually read
    import numpy as np

log = logging.getLogger(__name__)

STEPS = ("load", "recognise", "store", "index")
FAILED_NOTE = ".error.txt"


class Recognizer(Protocol):
    """What the pipeline needs from a recognizer (the real one, or a test double)."""

    version: str

    def transcribe_pages(self, images: Sequence[np.ndarray]) -> list[PageTranscript]: ...


class IngestError(Exception):
    """A step of the pipeline failed for one document."""

    def __init__(self, step: str, message: str, permanent: bool = False) -> None:
        self.step = step
        self.permanent = permanent
        super().__init__(f"{step}: {message}")


class ModelUnavailable(RuntimeError):
    """The recognition model cannot be loaded; documents stay queued until it can."""


class LazyRecognizer:
    """The bundle's recognizer, loaded (TensorFlow and all) the first time it is needed."""

    def __init__(self, bundle: Path, settings: Settings) -> None:
        self.bundle = bundle
        self.version = bundle.name
        self._settings = settings
        self._rec: Any = None
        self._lock = threading.Lock()

    def get(self) -> Any:
        with self._lock:
            if self._rec is None:
                try:
                    from recognizer import load_recognizer

                    # Every model setting (decoder, word list, spelling, priors) applies.
                    self._rec = load_recognizer(self._settings.model, self.bundle)
                except Exception as exc:  # missing bundle, bad weights, missing module
                    # Bundle errors name the bundle's path themselves; others get it here.
                    where = "" if str(self.bundle) in str(exc) else f" {self.bundle}"
                    raise ModelUnavailable(f"cannot load the model bundle{where}: {exc}") from exc
                # TensorFlow and the model are hundreds of thousands of long-lived
                # objects: keep them out of full garbage collections (search latency).
                gc.freeze()
                if self._rec.version != self.version:
                    log.warning(
                        "bundle %s reports version %r; transcripts are filed under %r",
                        self.bundle,
                        self._rec.version,
                        self.version,
                    )
            return self._rec

    def transcribe_pages(self, images: Sequence[np.ndarray]) -> list[PageTranscript]:
        if self._rec is not None or not images:
            return self.get().transcribe_pages(images)
        # The first pages: segment them here while the model loads in another thread
        # (TensorFlow's import and the network build take seconds; segmentation is
        # mostly OpenCV, which lets the other thread run).
        failure: list[ModelUnavailable] = []

        def load() -> None:
            try:
                self.get()
            except ModelUnavailable as exc:
                failure.append(exc)

        loader = threading.Thread(target=load, name="inkdex-model-load", daemon=True)
        loader.start()
        try:
            from recognizer.page import segment_prepared

            segmented = segment_prepared(images)
        finally:
            loader.join()
            # A model that cannot be loaded keeps the documents queued, whatever the pages.
            if failure:
                raise failure[0]
        rec = self.get()
        read = getattr(rec, "read_segmented", None)
        if read is None:  # a recognizer that segments for itself
            return rec.transcribe_pages(images)
        return read(images, segmented)


def load_document_pages(
    path: Path, max_pixels: int, max_bytes: int | None, name: str | None = None
) -> list[np.ndarray]:
    """The page images of a stored file; raises a permanent `IngestError` when unreadable.

    `name` (the user's file name) replaces the store path in error messages.
    """
    try:
        return _load_pages(path, max_pixels, max_bytes)
    except IngestError as exc:
        if name:
            msg = str(exc).removeprefix("load: ").replace(str(path), name)
            raise IngestError("load", msg, exc.permanent) from exc.__cause__
        raise


def _load_pages(path: Path, max_pixels: int, max_bytes: int | None) -> list[np.ndarray]:
    try:
        from recognizer.preprocess import ImageLoadError, load_pages
    except ImportError:  # pragma: no cover - older checkouts without the page loader
        ImageLoadError, load_pages = ValueError, _imdecode_pages  # noqa: N806
    try:
        return load_pages(path, max_pixels=max_pixels, max_bytes=max_bytes)
    except ImageLoadError as exc:
        raise IngestError("load", str(exc), permanent=True) from exc
    except FileNotFoundError as exc:
        raise IngestError("load", f"the stored original is missing: {path}", True) from exc
    except OSError as exc:
        raise IngestError("load", f"cannot read {path}: {exc}") from exc
    except Exception as exc:  # a decoder crashing on a hostile file is the file's fault
        raise IngestError("load", f"cannot decode {path.name}: {exc}", permanent=True) from exc


def _imdecode_pages(path: Path, max_pixels: int, max_bytes: int | None = None) -> list[np.ndarray]:
    import cv2
    import numpy as np

    data = np.fromfile(path, dtype=np.uint8)
    img = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError(f"{path.name}: not a readable image")
    if img.shape[0] * img.shape[1] > max_pixels:
        raise ValueError(f"{path.name}: image larger than {max_pixels} pixels")
    return [img]


@dataclass
class _Item:
    job: Job
    doc: Document
    pages: list[PageTranscript] | None = None
    images: list[np.ndarray] = field(default_factory=list)
    error: IngestError | None = None


class Pipeline:
    """Runs queued jobs through the steps; `run_batch` does one batch in the calling thread."""

    def __init__(
        self,
        *,
        settings: Settings,
        db: Database,
        queue: JobQueue,
        originals: OriginalStore,
        transcripts: TranscriptStore,
        live: LiveIndex,
        recognizer: Callable[[], Recognizer],
        failed_dir: Path,
        reading: Callable[[], str | None] = lambda: None,
    ) -> None:
        """`reading()` is the fingerprint of what reads the documents (`indexer.reading`),
        recorded with each one indexed."""
        self.settings = settings
        self.reading = reading
        self.db = db
        self.queue = queue
        self.originals = originals
        self.transcripts = transcripts
        self.live = live
        self.recognizer = recognizer
        self.failed_dir = failed_dir

    def run_batch(self, limit: int | None = None) -> int:
        """Claim up to ``worker.batch_pages`` (or `limit`) ready jobs and process them.

        Returns how many of them reached a final state (indexed, failed, or dropped
        because the document was deleted); jobs put back for a retry do not count.
        Raises `ModelUnavailable` (the jobs are given back untouched).
        """
        size = self.settings.worker.batch_pages
        jobs = self.queue.claim(size if limit is None else max(1, min(size, limit)))
        if not jobs:
            return 0
        try:
            return self._process(jobs)
        except ModelUnavailable:
            self.queue.release(jobs)
            raise
        except BaseException:
            # Interrupted (or a bug): leave nothing 'processing'; a retry will redo it.
            self.queue.release([j for j in jobs if self._still_claimed(j)])
            raise

    def _still_claimed(self, job: Job) -> bool:
        row = self.db.conn().execute("SELECT state FROM jobs WHERE job_id = ?", (job.job_id,))
        got = row.fetchone()
        return got is not None and got[0] == "running"

    # --- the steps -------------------------------------------------------------------

    def _process(self, jobs: list[Job]) -> int:
        items: list[_Item] = []
        finished = 0
        for job in jobs:
            doc = self.db.document(job.doc_id)
            if doc is None:  # deleted while queued
                with self.db.tx() as c:
                    self.queue.finish(c, job)
                finished += 1
                continue
            items.append(_Item(job, doc))
        if not items:
            return finished
        rec = self.recognizer()
        model = rec.version
        for it in items:
            self._load(it, model)
        try:
            self._recognise([it for it in items if it.error is None and it.pages is None], rec)
        except ModelUnavailable:
            for it in items:  # unreadable files fail now; the rest wait for the model
                if it.error is not None:
                    self._fail_or_retry(it)
            raise
        for it in items:
            if it.error is None and it.images:
                self._store(it, model)
        ok = [it for it in items if it.error is None]
        if ok:
            self._index(ok, model)
        for it in items:
            if it.error is None or self._fail_or_retry(it):
                finished += 1
        return finished

    def _load(self, it: _Item, model: str) -> None:
        try:
            it.pages = self.transcripts.load(model, it.doc.sha256)
        except StoreError as exc:
            log.warning("%s; transcribing again", exc)
            it.pages = None
        if it.pages is not None:
            return
        s = self.settings.upload
        try:
            it.images = load_document_pages(
                self.originals.path(it.doc.sha256), s.max_pixels, s.max_bytes, it.doc.filename
            )
        except IngestError as exc:
            it.error = exc

    def _recognise(self, items: list[_Item], rec: Recognizer) -> None:
        if not items:
            return
        flat = [(it, img) for it in items for img in it.images]
        size = self.settings.worker.batch_pages
        results: dict[int, list[PageTranscript]] = {id(it): [] for it in items}
        try:
            for i in range(0, len(flat), size):
                chunk = flat[i : i + size]
                pages = rec.transcribe_pages([img for _, img in chunk])
                if len(pages) != len(chunk):
                    raise RuntimeError(f"got {len(pages)} transcripts for {len(chunk)} pages")
                for (it, _), page in zip(chunk, pages, strict=True):
                    results[id(it)].append(page)
        except ModelUnavailable:
            raise
        except Exception as exc:
            if len(items) == 1:
                items[0].error = IngestError("recognise", f"{type(exc).__name__}: {exc}")
                log.warning("recognition failed for %s: %s", items[0].doc.doc_id, exc)
                return
            log.warning("recognition of a batch failed (%s); retrying document by document", exc)
            for it in items:
                self._recognise([it], rec)
            return
        for it in items:
            it.pages = results[id(it)]

    def _store(self, it: _Item, model: str) -> None:
        try:
            self.transcripts.save(model, it.doc.sha256, it.pages or [])
        except OSError as exc:
            it.error = IngestError("store", f"cannot write the transcript: {exc}")
        it.images = []

    def _index(self, items: list[_Item], model: str) -> None:
        min_prob = self.settings.index.alternative_min_prob
        entries = {
            it.doc.doc_id: index.IndexEntry(
                it.doc.doc_id, it.doc.filename, it.doc.created_at, model, it.pages or []
            )
            for it in items
        }

        def write(w: Any) -> None:
            alive = self.db.documents(list(entries))  # skip documents deleted meanwhile
            for doc_id, entry in entries.items():
                if doc_id in alive:
                    index.update_document(w, entry, min_prob)

        def mark_indexed() -> None:
            with self.db.tx() as c:
                for it in items:
                    self.db.set_status(
                        c,
                        it.doc.doc_id,
                        DocStatus.indexed,
                        model_version=model,
                        pages=len(it.pages or []),
                        reading=self.reading(),
                    )
                    self.queue.finish(c, it.job)

        try:
            self.live.submit(write, after=mark_indexed).result()
        except (OSError, sqlite3.OperationalError, index.IndexLocked) as exc:
            for it in items:
                it.error = IngestError("index", f"{type(exc).__name__}: {exc}")
        else:
            for it in items:
                log.info(
                    "indexed %s (%s, %d pages)", it.doc.doc_id, it.doc.filename, len(it.pages or [])
                )

    # --- outcomes --------------------------------------------------------------------

    def _fail_or_retry(self, it: _Item) -> bool:
        """Retry a transient failure (False) or mark the document failed (True)."""
        err = it.error
        assert err is not None
        w = self.settings.worker
        if not err.permanent and it.job.attempts < w.max_attempts:
            delay = w.retry_backoff_s * 2 ** (it.job.attempts - 1)
            log.warning(
                "%s (%s) attempt %d failed, retrying in %.1fs: %s",
                it.doc.doc_id,
                it.doc.filename,
                it.job.attempts,
                delay,
                err,
            )
            self.queue.retry(it.job, str(err), delay)
            return False
        log.error("%s (%s) failed: %s", it.doc.doc_id, it.doc.filename, err)
        with self.db.tx() as c:
            self.db.set_status(c, it.doc.doc_id, DocStatus.failed, error=str(err))
            self.queue.finish(c, it.job)
        self._keep_failed_copy(it.doc, str(err))
        return True

    def _keep_failed_copy(self, doc: Document, reason: str) -> None:
        """Copy the file to ``failed/`` with the reason beside it, for a person to look at."""
        safe = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in Path(doc.filename).name)
        dest = self.failed_dir / f"{doc.doc_id}-{safe or 'file'}"
        try:
            self.failed_dir.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(self.originals.path(doc.sha256), dest)
            note = dest.with_name(dest.name + FAILED_NOTE)
            note.write_text(
                f"document: {doc.doc_id}\nfile: {doc.filename}\nsource: {doc.source_path or '-'}\n"
                f"sha256: {doc.sha256}\nerror: {reason}\n",
                encoding="utf-8",
            )
        except OSError as exc:
            log.warning("could not copy %s to %s: %s", doc.filename, self.failed_dir, exc)


class Worker:
    """Runs the pipeline in a background thread until stopped."""

    IDLE_POLL_S = 5.0
    MODEL_RETRY_S = 60.0

    def __init__(self, pipeline: Pipeline, queue: JobQueue) -> None:
        self.pipeline = pipeline
        self.queue = queue
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="inkdex-worker", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """New work was queued."""
        self._wake.set()

    def stop(self) -> None:
        """Stop after the batch in hand."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                finished = self.pipeline.run_batch()
            except ModelUnavailable as exc:
                log.error("%s; documents stay queued (retrying in %.0fs)", exc, self.MODEL_RETRY_S)
                self._wake.wait(self.MODEL_RETRY_S)
                continue
            except Exception:
                log.exception("ingest worker error; continuing")
                self._stop.wait(self.IDLE_POLL_S)
                continue
            if finished:
                continue
            ready_in = self.queue.next_ready_in()
            wait = self.IDLE_POLL_S if ready_in is None else min(ready_in, self.IDLE_POLL_S)
            self._wake.wait(max(wait, 0.05))
