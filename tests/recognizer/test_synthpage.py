"""Synthetic pages: deterministic, truth boxes on the ink, the page-set format."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from recognizer import synthpage
from recognizer.page_eval import load_page_set
from recognizer.synthpage import KINDS, PageSynth, write_pages


@pytest.fixture(scope="module")
def synth() -> PageSynth:
    # No font files: Pillow's built-in font, so the test needs nothing installed.
    return PageSynth(seed=3)


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_has_lines_with_words_inside_the_image(synth: PageSynth, kind: str) -> None:
    page = synth.sample(1, kind)
    h, w = page.image.shape[:2]
    assert page.image.dtype == np.uint8 and page.image.ndim == 3
    assert page.kind == kind and len(page.lines) >= 2
    for line in page.lines:
        x, y, lw, lh = line.bbox
        assert 0 <= x and 0 <= y and x + lw <= w and y + lh <= h
        assert line.text == " ".join(word.text for word in line.words)
        for word in line.words:
            wx, wy, ww, wh = word.bbox
            assert ww > 0 and wh > 0
            assert x <= wx and wx + ww <= x + lw and y <= wy and wy + wh <= y + lh


@pytest.mark.parametrize("kind", KINDS)
def test_truth_boxes_sit_on_ink(synth: PageSynth, kind: str) -> None:
    """Inside a word box the page is darker than around it: the box follows the warp."""
    page = synth.sample(2, kind)
    gray = page.image.min(axis=2).astype(np.float32)
    inside, ring = [], []
    for line in page.lines:
        for word in line.words:
            x, y, w, h = word.bbox
            inside.append(gray[y : y + h, x : x + w].min())
    assert np.median(inside) < 120
    # The darkest pixel of a box is near its edge-to-edge extent: boxes are tight.
    for line in page.lines[:3]:
        x, y, w, h = line.bbox
        ring.append(gray[max(0, y - 12) : max(1, y - 4), x : x + w].mean())
    assert np.mean(ring) > np.median(inside) + 40


def test_pages_are_deterministic_in_seed_and_index() -> None:
    a = PageSynth(seed=5).sample(7)
    b = PageSynth(seed=5).sample(7)
    c = PageSynth(seed=6).sample(7)
    assert np.array_equal(a.image, b.image) and a.lines == b.lines
    assert not (a.image.shape == c.image.shape and np.array_equal(a.image, c.image))


def test_default_mix_is_half_whiteboards() -> None:
    s = PageSynth()
    kinds = [s.kinds[i % len(s.kinds)] for i in range(8)]
    assert kinds.count("whiteboard") == 4


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown page kind"):
        PageSynth(kinds=("poster",))


def test_writer_produces_the_page_set_format(tmp_path: Path) -> None:
    index = write_pages(tmp_path, PageSynth(seed=1), 2)
    rows = [json.loads(x) for x in index.read_text().splitlines()]
    assert [r["file"] for r in rows] == ["page_000.png", "page_001.png"]
    assert {"file", "width", "height", "lines"} <= set(rows[0])
    assert {"bbox", "text", "words"} <= set(rows[0]["lines"][0])
    pages = load_page_set(tmp_path)
    assert len(pages) == 2 and (tmp_path / pages[0].file).is_file()
    assert pages[0].lines[0].words[0].text


@pytest.mark.parametrize("kind", ["letter", "notebook"])
def test_wear_changes_the_page_but_not_its_layout_or_truth(kind: str, monkeypatch) -> None:  # noqa: ANN001
    """Show-through and pen pressure are drawn from their own stream: same words, same boxes."""
    monkeypatch.setattr(synthpage, "SHOW_THROUGH", 0.0)
    monkeypatch.setattr(synthpage, "PRESSURE", 0.0)
    clean = PageSynth(seed=4).sample(3, kind)
    monkeypatch.setattr(synthpage, "SHOW_THROUGH", 1.0)
    monkeypatch.setattr(synthpage, "PRESSURE", 1.0)
    worn = PageSynth(seed=4).sample(3, kind)
    assert worn.lines == clean.lines
    assert not np.array_equal(worn.image, clean.image)
