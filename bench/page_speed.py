"""Page speed: normalising + segmenting, and full transcription, of a 2000x1500 page.

Renders one synthetic page of each kind (letter, notebook, whiteboard photo) scaled to
2000x1500, then prints milliseconds per page, best of several repeats (other load on
the machine inflates the figures less), for:

- prepare: rectify, deskew and flatten the background (`prepare_page`);
- segment: lines and words on the prepared page (`segment_lines`);
- transcribe: the whole `transcribe_pages` with the model loaded (when a bundle exists).

    .venv/bin/python bench/page_speed.py [--bundle BUNDLE] [--decoder D] [--lexicon FILE]
        [--lm-weight W (0: no language model)] [--repeats 5]

Bundle, decoder, word list, beam width, alternatives and language model settings
default to what config.yaml sets.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from inkdex.settings import load_settings  # noqa: E402
from recognizer.page import transcribe_pages  # noqa: E402
from recognizer.preprocess import prepare_page  # noqa: E402
from recognizer.segment import segment_lines  # noqa: E402
from recognizer.synthpage import PageSynth, default_fonts  # noqa: E402


def best_ms(fn, repeats: int) -> float:  # noqa: ANN001
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1000 * min(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    repo = Path(__file__).resolve().parent.parent
    model = load_settings(repo / "config.yaml").model
    ap.add_argument("--bundle", type=Path, default=model.bundle)
    ap.add_argument("--decoder", default=model.decoder, choices=["greedy", "beam", "lexicon"])
    ap.add_argument("--lexicon", type=Path, default=model.lexicon, help="for --decoder lexicon")
    ap.add_argument("--lm-weight", type=float, default=model.lm_weight, help="(0: off)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--font-cache", type=Path, default=Path("~/.cache/inkdex/fonts").expanduser())
    args = ap.parse_args()

    fonts = default_fonts(True, args.font_cache)
    synth = PageSynth(fonts, seed=0)
    pages = {}
    for kind in ("letter", "notebook", "whiteboard"):
        image = synth.sample(0, kind).image
        pages[kind] = cv2.resize(image, (2000, 1500), interpolation=cv2.INTER_AREA)

    recognizer = None
    if (args.bundle / "model.yaml").is_file():
        from recognizer.recognize import load_recognizer

        lexicon = args.lexicon if args.decoder == "lexicon" else None
        chosen = {"decoder": args.decoder, "lexicon": lexicon, "lm_weight": args.lm_weight}
        recognizer = load_recognizer(model.model_copy(update=chosen), args.bundle)
        lm = recognizer.fusion
        print(
            f"model {recognizer.version}, decoder {recognizer.decoder} (beam {recognizer.beam_width})"
            + (f", language model weight {lm.weight:g}" if lm else ", no language model")
            + f", {recognizer.line_pass} line pass"
            + (f", test-time shifts {list(recognizer.shifts)}" if recognizer.shifts else "")
        )
    else:
        print(f"no bundle at {args.bundle}: timing segmentation only")

    print(f"page 2000x1500, best of {args.repeats}, ms per page")
    print(f"{'kind':<11}{'prepare':>9}{'segment':>9}{'lines':>7}{'transcribe':>12}")
    for kind, image in pages.items():
        prepared = prepare_page(image)
        lines = segment_lines(prepared.gray)
        prep_ms = best_ms(lambda image=image: prepare_page(image), args.repeats)
        seg_ms = best_ms(lambda p=prepared: segment_lines(p.gray), args.repeats)
        full = "-"
        if recognizer is not None:
            transcribe_pages(recognizer, [image])  # warm-up: compile shapes
            full = f"{best_ms(lambda image=image: transcribe_pages(recognizer, [image]), args.repeats):.0f}"
        print(f"{kind:<11}{prep_ms:>9.0f}{seg_ms:>9.0f}{len(lines):>7}{full:>12}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
