"""Whole-page transcription: crops, batching across pages, word boxes, overlay, eval."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest

from inkdex.settings import load_settings
from recognizer.page import draw_overlay, overlay_path, save_overlay, transcribe_pages
from recognizer.page_eval import evaluate_pages, iou, match_boxes
from recognizer.preprocess import rotate
from recognizer.synthpage import PageSynth, write_pages
from recognizer.transcript import PageTranscript

REPO = Path(__file__).resolve().parents[2]
BUNDLE = load_settings(REPO / "config.yaml").model.bundle
FONT = cv2.FONT_HERSHEY_SIMPLEX


@dataclass(frozen=True)
class _Word:
    text: str
    confidence: float
    x0: int
    x1: int
    alternatives: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class _Reading:
    text: str
    confidence: float
    words: tuple[_Word, ...]


class _InkReader:
    """A stand-in recognizer: reads every ink run of a crop as one word named by its order."""

    version = "fake-1"

    def __init__(self) -> None:
        self.calls: list[int] = []

    def recognize_lines(self, crops: Sequence[np.ndarray]) -> list[_Reading]:
        self.calls.append(len(crops))
        out = []
        for crop in crops:
            cols = (crop < 128).any(axis=0)
            runs, start = [], None
            for x, on in enumerate(np.append(cols, False)):
                if on and start is None:
                    start = x
                elif not on and start is not None:
                    if runs and start - runs[-1][1] < 20:  # letters of one word
                        runs[-1] = (runs[-1][0], x)
                    else:
                        runs.append((start, x))
                    start = None
            words = tuple(
                _Word(f"w{i}", 0.9, a, b, ((f"w{i}", 0.9),)) for i, (a, b) in enumerate(runs)
            )
            out.append(_Reading(" ".join(w.text for w in words), 0.9, words))
        return out


def _page(tilt: float = 0.0) -> tuple[np.ndarray, list]:
    page = np.full((400, 800), 255, np.uint8)
    truth = []
    for i, words in enumerate([["alpha", "beta", "gamma"], ["delta", "epsilon"], ["zeta", "eta"]]):
        x, y = 50, 90 + 110 * i
        for w in words:
            layer = np.zeros_like(page)
            cv2.putText(layer, w, (x, y), FONT, 1.3, 255, 3)
            ys, xs = np.nonzero(layer)
            truth.append((int(xs.min()), int(ys.min()), int(np.ptp(xs)) + 1, int(np.ptp(ys)) + 1))
            page[layer > 0] = 0
            x += cv2.getTextSize(w, FONT, 1.3, 3)[0][0] + 40
    if tilt:
        page, _ = rotate(page, tilt)
    return cv2.cvtColor(page, cv2.COLOR_GRAY2BGR), truth


def test_word_boxes_land_on_the_words() -> None:
    image, truth = _page()
    (t,) = transcribe_pages(_InkReader(), [image])
    assert isinstance(t, PageTranscript)
    assert (t.width, t.height, t.model_version) == (800, 400, "fake-1")
    assert len(t.lines) == 3
    boxes = [w.bbox for line in t.lines for w in line.words]
    assert len(match_boxes(truth, boxes, 0.6)) == len(truth)
    assert t.lines[0].words[0].alternatives == (("w0", 0.9),)


def test_lines_of_all_pages_are_read_in_one_call() -> None:
    reader = _InkReader()
    a, _ = _page()
    b, _ = _page()
    pages = transcribe_pages(reader, [a, b[:200]])
    assert reader.calls == [3 + 2]
    assert [len(p.lines) for p in pages] == [3, 2]
    assert pages[1].height == 200


def test_boxes_are_in_original_coordinates_of_a_tilted_page() -> None:
    image, _ = _page(tilt=3.0)
    (t,) = transcribe_pages(_InkReader(), [image])
    assert (t.width, t.height) == (image.shape[1], image.shape[0])
    ink = image[:, :, 0] < 128
    covered = np.zeros_like(ink)
    for line in t.lines:
        x, y, w, h = line.bbox
        covered[y : y + h, x : x + w] = True
        for wx, wy, ww, wh in (word.bbox for word in line.words):
            assert ink[wy : wy + wh, wx : wx + ww].mean() > 0.05
    assert (ink & covered).sum() > 0.95 * ink.sum()


def test_a_blank_page_gives_an_empty_transcript() -> None:
    reader = _InkReader()
    (t,) = transcribe_pages(reader, [np.full((100, 100, 3), 255, np.uint8)])
    assert t.lines == () and reader.calls == []


def test_overlay_draws_boxes_and_is_written(tmp_path: Path) -> None:
    image, _ = _page()
    (t,) = transcribe_pages(_InkReader(), [image])
    out = draw_overlay(image, t)
    assert out.shape == image.shape
    green = (out[:, :, 1] > 120) & (out[:, :, 0] < 80) & (out[:, :, 2] < 80)
    assert green.sum() > 100
    path = save_overlay(tmp_path / "o.png", image, t)
    assert cv2.imread(str(path)).shape == image.shape
    assert overlay_path(tmp_path / "o.png", 1, 3).name == "o-2.png"
    assert overlay_path(tmp_path / "o.png", 0, 1).name == "o.png"


def test_page_eval_reports_detection_without_a_model(tmp_path: Path) -> None:
    image, truth = _page()
    cv2.imwrite(str(tmp_path / "p.png"), image)
    line = {
        "bbox": list(truth[0]),
        "text": "alpha",
        "words": [{"bbox": list(truth[0]), "text": "alpha"}],
    }
    (tmp_path / "pages.jsonl").write_text(
        json.dumps({"file": "p.png", "width": 800, "height": 400, "lines": [line]}) + "\n"
    )
    report = evaluate_pages(tmp_path)
    d = report.to_dict()
    assert d["pages"] == 1 and d["page_cer"] is None
    assert d["lines"]["truth"] == 1 and d["lines"]["found"] == 3
    assert d["words"]["matched"] == 1
    assert iou((0, 0, 10, 10), (5, 0, 10, 10)) == pytest.approx(1 / 3)


def test_page_eval_with_a_reader_reports_text_errors(tmp_path: Path) -> None:
    write_pages(tmp_path, PageSynth(seed=2, kinds=("letter",)), 1)
    report = evaluate_pages(tmp_path, recognizer=_InkReader())
    assert report.cer is not None and 0.0 < report.cer <= 1.5
    assert report.lines.f1 > 0.5
    assert report.model == "fake-1"


def test_bundled_model_reads_most_words_of_a_synthetic_page() -> None:
    """End to end with the real recognizer on a clean synthetic letter."""
    if not (BUNDLE / "model.yaml").is_file():
        pytest.skip(f"model bundle {BUNDLE} not present yet")
    from recognizer.recognize import Recognizer

    rec = Recognizer.load(BUNDLE, decoder="greedy")
    page = PageSynth(seed=11, kinds=("letter",)).sample(0)
    (t,) = rec.transcribe_pages([page.image])
    truth_words = [w.text.lower() for line in page.lines for w in line.words]
    read = {w.text.lower() for line in t.lines for w in line.words}
    found = sum(1 for w in truth_words if w in read)
    assert found >= 0.5 * len(truth_words)
