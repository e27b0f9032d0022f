"""Synthetic line speed: lines per second per CPU core for `LineSynth.sample`.

Renders with the accepted fonts of the font cache (run `inkdex fonts fetch` first).
Glyph bitmaps and kerned advances are cached per font on first use, so the script
first warms up (every font rendered a few times) and then measures. Time is the
process's CPU time with OpenCV limited to one thread, i.e. the throughput of one
core; other load on the machine inflates it less than wall-clock time would.

    .venv/bin/python bench/synth_speed.py [--height 48] [--n 2000] [--warmup 6000]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from inkdex.settings import load_settings  # noqa: E402
from recognizer.fonts import discover_fonts  # noqa: E402
from recognizer.synth import LineSynth  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--height", type=int, default=48, help="output height (0 = natural size)")
    ap.add_argument("--augment", type=float, default=1.0)
    ap.add_argument("--n", type=int, default=2000, help="lines measured")
    ap.add_argument("--warmup", type=int, default=6000, help="lines rendered before measuring")
    ap.add_argument("--font-cache", type=Path, help="default: synth.font_cache from config")
    args = ap.parse_args()

    cv2.setNumThreads(1)
    cache = args.font_cache or load_settings().synth.font_cache
    fonts = discover_fonts(cache)
    if not fonts:
        print(f"no fonts in {cache}; run `inkdex fonts fetch` first", file=sys.stderr)
        return 1
    synth = LineSynth(fonts, seed=0, augment=args.augment, height=args.height or None)
    for i in range(args.warmup):
        synth.sample(i)
    t0 = time.process_time()
    widths = [synth.sample(10**6 + i).image.shape[1] for i in range(args.n)]
    cpu = time.process_time() - t0
    print(
        f"fonts={len(fonts)} height={args.height or 'natural'} augment={args.augment} "
        f"lines={args.n} mean_width={np.mean(widths):.0f}px"
    )
    print(f"lines_per_s_per_core={args.n / cpu:.0f}  ms_per_line={1000 * cpu / args.n:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
