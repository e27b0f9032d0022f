"""Rebuild the index into a new generation, then switch to it atomically.

With the model that made the stored transcripts, a rebuild only re-reads them (fast).
With a new model, every original is transcribed again (batched like ingest) and the
transcripts are kept under the new model's name. A re-transcribing rebuild reads every
original again even with the same model, so that changed reading settings (decoder,
beam width, language model) or a bundle changed in place reach the whole archive; its
new transcripts replace the old ones as they are made. Meanwhile the live generation keeps
answering and the worker keeps indexing into it; documents indexed or deleted while
the rebuild ran are caught up before the switch, which runs on the index writer
thread so no update can slip in between. Interrupted rebuilds resume: the job row
in SQLite names the generation, the documents already in it are skipped, and the
transcripts made so far are on disk.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec

from indexer import index
from indexer.generations import Generation, GenerationError, Generations, LiveIndex
from indexer.pipeline import IngestError, Recognizer, load_document_pages
from indexer.store import (
    Database,
    DocStatus,
    Document,
    OriginalStore,
    StoreError,
    TranscriptStore,
    iso,
    now,
)
from inkdex.settings import Settings
from recognizer.transcript import PageTranscript

log = logging.getLogger(__name__)

# Commit (a resume point, and one index segment) every this many documents or seconds;
# fewer, larger segments keep searches fast.
COMMIT_EVERY_DOCS = 20_000
COMMIT_EVERY_S = 600.0
CATCH_UP_ROUNDS = 5
# Fewer documents than this are indexed in the rebuilding process itself (starting
# worker processes takes a second or two).
MIN_PARALLEL_DOCS = 2_000

RUNNING, DONE, FAILED, IDLE = "running", "done", "failed", "idle"

Progress = Callable[[int, int], None]  # (done, total)


class RebuildError(RuntimeError):
    """A rebuild cannot start or could not finish; the message says why."""


class RebuildRunning(RebuildError):
    """Another rebuild is in progress."""


@dataclass(frozen=True)
class ReindexJob:
    job_id: str
    model: str
    bundle: str | None
    generation: str
    state: str
    done: int
    total: int
    error: str | None
    started_at: str
    finished_at: str | None
    retranscribe: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_JOB_COLUMNS = (
    "job_id, model, bundle, generation, state, done, total, error, started_at, finished_at, "
    "retranscribe"
)


class Rebuilder:
    """Starts, runs, resumes and reports rebuilds."""

    def __init__(
        self,
        *,
        settings: Settings,
        db: Database,
        originals: OriginalStore,
        transcripts: TranscriptStore,
        generations: Generations,
        live: LiveIndex,
        recognizer_for: Callable[[str, Path | None], Recognizer],
        reading_for: Callable[[str, Path | None], str | None] = lambda model, bundle: None,
    ) -> None:
        """`reading_for(model, bundle)` is the fingerprint of what `recognizer_for` gives
        (`indexer.reading`), recorded with each document a rebuild reads."""
        self.settings = settings
        self.db = db
        self.originals = originals
        self.transcripts = transcripts
        self.generations = generations
        self.live = live
        self.recognizer_for = recognizer_for
        self.reading_for = reading_for
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()

    # --- jobs ------------------------------------------------------------------------

    def latest(self) -> ReindexJob | None:
        row = (
            self.db.conn()
            .execute(
                f"SELECT {_JOB_COLUMNS} FROM reindex_jobs ORDER BY started_at DESC, job_id DESC "
                "LIMIT 1"
            )
            .fetchone()
        )
        return _job(row) if row else None

    def job(self, job_id: str) -> ReindexJob:
        row = (
            self.db.conn()
            .execute(f"SELECT {_JOB_COLUMNS} FROM reindex_jobs WHERE job_id = ?", (job_id,))
            .fetchone()
        )
        if row is None:
            raise RebuildError(f"no rebuild job {job_id!r}")
        return _job(row)

    def interrupted(self) -> ReindexJob | None:
        """A rebuild left running by a process that stopped (none while one runs here)."""
        if self.is_running():
            return None
        row = (
            self.db.conn()
            .execute(
                f"SELECT {_JOB_COLUMNS} FROM reindex_jobs WHERE state = ? ORDER BY job_id DESC",
                (RUNNING,),
            )
            .fetchone()
        )
        return _job(row) if row else None

    def progress(self) -> dict[str, Any]:
        job = self.latest()
        if job is None:
            return {
                "job_id": None,
                "state": IDLE,
                "model": None,
                "generation": None,
                "done": 0,
                "total": 0,
                "error": None,
                "started_at": None,
                "finished_at": None,
                "retranscribe": False,
            }
        out = job.to_dict()
        out.pop("bundle", None)
        if job.state == RUNNING and not self.is_running():
            out["state"] = "interrupted"
        return out

    def is_running(self) -> bool:
        t = self._thread
        return t is not None and t.is_alive()

    def create(self, model: str, bundle: Path | None, retranscribe: bool = False) -> ReindexJob:
        """A new job for `model`, or the interrupted one of the same kind (resumed).

        With `retranscribe`, every original is read again, even where a transcript by
        `model` exists (one written since the job started is kept, so a resumed job
        does not read a document twice).
        """
        old = self.interrupted()
        if old is not None:
            same = old.model == model and old.retranscribe == retranscribe
            if same and (self.generations.root / old.generation).is_dir():
                log.info("resuming rebuild %s (%d/%d done)", old.job_id, old.done, old.total)
                return old
            kind = " re-transcribing" if retranscribe else ""
            self._finish(old.job_id, FAILED, f"superseded by a{kind} rebuild with {model}")
        gen = self.generations.create(model)
        job_id = f"reindex-{gen.number:04d}"
        with self.db.tx() as c:
            c.execute(
                f"INSERT INTO reindex_jobs ({_JOB_COLUMNS}) VALUES (?,?,?,?,?,0,0,NULL,?,NULL,?)",
                (
                    job_id,
                    model,
                    str(bundle) if bundle else None,
                    gen.name,
                    RUNNING,
                    iso(now()),
                    int(retranscribe),
                ),
            )
        self.generations.prune(keep=frozenset({gen.name}))
        return self.job(job_id)

    def start(self, model: str, bundle: Path | None, retranscribe: bool = False) -> str:
        """Create (or resume) a job and run it in a background thread; returns its id."""
        with self._lock:
            if self.is_running():
                latest = self.latest()
                raise RebuildRunning(
                    f"rebuild {latest.job_id if latest else ''} is already running".strip()
                )
            job = self.create(model, bundle, retranscribe)
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._run_logged, args=(job.job_id,), name="inkdex-rebuild", daemon=True
            )
            self._thread.start()
            return job.job_id

    def _run_logged(self, job_id: str) -> None:
        try:
            self.run(job_id)
        except Exception:
            log.exception("rebuild %s failed", job_id)

    def stop(self) -> None:
        """Pause a background rebuild (it stays resumable)."""
        self._stop.set()
        t = self._thread
        if t is not None:
            t.join()
        self._thread = None

    # --- the work --------------------------------------------------------------------

    def run(self, job_id: str, progress: Progress | None = None) -> ReindexJob:
        """Run (or resume) job `job_id` in this thread until it is done, failed or stopped."""
        job = self.job(job_id)
        try:
            gen = self.generations.get(job.generation)
            self._build(job, gen, progress)
        except _Stopped:
            log.info("rebuild %s paused; it resumes at the next start", job_id)
        except Exception as exc:
            self._finish(job_id, FAILED, f"{type(exc).__name__}: {exc}")
            raise
        return self.job(job_id)

    def _build(self, job: ReindexJob, gen: Generation, progress: Progress | None) -> None:
        model = job.model
        bundle = Path(job.bundle) if job.bundle else None
        ix = index.open_index(gen.path, create=True)
        t0 = time.perf_counter()
        started = datetime.fromisoformat(job.started_at).timestamp()
        work = _Work(self, model, bundle, started, job.retranscribe)

        have = index.doc_ids(ix)
        docs = list(self.db.iter_documents(DocStatus.indexed))
        total = len(docs)
        todo = [d for d in docs if d.doc_id not in have]
        done = total - len(todo)
        for d in docs:
            if d.doc_id in have:  # indexed before an interruption
                work.note_fresh(d)
        self._progress(job.job_id, done, total, progress)

        procs = self.settings.index.rebuild_processes
        if procs and len(todo) >= MIN_PARALLEL_DOCS:
            # Documents with a stored transcript: read and indexed by worker processes.
            stored = {d.doc_id for d in todo if work.has_transcript(d)}
            if len(stored) >= MIN_PARALLEL_DOCS:
                mine = [d for d in todo if d.doc_id in stored]
                try:
                    done = self._build_parallel(job, ix, mine, done, total, work, procs, progress)
                    todo = [d for d in todo if d.doc_id not in stored]
                except BrokenProcessPool as exc:
                    # e.g. a program that starts a rebuild without an
                    # ``if __name__ == "__main__":`` guard (worker processes import it)
                    log.warning("rebuild worker processes failed (%s); going on here", exc)
                    have = index.doc_ids(ix)
                    todo = [d for d in todo if d.doc_id not in have]
                    done = total - len(todo)
        done = self._build_here(job, ix, todo, done, total, work, progress)
        self._progress(job.job_id, done, total, progress)
        log.info("rebuild %s: %d documents in %.1fs", job.job_id, total, time.perf_counter() - t0)

        # Documents indexed or deleted while we ran.
        for _ in range(CATCH_UP_ROUNDS):
            self._check_stop()
            added, removed = self._catch_up(ix, work)
            total += added
            if not added and not removed:
                break

        def finalize() -> None:
            self._catch_up(ix, work)
            self.live.switch(gen)
            with self.db.tx() as c:
                c.execute(
                    "UPDATE documents SET model_version = ?, updated_at = ? WHERE status = ?",
                    (model, iso(now()), DocStatus.indexed.value),
                )
                for doc_id, version in work.kept_version.items():
                    c.execute(
                        "UPDATE documents SET model_version = ? WHERE doc_id = ?",
                        (version, doc_id),
                    )
                for doc_id, reason in work.unreadable.items():
                    self.db.set_status(c, doc_id, DocStatus.failed, error=reason)
                reading = self.reading_for(model, bundle)
                if reading is not None:
                    self.db.set_reading(c, work.read_now - set(work.kept_version), reading)

        self.live.exclusive(finalize).result()
        final = len(index.doc_ids(ix))
        self._progress(job.job_id, final, final, progress)
        self._finish(job.job_id, DONE, None)
        self.generations.prune()

    def _build_here(
        self,
        job: ReindexJob,
        ix: Any,
        todo: Sequence[Document],
        done: int,
        total: int,
        work: _Work,
        progress: Progress | None,
    ) -> int:
        """Index `todo` in this process, committing in slices; returns the new `done`."""
        memory = self.settings.index.rebuild_memory_mb
        w = index.open_writer(ix, memory_mb=memory)  # committed in slices: resumable
        try:
            last_commit = time.monotonic()
            since = 0
            for entry in work.entries(todo):
                self._check_stop()
                if entry is not None:
                    index.add_document(w, entry, self.settings.index.alternative_min_prob)
                done += 1
                since += 1
                if since >= COMMIT_EVERY_DOCS or time.monotonic() - last_commit > COMMIT_EVERY_S:
                    w.commit()
                    w = index.open_writer(ix, memory_mb=memory)
                    since, last_commit = 0, time.monotonic()
                    self._progress(job.job_id, done, total, progress)
                elif progress is not None and done % 100 == 0:
                    progress(done, total)
        except BaseException:
            w.commit()  # keep what is done: the rebuild resumes from here
            raise
        w.commit()
        return done

    def _build_parallel(
        self,
        job: ReindexJob,
        ix: Any,
        todo: Sequence[Document],
        done: int,
        total: int,
        work: _Work,
        procs: int,
        progress: Progress | None,
    ) -> int:
        """Index `todo` in `procs` worker processes, each reading transcripts and writing
        index segments of its own; after each round the segments are committed
        (a resume point). Documents whose transcript a worker cannot read are indexed
        here, transcribed again. Returns the new `done`."""
        s = self.settings.index
        ctx = multiprocessing.get_context("spawn")  # no fork of a threaded server
        stop = ctx.Event()
        per_round = procs * COMMIT_EVERY_DOCS
        log.info("rebuild %s: indexing in %d processes", job.job_id, procs)
        with ProcessPoolExecutor(
            procs, mp_context=ctx, initializer=_init_worker, initargs=(stop,)
        ) as pool:
            for start in range(0, len(todo), per_round):
                self._check_stop()
                batch = todo[start : start + per_round]
                size = -(-len(batch) // procs)
                chunks = [
                    _Chunk(
                        str(ix.storage.folder),
                        work.model,
                        tuple(
                            (d.doc_id, d.filename, d.created_at, str(work.transcript_path(d)))
                            for d in batch[k : k + size]
                        ),
                        s.alternative_min_prob,
                        s.rebuild_memory_mb,
                    )
                    for k in range(0, len(batch), size)
                ]
                futures = [pool.submit(_index_chunk, c) for c in chunks]
                while not wait(futures, timeout=0.2).done.issuperset(futures):
                    if self._stop.is_set():
                        stop.set()  # the workers drop their segments
                results = [f.result() for f in futures]
                if stop.is_set() or any(r.stopped for r in results):
                    raise _Stopped
                unread = {doc_id for r in results for doc_id in r.unread}
                w = index.open_writer(ix, memory_mb=s.rebuild_memory_mb)
                index.add_segments(w, [r.segment for r in results if r.segment is not None])
                try:
                    left = [d for d in batch if d.doc_id in unread]
                    for entry in work.entries(left):
                        if entry is not None:
                            index.add_document(w, entry, s.alternative_min_prob)
                except BaseException:
                    w.commit()  # keep the workers' segments: the rebuild resumes from here
                    raise
                w.commit()
                done += len(batch)
                self._progress(job.job_id, done, total, progress)
        return done

    def _catch_up(self, ix: Any, work: _Work) -> tuple[int, int]:
        wanted = {d.doc_id for d in self.db.iter_documents(DocStatus.indexed)}
        wanted -= set(work.unreadable)
        have = index.doc_ids(ix)
        missing = wanted - have
        extra = have - wanted
        if not missing and not extra:
            return 0, 0
        docs = list(self.db.documents(sorted(missing)).values())
        with index.writer(ix) as w:
            for doc_id in extra:
                index.remove_document(w, doc_id)
            for entry in work.entries(docs):
                if entry is not None:
                    index.update_document(w, entry, self.settings.index.alternative_min_prob)
        log.info("rebuild catch-up: %d added, %d removed", len(missing), len(extra))
        return len(missing), len(extra)

    # --- bookkeeping -----------------------------------------------------------------

    def _check_stop(self) -> None:
        if self._stop.is_set():
            raise _Stopped

    def _progress(self, job_id: str, done: int, total: int, cb: Progress | None) -> None:
        with self.db.tx() as c:
            c.execute(
                "UPDATE reindex_jobs SET done = ?, total = ? WHERE job_id = ?",
                (done, total, job_id),
            )
        if cb is not None:
            cb(done, total)

    def _finish(self, job_id: str, state: str, error: str | None) -> None:
        with self.db.tx() as c:
            c.execute(
                "UPDATE reindex_jobs SET state = ?, error = ?, finished_at = ? WHERE job_id = ?",
                (state, error, iso(now()), job_id),
            )


class _Stopped(Exception):
    pass


class _Word(msgspec.Struct, gc=False):
    bbox: tuple[int, int, int, int]
    text: str
    confidence: float
    alternatives: list[tuple[str, float]] = []


class _Line(msgspec.Struct, gc=False):
    text: str
    words: list[_Word] = []


class _Page(msgspec.Struct, gc=False):
    lines: list[_Line] = []


class _Transcript(msgspec.Struct, gc=False):
    pages: list[_Page]


_decoder = msgspec.json.Decoder(_Transcript)


def read_pages(path: Path) -> list[_Page] | None:
    """The pages of a stored transcript, with only what the index needs (words, their
    boxes, confidences and alternatives, line texts), or None when there is none.

    Several times faster than `TranscriptStore.load_json`: fields the index does not
    use are skipped and no dictionaries are built. Raises `StoreError` when the file
    is not a transcript.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        return _decoder.decode(data).pages
    except msgspec.DecodeError as exc:  # ValidationError is a DecodeError
        raise StoreError(f"transcript {path} is unreadable: {exc}") from exc


@dataclass(frozen=True)
class _Chunk:
    """Documents for a worker process: (doc id, filename, created, transcript path)."""

    index_dir: str
    model: str
    docs: tuple[tuple[str, str, datetime, str], ...]
    min_prob: float
    memory_mb: int


@dataclass(frozen=True)
class _ChunkResult:
    segment: Any | None  # the index segment written, None when empty or stopped
    unread: tuple[str, ...]  # documents whose transcript is missing or unreadable
    stopped: bool = False


_worker_stop: Any = None


def _init_worker(stop: Any) -> None:
    global _worker_stop
    _worker_stop = stop


def _index_chunk(chunk: _Chunk) -> _ChunkResult:
    """In a worker process: index `chunk` into a new segment (see `index.open_segment_writer`)."""
    ix = index.open_index(Path(chunk.index_dir))
    w = index.open_segment_writer(ix, chunk.memory_mb)
    try:
        unread: list[str] = []
        for i, (doc_id, filename, created, path) in enumerate(chunk.docs):
            if i % 64 == 0 and _worker_stop is not None and _worker_stop.is_set():
                w.cancel()
                return _ChunkResult(None, (), stopped=True)
            try:
                pages = read_pages(Path(path))
            except StoreError:
                pages = None
            if pages is None:
                unread.append(doc_id)
                continue
            entry = index.IndexEntry(doc_id, filename, created, chunk.model, pages)
            index.add_document(w, entry, chunk.min_prob)
        return _ChunkResult(index.finish_segment(w), tuple(unread))
    except BaseException:
        w.cancel()
        raise


def _job(row: Sequence[Any]) -> ReindexJob:
    return ReindexJob(*row[:-1], retranscribe=bool(row[-1]))


class _Work:
    """Turns documents into index entries with the target model's transcripts.

    `started` is when the job began (seconds since the epoch). With `retranscribe`, a
    stored transcript counts only when it was written since then; the others are made
    again. `read_now` collects the documents read since the job began.
    """

    def __init__(
        self,
        rebuilder: Rebuilder,
        model: str,
        bundle: Path | None,
        started: float,
        retranscribe: bool = False,
    ) -> None:
        self.r = rebuilder
        self.model = model
        self.bundle = bundle
        self.started = started
        self.retranscribe = retranscribe
        self.read_now: set[str] = set()
        self._rec: Recognizer | None = None
        self.kept_version: dict[str, str] = {}  # doc_id -> older model (new one failed)
        self.unreadable: dict[str, str] = {}  # doc_id -> reason

    def transcript_path(self, d: Document) -> Path:
        return self.r.transcripts.path(self.model, d.sha256)

    def note_fresh(self, d: Document) -> bool | None:
        """Whether `d`'s transcript by the target model was written since the job began
        (then `d` goes into `read_now`); None when it has none."""
        try:
            mtime = self.transcript_path(d).stat().st_mtime
        except FileNotFoundError:
            return None
        if mtime < self.started:
            return False
        self.read_now.add(d.doc_id)
        return True

    def has_transcript(self, d: Document) -> bool:
        """Whether `d` has a usable transcript by the target model on disk."""
        fresh = self.note_fresh(d)
        return fresh is not None and (fresh or not self.retranscribe)

    def entries(self, docs: Sequence[Document]) -> Iterable[index.IndexEntry | None]:
        """One entry per document, in order (None for one that cannot be indexed)."""
        batch = self.r.settings.worker.batch_pages
        for i in range(0, len(docs), batch):
            chunk = docs[i : i + batch]
            pages: dict[str, Any] = {}
            for d in chunk:
                if not self.has_transcript(d):
                    pages[d.doc_id] = None
                    continue
                try:
                    pages[d.doc_id] = read_pages(self.transcript_path(d))
                except StoreError as exc:
                    log.warning("%s; transcribing again", exc)
                    pages[d.doc_id] = None
            need = [d for d in chunk if pages[d.doc_id] is None]
            if need:
                pages.update(self._transcribe(need))
            for d in chunk:
                p = pages.get(d.doc_id)
                if p is None:
                    yield None
                    continue
                model = self.kept_version.get(d.doc_id, self.model)
                yield index.IndexEntry(d.doc_id, d.filename, d.created_at, model, p)

    def _recognizer(self) -> Recognizer:
        if self._rec is None:
            self._rec = self.r.recognizer_for(self.model, self.bundle)
        return self._rec

    def _transcribe(self, docs: Sequence[Document]) -> dict[str, list[PageTranscript] | None]:
        s = self.r.settings
        out: dict[str, list[PageTranscript] | None] = {}
        images: list[tuple[Document, Any]] = []
        for d in docs:
            try:
                imgs = load_document_pages(
                    self.r.originals.path(d.sha256),
                    s.upload.max_pixels,
                    s.upload.max_bytes,
                    d.filename,
                )
            except IngestError as exc:
                out[d.doc_id] = self._fallback(d, str(exc))
                continue
            images.extend((d, img) for img in imgs)
        rec = self._recognizer()
        got: dict[str, list[PageTranscript]] = {}
        size = s.worker.batch_pages
        for i in range(0, len(images), size):
            chunk = images[i : i + size]
            pages = rec.transcribe_pages([img for _, img in chunk])
            if len(pages) != len(chunk):
                raise RebuildError(f"the recognizer gave {len(pages)} pages for {len(chunk)}")
            for (d, _), page in zip(chunk, pages, strict=True):
                got.setdefault(d.doc_id, []).append(page)
        for d in docs:
            if d.doc_id in got:
                self.r.transcripts.save(self.model, d.sha256, got[d.doc_id])
                out[d.doc_id] = got[d.doc_id]
                self.read_now.add(d.doc_id)
        return out

    def _fallback(self, d: Document, reason: str) -> list[PageTranscript] | None:
        """Keep a document that cannot be read again searchable with its old transcript."""
        if d.model_version and (d.model_version != self.model or self.retranscribe):
            old = self.r.transcripts.load(d.model_version, d.sha256)
            if old is not None:
                log.warning("%s: %s; keeping its %s transcript", d.doc_id, reason, d.model_version)
                self.kept_version[d.doc_id] = d.model_version
                return old
        log.error("%s cannot be re-read (%s); marking it failed", d.doc_id, reason)
        self.unreadable[d.doc_id] = reason
        return None


__all__ = [
    "GenerationError",
    "RebuildError",
    "RebuildRunning",
    "Rebuilder",
    "ReindexJob",
]
