"""Index generations and the live index that serves searches while one is rebuilt.

``index/g0003-<model>/`` holds one complete Whoosh index; ``index/CURRENT`` names
the live one and is switched with an atomic rename. `LiveIndex` answers searches
from the live generation (reopening when CURRENT or the index changes) and owns
the one thread that writes to it: every update, removal and the switch itself go
through that thread, so they never interleave.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from whoosh.reading import EmptyReader
from whoosh.searching import Searcher
from whoosh.writing import IndexWriter

from indexer import index
from indexer.store import atomic_write_bytes

log = logging.getLogger(__name__)

T = TypeVar("T")

CURRENT = "CURRENT"
_GEN_RE = re.compile(r"^g(\d{4,})-(.+)$")
WRITE_BATCH = 64


class GenerationError(RuntimeError):
    """The index folder is inconsistent (e.g. CURRENT names a missing generation)."""


@dataclass(frozen=True)
class Generation:
    name: str  # g0003-inkdex-hw-0.1
    number: int
    model: str
    path: Path


class Generations:
    """The ``index/`` folder: numbered generations and the CURRENT pointer."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def _parse(self, name: str) -> Generation | None:
        m = _GEN_RE.match(name)
        return Generation(name, int(m.group(1)), m.group(2), self.root / name) if m else None

    def all(self) -> list[Generation]:
        gens = [g for p in self.root.iterdir() if p.is_dir() and (g := self._parse(p.name))]
        return sorted(gens, key=lambda g: g.number)

    def get(self, name: str) -> Generation:
        g = self._parse(name)
        if g is None or not g.path.is_dir():
            raise GenerationError(f"index generation {name!r} not found under {self.root}")
        return g

    def current_name(self) -> str | None:
        try:
            return (self.root / CURRENT).read_text(encoding="utf-8").strip() or None
        except FileNotFoundError:
            return None

    def current(self) -> Generation | None:
        name = self.current_name()
        return self.get(name) if name else None

    def create(self, model: str) -> Generation:
        """A new, empty generation numbered after every existing one."""
        if "/" in model or not model.strip():
            raise GenerationError(f"bad model name for an index generation: {model!r}")
        number = max((g.number for g in self.all()), default=0) + 1
        gen = Generation(
            f"g{number:04d}-{model}", number, model, self.root / f"g{number:04d}-{model}"
        )
        index.create_index(gen.path)
        return gen

    def activate(self, gen: Generation) -> None:
        """Make `gen` the live generation (atomic: readers see the old name or the new)."""
        atomic_write_bytes(self.root / CURRENT, (gen.name + "\n").encode("utf-8"))
        log.info("index generation %s is live", gen.name)

    def prune(self, keep: frozenset[str] = frozenset()) -> None:
        """Delete every generation but CURRENT, the one before it, and those in `keep`."""
        cur = self.current()
        if cur is None:
            return
        older = [g for g in self.all() if g.number < cur.number]
        spare = older[-1].name if older else None
        for g in self.all():
            if g.name in keep or g.name in (cur.name, spare):
                continue
            log.info("removing index generation %s", g.name)
            shutil.rmtree(g.path, ignore_errors=True)

    def signature(self) -> tuple[int, int, int] | None:
        """Changes whenever CURRENT is rewritten (cheap to poll)."""
        try:
            st = os.stat(self.root / CURRENT)
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)


@dataclass
class _Op:
    future: Future[Any]
    write: Callable[[IndexWriter], None] | None = None
    after: Callable[[], Any] | None = None
    exclusive: Callable[[], Any] | None = None
    _done: bool = field(default=False)


class LiveIndex:
    """The live generation: searches (any thread) and the single writer thread."""

    def __init__(self, generations: Generations, model: str) -> None:
        self.generations = generations
        try:
            gen = generations.current()
        except GenerationError as exc:  # the index is derived: start a fresh one
            log.error("%s; starting an empty generation (the archive rebuilds it)", exc)
            gen = None
        if gen is None:
            gen = generations.create(model)
            generations.activate(gen)
        self._gen = gen
        self._sig = generations.signature()
        self._ix = index.open_index(gen.path, create=True)
        self._searcher: Searcher | None = None
        self._read_name = gen.name
        self._search_lock = threading.Lock()
        self._ops: deque[_Op] = deque()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopping = False

    @property
    def generation(self) -> Generation:
        return self._gen

    def doc_count(self) -> int:
        """Documents in the live generation."""
        return self.search(lambda s: s.doc_count())

    # --- reading ---------------------------------------------------------------------

    def search(self, fn: Callable[[Searcher], T]) -> T:
        """Run `fn` with an up-to-date searcher of the live generation."""
        with self._search_lock:
            return fn(self._fresh_searcher())

    def _fresh_searcher(self) -> Searcher:
        sig = self.generations.signature()
        if self._searcher is None or sig != self._sig:
            self._sig = sig
            name = self.generations.current_name() or self._gen.name
            if self._searcher is None or name != self._read_name:
                old = self._searcher
                self._read_ix = index.open_index(self.generations.get(name).path)
                self._searcher, self._read_name = index.searcher(self._read_ix), name
                if old is not None:
                    old.close()
                return self._searcher
        if not self._searcher.up_to_date():
            if isinstance(self._searcher.reader(), EmptyReader):
                # Whoosh cannot refresh a reader of an empty index: open a new one.
                self._searcher.close()
                self._searcher = index.searcher(self._read_ix)
            else:
                self._searcher = self._searcher.refresh()
        return self._searcher

    # --- writing ---------------------------------------------------------------------

    def submit(
        self, write: Callable[[IndexWriter], None], after: Callable[[], Any] | None = None
    ) -> Future[Any]:
        """Queue `write` for the writer thread; `after` runs there once it is committed."""
        return self._push(_Op(Future(), write=write, after=after))

    def exclusive(self, fn: Callable[[], T]) -> Future[T]:
        """Run `fn` on the writer thread with no write in progress (e.g. a switch)."""
        return self._push(_Op(Future(), exclusive=fn))

    def _push(self, op: _Op) -> Future[Any]:
        with self._cond:
            if self._stopping:
                raise RuntimeError("the index writer is stopped")
            self._ops.append(op)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="inkdex-index-writer", daemon=True
                )
                self._thread.start()
            self._cond.notify()
        return op.future

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._ops and not self._stopping:
                    self._cond.wait()
                if not self._ops:
                    return
                first = self._ops.popleft()
                batch = [first]
                if first.exclusive is None:
                    while self._ops and self._ops[0].exclusive is None and len(batch) < WRITE_BATCH:
                        batch.append(self._ops.popleft())
            if first.exclusive is not None:
                self._run_exclusive(first)
            else:
                self._run_writes(batch)

    def _run_exclusive(self, op: _Op) -> None:
        try:
            self._follow_current()
            op.future.set_result(op.exclusive())  # type: ignore[misc]
        except BaseException as exc:  # handed to the caller
            op.future.set_exception(exc)

    def _run_writes(self, batch: list[_Op]) -> None:
        try:
            self._follow_current()
            with index.writer(self._ix) as w:
                for op in batch:
                    op.write(w)  # type: ignore[misc]
        except BaseException as exc:
            for op in batch:
                op.future.set_exception(exc)
            return
        for op in batch:
            try:
                op.future.set_result(op.after() if op.after else None)
            except BaseException as exc:
                op.future.set_exception(exc)

    def _follow_current(self) -> None:
        """Write to whatever generation CURRENT names (it may have been switched)."""
        gen = self.generations.current()
        if gen is not None and gen.name != self._gen.name:
            self._gen = gen
            self._ix = index.open_index(gen.path)

    def switch(self, gen: Generation) -> None:
        """Activate `gen`. Call on the writer thread (inside `exclusive`)."""
        self.generations.activate(gen)
        self._gen = gen
        self._ix = index.open_index(gen.path)

    def stop(self) -> None:
        """Finish queued writes, then stop the writer thread."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join()
        with self._cond:
            self._thread = None
            self._stopping = False

    def close(self) -> None:
        self.stop()
        with self._search_lock:
            if self._searcher is not None:
                self._searcher.close()
                self._searcher = None
