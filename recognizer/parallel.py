"""Reading lines in helper processes beside the network's.

The beam and lexicon decoders are Python: reading a page's lines keeps one core busy
while the others wait. A `DecodePool` starts helper processes that hold the same word
list and language model and reads a share of each batch of lines in them while the
calling process reads the rest. Every line is read exactly as `decode.read_lines` reads
it alone, so the result does not depend on how the lines were shared out. Pages are
segmented into lines the same way, a share of them in each helper
(`page.segment_prepared`, page by page).

The helpers are started with ``spawn`` (TensorFlow's threads make ``fork`` unsafe) and
import no TensorFlow, nor the caller's main script: everything they run lives in
`recognizer`, so a script without an ``if __name__ == "__main__"`` guard does not run
again in each helper (where it would start helpers of its own and fail). When a helper
dies, the pool is given up and the lines are read in
the calling process from then on; reading never fails because of the pool.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import signal
import sys
import threading
import types
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import numpy as np

from recognizer.decode import LineReading, read_lines

log = logging.getLogger(__name__)

# Below this many frames in a batch, sharing it out costs more than it saves.
MIN_SHARED_FRAMES = 400

# What a helper process reads with: (charset, read_lines keyword arguments).
_state: tuple[Any, dict[str, Any]] | None = None


def _init(charset: Any, options: dict[str, Any]) -> None:
    global _state
    # Ctrl-C in a terminal reaches the whole process group: the process that started the
    # helpers stops them, they do not stop on their own halfway through a batch.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _state = (charset, options)


def _read(probs: Sequence[np.ndarray]) -> list[LineReading]:
    assert _state is not None, "helper process not initialised"
    charset, options = _state
    return read_lines(probs, charset, **options)


def _warm() -> bool:
    return _state is not None


def split_by_frames(frames: Sequence[int], parts: int) -> list[range]:
    """Consecutive index ranges of about equal frame totals (a line's cost follows its
    frames, a page's its pixels), one per part; empty ranges at the end when there are
    fewer items."""
    total = sum(frames)
    bounds = [0]
    acc = 0
    for i, n in enumerate(frames):
        acc += n
        while len(bounds) < parts and acc >= total * len(bounds) / parts:
            bounds.append(i + 1)
    while len(bounds) < parts:
        bounds.append(len(frames))
    bounds.append(len(frames))
    return [range(bounds[k], bounds[k + 1]) for k in range(parts)]


@contextlib.contextmanager
def _bare_main() -> Iterator[None]:
    """While processes are spawned: a main module with no file or spec, which ``spawn``
    does not import again in the child."""
    main = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        if main is None:
            del sys.modules["__main__"]
        else:
            sys.modules["__main__"] = main


class DecodePool:
    """`processes` helpers that read lines with `read_lines(probs, charset, **options)`."""

    def __init__(self, charset: Any, options: dict[str, Any], processes: int) -> None:
        if processes < 1:
            raise ValueError(f"a decode pool needs at least one process, got {processes}")
        self.processes = processes
        self._charset = charset
        self._options = options
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = ProcessPoolExecutor(
            max_workers=processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init,
            initargs=(charset, options),
        )
        # Start the helpers now (they load while the network is being built). The
        # executor spawns one helper per submit until it has `processes`; it never
        # spawns more later, a broken pool is given up.
        with _bare_main():
            self._ready = [self._pool.submit(_warm) for _ in range(processes)]

    @property
    def alive(self) -> bool:
        return self._pool is not None

    def read_lines(self, probs: Sequence[np.ndarray]) -> list[LineReading]:
        """The readings of `probs`, in order, as `read_lines` gives them."""
        return self._shared(
            probs,
            [p.shape[0] for p in probs],
            lambda share: read_lines(share, self._charset, **self._options),
            _read,
            MIN_SHARED_FRAMES,
        )

    def segment_pages(self, images: Sequence[np.ndarray]) -> list[Any]:
        """`page.segment_prepared(images)`, the pages shared out by their pixels."""
        from recognizer.page import segment_prepared

        return self._shared(
            images, [im.size for im in images], segment_prepared, segment_prepared, 0
        )

    def _shared(
        self,
        items: Sequence[Any],
        weights: Sequence[int],
        here: Callable[[list[Any]], list[Any]],
        there: Callable[[list[Any]], list[Any]],
        minimum: int,
    ) -> list[Any]:
        """``here(items)``, computed in consecutive shares of about equal weight: the
        first share in this process, the others by ``there`` in the helpers (or here,
        when a helper fails)."""
        pool = self._pool
        if pool is None or len(items) < 2 or sum(weights) < minimum:
            return here(list(items))
        shares = split_by_frames(weights, self.processes + 1)
        futures: list[tuple[range, Future | None]] = []
        for share in shares[1:]:
            if not share:
                continue
            try:
                futures.append((share, pool.submit(there, [items[i] for i in share])))
            except RuntimeError as exc:  # the pool broke or was shut down meanwhile
                self._give_up(exc)
                futures.append((share, None))
        out: list[Any] = [None] * len(items)
        mine = shares[0]
        for i, r in zip(mine, here([items[i] for i in mine]), strict=True):
            out[i] = r
        for share, fut in futures:
            got = None
            if fut is not None:
                try:
                    got = fut.result()
                except BrokenProcessPool as exc:  # a helper died
                    self._give_up(exc)
                except Exception as exc:
                    # Done here, a share whose input is at fault raises the same error
                    # to the caller, and the helpers stay; otherwise the helper was.
                    got = here([items[i] for i in share])
                    self._give_up(exc)
            if got is None:
                got = here([items[i] for i in share])
            for i, r in zip(share, got, strict=True):
                out[i] = r
        return out

    def _give_up(self, exc: BaseException) -> None:
        with self._lock:
            if self._pool is None:
                return
            log.warning(
                "line-reading helper process failed (%s); reading lines in this process", exc
            )
            pool, self._pool = self._pool, None
        pool.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
