"""Two ways to find a line's words before reading each word with the beam: CER, WER, time.

`read_line(line_pass="greedy")` (the default) splits the line's best path into words;
`line_pass="decoder"` runs the beam (or lexicon beam) over the whole line first. Either
way each word is then read again on its own frames. Prints CER, WER and decoding
milliseconds per line (network outputs computed once, outside the timing) for the beam
and lexicon decoders on labelled lines, by default the first 300 of the Hooker
validation split (used to choose decoder settings, never to train).

    .venv/bin/python bench/line_pass.py [--bundle BUNDLE] [--labels FILE] [--limit 300]
        [--lexicon WORDS.txt]

Bundle and word list default to what config.yaml sets.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from inkdex.settings import load_settings  # noqa: E402


def main() -> int:
    model = load_settings(REPO / "config.yaml").model
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bundle", type=Path, default=model.bundle)
    ap.add_argument(
        "--labels",
        type=Path,
        default=REPO.parent / "shared" / "data" / "hooker-lines" / "val.tsv",
    )
    ap.add_argument("--limit", type=int, default=300)
    ap.add_argument("--lexicon", type=Path, default=model.lexicon)
    args = ap.parse_args()
    if not args.labels.is_file() or not (args.bundle / "model.yaml").is_file():
        print(f"skipped: {args.labels} or the bundle {args.bundle} is not present")
        return 0

    import cv2
    from rapidfuzz.distance import Levenshtein

    from recognizer.decode import read_line
    from recognizer.recognize import Recognizer

    rows = []
    for line in args.labels.read_text(encoding="utf-8").splitlines()[: args.limit]:
        if "\t" in line:
            name, text = line.split("\t", 1)
            rows.append((args.labels.parent / name, text))
    crops = [cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p, _ in rows]
    rec = Recognizer.load(args.bundle, decoder="lexicon", lexicon=args.lexicon)
    probs = rec.probabilities(crops)
    chars = sum(len(t) for _, t in rows)
    words = sum(len(t.split()) for _, t in rows)
    print(f"model {rec.version}, {len(rows)} lines of {args.labels}")
    print(f"{'decoder':8} {'first pass':11} {'CER':>7} {'WER':>7} {'ms/line':>8}")
    for decoder in ("beam", "lexicon"):
        for line_pass in ("greedy", "decoder"):
            t0 = time.perf_counter()
            texts = [
                read_line(
                    p, rec.bundle.charset, decoder, 16, 5, rec.lexicon, line_pass=line_pass
                ).text
                if p is not None
                else ""
                for p in probs
            ]
            ms = 1000 * (time.perf_counter() - t0) / len(rows)
            ce = sum(Levenshtein.distance(h, t) for h, (_, t) in zip(texts, rows, strict=True))
            we = sum(
                Levenshtein.distance(h.split(), t.split())
                for h, (_, t) in zip(texts, rows, strict=True)
            )
            print(f"{decoder:8} {line_pass:11} {ce / chars:7.1%} {we / words:7.1%} {ms:8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
