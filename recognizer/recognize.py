"""The Recognizer: line crops or page images -> readings and `PageTranscript`s.

It loads a bundle, normalises crops the way the bundle says, runs the CRNN on
batches of lines of similar width, decodes the lines with `recognizer.decode.read_lines`
and maps every word's output frames back to pixel columns of its crop. It is safe to
share between threads (model calls are serialised).
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from recognizer.bundle import LINE_PASSES, Bundle, BundleError, load_bundle
from recognizer.errors import RecognizerError
from recognizer.lineimage import LineImageError, frame_to_x, line_scale, normalize_line, to_gray
from recognizer.shifts import check_shifts
from recognizer.transcript import Line, PageTranscript, Word

log = logging.getLogger(__name__)

# Batches are padded to a multiple of this many columns so that few distinct shapes
# reach the compiled predict function.
_WIDTH_QUANTUM = 32

# Floor of a probability before its logarithm is taken.
_TINY = 1e-8


@dataclass(frozen=True)
class WordResult:
    """One word of a line: the decoder's reading plus its x-range in crop pixels."""

    text: str
    confidence: float
    x0: int
    x1: int
    alternatives: tuple[tuple[str, float], ...]
    frame_start: int
    frame_end: int


@dataclass(frozen=True)
class LineResult:
    """A recognised line crop: text, confidence and words with crop x-ranges."""

    text: str
    confidence: float
    words: tuple[WordResult, ...]

    @classmethod
    def empty(cls) -> LineResult:
        return cls("", 0.0, ())


def _compile_predict(bundle: Bundle, runtime: str = "tensorflow") -> tuple[Any, str]:
    """``images (B x H x W x 1) -> probs (B x T x C)`` compiled once for every batch shape,
    and the runtime that runs it (``onnx`` or ``tensorflow``).

    On TensorFlow the function is traced a single time with batch and width left open;
    Keras' own `predict_on_batch` would retrace for the first few shapes it meets, which
    costs seconds each on a CPU. With `runtime` ``onnx``, the bundle's ONNX export run by
    ONNX Runtime (`recognizer.export`): no TensorFlow is imported. ``auto`` takes the
    export when the bundle has a current one, else TensorFlow.
    """
    if runtime in ("auto", "onnx"):
        from recognizer.export import load_onnx

        try:
            return load_onnx(bundle), "onnx"
        except BundleError as exc:
            if runtime == "onnx":
                raise
            log.warning("%s; reading with TensorFlow", exc)
    import keras

    from recognizer.model import build_predictor

    predictor = build_predictor(bundle.build_model())
    if keras.backend.backend() != "tensorflow":
        return predictor.predict_on_batch, keras.backend.backend()
    import tensorflow as tf

    spec = tf.TensorSpec([None, bundle.height, None, 1], tf.float32)
    fn = tf.function(lambda x: predictor(x, training=False), input_signature=[spec])
    fn(np.zeros((1, bundle.height, 64, 1), np.float32))  # trace now, not on the first page
    return fn, "tensorflow"


# Cost of one network call on B lines padded to W columns, a + W * (b + c * B), in
# units of c: a fixed cost per call and a per-column cost (the LSTMs step through the
# columns one by one whatever the batch) besides the per-line-column work. Fitted
# (least squares) to timings of inkdex-hw-0.3 on a 2-core CPU, B 1-32 and W 256-1024:
# a = 2.6 ms, b = 0.014 ms per column, c = 0.0028 ms per line-column.
_CALL_COST = 900.0
_COLUMN_COST = 5.0


def shift_rows(x: np.ndarray, rows: int) -> np.ndarray:
    """A batch ``B x H x W x 1`` moved down by `rows` (up when negative), background-filled."""
    out = np.zeros_like(x)
    if rows > 0:
        out[:, rows:] = x[:, :-rows]
    elif rows < 0:
        out[:, :rows] = x[:, -rows:]
    else:
        out[:] = x
    return out


def plan_batches(widths: Sequence[int], batch_size: int) -> list[tuple[int, int]]:
    """Split lines sorted by padded width into batches ``[lo, hi)`` of at most `batch_size`.

    Each batch is padded to its widest line, so a few very long lines in a batch of
    short ones make every line pay for their width, while more, smaller batches pay
    the per-call and per-column costs more often. The split with the least total cost
    (the model above) is found by dynamic programming over the sorted widths.
    """
    n = len(widths)
    best = [0.0] + [float("inf")] * n  # best[i]: cheapest way to run the first i lines
    cut = [0] * (n + 1)
    for hi in range(1, n + 1):
        w = widths[hi - 1]  # the widest line of any batch ending here
        for lo in range(max(0, hi - batch_size), hi):
            cost = best[lo] + _CALL_COST + w * (_COLUMN_COST + (hi - lo))
            if cost < best[hi]:
                best[hi], cut[hi] = cost, lo
    batches = []
    hi = n
    while hi > 0:
        batches.append((cut[hi], hi))
        hi = cut[hi]
    return batches[::-1]


class Recognizer:
    """A loaded model bundle plus decoder settings; see `Recognizer.load`."""

    def __init__(
        self,
        bundle: Bundle,
        model: Any,
        decoder: str = "beam",
        beam_width: int = 16,
        alternatives: int = 5,
        lexicon: Any = None,
        batch_size: int = 32,
        spell_correction: bool = False,
        shifts: Sequence[int] = (),
        fusion: Any = None,
        line_pass: str = "greedy",
    ) -> None:
        if line_pass not in LINE_PASSES:
            raise RecognizerError(f"unknown line pass {line_pass!r}: use greedy or decoder")
        if decoder not in ("greedy", "beam", "lexicon"):
            raise RecognizerError(f"unknown decoder {decoder!r}: use greedy, beam or lexicon")
        if decoder == "lexicon" and lexicon is None:
            raise RecognizerError("the lexicon decoder needs a word list (model.lexicon)")
        if batch_size < 1 or beam_width < 1 or alternatives < 0:
            raise RecognizerError("batch_size and beam_width must be >= 1, alternatives >= 0")
        self.bundle = bundle
        self.decoder = decoder
        self.beam_width = beam_width
        self.alternatives = alternatives
        self.lexicon = lexicon
        self.batch_size = batch_size
        # Test-time shifts: each batch is also read moved up/down by these many rows and
        # the per-frame probabilities are averaged (geometric mean) over all readings.
        self.shifts = check_shifts(shifts)
        # The character language model the beam decoders fuse in (a charlm.Fusion), or None.
        self.fusion = fusion
        self.line_pass = line_pass
        self.speller = None
        if spell_correction:
            if lexicon is None:
                raise RecognizerError("spelling correction needs a word list (model.lexicon)")
            from recognizer.spelling import SpellCorrector

            self.speller = SpellCorrector(lexicon)
        self._model = model
        # What runs the network (`Recognizer.load`): onnx, tensorflow (or another Keras
        # backend's name); None for a model handed in.
        self.runtime: str | None = None
        self._lock = threading.Lock()
        self._pool: Any = None  # a recognizer.parallel.DecodePool, see start_decode_processes

    @classmethod
    def load(
        cls,
        bundle_dir: Path,
        decoder: str | None = None,
        beam_width: int | None = None,
        alternatives: int | None = None,
        lexicon: Path | None = None,
        batch_size: int = 32,
        spell_correction: bool = False,
        capital_prior: tuple[float, float] | None = None,
        shifts: Sequence[int] = (),
        lm_weight: float | None = None,
        lm_bonus: float | None = None,
        line_pass: str | None = None,
        decode_processes: int = 0,
        runtime: str = "tensorflow",
    ) -> Recognizer:
        """Load the bundle at `bundle_dir` (raises `BundleError` when it is missing or bad).

        `decoder`, `beam_width` and `alternatives` left at None take the bundle's own
        defaults (``decoder`` in its model.yaml). `shifts` (rows, e.g. ``(-2, 2)``) reads
        every line once more per shift and averages the readings: fewer errors, slower.
        `lm_weight`, `lm_bonus` and `line_pass` left at None also take the bundle's;
        a weight above 0 needs a bundle with a character language model.
        `decode_processes` helper processes read a share of the lines (0: none).
        `runtime` runs the network with Keras on TensorFlow, or ``onnx``: the bundle's
        ONNX export with ONNX Runtime (`recognizer.export`), or ``auto``: the export when
        the bundle has a current one, else TensorFlow.
        """
        from recognizer.export import RUNTIMES

        if runtime not in RUNTIMES:
            raise RecognizerError(f"unknown runtime {runtime!r}: use auto, onnx or tensorflow")
        shifts = check_shifts(shifts)
        t0 = time.monotonic()
        bundle = load_bundle(Path(bundle_dir))
        defaults = bundle.decoder
        decoder = defaults.decoder if decoder is None else decoder
        beam_width = defaults.beam_width if beam_width is None else beam_width
        alternatives = defaults.alternatives if alternatives is None else alternatives
        fusion = _load_fusion(
            bundle,
            defaults.lm_weight if lm_weight is None else lm_weight,
            defaults.lm_bonus if lm_bonus is None else lm_bonus,
        )
        line_pass = defaults.line_pass if line_pass is None else line_pass
        lex = None
        if lexicon is not None:
            from recognizer.lexicon import Lexicon, LexiconError

            try:
                lex = Lexicon.from_file(Path(lexicon), capital_logp=capital_prior)
            except (LexiconError, OSError) as exc:
                hint = (
                    "; `inkdex lexicon` writes the English word list"
                    if not Path(lexicon).exists()
                    else ""
                )
                raise RecognizerError(f"cannot load lexicon {lexicon}: {exc}{hint}") from exc
        rec = cls(
            bundle,
            None,
            decoder,
            beam_width,
            alternatives,
            lex,
            batch_size,
            spell_correction,
            shifts,
            fusion,
            line_pass,
        )
        # The helpers start while the network is built (they import no TensorFlow).
        rec.start_decode_processes(decode_processes)
        try:
            rec._model, rec.runtime = _compile_predict(bundle, runtime)
        except BaseException:
            rec.close()  # the helpers of a recognizer that could not load
            raise
        log.info("loaded model %s in %.1f s", rec.version, time.monotonic() - t0)
        return rec

    @property
    def version(self) -> str:
        """The bundle folder name, e.g. ``inkdex-hw-0.1``; recorded in every transcript."""
        return self.bundle.path.name

    @property
    def height(self) -> int:
        return self.bundle.height

    @property
    def downsample(self) -> int:
        return self.bundle.config.downsample

    # ------------------------------------------------------------------ model

    def probabilities(self, crops: Sequence[np.ndarray]) -> list[np.ndarray | None]:
        """Per-crop ``T x C`` softmax outputs (None for a crop with no pixels)."""
        norm = self.bundle.normalization
        images: list[np.ndarray | None] = []
        for crop in crops:
            try:
                images.append(normalize_line(crop, norm.height, norm.min_width))
            except LineImageError as exc:
                log.warning("line crop skipped: %s", exc)
                images.append(None)
        out: list[np.ndarray | None] = [None] * len(images)
        valid = [i for i, im in enumerate(images) if im is not None]
        valid.sort(key=lambda i: images[i].shape[1])
        widths = [-(-images[i].shape[1] // _WIDTH_QUANTUM) * _WIDTH_QUANTUM for i in valid]
        for lo, hi in plan_batches(widths, self.batch_size):
            idx = valid[lo:hi]
            width = widths[hi - 1]
            x = np.zeros((len(idx), norm.height, width, 1), np.float32)
            for j, i in enumerate(idx):
                x[j, :, : images[i].shape[1], 0] = images[i]
            with self._lock:
                probs = self._predict(x)
            for j, i in enumerate(idx):
                frames = self.bundle.config.output_length(images[i].shape[1])
                out[i] = probs[j, :frames]
        return out

    def _predict(self, x: np.ndarray) -> np.ndarray:
        """The model's ``B x T x C`` probabilities, averaged over the test-time shifts."""
        if not self.shifts:
            return np.asarray(self._model(x))
        logp = np.log(np.maximum(np.asarray(self._model(x)), _TINY))
        for rows in self.shifts:
            logp += np.log(np.maximum(np.asarray(self._model(shift_rows(x, rows))), _TINY))
        p = np.exp(logp / (1 + len(self.shifts)))
        return (p / p.sum(axis=-1, keepdims=True)).astype(np.float32)

    # ---------------------------------------------------------------- decoding

    def recognize_lines(self, crops: Sequence[np.ndarray]) -> list[LineResult]:
        """Read grayscale (or BGR) line crops; word x-ranges are in crop pixels."""
        from recognizer.decode import read_lines

        probs = self.probabilities(crops)
        readable = [p for p in probs if p is not None]
        if self._pool is not None:  # reads in this process too once its helpers are gone
            readings = iter(self._pool.read_lines(readable))
        else:
            readings = iter(read_lines(readable, self.bundle.charset, **self.read_options()))
        results = []
        for crop, p in zip(crops, probs, strict=True):
            if p is None:
                results.append(LineResult.empty())
                continue
            reading = next(readings)
            h, w = crop.shape[:2]
            scale = line_scale(h, self.height)
            words = []
            for wr in reading.words:
                x0 = frame_to_x(wr.frame_start, scale, self.downsample)
                x1 = frame_to_x(wr.frame_end + 1, scale, self.downsample)
                x0i = min(max(math.floor(x0), 0), max(0, w - 1))
                x1i = min(max(math.ceil(x1), x0i + 1), w)
                words.append(
                    WordResult(
                        wr.text,
                        float(wr.confidence),
                        x0i,
                        x1i,
                        tuple((t, float(p)) for t, p in wr.alternatives),
                        wr.frame_start,
                        wr.frame_end,
                    )
                )
            line = LineResult(reading.text, float(reading.confidence), tuple(words))
            results.append(self._correct(line) if self.speller is not None else line)
        return results

    def read_options(self) -> dict[str, Any]:
        """The keyword arguments of `decode.read_lines` these settings read lines with."""
        return {
            "decoder": self.decoder,
            "beam_width": self.beam_width,
            "alternatives": self.alternatives,
            "lexicon": self.lexicon,
            "line_pass": self.line_pass,
            "fusion": self.fusion if self.decoder != "greedy" else None,
        }

    def start_decode_processes(self, processes: int) -> None:
        """Read a share of every batch of lines in `processes` helper processes
        (`recognizer.parallel`; the greedy decoder needs none)."""
        if processes < 1 or self.decoder == "greedy" or self._pool is not None:
            return
        from recognizer.parallel import DecodePool

        self._pool = DecodePool(self.bundle.charset, self.read_options(), processes)
        weakref.finalize(self, self._pool.close)

    def segment_pages(self, images: Sequence[np.ndarray]) -> list[Any]:
        """`page.segment_prepared(images)`, a share of the pages in the helper processes
        when there are any."""
        if self._pool is not None:
            return self._pool.segment_pages(images)
        from recognizer.page import segment_prepared

        return segment_prepared(images)

    def close(self) -> None:
        """Stop the helper processes, if any (the recognizer still reads, in-process)."""
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def _correct(self, line: LineResult) -> LineResult:
        """Spelling-corrected words; each word's reading stays among its alternatives."""
        words = []
        for w in line.words:
            fixed = self.speller.correct(w.text)  # type: ignore[union-attr]
            if fixed.changed:
                alts = ((fixed.text, w.confidence), *w.alternatives)
                w = replace(w, text=fixed.text, alternatives=alts)
            words.append(w)
        # The words are the line's space-separated tokens, in order.
        tokens = line.text.split(" ")
        if sum(1 for tok in tokens if tok) != len(words):
            return LineResult(line.text, line.confidence, tuple(words))
        it = iter(words)
        text = " ".join(next(it).text if tok else tok for tok in tokens)
        return LineResult(text, line.confidence, tuple(words))

    # ------------------------------------------------------------------- pages

    def transcribe_pages(self, images: Sequence[np.ndarray]) -> list[PageTranscript]:
        """Transcribe page images (BGR or gray uint8), batching lines across pages.

        Pages go through line segmentation (`recognizer.page.transcribe_pages`) when that
        stage is installed; otherwise each image is read as one text line.
        """
        try:
            from recognizer.page import transcribe_pages as segment_and_read
        except ImportError:
            segment_and_read = None
        if segment_and_read is not None:
            return segment_and_read(self, images)
        return self.transcribe_as_lines(images)

    def read_segmented(
        self, images: Sequence[np.ndarray], segmented: Sequence[tuple[Any, Any]]
    ) -> list[PageTranscript]:
        """`transcribe_pages` of pages already segmented by `page.segment_prepared`."""
        from recognizer.page import transcribe_pages as segment_and_read

        return segment_and_read(self, images, segmented)

    def transcribe_as_lines(self, images: Sequence[np.ndarray]) -> list[PageTranscript]:
        """Read each image as a single text line (for line crops and word snippets)."""
        grays = [to_gray(im) if im.size else im for im in images]
        pages = []
        for gray, res in zip(grays, self.recognize_lines(grays), strict=True):
            h, w = gray.shape[:2]
            lines: tuple[Line, ...] = ()
            if res.text.strip():
                words = tuple(
                    Word((x.x0, 0, x.x1 - x.x0, h), x.text, x.confidence, x.alternatives)
                    for x in res.words
                )
                lines = (Line((0, 0, w, h), res.text, res.confidence, words),)
            pages.append(PageTranscript(self.version, w, h, lines))
        return pages

    def transcribe(self, image: np.ndarray) -> PageTranscript:
        """Transcribe one page image."""
        return self.transcribe_pages([image])[0]


def _load_fusion(bundle: Bundle, weight: float, bonus: float) -> Any:
    """The bundle's language model with its decoder weights; None at weight 0."""
    from recognizer.charlm import CharLM, CharLMError, Fusion, check_weight

    try:
        if check_weight(weight) == 0:
            return None
        if bundle.charlm_path is None:
            raise CharLMError(
                f"bundle {bundle.path} has no character language model "
                "(`inkdex charlm BUNDLE` builds one); set model.lm_weight to 0"
            )
        return Fusion(CharLM.load(bundle.charlm_path), weight, bonus)
    except CharLMError as exc:
        raise RecognizerError(str(exc)) from exc


def load_recognizer(model_settings: Any, bundle: Path | None = None) -> Recognizer:
    """A `Recognizer` from the ``model`` section of `inkdex.settings.Settings`."""
    return Recognizer.load(
        Path(bundle) if bundle is not None else Path(model_settings.bundle),
        decoder=model_settings.decoder,
        beam_width=model_settings.beam_width,
        alternatives=model_settings.alternatives,
        lexicon=model_settings.lexicon,
        batch_size=model_settings.batch_size,
        spell_correction=model_settings.spell_correction,
        capital_prior=model_settings.capital_prior,
        shifts=model_settings.test_time_shifts,
        lm_weight=model_settings.lm_weight,
        lm_bonus=model_settings.lm_bonus,
        line_pass=model_settings.line_pass,
        decode_processes=decode_processes(model_settings.decode_processes),
        runtime=model_settings.runtime,
    )


def decode_processes(setting: int | None) -> int:
    """Helper processes for reading lines: `setting`, or when it is None one fewer than
    the cores this process may use, at most 3."""
    if setting is not None:
        return setting
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(0, min(3, cores - 1))


def _bundle_path(arg: str | None, settings: Any) -> Path:
    """``--model``: a bundle folder, or a bundle name inside ``model.models_dir``."""
    if not arg:
        return Path(settings.model.bundle)
    p = Path(arg).expanduser()
    if p.exists() or p.is_absolute():
        return p
    named = Path(settings.model.models_dir) / arg
    return named if named.exists() else p


def _load_images(path: Path, max_pixels: int) -> list[np.ndarray]:
    """Pages of an image file (PDF/TIFF give several); raises ValueError with the reason."""
    try:
        from recognizer.preprocess import load_pages
    except ImportError:
        load_pages = None
    if load_pages is not None:
        return load_pages(path, max_pixels)
    import cv2

    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"{path}: not a readable image")
    return [image]


def run_transcribe(args: Any, settings: Any) -> int:
    """`inkdex transcribe IMAGE...`: print each image's text, or PageTranscript JSON lines.

    An unreadable image is reported on stderr and skipped; the exit status is then 1.
    """
    import json
    import sys

    from recognizer.bundle import BundleError

    m = settings.model
    try:
        recognizer = load_recognizer(m, _bundle_path(args.model, settings))
    except (BundleError, RecognizerError) as exc:
        print(f"inkdex transcribe: {exc}", file=sys.stderr)
        return 2
    failed = 0
    overlays = 0
    many = len(args.images) > 1
    for name in args.images:
        path = Path(name)
        try:
            pages = _load_images(path, settings.upload.max_pixels)
        except (ValueError, OSError) as exc:
            print(f"inkdex transcribe: {exc}", file=sys.stderr)
            failed += 1
            continue
        if args.line:
            transcripts = recognizer.transcribe_as_lines(pages)
        else:
            transcripts = recognizer.transcribe_pages(pages)
        if getattr(args, "overlay", None):
            from recognizer.page import overlay_path, save_overlay

            for page, t in zip(pages, transcripts, strict=True):
                multi = many or len(transcripts) > 1
                save_overlay(overlay_path(args.overlay, overlays, 2 if multi else 1), page, t)
                overlays += 1
        overlay = getattr(args, "overlay", None)
        if overlay is not None:
            from recognizer.page import overlay_path, save_overlay

            base = Path(overlay)
            if many:  # one overlay per input image: OUT-<image name>.png
                base = base.with_name(f"{base.stem}-{path.stem}{base.suffix or '.png'}")
            for n, (image, t) in enumerate(zip(pages, transcripts, strict=True)):
                try:
                    save_overlay(overlay_path(base, n, len(pages)), image, t)
                except OSError as exc:
                    print(f"inkdex transcribe: {exc}", file=sys.stderr)
                    failed += 1
        for n, t in enumerate(transcripts):
            if args.json:
                d = t.to_dict()
                d["path"] = str(path)
                if len(transcripts) > 1:
                    d["page"] = n
                print(json.dumps(d, ensure_ascii=False))
            else:
                if many or len(transcripts) > 1:
                    suffix = f" (page {n + 1})" if len(transcripts) > 1 else ""
                    print(f"==> {path}{suffix} <==")
                print(t.text)
            sys.stdout.flush()
    return 1 if failed else 0
