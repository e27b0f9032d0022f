"""Recognition accuracy: character and word error rates per line and over a set.

CER = character edits (Levenshtein) / reference characters; WER = the same over
whitespace-separated words. Both texts have their whitespace normalised first
(runs of spaces become one, ends stripped), so spacing noise is not counted.
Set-level figures are corpus rates (sum of edits / sum of reference lengths),
not means of per-line rates, so long lines weigh more.

`evaluate` runs a recognizer over labelled line images; `run_eval` is the
`inkdex eval` command.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from rapidfuzz.distance import Levenshtein

from recognizer.data import DataError, LabeledLine

log = logging.getLogger(__name__)


class EvalError(ValueError):
    """An evaluation cannot run (no lines, unreadable image, no model); the message says why."""


class LineRecognizer(Protocol):
    """What `evaluate` needs: `recognizer.recognize.Recognizer` or anything like it."""

    def recognize_lines(self, crops: Sequence[np.ndarray]) -> Sequence[Any]: ...


def _norm(text: str) -> str:
    return " ".join(text.split())


def char_edits(ref: str, hyp: str) -> int:
    """Levenshtein distance between the whitespace-normalised texts, in characters."""
    return Levenshtein.distance(_norm(ref), _norm(hyp))


def word_edits(ref: str, hyp: str) -> int:
    """Levenshtein distance between the texts' word sequences, in words."""
    return Levenshtein.distance(ref.split(), hyp.split())


def cer(ref: str, hyp: str) -> float:
    """Character error rate of `hyp` against `ref` (0 is perfect; can exceed 1).

    An empty reference gives 0 for an empty hypothesis and 1 otherwise.
    """
    n = len(_norm(ref))
    edits = char_edits(ref, hyp)
    return edits / n if n else float(edits > 0)


def wer(ref: str, hyp: str) -> float:
    """Word error rate of `hyp` against `ref` over whitespace-separated words."""
    n = len(ref.split())
    edits = word_edits(ref, hyp)
    return edits / n if n else float(edits > 0)


@dataclass(frozen=True)
class LineScore:
    """One evaluated line: reference, reading, and its edit counts."""

    path: str
    ref: str
    hyp: str
    confidence: float | None
    char_edits: int
    ref_chars: int
    word_edits: int
    ref_words: int

    @property
    def cer(self) -> float:
        return self.char_edits / self.ref_chars if self.ref_chars else float(self.char_edits > 0)

    @property
    def wer(self) -> float:
        return self.word_edits / self.ref_words if self.ref_words else float(self.word_edits > 0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "ref": self.ref,
            "hyp": self.hyp,
            "cer": round(self.cer, 4),
            "wer": round(self.wer, 4),
            "confidence": None if self.confidence is None else round(self.confidence, 4),
        }


def score_line(ref: str, hyp: str, path: str = "", confidence: float | None = None) -> LineScore:
    """Edit counts of one reading against its reference."""
    return LineScore(
        path=path,
        ref=ref,
        hyp=hyp,
        confidence=confidence,
        char_edits=char_edits(ref, hyp),
        ref_chars=len(_norm(ref)),
        word_edits=word_edits(ref, hyp),
        ref_words=len(ref.split()),
    )


@dataclass(frozen=True)
class EvalReport:
    """Corpus-level CER/WER of a set of lines, with the per-line scores."""

    model: str
    decoder: str
    lines: tuple[LineScore, ...]
    seconds: float

    @property
    def char_edits(self) -> int:
        return sum(x.char_edits for x in self.lines)

    @property
    def ref_chars(self) -> int:
        return sum(x.ref_chars for x in self.lines)

    @property
    def word_edits(self) -> int:
        return sum(x.word_edits for x in self.lines)

    @property
    def ref_words(self) -> int:
        return sum(x.ref_words for x in self.lines)

    @property
    def cer(self) -> float:
        return self.char_edits / self.ref_chars if self.ref_chars else float(self.char_edits > 0)

    @property
    def wer(self) -> float:
        return self.word_edits / self.ref_words if self.ref_words else float(self.word_edits > 0)

    def to_dict(self, per_line: bool = False) -> dict[str, Any]:
        """The JSON object `inkdex eval` prints."""
        out: dict[str, Any] = {
            "cer": round(self.cer, 4),
            "wer": round(self.wer, 4),
            "lines": len(self.lines),
            "chars": self.ref_chars,
            "words": self.ref_words,
            "decoder": self.decoder,
            "model": self.model,
            "seconds": round(self.seconds, 3),
        }
        if per_line:
            out["per_line"] = [x.to_dict() for x in self.lines]
        return out


def report_from_texts(
    refs: Sequence[str], hyps: Sequence[str], model: str = "", decoder: str = ""
) -> EvalReport:
    """Score readings already made (no recognizer); handy for comparing decoders offline."""
    if len(refs) != len(hyps):
        raise EvalError(f"{len(refs)} references but {len(hyps)} readings")
    lines = tuple(score_line(r, h) for r, h in zip(refs, hyps, strict=True))
    return EvalReport(model, decoder, lines, 0.0)


def _load_gray(path: Path) -> np.ndarray:
    import cv2

    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if image is None or image.size == 0:
        why = "file not found" if not path.exists() else "not a readable image"
        raise EvalError(f"cannot read line image {path}: {why}")
    return image


def evaluate(
    recognizer: LineRecognizer,
    lines: Sequence[LabeledLine],
    decoder: str | None = None,
    batch_size: int = 32,
    progress: bool = False,
) -> EvalReport:
    """Recognise every line image (grayscale, in batches) and score it against its label.

    `decoder` is only recorded in the report (the recognizer was loaded with it);
    without it, the recognizer's own `decoder` attribute is used when it has one.
    `seconds` covers image loading and recognition.
    """
    if not lines:
        raise EvalError("no labelled lines to evaluate")
    if batch_size < 1:
        raise EvalError(f"batch_size must be >= 1, got {batch_size}")
    decoder = decoder or str(getattr(recognizer, "decoder", "") or "")
    model = str(getattr(recognizer, "version", "") or "")
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(lines), unit="line", desc="eval", file=sys.stderr)
    scores: list[LineScore] = []
    t0 = time.perf_counter()
    try:
        for start in range(0, len(lines), batch_size):
            batch = lines[start : start + batch_size]
            crops = [_load_gray(Path(x.path)) for x in batch]
            results = recognizer.recognize_lines(crops)
            if len(results) != len(batch):
                raise EvalError(
                    f"the recognizer returned {len(results)} readings for {len(batch)} lines"
                )
            for item, res in zip(batch, results, strict=True):
                conf = getattr(res, "confidence", None)
                scores.append(
                    score_line(
                        item.text,
                        str(res.text),
                        str(item.path),
                        None if conf is None else float(conf),
                    )
                )
            if bar is not None:
                bar.update(len(batch))
    finally:
        if bar is not None:
            bar.close()
    seconds = time.perf_counter() - t0
    report = EvalReport(model, decoder, tuple(scores), seconds)
    log.info(
        "evaluated %d lines: CER %.4f, WER %.4f in %.1f s",
        len(scores),
        report.cer,
        report.wer,
        seconds,
    )
    return report


# -- the `inkdex eval` command ----------------------------------------------------------------


def load_labeled_lines(args: argparse.Namespace) -> list[LabeledLine]:
    """The labelled lines named by the command's source options."""
    chosen = [
        name for name in ("labels", "iam_lines", "iam_words", "folder") if getattr(args, name, None)
    ]
    if len(chosen) != 1:
        raise EvalError("give exactly one of --labels, --iam-lines, --iam-words or --folder")
    from recognizer import data

    if args.labels:
        return data.load_tsv(Path(args.labels))
    if args.folder:
        return data.load_label_folder(Path(args.folder))
    if not args.images:
        raise EvalError("--iam-lines and --iam-words need --images DIR (IAM's image folder)")
    if args.iam_lines:
        return data.load_iam_lines(Path(args.iam_lines), Path(args.images), args.skip_err)
    return data.load_iam_words(Path(args.iam_words), Path(args.images), args.skip_err)


def _bundle_path(arg: str | None, settings: Any) -> Path:
    if not arg:
        return Path(settings.model.bundle)
    p = Path(arg).expanduser()
    if p.exists() or p.is_absolute():
        return p
    named = Path(settings.model.models_dir) / arg
    return named if named.exists() else p


def run_eval(args: argparse.Namespace, settings: Any) -> int:
    """`inkdex eval`: print CER/WER of a model bundle on labelled lines as JSON."""
    try:
        lines = load_labeled_lines(args)
        if args.limit is not None:
            if args.limit < 1:
                raise EvalError(f"--limit must be >= 1, got {args.limit}")
            lines = lines[: args.limit]
        if not lines:
            raise EvalError("the labels hold no lines")
        m = settings.model
        if m.decoder == "lexicon" and m.lexicon is None:
            raise EvalError("the lexicon decoder needs a word list: --lexicon FILE")
        bundle = _bundle_path(args.model, settings)
        try:
            from recognizer.recognize import load_recognizer
        except ImportError as exc:
            raise EvalError(f"no recognizer is available in this installation ({exc})") from None
        recognizer = load_recognizer(m, bundle)
        report = evaluate(recognizer, lines, m.decoder, m.batch_size, progress=args.progress)
    except (EvalError, DataError) as exc:
        print(f"inkdex eval: {exc}", file=sys.stderr)
        return 2
    except (ValueError, OSError) as exc:  # bundle, charset or lexicon problems
        print(f"inkdex eval: {exc}", file=sys.stderr)
        return 2
    out = report.to_dict(per_line=args.report_lines)
    if not out["model"]:
        out["model"] = bundle.name
    print(json.dumps(out, ensure_ascii=False, indent=None if args.json else 2))
    return 0
