"""Recognizer throughput: lines/s for greedy and beam decoding at batch 1 and 32, and load time.

Lines are synthetic handwriting lines of 20-40 characters (rendered with the font cache
when there is one, else with Pillow's built-in font), so widths look like real lines.
Every figure includes normalisation, the forward pass and decoding, and is the median
of three timed passes after an untimed one. "sorted by width" is how the product reads
lines (all lines of a batch of pages in one call, batched by width); "32 per call"
sends 32 unrelated lines per call. Lines per wall-clock
second depend on what else runs on the machine; lines per CPU-second of this process do
much less (on an idle machine, wall-clock throughput is at most that times the cores).

    .venv/bin/python bench/recognizer_speed.py [--model BUNDLE (default: the one config.yaml activates)] [--lines 256]
        [--shifts ROWS ...] [--runtime auto|onnx|tensorflow]

`--shifts -2 2` measures the recognizer with test-time shifts (`model.test_time_shifts`).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from inkdex.settings import load_settings  # noqa: E402


class _Lines20to40:
    """A `TextSource` look-alike whose lines are 20-40 characters long."""

    def __init__(self, seed: int) -> None:
        from recognizer.text import TextSource

        self.src = TextSource(seed)

    def word(self, rng: np.random.Generator) -> str:
        return self.src.word(rng)

    def line(self, rng: np.random.Generator) -> str:
        while True:
            t = self.src.line(rng)
            while len(t) < 20:
                t += " " + self.src.word(rng)
            if len(t) <= 40:
                return t


def synthetic_lines(n: int, seed: int = 0) -> tuple[list[np.ndarray], str]:
    """`n` line crops of 20-40 characters and a note on how they were made."""
    text = _Lines20to40(seed)
    try:
        from recognizer.fonts import discover_fonts
        from recognizer.synth import LineSynth

        fonts = discover_fonts(Path("~/.cache/inkdex/fonts").expanduser())
    except Exception:
        fonts = []
    if fonts:
        synth = LineSynth(fonts, seed=seed, augment=1.0, text=text)
        return [synth.sample(i).image for i in range(n)], f"LineSynth, {len(fonts)} fonts"
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default(size=40)
    rng = np.random.default_rng(seed)
    crops = []
    for _ in range(n):
        t = text.line(rng)
        img = Image.new("L", (int(font.getlength(t)) + 20, 64), 255)
        ImageDraw.Draw(img).text((10, 8), t, font=font, fill=0)
        crops.append(np.asarray(img))
    return crops, "Pillow built-in font"


def lines_per_second(
    rec, crops: list[np.ndarray], batch: int, per_call: bool = False, repeats: int = 3
) -> tuple[float, float]:
    """(lines per wall-clock second, lines per CPU-second of this process), medians.

    By default every line goes to one `recognize_lines` call, which sorts the lines
    by width and runs the network on batches of at most `batch` (how pages and ingest
    batches are read). With `per_call`, each batch of `batch` lines in input order is
    its own call (a caller that sends 32 unrelated lines at a time). One untimed pass
    over the same lines comes first (a running service is warm: TensorFlow's first
    calls at new shapes allocate), then the median of `repeats` timed passes.
    """
    rec.batch_size = batch

    def one_pass() -> None:
        if per_call:
            for k in range(0, len(crops), batch):
                rec.recognize_lines(crops[k : k + batch])
        else:
            rec.recognize_lines(crops)

    one_pass()
    walls, cpus = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        one_pass()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return len(crops) / float(np.median(walls)), len(crops) / float(np.median(cpus))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    model = load_settings(REPO / "config.yaml").model
    ap.add_argument("--model", type=Path, default=model.bundle)
    ap.add_argument("--lines", type=int, default=256, help="lines for the batch-32 runs")
    ap.add_argument("--lines-b1", type=int, default=64, help="lines for the batch-1 runs")
    ap.add_argument("--shifts", type=int, nargs="+", default=[], help="test-time shifts (rows)")
    ap.add_argument(
        "--runtime",
        choices=["auto", "onnx", "tensorflow"],
        default=model.runtime,
        help="what runs the network (default: config.yaml's model.runtime)",
    )
    args = ap.parse_args()

    t0 = time.perf_counter()
    if args.runtime == "tensorflow":
        import keras  # noqa: F401  (TensorFlow start-up, reported apart from model loading)
    else:
        import onnxruntime  # noqa: F401
    t_import = time.perf_counter() - t0
    from recognizer.lineimage import normalize_line
    from recognizer.recognize import Recognizer

    t0 = time.perf_counter()
    rec = Recognizer.load(args.model, decoder="greedy", shifts=args.shifts, runtime=args.runtime)
    rec.recognize_lines([np.full((48, 200), 255, np.uint8)])
    t_load = time.perf_counter() - t0

    crops, how = synthetic_lines(args.lines)
    widths = [normalize_line(c, rec.height).shape[1] for c in crops]
    print(
        f"model: {rec.version} ({args.model}), input height {rec.height}, "
        f"test-time shifts {list(rec.shifts) or 'none'}"
    )
    print(f"cpu: {os.cpu_count()} cores; load average {os.getloadavg()[0]:.2f} at start")
    print(
        f"runtime {rec.runtime}: import {t_import:.2f} s; model load + first call: {t_load:.2f} s"
    )
    print(
        f"lines: {len(crops)} synthetic ({how}), 20-40 chars; model-input width "
        f"median {int(np.median(widths))} px (p10 {int(np.percentile(widths, 10))}, "
        f"p90 {int(np.percentile(widths, 90))})"
    )
    runs = (
        (32, len(crops), False, "sorted by width"),
        (32, len(crops), True, "32 per call"),
        (1, min(args.lines_b1, len(crops)), False, "1 per call"),
    )
    for decoder in ("greedy", "beam"):
        rec.decoder = decoder
        for batch, n, per_call, how in runs:
            lps, per_cpu = lines_per_second(rec, crops[:n], batch, per_call)
            print(
                f"{decoder:6s} batch {batch:2d} ({how:15s}): {lps:7.1f} lines/s  "
                f"({per_cpu:6.1f} lines per CPU-second; {n} lines)"
            )
    print(f"load average at end {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
