"""Reading lines in helper processes gives what reading them in-process gives."""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from recognizer import parallel
from recognizer.charlm import CharLM, Fusion
from recognizer.charset import Charset
from recognizer.decode import read_lines
from recognizer.lexicon import Lexicon
from recognizer.parallel import DecodePool, split_by_frames

CHARSET = Charset("abcdefghijklmnopqrstuvwxyz ")
WORDS = [("the", 50), ("cat", 10), ("sat", 5), ("on", 30), ("mat", 2), ("hat", 3), ("that", 8)]
TEXTS = ["the cat sat on the mat", "that hat", "the hat on the cat"] * 4


def _line(text: str, rng: np.random.Generator) -> np.ndarray:
    """A line's probabilities: each character over two frames, with some doubt."""
    n = len(CHARSET.chars) + 1
    rows = []
    for ch in text:
        row = rng.dirichlet(np.full(n, 0.05)) * 0.3
        row[CHARSET.chars.index(ch) + 1] += 0.7
        rows += [row, np.eye(n)[0] * 0.9 + row * 0.1]
    p = np.array(rows)
    return p / p.sum(axis=1, keepdims=True)


@pytest.fixture
def options() -> dict:
    lm = CharLM.build(TEXTS, order=4, min_count=1)
    return {
        "decoder": "lexicon",
        "beam_width": 8,
        "alternatives": 5,
        "lexicon": Lexicon.from_words(WORDS),
        "line_pass": "greedy",
        "fusion": Fusion(lm, 0.2, 2.0),
    }


@pytest.fixture
def lines() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    texts = ["the cat sat on the mat", "that hat", "on the mat the cat sat", "the"] * 12
    return [_line(t, rng) for t in texts]


def test_the_pool_reads_every_line_as_read_lines_does(options, lines) -> None:
    want = read_lines(lines, CHARSET, **options)
    pool = DecodePool(CHARSET, options, processes=2)
    try:
        assert sum(p.shape[0] for p in lines) >= parallel.MIN_SHARED_FRAMES
        assert pool.read_lines(lines) == want
        assert pool.read_lines(lines[:1]) == want[:1]  # too little to share: read here
        assert pool.alive
    finally:
        pool.close()
    assert not pool.alive
    assert pool.read_lines(lines) == want  # closed: still reads, in this process


def test_a_dead_helper_is_given_up_and_the_lines_are_still_read(options, lines, caplog) -> None:
    want = read_lines(lines, CHARSET, **options)
    pool = DecodePool(CHARSET, options, processes=1)
    try:
        pool._ready[0].result(timeout=60)  # the helper is up
        for pid in list(pool._pool._processes):  # type: ignore[union-attr]
            os.kill(pid, signal.SIGKILL)
        assert pool.read_lines(lines) == want
        assert not pool.alive
        assert "reading lines in this process" in caplog.text
    finally:
        pool.close()


def test_shares_follow_the_frames() -> None:
    assert split_by_frames([10, 10, 10, 10], 2) == [range(0, 2), range(2, 4)]
    assert split_by_frames([30, 5, 5, 5, 5], 2) == [range(0, 1), range(1, 5)]
    assert split_by_frames([7], 3) == [range(0, 1), range(1, 1), range(1, 1)]
    shares = split_by_frames(list(range(1, 40)), 4)
    assert [i for r in shares for i in r] == list(range(39))


def test_word_list_and_language_model_travel_without_their_caches(options, lines) -> None:
    read_lines(lines[:4], CHARSET, **options)  # fills the caches
    lex, fusion = options["lexicon"], options["fusion"]
    assert lex._tables and fusion._rows
    lex2, fusion2 = pickle.loads(pickle.dumps(lex)), pickle.loads(pickle.dumps(fusion))
    assert not lex2._tables and not fusion2._rows and not fusion2.model._cache
    assert lex2.words() == lex.words() and lex2.log_prior("cat") == lex.log_prior("cat")
    again = read_lines(lines[:4], CHARSET, **{**options, "lexicon": lex2, "fusion": fusion2})
    assert again == read_lines(lines[:4], CHARSET, **options)


UNGUARDED_SCRIPT = """
import logging, sys
sys.path.insert(0, {tests!r})
from recognizer.parallel import DecodePool
from recognizer.decode import read_lines
import test_parallel as t

logging.basicConfig(level=logging.WARNING)
options = dict(decoder="beam", beam_width=4, alternatives=2, lexicon=None, line_pass="greedy",
               fusion=None)
rng = t.np.random.default_rng(0)
lines = [t._line("the cat sat on the mat", rng) for _ in range(20)]
pool = DecodePool(t.CHARSET, options, processes=1)
pool._ready[0].result(timeout=60)
assert pool.read_lines(lines) == read_lines(lines, t.CHARSET, **options)
print("helpers alive:", pool.alive)
pool.close()
"""


def test_a_script_without_a_main_guard_is_not_run_again_in_the_helpers(tmp_path) -> None:
    # Spawned children import the main script again unless it is hidden from them; an
    # unguarded one would then start a pool of its own, and the first one would break.
    script = tmp_path / "unguarded.py"
    script.write_text(UNGUARDED_SCRIPT.format(tests=str(Path(__file__).parent)))
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    assert done.returncode == 0, done.stderr
    assert "helpers alive: True" in done.stdout
    assert "helper process failed" not in done.stderr
    assert "bootstrapping phase" not in done.stderr


def _page(lines: list[str], seed: int) -> np.ndarray:
    """A white page with lines of printed text (enough ink for the segmenter)."""
    import cv2

    rng = np.random.default_rng(seed)
    page = np.full((900, 1200, 3), 255, np.uint8)
    for k, text in enumerate(lines):
        y = 120 + 110 * k + int(rng.integers(-5, 5))
        cv2.putText(page, text, (60, y), cv2.FONT_HERSHEY_SIMPLEX, 1.6, (20, 20, 20), 3)
    return page


def test_the_pool_segments_pages_as_segment_prepared_does() -> None:
    from recognizer.page import segment_prepared

    pages = [
        _page(["the cat sat on the mat", "that hat", "on the mat"][: 1 + k % 3], k)
        for k in range(5)
    ]
    want = segment_prepared(pages)
    pool = DecodePool(CHARSET, {"decoder": "beam", "beam_width": 2}, processes=2)
    try:
        got = pool.segment_pages(pages)
        assert pool.alive
        assert [lines for _, lines in got] == [lines for _, lines in want]
        assert all(len(lines) >= 1 for _, lines in got)
        assert all(np.array_equal(a.gray, b.gray) for (a, _), (b, _) in zip(got, want, strict=True))
        for pid in list(pool._pool._processes):  # type: ignore[union-attr]
            os.kill(pid, signal.SIGKILL)
        again = pool.segment_pages(pages)  # the helpers died: segmented here
        assert [lines for _, lines in again] == [lines for _, lines in want]
        assert not pool.alive
    finally:
        pool.close()


def test_a_page_that_cannot_be_segmented_fails_the_call_not_the_helpers() -> None:
    pool = DecodePool(CHARSET, {"decoder": "beam", "beam_width": 2}, processes=1)
    try:
        bad = np.zeros((0, 0), np.uint8)  # the helper's share: it raises there
        with pytest.raises(ValueError, match="non-empty"):
            pool.segment_pages([_page(["the cat"], 0), bad])
        assert pool.alive
        assert len(pool.segment_pages([_page(["the cat"], 0), _page(["on the mat"], 1)])) == 2
    finally:
        pool.close()
