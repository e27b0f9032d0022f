"""LineSynth: deterministic, thread-safe, uint8 dark-on-light lines of the right size."""

from __future__ import annotations

import pickle
import string
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import ImageFont

from recognizer.fonts import FontError
from recognizer.synth import LineSynth, Sample, substitute_missing, synth_sheet
from recognizer.text import PRINTABLE


@pytest.fixture(scope="module")
def font(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Pillow's bundled scalable font (Aileron), present wherever Pillow is."""
    p = tmp_path_factory.mktemp("fonts") / "Aileron-Regular.ttf"
    p.write_bytes(ImageFont.load_default(size=20).path.getvalue())
    return p


@pytest.fixture(scope="module")
def synth(font: Path) -> LineSynth:
    return LineSynth([font], seed=3, height=32)


def test_sample_is_a_uint8_grayscale_line_with_its_text(synth: LineSynth) -> None:
    s = synth.sample(0)
    assert isinstance(s, Sample)
    assert s.image.dtype == np.uint8 and s.image.ndim == 2
    assert s.image.shape[0] == 32 and s.image.shape[1] >= 8
    assert s.text and set(s.text) <= PRINTABLE
    assert s.font == "Aileron-Regular.ttf"


def test_same_seed_and_index_give_identical_pixels(font: Path, synth: LineSynth) -> None:
    again = LineSynth([font], seed=3, height=32)
    for i in (0, 1, 17, 12345):
        a, b = synth.sample(i), again.sample(i)
        assert a.text == b.text
        assert np.array_equal(a.image, b.image)


def test_different_index_or_seed_gives_different_samples(font: Path, synth: LineSynth) -> None:
    other_seed = LineSynth([font], seed=4, height=32)
    texts = {synth.sample(i).text for i in range(20)}
    assert len(texts) >= 15
    assert [synth.sample(i).text for i in range(10)] != [
        other_seed.sample(i).text for i in range(10)
    ]


def test_threads_get_the_same_samples_as_one_thread(synth: LineSynth) -> None:
    idx = list(range(100, 140))
    serial = [synth.sample(i) for i in idx]
    with ThreadPoolExecutor(4) as pool:
        threaded = list(pool.map(synth.sample, idx))
    assert all(
        a.text == b.text and np.array_equal(a.image, b.image)
        for a, b in zip(serial, threaded, strict=True)
    )


def test_pickled_synth_gives_the_same_samples(synth: LineSynth) -> None:
    """Worker processes receive a copy and must produce the same data."""
    clone = pickle.loads(pickle.dumps(synth))
    assert np.array_equal(clone.sample(5).image, synth.sample(5).image)


def test_clean_lines_are_black_on_white(font: Path) -> None:
    clean = LineSynth([font], seed=0, augment=0.0, height=40)
    for i in range(10):
        img = clean.sample(i).image
        assert img[0, 0] == 255 and img[-1, -1] == 255  # pure white margins
        assert img.min() < 60  # solid dark ink
        assert (img == 255).mean() > 0.5  # mostly background


def test_augmentation_changes_the_pixels_but_keeps_dark_on_light(font: Path) -> None:
    clean = LineSynth([font], seed=0, augment=0.0, height=40)
    rough = LineSynth([font], seed=0, augment=1.0, height=40)
    differ = 0
    for i in range(30):
        c, r = clean.sample(i), rough.sample(i)
        assert c.text == r.text  # the text is drawn before any augmentation
        differ += c.image.shape != r.image.shape or not np.array_equal(c.image, r.image)
        # The background (median) is lighter than the ink (darkest percentile).
        assert np.median(r.image) > np.percentile(r.image, 2) + 20
    assert differ == 30


def test_natural_height_lines_are_large_enough(font: Path) -> None:
    s = LineSynth([font], seed=1)
    heights = [s.sample(i).image.shape[0] for i in range(20)]
    assert min(heights) >= 56 and max(heights) <= 250


def test_missing_punctuation_is_substituted_in_text_and_image(font: Path, tmp_path: Path) -> None:
    from fontTools import subset

    opts = subset.Options()
    tt = subset.load_font(str(font), opts)
    sub = subset.Subsetter(opts)
    sub.populate(unicodes=[ord(c) for c in string.printable if c not in "'\"-.,"])
    sub.subset(tt)
    p = tmp_path / "Sparse-Regular.ttf"
    subset.save_font(tt, str(p), opts)
    s = LineSynth([p], seed=0, height=32)
    texts = [s.sample(i).text for i in range(200)]
    assert all(t and not set(t) & set("'\"-.,") for t in texts)


@pytest.mark.parametrize(
    ("text", "missing", "out"),
    [
        ("a{b}c", "{}", "a(b)c"),
        ("x ~ y", "~", "x - y"),
        ("ok", "{}", "ok"),
        ("a ? b", "?", "a b"),
        ('"hi"', "\"'", "hi"),
    ],
)
def test_substitute_missing(text: str, missing: str, out: str) -> None:
    assert substitute_missing(text, missing) == out


def test_bad_arguments_are_refused(font: Path) -> None:
    with pytest.raises(FontError, match="fonts fetch"):
        LineSynth([])
    with pytest.raises(ValueError, match="augment"):
        LineSynth([font], augment=1.5)
    with pytest.raises(ValueError, match="height"):
        LineSynth([font], height=2)


def test_unreadable_font_raises_a_font_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.ttf"
    bad.write_bytes(b"junk")
    with pytest.raises(FontError, match="bad.ttf"):
        LineSynth([bad]).sample(0)


def test_contact_sheet_is_written(synth: LineSynth, tmp_path: Path) -> None:
    out = synth_sheet(synth, tmp_path / "sheet.png", n=6)
    from PIL import Image

    with Image.open(out) as im:
        assert im.size[0] > 100 and im.size[1] > 100


def test_synth_sheet_command_uses_the_font_cache(font: Path, tmp_path: Path) -> None:
    from inkdex.cli import main

    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / font.name).write_bytes(font.read_bytes())
    cfg = tmp_path / "config.yaml"
    cfg.write_text(f"synth:\n  font_cache: {cache}\n  heldout_fraction: 0.0\n")
    out = tmp_path / "s.png"
    assert main(["synth", "sheet", str(out), "--n", "4", "--config", str(cfg)]) == 0
    assert out.is_file()
    empty = tmp_path / "empty.yaml"
    empty.write_text(f"synth:\n  font_cache: {tmp_path / 'none'}\n")
    assert main(["synth", "sheet", str(out), "--config", str(empty)]) == 1
