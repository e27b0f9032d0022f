"""Decode speed: greedy, beam and lexicon decoding of synthetic CTC outputs.

Prints milliseconds per line (best of several repeats, so other load on the machine
inflates the figures less) for a 128-frame x 96-class matrix in two flavours:
"peaky" (like a trained model: one class near 1 per frame, the rest mostly < 1e-4)
and "noisy" (every class ~3e-4, a worst case for pruning).

    .venv/bin/python bench/decode_speed.py [--frames 128] [--beam 16] [--repeats 20]
"""

from __future__ import annotations

import argparse
import string
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from recognizer.decode import (  # noqa: E402
    Lexicon,
    beam_search,
    greedy,
    lexicon_beam_search,
    read_line,
)

WORDS = (
    "the of and to in is was that for it with as his on be at by had are but from or have an "
    "they which one you were her all she there would their we him been has when who will more "
    "no if out so said what up its about into than them can only other new some could time "
    "these two may then do first any my now such like our over man me even most made after"
).split()


@dataclass(frozen=True)
class _Charset:
    chars: str


def synthetic_probs(frames: int, chars: str, noise: float, peak: float, seed: int) -> np.ndarray:
    """Softmax of random logits with one boosted class per frame; about half the frames blank.

    The boosted characters spell words from `WORDS` separated by spaces, so the lexicon
    decoder has real words to find.
    """
    rng = np.random.default_rng(seed)
    n_classes = len(chars) + 1
    text = " ".join(rng.choice(WORDS, size=frames))
    labels = [chars.index(ch) + 1 for ch in text]
    path = np.zeros(frames, dtype=int)
    t, k = 0, 0
    while t < frames and k < len(labels):
        path[t] = labels[k]
        t += 2  # a character then a blank
        k += 1
    logits = rng.normal(scale=noise, size=(frames, n_classes))
    logits[np.arange(frames), path] += peak
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    return probs / probs.sum(axis=1, keepdims=True)


def best_ms(fn, repeats: int) -> float:
    fn()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best * 1000


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=128)
    ap.add_argument("--beam", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=20)
    args = ap.parse_args()
    chars = string.ascii_letters + string.digits + string.punctuation + " "  # 95 + blank
    cs = _Charset(chars)
    lexicon = Lexicon.from_words(WORDS)
    print(f"{args.frames} frames x {len(chars) + 1} classes, beam {args.beam}, ms per line")
    print(f"{'matrix':8} {'greedy':>8} {'beam':>8} {'lexicon':>8} {'read_line':>10}")
    for name, noise, peak in (("peaky", 2.0, 14.0), ("noisy", 1.0, 8.0)):
        p = synthetic_probs(args.frames, chars, noise, peak, seed=0)
        row = [
            best_ms(lambda p=p: greedy(p, cs), args.repeats),
            best_ms(lambda p=p: beam_search(p, cs, args.beam), args.repeats),
            best_ms(lambda p=p: lexicon_beam_search(p, cs, lexicon, args.beam), args.repeats),
            best_ms(lambda p=p: read_line(p, cs, "beam", args.beam), args.repeats),
        ]
        print(f"{name:8} " + " ".join(f"{v:8.2f}" for v in row[:3]) + f" {row[3]:10.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
