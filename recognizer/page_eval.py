"""Page-level evaluation: line and word detection, page CER/WER, time per page.

Reads a folder with `pages.jsonl`, one page per line::

    {"file": "page_000.png", "width": W, "height": H,
     "lines": [{"bbox": [x, y, w, h], "text": "...",
                "words": [{"bbox": [x, y, w, h], "text": "..."}, ...]}, ...]}

(`words` is optional: pages without word boxes count for line metrics only.) This is
the format of the real Hooker letter pages and of `recognizer.synthpage.write_pages`.
A detection matches a truth box when their IoU is at least 0.5, one-to-one (greedy by
IoU). Text metrics need a recognizer; without one the detection metrics are still
reported.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from recognizer.transcript import BBox

log = logging.getLogger(__name__)

IOU_THRESHOLD = 0.5


class PageSetError(ValueError):
    """A page folder or its pages.jsonl is missing or malformed."""


@dataclass(frozen=True)
class TruthWord:
    bbox: BBox
    text: str


@dataclass(frozen=True)
class TruthLine:
    bbox: BBox
    text: str
    words: tuple[TruthWord, ...] = ()


@dataclass(frozen=True)
class PageTruth:
    """One page of an evaluation set: its image file and its true lines in reading order."""

    file: str
    width: int
    height: int
    lines: tuple[TruthLine, ...]
    kind: str = ""

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"file": self.file, "width": self.width, "height": self.height}
        if self.kind:
            d["kind"] = self.kind
        d["lines"] = [
            {
                "bbox": list(line.bbox),
                "text": line.text,
                **(
                    {"words": [{"bbox": list(w.bbox), "text": w.text} for w in line.words]}
                    if line.words
                    else {}
                ),
            }
            for line in self.lines
        ]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PageTruth:
        def bb(v: Any) -> BBox:
            x, y, w, h = (int(round(float(c))) for c in v)
            return (x, y, w, h)

        return cls(
            file=str(d["file"]),
            width=int(d["width"]),
            height=int(d["height"]),
            kind=str(d.get("kind", "")),
            lines=tuple(
                TruthLine(
                    bb(line["bbox"]),
                    str(line.get("text", "")),
                    tuple(
                        TruthWord(bb(w["bbox"]), str(w.get("text", "")))
                        for w in line.get("words", ())
                    ),
                )
                for line in d.get("lines", ())
            ),
        )


def load_page_set(folder: Path) -> list[PageTruth]:
    """The pages listed in `folder/pages.jsonl`."""
    index = Path(folder) / "pages.jsonl"
    if not index.is_file():
        raise PageSetError(f"{folder}: no pages.jsonl (expected one JSON page per line)")
    pages = []
    for n, raw in enumerate(index.read_text(encoding="utf-8").splitlines(), 1):
        if not raw.strip():
            continue
        try:
            pages.append(PageTruth.from_dict(json.loads(raw)))
        except (ValueError, KeyError, TypeError) as exc:
            raise PageSetError(f"{index}:{n}: not a valid page record ({exc})") from exc
    return pages


def iou(a: BBox, b: BBox) -> float:
    """Intersection over union of two (x, y, w, h) boxes."""
    ix = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def match_boxes(
    truth: Sequence[BBox], found: Sequence[BBox], threshold: float = IOU_THRESHOLD
) -> list[tuple[int, int]]:
    """One-to-one matches (truth index, found index) with IoU >= threshold, greedy by IoU."""
    pairs = []
    for i, t in enumerate(truth):
        for j, f in enumerate(found):
            v = iou(t, f)
            if v >= threshold:
                pairs.append((v, i, j))
    pairs.sort(reverse=True)
    used_t, used_f, out = set(), set(), []
    for _, i, j in pairs:
        if i not in used_t and j not in used_f:
            used_t.add(i)
            used_f.add(j)
            out.append((i, j))
    return out


@dataclass(frozen=True)
class Detection:
    """Precision, recall and F1 of one kind of box over a set of pages."""

    truth: int
    found: int
    matched: int

    @property
    def precision(self) -> float:
        return self.matched / self.found if self.found else 0.0

    @property
    def recall(self) -> float:
        return self.matched / self.truth if self.truth else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "truth": self.truth,
            "found": self.found,
            "matched": self.matched,
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
        }


def _add(a: Detection, b: Detection) -> Detection:
    return Detection(a.truth + b.truth, a.found + b.found, a.matched + b.matched)


@dataclass(frozen=True)
class PageResult:
    file: str
    kind: str
    lines: Detection
    words: Detection | None
    seconds: float
    cer: float | None = None
    wer: float | None = None


@dataclass(frozen=True)
class PageReport:
    """Totals over a page set; `to_dict` is the JSON that `inkdex eval --pages` prints."""

    pages: int
    lines: Detection
    words: Detection | None
    seconds_per_page: float
    cer: float | None
    wer: float | None
    model: str | None
    per_kind: dict[str, dict[str, Any]] = field(default_factory=dict)
    per_page: tuple[PageResult, ...] = ()

    def to_dict(self, per_page: bool = False) -> dict[str, Any]:
        d: dict[str, Any] = {
            "pages": self.pages,
            "iou_threshold": IOU_THRESHOLD,
            "lines": self.lines.to_dict(),
            "words": self.words.to_dict() if self.words else None,
            "seconds_per_page": round(self.seconds_per_page, 4),
            "model": self.model,
            "page_cer": None if self.cer is None else round(self.cer, 4),
            "page_wer": None if self.wer is None else round(self.wer, 4),
        }
        if self.per_kind:
            d["per_kind"] = self.per_kind
        if per_page:
            d["per_page"] = [
                {
                    "file": p.file,
                    "lines": p.lines.to_dict(),
                    "words": p.words.to_dict() if p.words else None,
                    "seconds": round(p.seconds, 4),
                    "cer": p.cer,
                    "wer": p.wer,
                }
                for p in self.per_page
            ]
        return d


def _text_errors(ref: str, hyp: str, words: bool) -> tuple[int, int]:
    from rapidfuzz.distance import Levenshtein

    if words:
        r, h = ref.split(), hyp.split()
        return Levenshtein.distance(r, h), len(r)
    r = " ".join(ref.split())
    h = " ".join(hyp.split())
    return Levenshtein.distance(r, h), len(r)


def evaluate_pages(
    folder: Path,
    recognizer: Any | None = None,
    limit: int | None = None,
) -> PageReport:
    """Segment (and, given a recognizer, transcribe) every page of `folder` against its truth.

    Page CER/WER compare the whole page text in reading order (lines joined by spaces)
    with the truth in its order, so a wrong reading order counts as errors.
    """
    from recognizer.preprocess import load_pages
    from recognizer.segment import segment_page

    folder = Path(folder)
    truths = load_page_set(folder)[:limit]
    results: list[PageResult] = []
    char_err = char_tot = word_err = word_tot = 0
    for truth in truths:
        image = load_pages(folder / truth.file, max_pixels=200_000_000)[0]
        t0 = time.perf_counter()
        if recognizer is not None:
            from recognizer.page import transcribe_pages

            transcript = transcribe_pages(recognizer, [image])[0]
            found_lines = [line.bbox for line in transcript.lines]
            found_words = [w.bbox for line in transcript.lines for w in line.words]
            text = " ".join(line.text for line in transcript.lines)
        else:
            segs = segment_page(image)
            found_lines = [s.bbox for s in segs]
            found_words = [w for s in segs for w in s.words]
            text = None
        seconds = time.perf_counter() - t0
        t_lines = [line.bbox for line in truth.lines]
        lines = Detection(len(t_lines), len(found_lines), len(match_boxes(t_lines, found_lines)))
        t_words = [w.bbox for line in truth.lines for w in line.words]
        words = None
        if t_words:
            words = Detection(
                len(t_words), len(found_words), len(match_boxes(t_words, found_words))
            )
        cer = wer = None
        if text is not None:
            ref = " ".join(line.text for line in truth.lines)
            ce, ct = _text_errors(ref, text, words=False)
            we, wt = _text_errors(ref, text, words=True)
            char_err, char_tot, word_err, word_tot = (
                char_err + ce,
                char_tot + ct,
                word_err + we,
                word_tot + wt,
            )
            cer, wer = ce / max(1, ct), we / max(1, wt)
        results.append(PageResult(truth.file, truth.kind, lines, words, seconds, cer, wer))
        log.info(
            "%s: lines %d/%d/%d words %s %.2fs",
            truth.file,
            lines.matched,
            lines.truth,
            lines.found,
            f"{words.matched}/{words.truth}/{words.found}" if words else "-",
            seconds,
        )
    return _report(results, recognizer, char_err, char_tot, word_err, word_tot)


def _sum(dets: list[Detection | None]) -> Detection | None:
    ds = [d for d in dets if d is not None]
    if not ds:
        return None
    out = Detection(0, 0, 0)
    for d in ds:
        out = _add(out, d)
    return out


def _report(
    results: list[PageResult], recognizer: Any, ce: int, ct: int, we: int, wt: int
) -> PageReport:
    per_kind: dict[str, dict[str, Any]] = {}
    kinds = sorted({r.kind for r in results if r.kind})
    for k in kinds:
        rs = [r for r in results if r.kind == k]
        lines = _sum([r.lines for r in rs])
        words = _sum([r.words for r in rs])
        per_kind[k] = {
            "pages": len(rs),
            "lines": lines.to_dict() if lines else None,
            "words": words.to_dict() if words else None,
        }
    lines = _sum([r.lines for r in results]) or Detection(0, 0, 0)
    has_text = recognizer is not None and bool(results)
    return PageReport(
        pages=len(results),
        lines=lines,
        words=_sum([r.words for r in results]),
        seconds_per_page=float(np.mean([r.seconds for r in results])) if results else 0.0,
        cer=ce / max(1, ct) if has_text else None,
        wer=we / max(1, wt) if has_text else None,
        model=getattr(recognizer, "version", None) if recognizer is not None else None,
        per_kind=per_kind,
        per_page=tuple(results),
    )


def report_json(report: PageReport, per_page: bool = False) -> str:
    """The report as indented JSON."""
    return json.dumps(report.to_dict(per_page=per_page), indent=2)


def run_page_eval(args: Any, settings: Any) -> int:
    """`inkdex eval --pages DIR`: detection F1s, page CER/WER and time per page, as JSON.

    When the model bundle cannot be loaded the detection metrics are still reported
    (with a note on stderr) and the text metrics are null.
    """
    import sys

    recognizer = None
    try:
        from recognizer.recognize import load_recognizer

        bundle = getattr(args, "model", None)
        if bundle:
            from recognizer.recognize import _bundle_path

            recognizer = load_recognizer(settings.model, _bundle_path(bundle, settings))
        else:
            recognizer = load_recognizer(settings.model)
    except Exception as exc:  # no model yet: detection metrics still mean something
        print(
            f"inkdex eval: no recognizer ({exc}); reporting line/word detection only",
            file=sys.stderr,
        )
    limit = getattr(args, "limit", None)
    try:
        report = evaluate_pages(Path(args.pages), recognizer, limit=limit)
    except (PageSetError, ValueError, OSError) as exc:
        print(f"inkdex eval: {exc}", file=sys.stderr)
        return 2
    per_page = bool(getattr(args, "report_lines", False))
    if getattr(args, "json", False):
        print(json.dumps(report.to_dict(per_page=per_page)))
    else:
        print(report_json(report, per_page=per_page))
    return 0


__all__ = [
    "Detection",
    "PageReport",
    "PageResult",
    "PageSetError",
    "PageTruth",
    "TruthLine",
    "TruthWord",
    "evaluate_pages",
    "iou",
    "load_page_set",
    "match_boxes",
    "report_json",
    "run_page_eval",
]
