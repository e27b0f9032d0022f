"""Model bundles: what is written, that loading gives the same network, clear errors."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from recognizer.bundle import BundleError, load_bundle, save_bundle
from recognizer.charset import Charset
from recognizer.model import ModelConfig, build_crnn, build_predictor

TINY = {"filters": (8, 8, 16, 16), "proj_units": 16, "lstm_units": 16, "dropout": 0.0}


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A tiny bundle with random weights, and the model it was saved from."""
    charset = Charset("abc ")
    cfg = ModelConfig(num_classes=charset.num_classes, height=32, **TINY)
    crnn = build_crnn(cfg)
    path = tmp_path_factory.mktemp("models") / "tiny-0.1"
    save_bundle(
        path,
        crnn,
        charset,
        cfg,
        name="tiny",
        version="0.1",
        metrics=[
            {
                "set": "synthetic",
                "source": "x",
                "lines": 3,
                "decoder": "greedy",
                "cer": 0.5,
                "wer": 1.0,
            }
        ],
        training={"time_s": 60, "hardware": "test"},
    )
    return path, crnn, charset, cfg


def test_bundle_holds_weights_charset_metadata_and_card(saved) -> None:
    path, _, charset, cfg = saved
    names = {p.name for p in path.iterdir()}
    assert {"model.weights.h5", "charset.txt", "model.yaml", "MODEL_CARD.md"} <= names
    meta = yaml.safe_load((path / "model.yaml").read_text())
    assert meta["input"]["height"] == 32
    assert meta["input"]["method"] == "lineimage-v1"
    assert meta["architecture"]["parameters"] > 0
    assert meta["metrics"][0]["cer"] == 0.5
    assert "50.0%" in (path / "MODEL_CARD.md").read_text()
    assert sum(p.stat().st_size for p in path.iterdir()) < 30_000_000


def test_round_trip_gives_identical_outputs(saved) -> None:
    path, crnn, charset, cfg = saved
    bundle = load_bundle(path)
    assert bundle.charset == charset
    assert bundle.config == cfg
    assert bundle.height == 32 and bundle.name == "tiny" and bundle.version == "0.1"
    x = np.random.default_rng(0).random((3, 32, 96, 1)).astype(np.float32)
    a = np.asarray(build_predictor(crnn).predict_on_batch(x))
    b = np.asarray(build_predictor(bundle.build_model()).predict_on_batch(x))
    np.testing.assert_array_equal(a, b)


def _copy(src, dst):
    dst.mkdir()
    for p in src.iterdir():
        (dst / p.name).write_bytes(p.read_bytes())
    return dst


def test_missing_folder_and_files_are_named(saved, tmp_path) -> None:
    with pytest.raises(BundleError, match="not found"):
        load_bundle(tmp_path / "nope")
    broken = _copy(saved[0], tmp_path / "b")
    (broken / "charset.txt").unlink()
    with pytest.raises(BundleError, match="charset.txt is missing"):
        load_bundle(broken)


def test_corrupt_yaml_and_weights_are_reported(saved, tmp_path) -> None:
    bad_yaml = _copy(saved[0], tmp_path / "y")
    (bad_yaml / "model.yaml").write_text("input: [unclosed\n")
    with pytest.raises(BundleError, match="not valid YAML"):
        load_bundle(bad_yaml)
    bad_weights = _copy(saved[0], tmp_path / "w")
    (bad_weights / "model.weights.h5").write_bytes(b"not hdf5")
    with pytest.raises(BundleError, match="cannot load weights"):
        load_bundle(bad_weights).build_model()


def test_charset_that_does_not_fit_the_model_is_rejected(saved, tmp_path) -> None:
    other = _copy(saved[0], tmp_path / "c")
    Charset("abcdef").save(other / "charset.txt")
    with pytest.raises(BundleError, match="classes"):
        load_bundle(other)


def test_recorded_metrics_replace_same_set_and_reach_the_card(saved, tmp_path) -> None:
    from recognizer.bundle import record_metrics

    b = _copy(saved[0], tmp_path / "m")
    entry = {
        "set": "real-lines",
        "source": "eval",
        "lines": 7,
        "decoder": "beam",
        "cer": 0.25,
        "wer": 0.5,
    }
    record_metrics(b, [entry])
    bundle = record_metrics(b, [{**entry, "cer": 0.2}])
    sets = [(m["set"], m["cer"]) for m in bundle.meta["metrics"]]
    assert sets == [("synthetic", 0.5), ("real-lines", 0.2)]
    assert "20.0%" in (b / "MODEL_CARD.md").read_text()


@pytest.mark.parametrize(
    ("sentences", "says"),
    [(12898, "12,898 sentences of Debian's fortunes"), (0, "word lists only")],
)
def test_card_says_where_the_synthetic_text_came_from(saved, sentences, says) -> None:
    from recognizer.bundle import model_card

    path, _, charset, _ = saved
    meta = yaml.safe_load((path / "model.yaml").read_text())
    synthetic = {"weight": 1.0, "fonts_train": 3, "fonts_heldout": ["a.ttf"]}
    meta["training"]["data"] = {"synthetic": synthetic}
    assert "Synthetic text" not in model_card(meta, charset)
    synthetic["fortune_sentences"] = sentences
    assert says in model_card(meta, charset)
