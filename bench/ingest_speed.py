"""Ingest speed with the real model: 8 page images from drop to searchable.

Prints
- the model load time (TensorFlow import + bundle load), on its own;
- `inkdex ingest` of 8 pages in a fresh process and a fresh data dir, wall time
  including Python start-up, imports, model load, recognition and indexing, as
  seconds per page, against Tesseract 5 on the same pages on this machine when the
  `tesseract` command is installed (Debian's tesseract-ocr: one `tesseract PAGE -`
  per page, as a folder would be read), else against the ~3 s/page of the target;
- warm throughput: pages/s through `Archive.process_pending` with the model loaded;
- line segmentation of the pages on its own: in one process, and shared with the
  helper processes as ingest does it (`model.decode_processes`).

Pages default to the first 8 scans of `../shared/data/hooker-pages` (real letters;
used here only to measure). Skips with a message when the bundle or pages are missing.

    .venv/bin/python bench/ingest_speed.py [--bundle BUNDLE (default: the one config.yaml activates; the
        decoder and word list are always config.yaml's)]
        [--pages DIR] [--count 8]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from inkdex.settings import load_settings  # noqa: E402

TESSERACT_S_PER_PAGE = 3.0


def tesseract_s_per_page(images: list[Path]) -> float | None:
    """Seconds per page for `tesseract PAGE -` over `images`, one after another (None
    when the command is not installed)."""
    exe = shutil.which("tesseract")
    if exe is None:
        return None
    t = time.perf_counter()
    for p in images:
        subprocess.run([exe, str(p), "-"], capture_output=True, check=True)
    return (time.perf_counter() - t) / len(images)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bundle", type=Path, default=load_settings(REPO / "config.yaml").model.bundle)
    ap.add_argument("--pages", type=Path, default=REPO.parent / "shared" / "data" / "hooker-pages")
    ap.add_argument("--count", type=int, default=8)
    args = ap.parse_args()
    if not (args.bundle / "model.yaml").is_file():
        print(f"skipped: no model bundle at {args.bundle}")
        return 0
    images = sorted(
        p for p in args.pages.glob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".tif")
    )[: args.count]
    if len(images) < args.count:
        print(f"skipped: fewer than {args.count} page images under {args.pages}")
        return 0

    work = Path(tempfile.mkdtemp(prefix="inkdex-ingest-bench-"))
    try:
        config = work / "config.yaml"
        # The model settings of config.yaml (decoder, word list, ...) with the bundle asked for.
        model = load_settings(REPO / "config.yaml").model
        section = model.model_dump(mode="json")
        section["bundle"] = str(args.bundle.resolve())
        config.write_text(yaml.safe_dump({"model": section}))

        # 1. Model load on its own.
        t = time.perf_counter()
        from recognizer.recognize import load_recognizer

        settings = load_settings(config, {"data_dir": str(work / "warm")})
        rec = load_recognizer(settings.model)
        load_s = time.perf_counter() - t
        lm = rec.fusion
        print(
            f"model {args.bundle.name}, decoder {rec.decoder}"
            + (f" (beam {rec.beam_width})" if rec.decoder != "greedy" else "")
            + (f", language model weight {lm.weight:g}" if lm else ", no language model")
            + f", {rec.line_pass} line pass, {rec.runtime} runtime"
            + (f", test-time shifts {list(rec.shifts)}" if rec.shifts else "")
        )
        print(f"model load (imports + bundle): {load_s:.1f}s")

        # 2. A cold `inkdex ingest` of the pages: everything included.
        src = work / "pages"
        src.mkdir()
        for p in images:
            shutil.copy(p, src / p.name)
        cmd = [
            str(REPO / ".venv" / "bin" / "inkdex"),
            "ingest",
            str(src),
            "--config",
            str(config),
            "--data-dir",
            str(work / "cold"),
            "--log-level",
            "WARNING",
        ]
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        t = time.perf_counter()
        out = subprocess.run(cmd, capture_output=True, text=True, env=env)
        cold_s = time.perf_counter() - t
        if out.returncode != 0:
            print(out.stdout, out.stderr, sep="\n")
            print(f"inkdex ingest failed with status {out.returncode}")
            return 1
        n = len(images)
        per_page = cold_s / n
        tess = tesseract_s_per_page(images)
        against = (
            f"Tesseract here {tess:.2f} s/page"
            if tess is not None
            else f"Tesseract ~{TESSERACT_S_PER_PAGE:.0f} s/page (not installed here)"
        )
        print(
            f"inkdex ingest of {n} pages, cold (start-up + model load included): {cold_s:.1f}s"
            f" = {per_page:.2f} s/page; {against}"
            f" -> {(tess or TESSERACT_S_PER_PAGE) / per_page:.1f}x faster"
        )

        # 3. Warm throughput with the model already loaded.
        from indexer.archive import Archive

        arch = Archive.open(settings, recognizer=rec)
        try:
            for p in images:
                arch.add_file(p)
            t = time.perf_counter()
            arch.process_pending()
            warm_s = time.perf_counter() - t
        finally:
            arch.close()
        print(f"warm ingest (model loaded): {n / warm_s:.2f} pages/s ({warm_s / n:.2f} s/page)")

        # 4. Line segmentation of the pages alone, in this process and as ingest does it.
        import cv2

        from recognizer.page import segment_prepared

        pages = [cv2.imread(str(p)) for p in images]
        t = time.perf_counter()
        segment_prepared(pages)
        alone_s = time.perf_counter() - t
        t = time.perf_counter()
        rec.segment_pages(pages)
        shared_s = time.perf_counter() - t
        helpers = rec._pool.processes if rec._pool is not None else 0
        print(
            f"segmentation of the {n} pages: {alone_s:.2f}s in one process, {shared_s:.2f}s "
            f"as ingest segments them ({helpers} helper process{'es' if helpers != 1 else ''})"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
