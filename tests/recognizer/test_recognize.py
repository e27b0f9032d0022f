"""The Recognizer: crops in, readings with crop x-ranges out; pages; `inkdex transcribe`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from inkdex.settings import load_settings
from recognizer.bundle import save_bundle
from recognizer.charset import Charset
from recognizer.model import ModelConfig, build_crnn
from recognizer.recognize import (
    LineResult,
    Recognizer,
    RecognizerError,
    WordResult,
    plan_batches,
)
from recognizer.transcript import PageTranscript

REPO = Path(__file__).resolve().parents[2]
TINY = {"filters": (8, 8, 16, 16), "proj_units": 16, "lstm_units": 16, "dropout": 0.0}


@pytest.fixture(scope="module")
def tiny_bundle(tmp_path_factory) -> Path:
    """A bundle with random weights: outputs are arbitrary but shaped like a real model's."""
    import keras

    keras.utils.set_random_seed(3)
    charset = Charset("ab ")
    cfg = ModelConfig(num_classes=charset.num_classes, height=32, **TINY)
    path = tmp_path_factory.mktemp("models") / "tiny-0.1"
    return save_bundle(path, build_crnn(cfg), charset, cfg, name="tiny", version="0.1")


def _line(h: int, w: int) -> np.ndarray:
    img = np.full((h, w), 235, np.uint8)
    img[h // 3 : 2 * h // 3, w // 10 : w // 3] = 20
    img[h // 3 : 2 * h // 3, w // 2 : 9 * w // 10] = 20
    return img


@pytest.mark.parametrize("decoder", ["greedy", "beam"])
def test_recognize_lines_keeps_order_and_word_ranges_inside_each_crop(tiny_bundle, decoder) -> None:
    rec = Recognizer.load(tiny_bundle, decoder=decoder, batch_size=2)
    assert rec.version == "tiny-0.1" and rec.height == 32
    crops = [_line(40, 300), _line(64, 90), _line(20, 500), np.zeros((0, 5), np.uint8)]
    results = rec.recognize_lines(crops)
    assert len(results) == len(crops)
    assert results[-1] == LineResult.empty()
    for crop, res in zip(crops[:-1], results[:-1], strict=True):
        assert 0.0 <= res.confidence <= 1.0
        assert res.text.split() == [w.text for w in res.words]
        for w in res.words:
            assert 0 <= w.x0 < w.x1 <= crop.shape[1]


def test_results_do_not_depend_on_batch_order(tiny_bundle) -> None:
    rec = Recognizer.load(tiny_bundle, decoder="greedy", batch_size=1)
    a, b = _line(40, 300), _line(40, 120)
    assert rec.recognize_lines([a, b]) == rec.recognize_lines([b, a])[::-1]


def test_batches_cover_every_line_once_in_order_and_within_the_batch_size() -> None:
    widths = sorted([96, 128, 256, 256, 288, 320, 352, 384, 448, 512, 1024, 2048] * 7)
    batches = plan_batches(widths, 16)
    assert batches[0][0] == 0 and batches[-1][1] == len(widths)
    assert all(b[1] == c[0] for b, c in zip(batches, batches[1:], strict=False))
    assert all(0 < hi - lo <= 16 for lo, hi in batches)


def test_lines_of_one_width_fill_whole_batches() -> None:
    assert len(plan_batches([320] * 70, 32)) == 3
    assert plan_batches([], 32) == []


def test_a_very_long_line_is_not_the_width_of_a_batch_of_short_ones() -> None:
    """Padding 31 lines of 320 columns to 1536 would cost more than a call of its own."""
    batches = plan_batches([320] * 31 + [1536], 32)
    assert batches == [(0, 31), (31, 32)]


def test_probabilities_have_one_frame_per_four_model_columns(tiny_bundle) -> None:
    rec = Recognizer.load(tiny_bundle)
    (p,) = rec.probabilities([_line(64, 256)])  # 256 px at 64 high -> 128 at 32 -> 32 frames
    assert p.shape == (32, 4)


def test_transcribe_as_lines_gives_one_line_covering_the_image(tiny_bundle) -> None:
    rec = Recognizer.load(tiny_bundle, decoder="greedy")
    image = np.stack([_line(40, 300)] * 3, axis=-1)  # BGR
    (page,) = rec.transcribe_as_lines([image])
    assert isinstance(page, PageTranscript)
    assert (page.model_version, page.width, page.height) == ("tiny-0.1", 300, 40)
    for line in page.lines:
        assert line.bbox == (0, 0, 300, 40)
        for w in line.words:
            x, y, bw, bh = w.bbox
            assert y == 0 and bh == 40 and 0 <= x and x + bw <= 300


def test_unset_decoder_settings_take_the_bundles_own_defaults(tmp_path) -> None:
    """A bundle's model.yaml decoder defaults apply where the caller names none."""
    from recognizer.bundle import DecoderDefaults

    charset = Charset("ab ")
    cfg = ModelConfig(num_classes=charset.num_classes, height=32, **TINY)
    path = save_bundle(
        tmp_path / "tiny-0.2",
        build_crnn(cfg),
        charset,
        cfg,
        name="tiny",
        version="0.2",
        decoder=DecoderDefaults(decoder="greedy", beam_width=4, alternatives=2),
    )
    rec = Recognizer.load(path)
    assert (rec.decoder, rec.beam_width, rec.alternatives) == ("greedy", 4, 2)
    rec = Recognizer.load(path, decoder="beam", alternatives=0)
    assert (rec.decoder, rec.beam_width, rec.alternatives) == ("beam", 4, 0)
    assert "greedy, beam width 4, 2 alternatives" in (path / "MODEL_CARD.md").read_text()


def test_bad_decoder_settings_are_refused(tiny_bundle) -> None:
    with pytest.raises(RecognizerError, match="unknown decoder"):
        Recognizer.load(tiny_bundle, decoder="magic")
    with pytest.raises(RecognizerError, match="needs a word list"):
        Recognizer.load(tiny_bundle, decoder="lexicon")


def test_a_missing_word_list_says_how_to_build_it(tiny_bundle, tmp_path) -> None:
    with pytest.raises(RecognizerError, match="not found.*inkdex lexicon"):
        Recognizer.load(tiny_bundle, decoder="lexicon", lexicon=tmp_path / "none.txt")


def test_transcribe_json_schema_with_the_shipped_bundle(tmp_path) -> None:
    """`inkdex transcribe --json`: one PageTranscript per line with "path"; bad files go to stderr."""
    bundle = load_settings(REPO / "config.yaml").model.bundle
    if not (bundle / "model.yaml").is_file():
        pytest.skip(f"no trained bundle committed yet at {bundle}")
    import cv2

    img = tmp_path / "line.png"
    cv2.imwrite(str(img), _line(48, 400))
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "inkdex.cli",
            "transcribe",
            "--json",
            "--line",
            "--model",
            str(bundle),
            str(img),
            str(bad),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert proc.returncode == 1, proc.stderr
    assert "bad.png" in proc.stderr
    rows = [json.loads(x) for x in proc.stdout.splitlines()]
    assert len(rows) == 1
    assert rows[0]["path"] == str(img)
    assert {"model_version", "width", "height", "lines"} <= rows[0].keys()
    assert rows[0]["model_version"] == bundle.name
    assert PageTranscript.from_dict(rows[0]).width == 400


def test_spelling_correction_rewrites_words_and_keeps_the_reading(tiny_bundle, tmp_path) -> None:
    words = tmp_path / "words.txt"
    words.write_text("house\t50\ngarden\t20\n", encoding="utf-8")
    with pytest.raises(RecognizerError, match="needs a word list"):
        Recognizer.load(tiny_bundle, decoder="beam", spell_correction=True)
    rec = Recognizer.load(tiny_bundle, decoder="beam", lexicon=words, spell_correction=True)
    read = (
        WordResult("the", 0.9, 0, 10, (("the", 0.9),), 0, 2),
        WordResult("hause,", 0.6, 12, 30, (("hause,", 0.6), ("hanse,", 0.3)), 3, 8),
    )
    line = rec._correct(LineResult("the  hause,", 0.75, read))
    assert line.text == "the  house,"
    fixed = line.words[1]
    assert fixed.text == "house,"
    assert fixed.alternatives == (("house,", 0.6), ("hause,", 0.6), ("hanse,", 0.3))
    assert (fixed.x0, fixed.x1) == (12, 30)


def test_spelling_correction_with_the_shipped_bundle_writes_listed_words() -> None:
    """End to end: `load_recognizer` with `model.spell_correction` on the real model."""
    settings = load_settings(REPO / "config.yaml")
    m = settings.model
    if not (m.bundle / "model.yaml").is_file() or m.lexicon is None or not m.lexicon.is_file():
        pytest.skip("no trained bundle or word list (make test writes the word list)")
    from recognizer.lexicon import Lexicon
    from recognizer.recognize import load_recognizer

    rec = load_recognizer(m.model_copy(update={"decoder": "beam", "spell_correction": True}))
    lexicon = Lexicon.from_file(m.lexicon)
    import cv2

    img = np.full((60, 420), 255, np.uint8)
    cv2.putText(img, "garden house", (8, 42), cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, 1.3, 0, 2)
    (line,) = rec.recognize_lines([img])
    assert line.words
    for w in line.words:
        core = w.text.strip(".,;:!?()'\"").lower()
        assert len(core) < 3 or core in lexicon or not core.isalpha(), w.text


def test_capital_prior_setting_reaches_the_lexicon_decoder() -> None:
    """`model.capital_prior` from the settings is what the loaded recognizer's lexicon uses."""
    settings = load_settings(REPO / "config.yaml")
    m = settings.model
    if not (m.bundle / "model.yaml").is_file() or m.lexicon is None or not m.lexicon.is_file():
        pytest.skip("no trained bundle or word list (make test writes the word list)")
    from recognizer.recognize import load_recognizer

    rec = load_recognizer(m.model_copy(update={"capital_prior": (-1.0, -2.5)}))
    assert rec.lexicon.capital_logp == (-1.0, -2.5)
    assert load_recognizer(m).lexicon.capital_logp == (0.0, 0.0)


def test_shift_rows_moves_the_image_and_fills_with_background() -> None:
    from recognizer.recognize import shift_rows

    x = np.arange(1, 13, dtype=np.float32).reshape(1, 4, 3, 1)
    down = shift_rows(x, 1)
    assert np.array_equal(down[0, 1:], x[0, :3]) and not down[0, 0].any()
    up = shift_rows(x, -2)
    assert np.array_equal(up[0, :2], x[0, 2:]) and not up[0, 2:].any()


@pytest.mark.parametrize("bad", [(0,), (2, 2), (9,), (1.5,)])
def test_bad_test_time_shifts_are_refused(tiny_bundle, bad) -> None:
    with pytest.raises(RecognizerError, match="shifts"):
        Recognizer.load(tiny_bundle, decoder="greedy", shifts=bad)


def test_test_time_shifts_average_the_readings_of_shifted_copies(tiny_bundle) -> None:
    """With shifts (-2, 2) every batch is read three times, the inputs moved up and down,
    and the frame probabilities are the renormalised geometric mean of the three."""
    from recognizer.bundle import load_bundle
    from recognizer.recognize import shift_rows

    bundle = load_bundle(tiny_bundle)
    real = Recognizer.load(tiny_bundle, decoder="greedy")
    seen: list[np.ndarray] = []

    def model(x: np.ndarray) -> np.ndarray:
        seen.append(np.array(x))
        return np.asarray(real._model(x))

    rec = Recognizer(bundle, model, decoder="greedy", shifts=(-2, 2))
    crop = _line(40, 300)
    (p,) = rec.probabilities([crop])
    assert len(seen) == 3
    plain, up, down = seen
    assert np.array_equal(up, shift_rows(plain, -2)) and np.array_equal(down, shift_rows(plain, 2))
    readings = [np.asarray(real._model(x))[0, : p.shape[0]] for x in seen]
    mean = np.exp(np.mean([np.log(np.maximum(r, 1e-8)) for r in readings], axis=0))
    np.testing.assert_allclose(p, mean / mean.sum(-1, keepdims=True), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(p.sum(-1), 1.0, rtol=1e-5)
    (unshifted,) = real.probabilities([crop])
    assert not np.allclose(p, unshifted)


def test_test_time_shifts_setting_reaches_the_recognizer_with_the_shipped_bundle(
    tmp_path,
) -> None:
    """`model.test_time_shifts` in config.yaml: validated on load, used by the real model."""
    settings = load_settings(REPO / "config.yaml")
    m = settings.model
    if not (m.bundle / "model.yaml").is_file():
        pytest.skip("no trained bundle")
    from inkdex.settings import SettingsError
    from recognizer.recognize import load_recognizer

    bad = tmp_path / "bad.yaml"
    bad.write_text("model:\n  test_time_shifts: [0, 2]\n")
    with pytest.raises(SettingsError, match="test_time_shifts"):
        load_settings(bad)
    unshifted = m.model_copy(update={"decoder": "greedy", "test_time_shifts": []})
    assert load_recognizer(unshifted).shifts == ()
    rec = load_recognizer(m.model_copy(update={"decoder": "greedy"}))
    assert rec.shifts == (-2, 2)  # config.yaml's
    import cv2

    img = np.full((60, 420), 255, np.uint8)
    cv2.putText(img, "garden house", (8, 42), cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, 1.3, 0, 2)
    (line,) = rec.recognize_lines([img])
    assert line.words and all(0 <= w.x0 < w.x1 <= img.shape[1] for w in line.words)


def test_helper_processes_read_the_shipped_bundles_lines_as_this_process_does() -> None:
    """End to end: `model.decode_processes` with the real model, word list and LM."""
    settings = load_settings(REPO / "config.yaml")
    m = settings.model
    if not (m.bundle / "model.yaml").is_file() or m.lexicon is None or not m.lexicon.is_file():
        pytest.skip("no trained bundle or word list (make test writes the word list)")
    import cv2

    from recognizer import parallel
    from recognizer.recognize import load_recognizer

    crops = []
    for text in ["the garden house", "letters from Kew", "seeds and roots"] * 5:
        img = np.full((60, 520), 255, np.uint8)
        cv2.putText(img, text, (8, 42), cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, 1.2, 0, 2)
        crops.append(img)
    alone = load_recognizer(m.model_copy(update={"decode_processes": 0}))
    helped = load_recognizer(m.model_copy(update={"decode_processes": 1}))
    try:
        assert alone._pool is None and helped._pool is not None
        probs = helped.probabilities(crops)
        assert sum(p.shape[0] for p in probs) >= parallel.MIN_SHARED_FRAMES  # shared out
        assert helped.recognize_lines(crops) == alone.recognize_lines(crops)
        assert helped._pool.alive
        # Whole pages: segmented and read partly in the helper, as here.
        pages = []
        for k in range(3):
            page = np.full((700, 1100), 255, np.uint8)
            for j, text in enumerate(["the garden house", "letters from Kew", "seeds"][: k + 1]):
                y = 120 + 130 * j
                cv2.putText(page, text, (40, y), cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, 2.0, 0, 3)
            pages.append(page)
        got = helped.transcribe_pages(pages)
        assert got == alone.transcribe_pages(pages)
        assert [len(t.lines) for t in got] == [1, 2, 3]
        assert helped._pool.alive
    finally:
        helped.close()


def test_decode_processes_default_to_one_fewer_than_the_cores(monkeypatch) -> None:
    from recognizer import recognize

    assert recognize.decode_processes(0) == 0 and recognize.decode_processes(2) == 2
    monkeypatch.setattr(recognize.os, "sched_getaffinity", lambda _: {0, 1}, raising=False)
    assert recognize.decode_processes(None) == 1
    monkeypatch.setattr(recognize.os, "sched_getaffinity", lambda _: set(range(16)), raising=False)
    assert recognize.decode_processes(None) == 3
    monkeypatch.setattr(recognize.os, "sched_getaffinity", lambda _: {0}, raising=False)
    assert recognize.decode_processes(None) == 0
