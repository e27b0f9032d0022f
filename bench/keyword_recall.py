"""Keyword recall on real handwritten lines: 1-best only vs with alternative readings.

Each labelled line image is transcribed by the model bundle and indexed as one
document, twice: with the 1-best text only, and with the recognizer's alternatives
(those at or above `index.alternative_min_prob`). Then every word of 4 or more
letters of each line's ground truth is searched for; a query scores when its line
is among the top 10 hits. Prints recall for both indexes (and for fuzzy search on
top of alternatives), and the precision of the hits returned: the share of them
whose line's ground truth holds the searched word. "any rank" counts a query whose
line is among all the hits: on a set where a word is written on more than 10 lines
(`have`, `with` on the Hooker lines), the top 10 cannot hold them all, and the
difference is the ranking's, not the reading's.

Default set: `../shared/eval/real-lines` (evaluation only). Other `labels.tsv`
files (`image<TAB>text`, paths relative to the file) can be given with --labels,
e.g. the hooker-lines validation split.

    .venv/bin/python bench/keyword_recall.py [--bundle BUNDLE (default: the one config.yaml activates)]
        [--labels FILE ...] [--decoder D] [--lexicon WORDS.txt] [--alternatives N] [--beam-width N]
        [--min-prob P] [--shifts [ROWS ...]] [--lm-weight W] [--lm-bonus B]
        [--line-pass greedy|decoder] [--misses] [--temperature T]

`--misses` lists the words the index with alternatives does not find in their line,
and with the lexicon decoder counts those written with no word of the word list.

Bundle, decoder, word list, alternatives, test-time shifts, language model weights,
line pass and the lowest indexed alternative default to what config.yaml sets (and
the bundle where config.yaml leaves them unset).
"""

from __future__ import annotations

import argparse
import string
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from indexer import index  # noqa: E402
from indexer.analysis import tokens  # noqa: E402
from inkdex.settings import load_settings  # noqa: E402

TOP = 10


def read_labels(path: Path) -> list[tuple[Path, str]]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if "\t" in line:
            name, text = line.split("\t", 1)
            out.append((path.parent / name, text))
    return out


def soften(rec, temperature: float) -> None:
    """Make `rec` read with its frame probabilities at `temperature` (p ** (1/T),
    renormalised per frame): above 1 the network's readings are less sure, so the
    decoder keeps more of the other words. The greedy reading does not change."""
    import numpy as np

    predict = rec._predict

    def tempered(x):
        p = np.power(np.maximum(predict(x), 1e-12), 1.0 / temperature)
        return (p / p.sum(axis=-1, keepdims=True)).astype(np.float32)

    rec._predict = tempered


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    settings = load_settings(REPO / "config.yaml")
    model = settings.model
    ap.add_argument("--bundle", type=Path, default=model.bundle)
    ap.add_argument(
        "--labels",
        type=Path,
        nargs="+",
        default=[REPO.parent / "shared" / "eval" / "real-lines" / "labels.tsv"],
    )
    ap.add_argument("--decoder", default=model.decoder, choices=["greedy", "beam", "lexicon"])
    ap.add_argument("--alternatives", type=int, default=model.alternatives)
    ap.add_argument("--beam-width", type=int, default=model.beam_width)
    ap.add_argument(
        "--lexicon", type=Path, default=model.lexicon, help="word list for --decoder lexicon"
    )
    ap.add_argument(
        "--min-prob", type=float, help="lowest indexed alternative (default: from config.yaml)"
    )
    ap.add_argument(
        "--shifts",
        type=int,
        nargs="*",
        default=model.test_time_shifts,
        help="test-time shifts (rows; the flag alone: none)",
    )
    ap.add_argument("--lm-weight", type=float, default=model.lm_weight, help="(0: off)")
    ap.add_argument("--lm-bonus", type=float, default=model.lm_bonus)
    ap.add_argument("--line-pass", choices=["greedy", "decoder"], default=model.line_pass)
    ap.add_argument("--misses", action="store_true", help="list the words not found")
    ap.add_argument(
        "--temperature",
        type=float,
        default=1.0,
        help="trial: frame probabilities raised to 1/T and renormalised before decoding "
        "(1: as the product reads)",
    )
    args = ap.parse_args()
    if not (args.bundle / "model.yaml").is_file():
        print(f"skipped: no model bundle at {args.bundle}")
        return 0
    items = []
    for lf in args.labels:
        if not lf.is_file():
            print(f"skipped: {lf} not present")
            return 0
        items += read_labels(lf)

    import cv2

    from recognizer.recognize import load_recognizer

    min_prob = args.min_prob
    if min_prob is None:
        min_prob = settings.index.alternative_min_prob
    lexicon = args.lexicon if args.decoder == "lexicon" else None
    chosen = {
        "decoder": args.decoder,
        "beam_width": args.beam_width,
        "alternatives": args.alternatives,
        "lexicon": lexicon,
        "test_time_shifts": args.shifts,
        "lm_weight": args.lm_weight,
        "lm_bonus": args.lm_bonus,
        "line_pass": args.line_pass,
    }
    rec = load_recognizer(model.model_copy(update=chosen), args.bundle)
    if args.temperature != 1.0:
        soften(rec, args.temperature)
    lm = rec.fusion
    print(
        f"model {rec.version}, decoder {rec.decoder} (beam {rec.beam_width}), "
        f"alternatives >= {min_prob} indexed"
        + (f", language model weight {lm.weight:g} bonus {lm.bonus:g}" if lm else "")
        + f", {rec.line_pass} line pass"
        + (f", test-time shifts {list(rec.shifts)}" if rec.shifts else "")
        + (f", temperature {args.temperature:g}" if args.temperature != 1.0 else "")
    )
    images = [cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p, _ in items]
    missing = [str(p) for (p, _), im in zip(items, images, strict=True) if im is None]
    if missing:
        print(f"cannot read {len(missing)} images, e.g. {missing[0]}")
        return 1
    pages = rec.transcribe_as_lines(images)

    tmp = Path(tempfile.mkdtemp(prefix="inkdex-recall-"))
    indexes = {}
    for name, prob in (("1-best only", 1.01), ("with alternatives", min_prob)):
        ix = index.create_index(tmp / name.replace(" ", "-"))
        with index.writer(ix) as w:
            for i, page in enumerate(pages):
                entry = index.IndexEntry(str(i), items[i][0].name, datetime.now(UTC), "m", [page])
                index.add_document(w, entry, prob)
        indexes[name] = ix

    queries = []
    truth = [set(tokens(text)) for _, text in items]
    written: dict[tuple[str, str], set[str]] = {}  # (term, line) -> the words it comes from
    for i, (_, text) in enumerate(items):
        for term in dict.fromkeys(tokens(text)):
            if sum(ch.isalpha() for ch in term) >= 4:
                queries.append((term, str(i)))
        for word in text.split():
            for term in tokens(word):
                written.setdefault((term, str(i)), set()).add(word.strip(string.punctuation))
    print(f"{len(items)} lines, {len(queries)} queries (words of 4+ letters), top {TOP}")
    configs = [
        ("1-best only", False),
        ("with alternatives", False),
        ("with alternatives + fuzzy", True),
    ]
    for label, fuzzy in configs:
        ix = indexes["with alternatives" if label.startswith("with") else "1-best only"]
        found = found_any = returned = right = 0
        missed = []
        with index.searcher(ix) as s:
            for term, doc in queries:
                hits = index.search(s, term, limit=TOP, fuzzy=fuzzy).hits
                hit = any(d == doc for d, _ in hits)
                found += hit
                if not hit:
                    missed.append((term, doc))
                    every = index.search(s, term, limit=len(items), fuzzy=fuzzy).hits
                    found_any += any(d == doc for d, _ in every)
                returned += len(hits)
                right += sum(term in truth[int(d)] for d, _ in hits)
        found_any += found
        print(
            f"{label:28s} recall {found / max(1, len(queries)):.1%} ({found}/{len(queries)})"
            f"   precision {right / max(1, returned):.1%} ({right}/{returned} hits)"
            f"   any rank {found_any / max(1, len(queries)):.1%}"
        )
        if args.misses and label == "with alternatives":
            print("  not found: " + ", ".join(f"{t} ({items[int(d)][0].name})" for t, d in missed))
            if rec.lexicon is not None:
                unlisted = [
                    t for t, d in missed if not any(w in rec.lexicon for w in written[(t, d)])
                ]
                print(
                    f"  {len(unlisted)} of the {len(missed)} not found are written with no word "
                    f"of the word list: {', '.join(unlisted[:12])}"
                    + (", ..." if len(unlisted) > 12 else "")
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
