"""`inkdex train`: train a CRNN+CTC bundle on synthetic handwriting lines mixed with real ones.

Synthetic lines are rendered on the fly (`recognizer.synth.LineSynth`) in worker
processes, so every step sees new text in a new hand; labelled real lines
(``--real TSV[:WEIGHT]``) are mixed in by weight. Batches are bucketed by width.
Each epoch ends with a greedy-decoding CER on a fixed set of synthetic lines in
fonts held out from training (and on ``--val-real`` when given); that CER picks the
best checkpoint and drives early stopping. ``--resume`` continues an interrupted run
from its last epoch with the optimizer state. The result is a bundle in ``--out``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import math
import multiprocessing
import os
import platform
import shutil
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from recognizer.charset import DEFAULT_CHARSET, Charset
from recognizer.grow import GrowError, check_growable, grow_weights
from recognizer.lineimage import normalize_line
from recognizer.recipes import RECIPES, Recipe
from recognizer.text import FORTUNES_DIR, fortune_sentences

log = logging.getLogger(__name__)


class TrainError(ValueError):
    """Training cannot start or continue; the message says what to change."""


@dataclass(frozen=True)
class RealSet:
    """A labelled real-line TSV and its mixing weight relative to synthetic lines."""

    tsv: Path
    weight: float = 1.0

    @classmethod
    def parse(cls, spec: str) -> RealSet:
        """``path/labels.tsv`` or ``path/labels.tsv:0.5``."""
        path, sep, weight = spec.rpartition(":")
        if sep and path and not weight.startswith(("/", "\\")):
            try:
                return cls(Path(path), float(weight))
            except ValueError:
                pass
        return cls(Path(spec), 1.0)


@dataclass(frozen=True)
class TrainOptions:
    """Where data comes from and where results go, on top of a `Recipe`."""

    recipe: Recipe
    name: str = "inkdex-hw"
    version: str = "0.1"
    out: Path = Path("models")
    run_dir: Path | None = None
    resume: bool = False
    init_from: Path | None = None
    real: tuple[RealSet, ...] = ()
    val_real: Path | None = None
    fonts: tuple[Path, ...] = ()
    font_dirs: tuple[Path, ...] = ()
    workers: int = -1  # -1: one process per spare core; 0: render in the training process
    charset: Charset = DEFAULT_CHARSET
    verbose: int | None = None

    @property
    def bundle_name(self) -> str:
        return f"{self.name}-{self.version}"

    @property
    def resolved_run_dir(self) -> Path:
        return self.run_dir if self.run_dir is not None else Path("runs") / self.bundle_name


@dataclass(frozen=True)
class TrainResult:
    bundle: Path | None
    run_dir: Path
    epochs_run: int
    best_epoch: int
    metrics: dict[str, float]


@dataclass(frozen=True)
class LabeledLine:
    path: Path
    text: str


class SampleSource(Protocol):
    def sample(self, index: int) -> Any: ...  # -> object with .image (uint8 gray) and .text


SynthFactory = Callable[[Sequence[Path], int, float, int], SampleSource]


def default_synth_factory(
    fonts: Sequence[Path], seed: int, augment: float, height: int
) -> SampleSource:
    """The project's line synthesizer (`recognizer.synth.LineSynth`)."""
    from recognizer.synth import LineSynth

    return LineSynth(fonts, seed=seed, augment=augment)


# ---------------------------------------------------------------------------- data


def load_labeled(tsv: Path) -> list[LabeledLine]:
    """Lines of a ``filename<TAB>text`` file, file names relative to the file's folder."""
    try:
        from recognizer.data import load_tsv
    except ImportError:
        load_tsv = None
    if load_tsv is not None:
        return [LabeledLine(Path(x.path), x.text) for x in load_tsv(Path(tsv))]
    tsv = Path(tsv)
    if not tsv.is_file():
        raise TrainError(f"labels file not found: {tsv}")
    out = []
    for n, raw in enumerate(tsv.read_text(encoding="utf-8").splitlines(), start=1):
        if not raw.strip():
            continue
        name, sep, text = raw.partition("\t")
        if not sep:
            raise TrainError(f"{tsv}:{n}: expected 'image<TAB>text'")
        out.append(LabeledLine(tsv.parent / name, text))
    return out


def usable_lines(lines: Sequence[LabeledLine], charset: Charset) -> list[LabeledLine]:
    """Lines whose label the charset can encode (after folding look-alikes).

    Lines with square brackets are dropped: in transcriptions they mark editorial
    additions (``[sic]``, ``[?]``, folio numbers) that are not written on the page.
    """
    out = []
    for line in lines:
        text = charset.fold(line.text.strip())
        if not text or "[" in text or charset.missing(text):
            continue
        out.append(LabeledLine(line.path, text))
    return out


def ctc_feasible(ids: Sequence[int], frames: int) -> bool:
    """Whether CTC can align `ids` to `frames` outputs (repeats need a blank between)."""
    repeats = sum(1 for a, b in zip(ids, ids[1:], strict=False) if a == b)
    return 0 < len(ids) and len(ids) + repeats <= frames


def augment_real(gray: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Light, label-preserving changes to a real line: width, slant, blur, contrast."""
    if strength <= 0:
        return gray
    h, w = gray.shape
    sx = 1.0 + rng.uniform(-0.15, 0.15) * strength
    shear = rng.uniform(-0.15, 0.15) * strength
    pad = int(abs(shear) * h) + 1
    m = np.array([[sx, shear, pad if shear < 0 else 0], [0, 1, 0]], dtype=np.float32)
    if shear < 0:
        m[0, 2] = -shear * h
    out_w = max(8, int(w * sx + abs(shear) * h))
    g = cv2.warpAffine(gray, m, (out_w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    if rng.random() < 0.3 * strength:
        g = cv2.GaussianBlur(g, (3, 3), 0)
    if rng.random() < 0.3 * strength:
        k = np.ones((2, 2), np.uint8)
        g = cv2.erode(g, k) if rng.random() < 0.5 else cv2.dilate(g, k)
    return g


@dataclass(frozen=True)
class _Task:
    source: int  # -1 synthetic, >= 0 index into the real sets
    index: int
    seed: int


@dataclass
class _SamplerConfig:
    charset: Charset
    height: int
    min_width: int
    max_width: int
    downsample: int
    synth_fonts: tuple[Path, ...]
    synth_seed: int
    synth_augment: float
    real_augment: float
    real: tuple[tuple[LabeledLine, ...], ...]
    synth_factory: SynthFactory | None


class _Sampler:
    """Turns a task into a normalised line and its label ids (or None when unusable)."""

    def __init__(self, cfg: _SamplerConfig) -> None:
        self.cfg = cfg
        self.synth = None
        if cfg.synth_fonts and cfg.synth_factory is not None:
            self.synth = cfg.synth_factory(
                list(cfg.synth_fonts), cfg.synth_seed, cfg.synth_augment, cfg.height
            )
        self._last: tuple[int, Any] | None = None  # (index, sample) for synth_reuse

    def __call__(self, task: _Task) -> tuple[np.ndarray, np.ndarray, str] | None:
        cfg = self.cfg
        try:
            if task.source < 0:
                if self._last is not None and self._last[0] == task.index:
                    s = self._last[1]
                    rng = np.random.default_rng(task.seed)
                    gray = augment_real(s.image, rng, 0.5 * cfg.synth_augment)
                else:
                    s = self.synth.sample(task.index)
                    self._last = (task.index, s)
                    gray = s.image
                text = cfg.charset.fold(s.text)
            else:
                lines = cfg.real[task.source]
                line = lines[task.index % len(lines)]
                gray = cv2.imread(str(line.path), cv2.IMREAD_GRAYSCALE)
                if gray is None:
                    log.warning("cannot read %s; skipped", line.path)
                    return None
                gray = augment_real(gray, np.random.default_rng(task.seed), cfg.real_augment)
                text = line.text
            image = normalize_line(gray, cfg.height, cfg.min_width)
        except Exception as exc:  # one bad font or file must not stop training
            log.warning("sample %s failed and was skipped: %s", task, exc)
            return None
        ids = cfg.charset.encode(text, errors="skip")
        frames = math.ceil(image.shape[1] / cfg.downsample)
        if image.shape[1] > cfg.max_width or not ctc_feasible(ids, frames):
            return None
        return image, np.asarray(ids, dtype=np.int32), text


_worker_sampler: _Sampler | None = None


def _init_worker(cfg: _SamplerConfig) -> None:
    global _worker_sampler
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    cv2.setNumThreads(1)
    _worker_sampler = _Sampler(cfg)


def _tasks(
    start_step: int, batch_size: int, weights: Sequence[float], seed: int, synth_reuse: int = 1
) -> Iterator[_Task]:
    """Endless, reproducible task stream; ``weights[0]`` is synthetic, then the real sets.

    With ``synth_reuse = k`` up to k neighbouring synthetic tasks share one rendered line
    (each copy warped differently), which divides the rendering cost by up to k.
    """
    p = np.asarray(weights, dtype=np.float64)
    p = p / p.sum()
    i = start_step * batch_size
    reuse = max(1, synth_reuse)
    while True:
        rng = np.random.default_rng([seed, i])
        k = int(rng.choice(len(p), p=p))
        source = -1 if k == 0 else k - 1
        index = i // reuse if source < 0 else int(rng.integers(0, 2**31))
        yield _Task(source, index, seed * 1_000_003 + i)
        i += 1


def _run_tasks(tasks: Sequence[_Task]) -> list[tuple[np.ndarray, np.ndarray, str] | None]:
    assert _worker_sampler is not None
    return [_worker_sampler(t) for t in tasks]


class _Pool:
    """Maps tasks to samples in worker processes (or in process when ``workers == 0``).

    At most `depth` chunks are in flight, so a slow consumer never piles up samples;
    `wait_s` adds up the time the consumer waited for rendering (data starvation).
    """

    def __init__(self, cfg: _SamplerConfig, workers: int, chunk: int = 8, depth: int = 16) -> None:
        self.workers = workers
        self.chunk = chunk
        self.depth = depth
        self.wait_s = 0.0
        self._pool = None
        self._local = None
        if workers > 0:
            ctx = multiprocessing.get_context("spawn")
            self._pool = ctx.Pool(workers, initializer=_init_worker, initargs=(cfg,))
        else:
            self._local = _Sampler(cfg)

    def imap(self, tasks: Iterator[_Task]) -> Iterator[tuple[np.ndarray, np.ndarray, str] | None]:
        if self._pool is None:
            yield from map(self._local, tasks)
            return
        pending: deque[Any] = deque()
        exhausted = False
        while True:
            while not exhausted and len(pending) < self.depth:
                chunk = list(itertools.islice(tasks, self.chunk))
                if not chunk:
                    exhausted = True
                    break
                pending.append(self._pool.apply_async(_run_tasks, (chunk,)))
            if not pending:
                return
            head = pending.popleft()
            t = time.monotonic()
            results = head.get()
            self.wait_s += time.monotonic() - t
            yield from results

    def close(self) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()


def _bucket_boundaries(height: int, max_width: int) -> list[int]:
    edges, w = [], 4 * height
    while w < max_width:
        edges.append(w)
        w = int(w * 1.25) // 8 * 8
    return edges


def make_dataset(
    samples: Iterator[tuple[np.ndarray, np.ndarray, str] | None],
    height: int,
    batch_size: int,
    max_width: int,
) -> Any:
    """`tf.data` batches ``({"image", "width"}, {"labels", "label_length"})`` bucketed by width."""
    import tensorflow as tf

    def gen() -> Iterator[tuple[np.ndarray, np.int32, np.ndarray, np.int32]]:
        for s in samples:
            if s is not None:
                image, ids, _ = s
                yield image, np.int32(image.shape[1]), ids, np.int32(len(ids))

    ds = tf.data.Dataset.from_generator(
        gen,
        output_signature=(
            tf.TensorSpec((height, None), tf.float32),
            tf.TensorSpec((), tf.int32),
            tf.TensorSpec((None,), tf.int32),
            tf.TensorSpec((), tf.int32),
        ),
    )
    # Spread out neighbours (synth_reuse copies) before they are grouped by width.
    ds = ds.shuffle(4 * batch_size, seed=0)
    edges = _bucket_boundaries(height, max_width)
    ds = ds.bucket_by_sequence_length(
        element_length_func=lambda img, w, ids, n: w,
        bucket_boundaries=edges,
        bucket_batch_sizes=[batch_size] * (len(edges) + 1),
        drop_remainder=True,
    )
    ds = ds.map(
        lambda img, w, ids, n: (
            {"image": img[..., None], "width": w},
            {"labels": ids, "label_length": n},
        )
    )
    return ds.prefetch(2)


# ---------------------------------------------------------------------- validation


@dataclass(frozen=True)
class ValSet:
    name: str
    images: tuple[np.ndarray, ...]
    texts: tuple[str, ...]
    fonts: tuple[str, ...] = ()  # font file of each synthetic line (empty for real lines)


def validation_sets(
    recipe: Recipe,
    charset: Charset,
    downsample: int,
    held_fonts: Sequence[Path],
    val_real: Path | None,
    synth_factory: SynthFactory | None = default_synth_factory,
    synth_lines: int | None = None,
) -> list[ValSet]:
    """The validation sets of a run: held-out-font synthetic lines, then a real-line sample.

    Deterministic for a recipe, so bundles can be compared on exactly the lines their
    checkpoints were chosen on (`bench/selection_cer.py`). No synthetic set without
    `held_fonts` or a factory, no real set without `val_real`.
    """
    min_width = 4 * downsample
    sets: list[ValSet] = []
    if held_fonts and synth_factory is not None:
        cfg = _SamplerConfig(
            charset=charset,
            height=recipe.height,
            min_width=min_width,
            max_width=10**9,
            downsample=downsample,
            synth_fonts=tuple(held_fonts),
            synth_seed=recipe.seed + 7919,
            synth_augment=recipe.val_synth_augment,
            real_augment=recipe.real_augment,
            real=(),
            synth_factory=synth_factory,
        )
        vs = _Sampler(cfg)
        images, texts, fonts = [], [], []
        for i in range(recipe.val_synth_lines if synth_lines is None else synth_lines):
            got = vs(_Task(-1, i, i))
            if got is not None:
                images.append(got[0])
                texts.append(got[2])
                fonts.append(str(getattr(vs._last[1], "font", "")) if vs._last else "")
        sets.append(ValSet("synth", tuple(images), tuple(texts), tuple(fonts)))
    if val_real is not None:
        lines = usable_lines(load_labeled(val_real), charset)
        rng = np.random.default_rng(recipe.seed)
        if len(lines) > recipe.val_real_lines:
            pick = sorted(rng.choice(len(lines), recipe.val_real_lines, replace=False))
            lines = [lines[i] for i in pick]
        images, texts = [], []
        for line in lines:
            g = cv2.imread(str(line.path), cv2.IMREAD_GRAYSCALE)
            if g is None:
                log.warning("cannot read %s; left out of validation", line.path)
                continue
            images.append(normalize_line(g, recipe.height, min_width))
            texts.append(line.text)
        sets.append(ValSet("real", tuple(images), tuple(texts)))
    return sets


def greedy_texts(probs: np.ndarray, frames: Sequence[int], charset: Charset) -> list[str]:
    """Best-path decoding of a batch (argmax, collapse repeats, drop blanks); for metrics."""
    best = probs.argmax(-1)
    out = []
    for row, n in zip(best, frames, strict=True):
        row = row[:n]
        keep = np.ones(len(row), bool)
        keep[1:] = row[1:] != row[:-1]
        out.append(charset.decode(row[keep & (row != 0)]))
    return out


def char_error_rate(refs: Sequence[str], hyps: Sequence[str]) -> float:
    """Total edit distance over total reference length."""
    from rapidfuzz.distance import Levenshtein

    errors = sum(Levenshtein.distance(r, h) for r, h in zip(refs, hyps, strict=True))
    return errors / max(1, sum(len(r) for r in refs))


def word_error_rate(refs: Sequence[str], hyps: Sequence[str]) -> float:
    from rapidfuzz.distance import Levenshtein

    errors = sum(
        Levenshtein.distance(r.split(), h.split()) for r, h in zip(refs, hyps, strict=True)
    )
    return errors / max(1, sum(len(r.split()) for r in refs))


def predict_probs(
    predict: Any, images: Sequence[np.ndarray], downsample: int, batch: int = 32
) -> list[np.ndarray]:
    """Each normalised line's ``T x C`` outputs from `predict` (batch in, B x T x C out),
    batched by width."""
    order = sorted(range(len(images)), key=lambda i: images[i].shape[1])
    out: list[np.ndarray] = [np.empty(0)] * len(images)
    for k in range(0, len(order), batch):
        idx = order[k : k + batch]
        width = max(images[i].shape[1] for i in idx)
        x = np.zeros((len(idx), images[idx[0]].shape[0], width, 1), np.float32)
        for j, i in enumerate(idx):
            x[j, :, : images[i].shape[1], 0] = images[i]
        probs = np.asarray(predict(x))
        for j, i in enumerate(idx):
            out[i] = probs[j, : math.ceil(images[i].shape[1] / downsample)]
    return out


def predict_texts(
    predictor: Any, images: Sequence[np.ndarray], charset: Charset, downsample: int, batch: int = 32
) -> list[str]:
    """Greedy transcripts of normalised lines, batched by width."""
    probs = predict_probs(predictor.predict_on_batch, images, downsample, batch)
    return [greedy_texts(p[None], [p.shape[0]], charset)[0] for p in probs]


def evaluate_set(
    predictor: Any, val: ValSet, charset: Charset, downsample: int
) -> dict[str, float]:
    hyps = predict_texts(predictor, val.images, charset, downsample)
    return {
        "cer": char_error_rate(val.texts, hyps),
        "wer": word_error_rate(val.texts, hyps),
        "lines": float(len(val.texts)),
    }


def _make_val_callback(predictor: Any, sets: Sequence[ValSet], charset: Charset, ds: int) -> Any:
    import keras

    class ValidationCER(keras.callbacks.Callback):
        """Adds ``val_cer_<set>`` / ``val_wer_<set>`` and their mean ``val_cer`` to the logs."""

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            if logs is None:
                return
            cers = []
            for s in sets:
                m = evaluate_set(predictor, s, charset, ds)
                logs[f"val_cer_{s.name}"] = m["cer"]
                logs[f"val_wer_{s.name}"] = m["wer"]
                cers.append(m["cer"])
            logs["val_cer"] = float(np.mean(cers))

    return ValidationCER()


def _make_progress_callback(run_dir: Path, monitor: str, pool: _Pool) -> Any:
    import keras

    class ProgressRecord(keras.callbacks.Callback):
        """Appends each epoch's figures to ``progress.jsonl`` and keeps ``best.weights.h5``."""

        def __init__(self) -> None:
            super().__init__()
            self.t0 = time.monotonic()
            self.best = math.inf
            self.best_epoch = -1
            prev = _read_progress(run_dir)
            self.offset = float(prev[-1].get("train_s", 0.0)) if prev else 0.0
            if prev:
                for rec in prev:
                    if rec.get(monitor, math.inf) < self.best:
                        self.best, self.best_epoch = rec[monitor], rec["epoch"]

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            logs = dict(logs or {})
            rec = {
                "epoch": epoch + 1,
                "time": time.time(),
                "train_s": self.offset + time.monotonic() - self.t0,
            }
            rec.update({k: float(v) for k, v in logs.items()})
            # Time the input pipeline waited for rendered lines: near 0 means the model,
            # not the data, sets the pace.
            rec["data_wait_s"] = pool.wait_s
            lr = self.model.optimizer.learning_rate
            rec["lr"] = float(np.asarray(lr.numpy() if hasattr(lr, "numpy") else lr))
            ckpt = run_dir / "checkpoints"
            ckpt.mkdir(parents=True, exist_ok=True)
            crnn = self.model.crnn
            crnn.save_weights(ckpt / "last.weights.h5")
            value = rec.get(monitor, math.inf)
            if value < self.best:
                self.best, self.best_epoch = value, epoch + 1
                shutil.copyfile(ckpt / "last.weights.h5", ckpt / "best.weights.h5")
            rec["best_epoch"] = self.best_epoch
            with (run_dir / "progress.jsonl").open("a", encoding="utf-8") as f:
                f.write(json.dumps(rec) + "\n")
            log.info(
                "epoch %d: loss %.3f %s",
                epoch + 1,
                logs.get("loss", float("nan")),
                " ".join(f"{k} {v:.4f}" for k, v in logs.items() if k.startswith("val_cer")),
            )

    return ProgressRecord()


def _read_progress(run_dir: Path) -> list[dict]:
    p = run_dir / "progress.jsonl"
    if not p.is_file():
        return []
    return [json.loads(x) for x in p.read_text(encoding="utf-8").splitlines() if x.strip()]


# --------------------------------------------------------------------------- train


def _hardware() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import keras

    backend = keras.backend.backend()
    gpus = []
    if backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
    where = f"{len(gpus)} GPU(s)" if gpus else f"CPU only, {os.cpu_count()} cores ({cpu})"
    return f"{where}; keras {keras.__version__} on {backend}"


def training_fonts(options: TrainOptions, recipe: Recipe) -> tuple[list[Path], list[Path]]:
    """The font files a run renders with, split into training and held-out families."""
    from recognizer.fonts import discover_fonts, split_fonts

    fonts: list[Path] = []
    for f in options.fonts:
        if f.is_dir():
            fonts += discover_fonts(f)
        elif f.is_file():
            fonts.append(f)
        else:
            raise TrainError(f"font path not found: {f}")
    if not options.fonts:
        cache = options.font_dirs[0] if options.font_dirs else Path("~/.cache/inkdex/fonts")
        fonts = discover_fonts(cache.expanduser(), list(options.font_dirs[1:]))
    if not fonts:
        raise TrainError(
            "no handwriting fonts found for synthetic lines; run `inkdex fonts fetch` "
            "(or `make fonts`), pass --fonts DIR, or train on real lines only with "
            "--synth-weight 0 --real TSV"
        )
    train, held = split_fonts(fonts, recipe.heldout_font_fraction, recipe.seed)
    if not held:
        held = train[-1:]
        log.warning("only one font family: validating on a training font")
    return train, held


def train(
    options: TrainOptions, synth_factory: SynthFactory | None = default_synth_factory
) -> TrainResult:
    """Run (or resume) a training run and write the bundle; see the module docstring."""
    import keras

    from recognizer.bundle import DecoderDefaults, load_bundle, save_bundle

    recipe = options.recipe
    charset = options.charset
    run_dir = options.resolved_run_dir
    backup = run_dir / "backup"
    started = (run_dir / "run.json").is_file() or backup.exists()
    if started and not options.resume:
        raise TrainError(
            f"run folder {run_dir} already holds a run; pass --resume to continue it "
            "or --run-dir to start a new one"
        )
    if options.resume and not (backup / "training_metadata.json").is_file():
        raise TrainError(f"nothing to resume in {run_dir} (no finished epoch recorded)")
    run_dir.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(recipe.seed)

    init_bundle = load_bundle(options.init_from) if options.init_from else None
    if init_bundle is not None:
        charset = init_bundle.charset
        # The recipe may widen the LSTM layers of the bundle it starts from or add
        # residual blocks to it (recognizer.grow).
        config = replace(init_bundle.config, **recipe.model)
        try:
            check_growable(init_bundle.config, config)
        except GrowError as exc:
            raise TrainError(f"cannot fine-tune {options.init_from}: {exc}") from None
        recipe = replace(recipe, height=config.height)
    else:
        config = recipe.model_config(charset)
    ds_factor = config.downsample
    max_width = int(recipe.max_width_per_height * recipe.height)
    min_width = 4 * ds_factor

    # Data: synthetic (train fonts), real sets, validation sets.
    synth_weight = recipe.synth_weight if synth_factory is not None else 0.0
    train_fonts: list[Path] = []
    held_fonts: list[Path] = []
    if synth_weight > 0:
        train_fonts, held_fonts = training_fonts(options, recipe)
        log.info("fonts: %d for training, %d held out", len(train_fonts), len(held_fonts))
    real_sets = []
    for rs in options.real:
        lines = usable_lines(load_labeled(rs.tsv), charset)
        if not lines:
            raise TrainError(f"{rs.tsv}: no usable labelled lines")
        log.info("real set %s: %d lines, weight %.2f", rs.tsv, len(lines), rs.weight)
        real_sets.append(tuple(lines))
    weights = [synth_weight] + [rs.weight for rs in options.real]
    if sum(weights) <= 0:
        raise TrainError("no training data: give --real TSV or keep synthetic lines on")

    sampler_cfg = _SamplerConfig(
        charset=charset,
        height=recipe.height,
        min_width=min_width,
        max_width=max_width,
        downsample=ds_factor,
        synth_fonts=tuple(train_fonts),
        synth_seed=recipe.seed,
        synth_augment=recipe.synth_augment,
        real_augment=recipe.real_augment,
        real=tuple(real_sets),
        synth_factory=synth_factory if synth_weight > 0 else None,
    )
    workers = options.workers if options.workers >= 0 else max(1, (os.cpu_count() or 2) - 1)

    val_sets = validation_sets(
        recipe,
        charset,
        ds_factor,
        held_fonts,
        options.val_real,
        synth_factory if synth_weight > 0 else None,
    )
    if not val_sets:
        raise TrainError("no validation set: keep synthetic lines on or pass --val-real TSV")
    monitor = "val_cer"  # mean over the validation sets

    # Model, optimizer, schedule.
    from recognizer.model import build_crnn, build_predictor, make_trainer

    crnn = build_crnn(config)
    if init_bundle is not None and init_bundle.config == config:
        crnn.load_weights(init_bundle.weights_path)
    elif init_bundle is not None:
        log.info(
            "growing %s: LSTM %d -> %d units, residual blocks %d -> %d",
            options.init_from,
            init_bundle.config.lstm_units,
            config.lstm_units,
            init_bundle.config.res_blocks,
            config.res_blocks,
        )
        grow_weights(init_bundle.build_model(), crnn, init_bundle.config, config, recipe.seed)
    trainer = make_trainer(crnn, ds_factor)
    total_steps = recipe.epochs * recipe.steps_per_epoch
    warmup = min(recipe.warmup_steps, max(1, total_steps // 5))
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=recipe.learning_rate * 0.01,
        decay_steps=max(1, total_steps - warmup),
        alpha=recipe.min_lr_fraction,
        warmup_target=recipe.learning_rate,
        warmup_steps=warmup,
    )
    trainer.compile(optimizer=keras.optimizers.Adam(schedule, clipnorm=recipe.clipnorm))
    dummy = {
        "image": np.zeros((1, recipe.height, 64, 1), np.float32),
        "width": np.array([64], np.int32),
    }
    trainer(dummy)
    predictor = build_predictor(crnn)

    initial_epoch = 0
    if options.resume:
        meta = json.loads((backup / "training_metadata.json").read_text())
        initial_epoch = int(meta["epoch"])
        log.info("resuming %s after epoch %d", run_dir, initial_epoch)
    # Sentences of Debian's fortunes in the synthetic text (0: word lists only).
    sentences = fortune_sentences()
    if not sentences:
        log.warning(
            "no sentences in %s: the synthetic lines will be word lists only; "
            "`make text` installs Debian's fortunes",
            FORTUNES_DIR,
        )
    (run_dir / "run.json").write_text(
        json.dumps(
            {
                "recipe": recipe.to_dict(),
                "model": config.to_dict(),
                "real": [[str(r.tsv), r.weight] for r in options.real],
                "val_real": str(options.val_real) if options.val_real else None,
                "fonts_train": len(train_fonts),
                "fonts_heldout": [p.name for p in held_fonts],
                "fortune_sentences": sentences,
                "argv": sys.argv,
            },
            indent=2,
            default=str,
        )
    )

    pool = _Pool(sampler_cfg, workers)
    t0 = time.monotonic()
    try:
        tasks = _tasks(
            initial_epoch * recipe.steps_per_epoch,
            recipe.batch_size,
            weights,
            recipe.seed,
            recipe.synth_reuse,
        )
        dataset = make_dataset(pool.imap(tasks), recipe.height, recipe.batch_size, max_width)
        progress = _make_progress_callback(run_dir, monitor, pool)
        callbacks = [
            _make_val_callback(predictor, val_sets, charset, ds_factor),
            progress,
            keras.callbacks.BackupAndRestore(str(backup), delete_checkpoint=False),
            keras.callbacks.TensorBoard(str(run_dir / "tensorboard"), update_freq=50),
            keras.callbacks.EarlyStopping(monitor=monitor, mode="min", patience=recipe.patience),
            keras.callbacks.TerminateOnNaN(),
        ]
        verbose = (
            options.verbose if options.verbose is not None else (1 if sys.stderr.isatty() else 2)
        )
        history = trainer.fit(
            dataset,
            epochs=recipe.epochs,
            steps_per_epoch=recipe.steps_per_epoch,
            initial_epoch=initial_epoch,
            callbacks=callbacks,
            verbose=verbose,
            shuffle=False,  # the task stream is already random; tf.data cannot be reshuffled
        )
    finally:
        pool.close()
    train_seconds = time.monotonic() - t0  # this session only; progress has the total
    records = _read_progress(run_dir)
    epochs_run = max((r["epoch"] for r in records), default=0)
    if not records:
        raise TrainError("training ended before the first epoch finished; no bundle written")

    best_ckpt = run_dir / "checkpoints" / "best.weights.h5"
    best_epoch = progress.best_epoch
    if best_ckpt.is_file():
        crnn.load_weights(best_ckpt)
    final: dict[str, float] = {}
    metrics = []
    for s in val_sets:
        m = evaluate_set(predictor, s, charset, ds_factor)
        final[f"cer_{s.name}"] = m["cer"]
        final[f"wer_{s.name}"] = m["wer"]
        where = (
            f"synthetic lines in {len(held_fonts)} font files held out from training "
            "(listed in training.data.synthetic.fonts_heldout)"
            if s.name == "synth"
            else f"{options.val_real} (a sample of up to {recipe.val_real_lines} lines)"
        )
        metrics.append(
            {
                "set": "synthetic-heldout-fonts" if s.name == "synth" else "real-val",
                "source": where,
                "lines": int(m["lines"]),
                "decoder": "greedy",
                "cer": round(m["cer"], 4),
                "wer": round(m["wer"], 4),
            }
        )
    elapsed_all = float(records[-1].get("train_s", train_seconds))
    training = {
        "recipe": recipe.to_dict(),
        "data": {
            "synthetic": {
                "weight": synth_weight,
                "fonts_train": len(train_fonts),
                "fonts_heldout": sorted(p.name for p in held_fonts),
                "augment": recipe.synth_augment,
                "fortune_sentences": sentences,
            },
            "real": [
                {"tsv": str(r.tsv), "weight": r.weight, "lines": len(s)}
                for r, s in zip(options.real, real_sets, strict=True)
            ],
            "init_from": str(options.init_from) if options.init_from else None,
        },
        "epochs_run": epochs_run,
        "best_epoch": best_epoch,
        "steps": epochs_run * recipe.steps_per_epoch,
        "samples_seen": epochs_run * recipe.steps_per_epoch * recipe.batch_size,
        "command": " ".join(["inkdex", *sys.argv[1:]]),
        "time_s": round(elapsed_all, 1),
        "hardware": _hardware(),
        "history": [
            {k: round(v, 4) if isinstance(v, float) else v for k, v in r.items() if k != "time"}
            for r in records
        ],
    }
    del history
    bundle = save_bundle(
        options.out / options.bundle_name,
        crnn,
        charset,
        config,
        name=options.name,
        version=options.version,
        decoder=DecoderDefaults(),
        min_width=min_width,
        training=training,
        metrics=metrics,
    )
    if recipe.charlm_order > 0:
        from recognizer.charlm import CharLMError, add_to_bundle

        try:
            add_to_bundle(
                bundle,
                recipe.charlm_order,
                recipe.charlm_min_count,
                recipe.lm_weight,
                recipe.lm_bonus,
                recipe.line_pass,
            )
        except CharLMError as exc:
            log.warning("%s has no character language model: %s", bundle, exc)
    if recipe.export_onnx:
        from recognizer.export import ExportError, export_onnx

        try:
            export_onnx(bundle)
        except ExportError as exc:
            log.warning("%s has no ONNX export (it is read with TensorFlow): %s", bundle, exc)
    log.info("wrote %s (%s)", bundle, ", ".join(f"{k} {v:.4f}" for k, v in final.items()))
    return TrainResult(bundle, run_dir, epochs_run, best_epoch, final)


# ----------------------------------------------------------------------------- CLI


def run_cli(args: argparse.Namespace, settings: Any) -> int:
    """Handler of `inkdex train`."""
    recipe = RECIPES[args.recipe]
    overrides = {
        k: v
        for k, v in {
            "epochs": args.epochs,
            "steps_per_epoch": args.steps_per_epoch,
            "batch_size": args.batch_size,
            "height": args.height,
            "learning_rate": args.learning_rate,
            "synth_weight": args.synth_weight,
            "synth_augment": args.synth_augment,
        }.items()
        if v is not None
    }
    model = {
        k: v
        for k, v in {"lstm_units": args.lstm_units, "res_blocks": args.res_blocks}.items()
        if v is not None
    }
    if model:
        overrides["model"] = {**recipe.model, **model}
    try:
        recipe = replace(recipe, **overrides)
        options = TrainOptions(
            recipe=recipe,
            name=args.name,
            version=args.version,
            out=args.out or settings.model.models_dir,
            run_dir=args.run_dir,
            resume=args.resume,
            init_from=args.init_from,
            real=tuple(RealSet.parse(s) for s in args.real),
            val_real=args.val_real,
            fonts=tuple(args.fonts),
            font_dirs=(settings.synth.font_cache, *settings.synth.font_dirs),
            workers=args.workers,
        )
        result = train(options)
    except (TrainError, ValueError) as exc:
        print(f"inkdex train: {exc}", file=sys.stderr)
        return 2
    print(
        json.dumps(
            {
                "bundle": str(result.bundle),
                "run_dir": str(result.run_dir),
                "epochs": result.epochs_run,
                "best_epoch": result.best_epoch,
                **{k: round(v, 4) for k, v in result.metrics.items()},
            }
        )
    )
    return 0
