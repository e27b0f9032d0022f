"""Index speed: rebuild from stored transcripts, and search latency, at 10k and 100k pages.

For each size it makes an archive data dir of synthetic one-page documents
(transcripts of random English words, Zipf-distributed, with recognizer-like
alternative readings: character confusions with posterior probabilities), then

- times `Archive.reindex()` from the stored transcripts (JSON read + indexing;
  the same path `inkdex reindex` takes with an unchanged model), in pages/s, with
  the CPU time it took (its worker processes included) and the load average;
- times `Archive.search(q, limit=10)` end to end (index query, documents from
  SQLite, matched words and snippets from the transcripts) for several query kinds,
  single client, after `Archive.start()` and a warm-up, and prints p50/p99 in
  milliseconds, wall clock and CPU time of the searching thread (on a shared
  machine the wall-clock tail mostly measures other processes).

Words per page default to 120, the mean of the 33 `hooker-pages` letter pages.
No recognition is involved (see `bench/ingest_speed.py` for that).

    .venv/bin/python bench/index_speed.py [--pages 10000,100000] [--words 120]
        [--queries 200] [--workdir DIR] [--keep]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from indexer.archive import Archive  # noqa: E402
from indexer.store import Database, DocStatus, Document  # noqa: E402
from inkdex.settings import load_settings  # noqa: E402
from recognizer.transcript import Line, PageTranscript, Word  # noqa: E402

MODEL = "bench-1"
CONFUSIONS = {
    "a": "o", "o": "a", "e": "c", "c": "e", "n": "u", "u": "n", "l": "i", "i": "l",
    "h": "b", "b": "h", "r": "v", "v": "r", "m": "n", "t": "f", "f": "t", "s": "r",
}  # fmt: skip


def vocabulary(n: int) -> list[str]:
    """English words by frequency (wordfreq), or pronounceable pseudo-words without it."""
    try:
        from wordfreq import top_n_list

        words = [w for w in top_n_list("en", n * 2) if w.isalpha() and len(w) >= 2]
        return words[:n]
    except ImportError:
        rng = random.Random(0)
        syl = [c + v for c in "bcdfghklmnprstvw" for v in "aeiou"]
        return ["".join(rng.choices(syl, k=rng.randint(1, 4))) for _ in range(n)]


class PageMaker:
    """Deterministic synthetic page transcripts."""

    def __init__(self, vocab: list[str], words_per_page: int, seed: int) -> None:
        self.vocab = vocab
        self.words = words_per_page
        self.rng = random.Random(seed)
        weights = [1.0 / (r + 10) for r in range(len(vocab))]
        total = 0.0
        self.cum = []
        for w in weights:
            total += w
            self.cum.append(total)

    def _variant(self, word: str) -> str:
        i = self.rng.randrange(len(word))
        ch = CONFUSIONS.get(word[i], "e")
        return word[:i] + ch + word[i + 1 :]

    def _word(self, text: str, x: int, y: int) -> Word:
        rng = self.rng
        conf = rng.uniform(0.8, 0.99) if rng.random() < 0.7 else rng.uniform(0.3, 0.8)
        rest = 1.0 - conf
        alts = []
        for _ in range(4):
            p = rest * rng.uniform(0.4, 0.7)
            rest -= p
            alts.append((self._variant(text), round(p, 4)))
        if rng.random() < 0.7:  # the 1-best is often wrong; the truth is an alternative
            truth = text
            text = alts[0][0]
            alts[0] = (truth, alts[0][1])
        return Word((x, y, 12 * len(text), 40), text, round(conf, 4), tuple(alts))

    def page(self) -> PageTranscript:
        texts = self.rng.choices(self.vocab, cum_weights=self.cum, k=self.words)
        lines = []
        for li in range(0, len(texts), 10):
            y = 60 + li * 6
            words = tuple(self._word(t, 50 + 110 * k, y) for k, t in enumerate(texts[li : li + 10]))
            lines.append(Line((50, y, 1100, 40), " ".join(w.text for w in words), 0.9, words))
        return PageTranscript(MODEL, 1200, 1600, tuple(lines))


class _NoRecognizer:
    version = MODEL

    def transcribe_pages(self, images):  # pragma: no cover - never called: transcripts exist
        raise RuntimeError("the benchmark has every transcript stored")


def make_archive(root: Path, n: int, words: int, seed: int) -> Path:
    """Write n documents (SQLite rows + transcript files) under root/data; no index yet."""
    data = root / "data"
    tdir = data / "transcripts" / MODEL
    tdir.mkdir(parents=True)
    db = Database(data / "inkdex.sqlite")
    maker = PageMaker(vocabulary(20_000), words, seed)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    rows: list[Document] = []
    for i in range(n):
        sha = hashlib.sha256(f"page {i}".encode()).hexdigest()
        page = maker.page()
        (tdir / f"{sha}.json").write_text(
            json.dumps({"pages": [page.to_dict()]}, separators=(",", ":"))
        )
        created = t0 + timedelta(seconds=i)
        rows.append(
            Document(
                sha[:16], f"page{i:06d}.png", None, sha, 1, "image/png", DocStatus.indexed,
                MODEL, None, 1, created, created,
            )
        )  # fmt: skip
        if len(rows) == 5000 or i == n - 1:
            with db.tx() as c:
                for d in rows:
                    db.insert_document(c, d)
            rows = []
    db.close()
    return data


@dataclass(frozen=True)
class QuerySet:
    name: str
    queries: list[str]
    fuzzy: bool = False


def query_sets(vocab: list[str], n: int, seed: int) -> list[QuerySet]:
    rng = random.Random(seed)
    content = [w for w in vocab[100:] if len(w) >= 3]
    common = [w for w in vocab[100:1000] if len(w) >= 3]
    two = [f"{rng.choice(common)} {rng.choice(common)}" for _ in range(n)]
    phrase = [f'"{rng.choice(common)} {rng.choice(common)}"' for _ in range(n)]
    prefixes = [w[:4] + "*" for w in rng.sample([w for w in content if len(w) >= 5], n)]

    def typo(w: str) -> str:
        i = rng.randrange(len(w))
        return w[:i] + CONFUSIONS.get(w[i], "e") + w[i + 1 :]

    return [
        QuerySet("word (any of 20k)", rng.sample(content, n)),
        QuerySet("word (frequent, rank 100-1000)", [rng.choice(common) for _ in range(n)]),
        QuerySet("two words (AND)", two),
        QuerySet("phrase (two frequent words)", phrase),
        QuerySet("prefix", prefixes),
        QuerySet("fuzzy (a typo)", [typo(w) for w in rng.sample(content, n)], fuzzy=True),
    ]


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(p / 100 * (len(xs) - 1)))]


def timed(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def _cpu_s() -> float:
    """CPU seconds of this process and of its finished child processes."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def run_size(root: Path, n: int, words: int, nq: int, seed: int) -> None:
    t = time.perf_counter()
    data = make_archive(root, n, words, seed)
    print(
        f"\n{n} pages x {words} words: wrote transcripts + rows in {time.perf_counter() - t:.0f}s"
    )
    (root / "config.yaml").write_text("{}\n")
    overrides = {
        "data_dir": str(data),
        "worker": {"enabled": False},
        "inbox": {"enabled": False},
    }
    settings = load_settings(root / "config.yaml", overrides)
    arch = Archive.open(settings, recognizer=_NoRecognizer())
    try:
        t = time.perf_counter()
        cpu = _cpu_s()
        load = os.getloadavg()[0]
        arch.reindex()
        wall, cpu = time.perf_counter() - t, _cpu_s() - cpu
        size = sum(f.stat().st_size for f in arch.live.generation.path.iterdir())
        print(
            f"rebuild from transcripts: {wall:.1f}s wall = {n / wall:.0f} pages/s "
            f"({n / cpu:.0f} pages per CPU-second, worker processes included); "
            f"index {size / 1e6:.0f} MB; load average {load:.1f} -> {os.getloadavg()[0]:.1f}"
        )
        vocab = vocabulary(20_000)
        arch.start()  # as `inkdex serve` does (worker and inbox off here)
        print(f"searches: load average {os.getloadavg()[0]:.1f} at start")
        print(
            f"{'query kind':32s} {'p50 ms':>7s} {'p99 ms':>7s} {'max ms':>7s}"
            f" {'cpu p50':>8s} {'cpu p99':>8s}  mean hits"
        )
        for qs in query_sets(vocab, nq, seed + 1):
            for q in qs.queries[:10]:  # warm-up
                arch.search(q, limit=10, fuzzy=qs.fuzzy)
            times, cpu_times, totals = [], [], []
            for q in qs.queries:
                t, c = time.perf_counter(), time.thread_time()
                r = arch.search(q, limit=10, fuzzy=qs.fuzzy)
                times.append((time.perf_counter() - t) * 1000)
                cpu_times.append((time.thread_time() - c) * 1000)
                totals.append(r.total)
            print(
                f"{qs.name:32s} {pct(times, 50):7.1f} {pct(times, 99):7.1f} {max(times):7.1f}"
                f" {pct(cpu_times, 50):8.1f} {pct(cpu_times, 99):8.1f}"
                f"  {statistics.mean(totals):.0f}"
            )
    finally:
        arch.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", default="10000,100000", help="comma-separated archive sizes")
    ap.add_argument("--words", type=int, default=120, help="words per page")
    ap.add_argument("--queries", type=int, default=200, help="queries per kind")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workdir", type=Path, help="where to build (default: a temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep the built archives")
    args = ap.parse_args()
    base = Path(tempfile.mkdtemp(prefix="inkdex-bench-", dir=args.workdir))
    print(f"building under {base}")
    try:
        for n in (int(x) for x in args.pages.split(",")):
            run_size(base / f"n{n}", n, args.words, args.queries, args.seed)
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
