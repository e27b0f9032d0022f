"""Model bundles: ``models/<name>-<version>/`` with everything inference needs.

A bundle holds ``model.weights.h5``, ``charset.txt``, ``model.yaml`` (input height,
normalisation, architecture, decoder defaults, training recipe and data, measured
CER/WER and the set each was measured on, training time and hardware) and
``MODEL_CARD.md``. Inference reads height, charset and normalisation from here, never
from constants in code.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from recognizer.charset import Charset, CharsetError
from recognizer.model import ModelConfig

log = logging.getLogger(__name__)

WEIGHTS_FILE = "model.weights.h5"
CHARSET_FILE = "charset.txt"
META_FILE = "model.yaml"
# Optional character language model the beam decoders fuse in (`recognizer.charlm`).
CHARLM_FILE = "charlm.npz"
CARD_FILE = "MODEL_CARD.md"
FORMAT = 1
# The line normalisation `recognizer.lineimage.normalize_line` implements.
NORMALIZATION = "lineimage-v1"
MAX_BUNDLE_BYTES = 30_000_000


class BundleError(ValueError):
    """A bundle folder is missing, incomplete or corrupt; the message names the file."""


# How `recognizer.decode.read_lines` may find a line's words: on its best path, or in
# the decoder's reading of the whole line.
LINE_PASSES = ("greedy", "decoder")


@dataclass(frozen=True)
class DecoderDefaults:
    """How a bundle's outputs are decoded unless the caller says otherwise."""

    decoder: str = "beam"
    beam_width: int = 16
    alternatives: int = 5
    # Weight and per-character bonus of the bundle's character language model in the
    # beam decoders (weight 0: not used); `line_pass` is `recognizer.decode.read_line`'s.
    lm_weight: float = 0.0
    lm_bonus: float = 0.0
    line_pass: str = "greedy"


@dataclass(frozen=True)
class Normalization:
    """How a line crop becomes model input (see `recognizer.lineimage.normalize_line`)."""

    method: str = NORMALIZATION
    height: int = 48
    min_width: int = 16
    polarity: str = "ink-high"


@dataclass(frozen=True)
class Bundle:
    """A loaded bundle: what inference needs, plus the full ``model.yaml`` as `meta`."""

    path: Path
    name: str
    version: str
    charset: Charset
    config: ModelConfig
    normalization: Normalization
    decoder: DecoderDefaults
    meta: dict[str, Any] = field(repr=False, compare=False)

    @property
    def weights_path(self) -> Path:
        return self.path / WEIGHTS_FILE

    @property
    def height(self) -> int:
        return self.normalization.height

    @property
    def charlm_path(self) -> Path | None:
        """The bundle's character language model file, None when it has none."""
        path = self.path / CHARLM_FILE
        return path if path.is_file() else None

    def build_model(self) -> Any:
        """The CRNN (logits) with the bundle's weights loaded."""
        from recognizer.model import build_crnn

        model = build_crnn(self.config)
        try:
            model.load_weights(self.weights_path)
        except Exception as exc:  # h5py/keras raise a zoo of types for bad files
            raise BundleError(
                f"cannot load weights {self.weights_path}: {exc} "
                "(the file is corrupt or belongs to another architecture)"
            ) from exc
        return model


def load_bundle(path: Path) -> Bundle:
    """Read a bundle folder; raises `BundleError` saying what is missing or wrong."""
    path = Path(path)
    if not path.is_dir():
        raise BundleError(f"model bundle not found: {path} (expected a folder with {META_FILE})")
    for name in (META_FILE, CHARSET_FILE, WEIGHTS_FILE):
        if not (path / name).is_file():
            raise BundleError(f"model bundle {path} is incomplete: {name} is missing")
    try:
        meta = yaml.safe_load((path / META_FILE).read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise BundleError(f"{path / META_FILE} is not valid YAML: {exc}") from exc
    if not isinstance(meta, dict):
        raise BundleError(f"{path / META_FILE} must hold a mapping")
    try:
        charset = Charset.load(path / CHARSET_FILE)
    except CharsetError as exc:
        raise BundleError(str(exc)) from exc
    try:
        fmt = int(meta.get("format", 0))
        if fmt != FORMAT:
            raise BundleError(f"{path / META_FILE}: bundle format {fmt} is not supported")
        norm = Normalization(**meta["input"])
        if norm.method != NORMALIZATION:
            raise BundleError(
                f"{path / META_FILE}: input normalisation {norm.method!r} is not supported"
                f" (this version of inkdex implements {NORMALIZATION!r})"
            )
        arch = dict(meta["architecture"])
        arch.pop("parameters", None)
        config = ModelConfig.from_dict(arch)
        decoder = DecoderDefaults(**meta.get("decoder", {}))
        name, version = str(meta["name"]), str(meta["version"])
    except BundleError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise BundleError(f"{path / META_FILE} is malformed: {exc!r}") from exc
    if config.num_classes != charset.num_classes:
        raise BundleError(
            f"{path}: model has {config.num_classes} classes but charset.txt gives "
            f"{charset.num_classes} (blank + {len(charset)} characters)"
        )
    if config.height != norm.height:
        raise BundleError(f"{path / META_FILE}: input height differs from architecture height")
    if decoder.lm_weight > 0 and not (path / CHARLM_FILE).is_file():
        raise BundleError(
            f"model bundle {path} is incomplete: its decoder uses a language model "
            f"but {CHARLM_FILE} is missing"
        )
    if decoder.line_pass not in LINE_PASSES:
        raise BundleError(f"{path / META_FILE}: unknown line_pass {decoder.line_pass!r}")
    return Bundle(path, name, version, charset, config, norm, decoder, meta)


def save_bundle(
    path: Path,
    model: Any,
    charset: Charset,
    config: ModelConfig,
    *,
    name: str,
    version: str,
    decoder: DecoderDefaults | None = None,
    min_width: int = 16,
    training: dict[str, Any] | None = None,
    metrics: list[dict[str, Any]] | None = None,
    overwrite: bool = True,
) -> Path:
    """Write a bundle folder for `model` (the CRNN from `build_crnn`) and return its path."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise BundleError(f"bundle {path} already exists")
    path.mkdir(parents=True, exist_ok=True)
    weights = path / WEIGHTS_FILE
    tmp = path / f".{WEIGHTS_FILE}.tmp.weights.h5"
    model.save_weights(tmp)
    tmp.replace(weights)
    charset.save(path / CHARSET_FILE)
    arch = config.to_dict()
    arch["parameters"] = int(model.count_params())
    meta: dict[str, Any] = {
        "format": FORMAT,
        "name": name,
        "version": version,
        "created": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "input": asdict(Normalization(height=config.height, min_width=min_width)),
        "architecture": arch,
        "decoder": asdict(decoder or DecoderDefaults()),
        "metrics": metrics or [],
        "training": training or {},
    }
    (path / META_FILE).write_text(
        yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, width=100), encoding="utf-8"
    )
    (path / CARD_FILE).write_text(model_card(meta, charset), encoding="utf-8")
    size = sum(p.stat().st_size for p in path.iterdir() if p.is_file())
    if size > MAX_BUNDLE_BYTES:
        log.warning("bundle %s is %.1f MB, over the %d MB budget", path, size / 1e6, 30)
    return path


def update_meta(path: Path, changes: dict[str, Any]) -> Bundle:
    """Replace top-level sections of a bundle's ``model.yaml`` (and its card); reloads it."""
    bundle = load_bundle(path)
    meta = {**bundle.meta, **changes}
    _write_meta(bundle.path, meta, bundle.charset)
    return load_bundle(path)


def _write_meta(path: Path, meta: dict[str, Any], charset: Charset) -> None:
    (path / META_FILE).write_text(
        yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, width=100), encoding="utf-8"
    )
    (path / CARD_FILE).write_text(model_card(meta, charset), encoding="utf-8")


def record_metrics(path: Path, entries: list[dict[str, Any]]) -> Bundle:
    """Add measured figures to a bundle's ``model.yaml`` and card.

    Each entry has at least ``set``, ``lines``, ``decoder``, ``cer`` and ``wer``; an entry
    for the same (set, decoder) replaces the old one. Returns the reloaded bundle.
    """
    bundle = load_bundle(path)
    meta = dict(bundle.meta)
    keep = [
        m
        for m in meta.get("metrics") or []
        if not any((m.get("set"), m.get("decoder")) == (e["set"], e["decoder"]) for e in entries)
    ]
    meta["metrics"] = keep + [dict(e) for e in entries]
    _write_meta(bundle.path, meta, bundle.charset)
    return load_bundle(path)


def _num(v: Any) -> str:
    return f"{v:,}" if isinstance(v, int) else "?"


def _lm_defaults(decoder: dict[str, Any]) -> str:
    weight = float(decoder.get("lm_weight") or 0)
    if weight <= 0:
        return ""
    return (
        f", character language model at weight {weight:g} with a bonus of "
        f"{float(decoder.get('lm_bonus') or 0):g} per character, "
        f"{decoder.get('line_pass', 'greedy')} line pass"
    )


def _lm_card(lm: dict[str, Any] | None) -> list[str]:
    if not lm:
        return []
    return [
        f"- Character language model (`{CHARLM_FILE}`): {lm.get('order', '?')}-gram, "
        f"Witten-Bell, {_num(lm.get('ngrams'))} n-grams (those of 3+ characters seen at "
        f"least {lm.get('min_count', '?')} times), from {lm.get('source', '?')}."
    ]


def _onnx_card(record: dict[str, Any] | None) -> list[str]:
    if not record:
        return []
    return [
        f"- ONNX export (`{record.get('file', 'model.onnx')}`, opset {record.get('opset', '?')}; "
        "`inkdex export`) of these weights, read by ONNX Runtime under `model.runtime` "
        f"auto/onnx: largest probability difference from the Keras network on random check "
        f"lines {record.get('max_diff', '?')}."
    ]


def model_card(meta: dict[str, Any], charset: Charset) -> str:
    """A short human-readable card from the bundle's metadata."""
    arch = meta["architecture"]
    norm = meta["input"]
    train = meta.get("training") or {}
    recipe = train.get("recipe") or {}
    data = train.get("data") or {}
    lines = [
        f"# {meta['name']} {meta['version']}",
        "",
        "Handwritten text-line recognizer for inkdex: a CRNN (convolutions"
        + (
            f", {arch['res_blocks']} residual block{'s' * (arch['res_blocks'] > 1)}"
            if arch.get("res_blocks")
            else ""
        )
        + f", {arch['lstm_layers']} bidirectional LSTM layers of {arch['lstm_units']} units) "
        "trained with CTC.",
        "",
        "## Input and output",
        "",
        f"- One text line, grayscale, scaled to {norm['height']} px high (aspect kept), "
        "ink 1 / paper 0 after contrast stretching (`recognizer.lineimage.normalize_line`, "
        f"`{norm['method']}`).",
        f"- {_num(arch.get('parameters'))} parameters; one output frame per "
        f"4 input columns; {len(charset)} characters plus the CTC blank "
        "(printable ASCII).",
        f"- Decoder defaults: {meta['decoder']['decoder']}, beam width "
        f"{meta['decoder']['beam_width']}, {meta['decoder']['alternatives']} alternatives per word"
        + _lm_defaults(meta["decoder"])
        + "; `model.decoder`, `model.beam_width`, `model.alternatives`, `model.lm_weight`, "
        "`model.lm_bonus` and `model.line_pass` in inkdex's configuration override them.",
        *_lm_card(meta.get("language_model")),
        *_onnx_card(meta.get("onnx")),
        "",
        "## Measured accuracy",
        "",
    ]
    metrics = meta.get("metrics") or []
    if metrics:
        lines += ["| set | lines | decoder | CER | WER |", "| --- | --- | --- | --- | --- |"]
        for m in metrics:
            lines.append(
                f"| {m['set']}: {m.get('source', '')} | {m['lines']} | {m['decoder']} | "
                f"{m['cer']:.1%} | {m['wer']:.1%} |"
            )
    else:
        lines.append("Not measured.")
    lines += ["", "## Training", ""]
    if train:
        synth = data.get("synthetic") or {}
        lines.append(
            f"- Recipe `{recipe.get('name', '?')}`: {train.get('epochs_run', '?')} epochs of "
            f"{recipe.get('steps_per_epoch', '?')} steps x {recipe.get('batch_size', '?')} lines "
            f"({_num(train.get('samples_seen'))} lines seen), Adam, peak learning rate "
            f"{recipe.get('learning_rate', '?')}, warm-up then cosine decay; best epoch "
            f"{train.get('best_epoch', '?')} (by validation CER)."
        )
        if synth.get("weight"):
            lines.append(
                f"- Synthetic lines rendered on the fly from {synth.get('fonts_train', '?')} "
                f"handwriting font files (weight {synth['weight']}); validation fonts held out: "
                f"{', '.join(synth.get('fonts_heldout', [])) or 'none'}."
            )
            if "fortune_sentences" in synth:
                n = synth["fortune_sentences"]
                lines.append(
                    f"- Synthetic text: wordfreq word lists and {n:,} sentences of Debian's "
                    "fortunes."
                    if n
                    else "- Synthetic text: wordfreq word lists only (Debian's fortunes absent)."
                )
        for r in data.get("real") or []:
            lines.append(f"- Real lines: `{r['tsv']}` ({r['lines']} lines, weight {r['weight']}).")
        if train.get("command"):
            lines.append(f"- Command: `{train['command']}`.")
        if data.get("init_from"):
            lines.append(f"- Fine-tuned from `{data['init_from']}`.")
        lines.append(
            f"- Time: {float(train.get('time_s') or 0) / 60:.0f} min on {train.get('hardware', '?')}."
        )
    else:
        lines.append("No training record.")
    lines += [
        "",
        "## Limits",
        "",
        "- Reads one text line at a time; pages go through line segmentation first.",
        "- Latin script, printable ASCII only; accented letters are read without accents.",
        "- Trained mostly on synthetic handwriting: expect markedly higher error rates on "
        "hard historical cursive than on the synthetic validation set.",
        "",
    ]
    return "\n".join(lines)
