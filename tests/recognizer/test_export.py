"""The network as ONNX: `inkdex export`, and reading lines with ONNX Runtime."""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from inkdex.settings import SettingsError, load_settings
from recognizer import export
from recognizer.bundle import BundleError, load_bundle, save_bundle
from recognizer.charset import Charset
from recognizer.export import ONNX_FILE, ExportError, export_onnx, weights_digest
from recognizer.model import ModelConfig, build_crnn
from recognizer.recognize import Recognizer, RecognizerError, load_recognizer

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "models" / "inkdex-hw-0.12"
INKDEX = str(Path(sys.executable).with_name("inkdex"))  # the installed command
TINY = {"filters": (8, 8, 16, 16), "proj_units": 16, "lstm_units": 16, "dropout": 0.0}


def _tiny(path: Path, seed: int = 3) -> Path:
    import keras

    keras.utils.set_random_seed(seed)
    charset = Charset("ab ")
    cfg = ModelConfig(num_classes=charset.num_classes, height=32, **TINY)
    return save_bundle(path, build_crnn(cfg), charset, cfg, name="tiny", version="0.1")


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    bundle = _tiny(tmp_path_factory.mktemp("models") / "tiny-0.1")
    export_onnx(bundle)
    return bundle


def _lines(rng: np.random.Generator) -> list[np.ndarray]:
    out = []
    for w in (40, 130, 300, 700):
        img = np.full((32, w), 235, np.uint8)
        img[8:24, w // 8 : w // 2] = rng.integers(0, 120, (16, w // 2 - w // 8))
        out.append(img)
    return out


def test_export_writes_the_network_and_records_the_weights_it_came_from(exported) -> None:
    bundle = load_bundle(exported)
    assert (exported / ONNX_FILE).stat().st_size > 0
    record = bundle.meta["onnx"]
    assert record["file"] == ONNX_FILE
    assert record["weights_sha256"] == weights_digest(bundle)
    assert 0 <= record["max_diff"] <= export.MAX_DIFF
    assert not list(exported.glob("*.tmp"))
    assert "ONNX export (`model.onnx`" in (exported / "MODEL_CARD.md").read_text()


def test_onnx_runtime_reads_as_tensorflow_does(exported) -> None:
    lines = _lines(np.random.default_rng(0))
    tf_rec = Recognizer.load(exported, decoder="beam", runtime="tensorflow")
    onnx_rec = Recognizer.load(exported, decoder="beam", runtime="onnx")
    assert (tf_rec.runtime, onnx_rec.runtime) == ("tensorflow", "onnx")
    want, got = tf_rec.probabilities(lines), onnx_rec.probabilities(lines)
    for a, b in zip(want, got, strict=True):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, atol=1e-4)
    assert [r.text for r in tf_rec.recognize_lines(lines)] == [
        r.text for r in onnx_rec.recognize_lines(lines)
    ]


def test_a_bundle_without_an_export_is_read_with_tensorflow_under_auto(
    tmp_path, caplog: pytest.LogCaptureFixture
) -> None:
    bundle = _tiny(tmp_path / "plain-0.1")
    with pytest.raises(BundleError, match="inkdex export"):
        Recognizer.load(bundle, decoder="greedy", runtime="onnx")
    with caplog.at_level(logging.WARNING, logger="recognizer.recognize"):
        rec = Recognizer.load(bundle, decoder="greedy", runtime="auto")
    assert "reading with TensorFlow" in caplog.text and rec.runtime == "tensorflow"
    assert len(rec.recognize_lines(_lines(np.random.default_rng(1)))) == 4


def test_a_load_that_fails_stops_its_helper_processes(tmp_path) -> None:
    import multiprocessing

    bundle = _tiny(tmp_path / "plain-0.1")
    before = set(multiprocessing.active_children())
    # The error's traceback (kept here, as a caller's logging may) holds the recognizer.
    with pytest.raises(BundleError, match="no ONNX export") as failure:
        Recognizer.load(bundle, decoder="beam", runtime="onnx", decode_processes=1)
    deadline = time.monotonic() + 30  # the pool is shut down without waiting for it
    while set(multiprocessing.active_children()) - before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not set(multiprocessing.active_children()) - before
    del failure


def test_an_export_of_other_weights_is_refused(exported, tmp_path) -> None:
    bundle = tmp_path / "tiny-0.1"
    shutil.copytree(exported, bundle)
    other = _tiny(tmp_path / "other-0.1", seed=11)
    shutil.copy(other / load_bundle(other).weights_path.name, load_bundle(bundle).weights_path)
    with pytest.raises(BundleError, match="other weights"):
        Recognizer.load(bundle, decoder="greedy", runtime="onnx")
    # auto reads the new weights with TensorFlow rather than the stale export.
    rec = Recognizer.load(bundle, decoder="greedy", runtime="auto")
    want = Recognizer.load(other, decoder="greedy", runtime="tensorflow")
    lines = _lines(np.random.default_rng(2))
    for a, b in zip(rec.probabilities(lines), want.probabilities(lines), strict=True):
        np.testing.assert_array_equal(a, b)


def test_an_export_that_reads_differently_is_not_kept(tmp_path, monkeypatch) -> None:
    bundle = _tiny(tmp_path / "tiny-0.1")
    before = (bundle / "model.yaml").read_text()
    monkeypatch.setattr(export, "_check", lambda *a: 0.5)
    with pytest.raises(ExportError, match="reads differently"):
        export_onnx(bundle)
    assert not (bundle / ONNX_FILE).exists() and not list(bundle.glob("*.tmp"))
    assert (bundle / "model.yaml").read_text() == before


def test_unknown_runtime_is_refused(exported, tmp_path) -> None:
    with pytest.raises(RecognizerError, match="unknown runtime"):
        Recognizer.load(exported, runtime="torch")
    cfg = tmp_path / "config.yaml"
    cfg.write_text(yaml.safe_dump({"model": {"runtime": "torch"}}))
    with pytest.raises(SettingsError, match="runtime"):
        load_settings(cfg)


def test_reading_with_onnx_never_imports_tensorflow(exported) -> None:
    script = (
        "import sys\n"
        "from recognizer.recognize import Recognizer\n"
        "import numpy as np\n"
        f"rec = Recognizer.load({str(exported)!r}, decoder='beam', runtime='onnx')\n"
        "img = np.full((32, 200), 235, np.uint8); img[8:24, 20:150] = 30\n"
        "rec.recognize_lines([img])\n"
        "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_cli_export(tmp_path) -> None:
    bundle = _tiny(tmp_path / "tiny-0.1")
    out = subprocess.run(
        [INKDEX, "export", str(bundle)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert f"wrote {bundle / ONNX_FILE}" in out.stdout
    missing = subprocess.run(
        [INKDEX, "export", str(tmp_path / "nope")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert missing.returncode == 1 and "not found" in missing.stderr


def test_the_shipped_bundle_has_a_current_export_that_the_default_settings_read() -> None:
    bundle = load_bundle(SHIPPED)
    assert bundle.meta["onnx"]["weights_sha256"] == weights_digest(bundle), (
        "model.onnx is stale: run `inkdex export models/inkdex-hw-0.12`"
    )
    settings = load_settings(REPO / "config.yaml")
    assert settings.model.runtime == "auto"
    rec = load_recognizer(settings.model.model_copy(update={"decode_processes": 0}))
    assert rec.runtime == "onnx"
    # The shipped network reads a written line the same with either runtime.
    import cv2

    page = np.full((90, 900), 240, np.uint8)
    cv2.putText(page, "search the letters", (20, 60), cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, 1.6, 20, 3)
    tf_rec = load_recognizer(
        settings.model.model_copy(update={"decode_processes": 0, "runtime": "tensorflow"})
    )
    got, want = rec.recognize_lines([page])[0], tf_rec.recognize_lines([page])[0]
    assert got.text == want.text and got.text.strip()
    assert got.confidence == pytest.approx(want.confidence, abs=1e-3)
