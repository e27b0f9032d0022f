"""Training: data mixing, width buckets, validation, checkpoints, resume, the bundle it writes."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from recognizer.bundle import load_bundle
from recognizer.charset import DEFAULT_CHARSET
from recognizer.train import (
    RECIPES,
    LabeledLine,
    RealSet,
    TrainError,
    TrainOptions,
    _tasks,
    ctc_feasible,
    greedy_texts,
    train,
    usable_lines,
)

WORDS = "the quick brown fox jumps over a lazy dog".split()


@dataclass(frozen=True)
class _Sample:
    image: np.ndarray
    text: str


class PillowSynth:
    """Stand-in for `recognizer.synth.LineSynth`: clean lines in Pillow's built-in font."""

    def __init__(self, fonts, seed=0, augment=1.0, height=None) -> None:
        self.seed = seed
        self.font = ImageFont.load_default(size=20)

    def sample(self, index: int) -> _Sample:
        rng = np.random.default_rng([self.seed, index])
        text = " ".join(rng.choice(WORDS, size=int(rng.integers(1, 3))))
        return _Sample(self.render(text), text)

    def render(self, text: str) -> np.ndarray:
        img = Image.new("L", (int(self.font.getlength(text)) + 10, 28), 255)
        ImageDraw.Draw(img).text((5, 3), text, font=self.font, fill=0)
        return np.asarray(img)


def factory(fonts, seed, augment, height):
    return PillowSynth(fonts, seed, augment, height)


def _options(tmp_path: Path, **kw) -> TrainOptions:
    font = tmp_path / "fake.ttf"  # the factory above ignores fonts, but one must be given
    font.write_bytes(b"")
    base = dict(
        recipe=RECIPES["tiny"],
        out=tmp_path / "models",
        run_dir=tmp_path / "run",
        fonts=(font,),
        workers=0,
        verbose=0,
    )
    base.update(kw)
    return TrainOptions(**base)


@pytest.fixture
def _fonts_are_not_checked(monkeypatch):
    import recognizer.fonts

    monkeypatch.setattr(recognizer.fonts, "split_fonts", lambda f, frac, seed: (list(f), list(f)))


def test_real_set_spec_parses_optional_weight() -> None:
    assert RealSet.parse("a/labels.tsv") == RealSet(Path("a/labels.tsv"), 1.0)
    assert RealSet.parse("a/labels.tsv:0.25") == RealSet(Path("a/labels.tsv"), 0.25)


def test_usable_lines_folds_and_drops_editorial_or_unencodable_labels() -> None:
    lines = [
        LabeledLine(Path("a"), "caf\u00e9 time"),
        LabeledLine(Path("b"), "greivances[sic]"),
        LabeledLine(Path("c"), "\u00a35 note"),
        LabeledLine(Path("d"), "  "),
    ]
    assert [x.text for x in usable_lines(lines, DEFAULT_CHARSET)] == ["cafe time"]


def test_ctc_feasible_counts_a_blank_between_repeated_letters() -> None:
    assert ctc_feasible([1, 2, 3], 3)
    assert not ctc_feasible([1, 1, 2], 3)  # "aab" needs a, blank, a, b
    assert ctc_feasible([1, 1, 2], 4)
    assert not ctc_feasible([], 10)


def test_task_stream_is_reproducible_and_mixes_by_weight() -> None:
    take = [t for _, t in zip(range(2000), _tasks(0, 8, [1.0, 3.0], seed=5), strict=False)]
    again = [t for _, t in zip(range(2000), _tasks(0, 8, [1.0, 3.0], seed=5), strict=False)]
    assert take == again
    real = sum(t.source == 0 for t in take) / len(take)
    assert 0.7 < real < 0.8
    resumed = next(_tasks(10, 8, [1.0, 3.0], seed=5))
    assert resumed == take[80]  # step 10 of batch 8 starts at sample 80


def test_greedy_texts_collapse_repeats_and_drop_blanks() -> None:
    cs = DEFAULT_CHARSET
    a, b = cs.encode("a")[0], cs.encode("b")[0]
    path = [a, a, 0, a, b, b, 0, 0]
    probs = np.eye(cs.num_classes)[path][None]
    assert greedy_texts(probs, [8], cs) == ["aab"]
    assert greedy_texts(probs, [3], cs) == ["a"]


@pytest.mark.usefixtures("_fonts_are_not_checked")
def test_train_writes_a_bundle_and_resume_continues_the_epoch_count(tmp_path, caplog) -> None:
    opts = _options(tmp_path, recipe=replace(RECIPES["tiny"], epochs=1, export_onnx=True))
    with caplog.at_level("WARNING", logger="recognizer.train"):
        result = train(opts, synth_factory=factory)
    assert result.epochs_run == 1
    bundle = load_bundle(result.bundle)
    # The run ends with the network exported for ONNX Runtime, from these weights.
    from recognizer.export import ONNX_FILE, weights_digest

    assert (bundle.path / ONNX_FILE).is_file()
    assert bundle.meta["onnx"]["weights_sha256"] == weights_digest(bundle)
    assert bundle.height == RECIPES["tiny"].height
    assert bundle.meta["training"]["epochs_run"] == 1
    assert bundle.meta["metrics"][0]["set"] == "synthetic-heldout-fonts"
    # Whether the synthetic text had the fortunes' sentences is part of the recipe.
    from recognizer.text import fortune_sentences

    synthetic = bundle.meta["training"]["data"]["synthetic"]
    assert synthetic["fortune_sentences"] == fortune_sentences()
    # A machine without them is told so when the run starts, not only at its end.
    assert ("word lists only" in caplog.text) == (fortune_sentences() == 0)
    # The recipe's character language model is built from the same sentences (and
    # WordNet's glosses), whichever of the two is installed.
    from recognizer.text import wordnet_texts

    if fortune_sentences() or wordnet_texts():
        assert bundle.charlm_path is not None
        assert bundle.meta["language_model"]["order"] == RECIPES["tiny"].charlm_order
        assert bundle.decoder.lm_weight > 0
    else:
        assert bundle.charlm_path is None and bundle.decoder.lm_weight == 0
    run = tmp_path / "run"
    assert (run / "checkpoints" / "last.weights.h5").is_file()
    assert (run / "tensorboard").is_dir()

    # A second start in the same run folder without --resume is refused.
    with pytest.raises(TrainError, match="--resume"):
        train(opts, synth_factory=factory)

    # --resume with more epochs runs only the missing one, with the optimizer state kept.
    resumed = replace(opts, resume=True, recipe=replace(RECIPES["tiny"], epochs=2))
    result2 = train(resumed, synth_factory=factory)
    records = [json.loads(x) for x in (run / "progress.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1, 2]
    # The optimizer's step count survived: after 2 x 4 steps the cosine schedule is at
    # its floor (peak x min_lr_fraction); had it restarted, it would be mid-way.
    tiny = RECIPES["tiny"]
    assert records[-1]["lr"] == pytest.approx(tiny.learning_rate * tiny.min_lr_fraction, rel=1e-3)
    assert result2.epochs_run == 2
    assert (
        load_bundle(result2.bundle).meta["training"]["steps"] == 2 * RECIPES["tiny"].steps_per_epoch
    )


def test_resume_without_a_run_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(TrainError, match="nothing to resume"):
        train(_options(tmp_path, resume=True), synth_factory=factory)


@pytest.mark.slow
@pytest.mark.usefixtures("_fonts_are_not_checked")
def test_real_lines_are_mixed_in_and_validated(tmp_path) -> None:
    import cv2

    rows = []
    for i, text in enumerate(["red fox", "blue dog", "old cat"]):
        img = PillowSynth(()).render(text)
        cv2.imwrite(str(tmp_path / f"{i}.png"), img)
        rows.append(f"{i}.png\t{text}")
    (tmp_path / "labels.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    opts = _options(
        tmp_path,
        recipe=replace(RECIPES["tiny"], epochs=1),
        real=(RealSet(tmp_path / "labels.tsv", 2.0),),
        val_real=tmp_path / "labels.tsv",
    )
    result = train(opts, synth_factory=factory)
    assert {"cer_synth", "cer_real"} <= result.metrics.keys()
    sets = [m["set"] for m in load_bundle(result.bundle).meta["metrics"]]
    assert sets == ["synthetic-heldout-fonts", "real-val"]


@pytest.mark.usefixtures("_fonts_are_not_checked")
def test_fine_tuning_can_grow_the_network_but_not_change_other_layers(tmp_path) -> None:
    tiny = replace(RECIPES["tiny"], epochs=1)
    for sub in "abc":
        (tmp_path / sub).mkdir()
    first = train(_options(tmp_path / "a", recipe=tiny), synth_factory=factory)
    wider = replace(tiny, model={**tiny.model, "lstm_units": 24, "res_blocks": 1})
    opts = _options(tmp_path / "b", recipe=wider, init_from=first.bundle, version="0.2")
    grown = load_bundle(train(opts, synth_factory=factory).bundle)
    assert (grown.config.lstm_units, grown.config.res_blocks) == (24, 1)
    assert "1 residual block," in (grown.path / "MODEL_CARD.md").read_text()
    assert grown.config.filters == load_bundle(first.bundle).config.filters
    assert grown.meta["training"]["data"]["init_from"] == str(first.bundle)

    other = replace(tiny, model={**tiny.model, "proj_units": 32})
    opts = _options(tmp_path / "c", recipe=other, init_from=first.bundle)
    with pytest.raises(TrainError, match="proj_units"):
        train(opts, synth_factory=factory)


def test_cli_overrides_reach_the_recipe(monkeypatch, tmp_path) -> None:
    import recognizer.train as train_mod
    from inkdex.cli import build_parser
    from inkdex.settings import Settings

    seen = {}

    def fake_train(options):
        seen["recipe"] = options.recipe
        return train_mod.TrainResult(None, tmp_path, 0, 0, {})

    monkeypatch.setattr(train_mod, "train", fake_train)
    args = build_parser().parse_args(
        ["train", "--synth-augment", "0.5", "--lstm-units", "160", "--res-blocks", "2"]
        + ["--epochs", "3"]
    )
    assert train_mod.run_cli(args, Settings()) == 0
    recipe = seen["recipe"]
    assert (recipe.synth_augment, recipe.epochs) == (0.5, 3)
    assert (recipe.model["lstm_units"], recipe.model["res_blocks"]) == (160, 2)
    assert recipe.real_augment == RECIPES["default"].real_augment


def test_validation_lines_keep_their_distortion_when_training_is_milder() -> None:
    from recognizer.train import validation_sets

    asked = []

    def recording(fonts, seed, augment, height):
        asked.append(augment)
        return PillowSynth(fonts, seed, augment, height)

    held = [Path("a.ttf")]
    for recipe in (
        RECIPES["tiny"],
        replace(RECIPES["tiny"], synth_augment=0.5),
        replace(RECIPES["tiny"], synth_augment=0.5, val_synth_augment=0.3),
    ):
        validation_sets(recipe, DEFAULT_CHARSET, 4, held, None, recording, synth_lines=2)
    assert asked == [1.0, 1.0, 0.3]


def test_validation_sets_are_the_same_lines_every_time(tmp_path) -> None:
    import cv2

    from recognizer.train import validation_sets

    rows = []
    for i, text in enumerate(["red fox", "blue dog", "old cat"]):
        cv2.imwrite(str(tmp_path / f"{i}.png"), PillowSynth(()).render(text))
        rows.append(f"{i}.png\t{text}")
    (tmp_path / "labels.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    recipe = replace(RECIPES["tiny"], val_real_lines=2)
    held = [tmp_path / "a.ttf"]
    args = (recipe, DEFAULT_CHARSET, 4, held, tmp_path / "labels.tsv", factory)
    synth, real = validation_sets(*args, synth_lines=5)
    again = validation_sets(*args, synth_lines=5)
    assert [s.name for s in again] == ["synth", "real"]
    assert len(synth.texts) == len(synth.fonts) == 5
    assert synth.texts == again[0].texts and real.texts == again[1].texts
    assert len(real.texts) == 2 and set(real.texts) <= {"red fox", "blue dog", "old cat"}
    assert all(img.shape[0] == recipe.height for img in real.images)
    assert validation_sets(recipe, DEFAULT_CHARSET, 4, [], None) == []
