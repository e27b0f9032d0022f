"""The pipeline's lazily loaded recognizer: the first pages are segmented while it loads."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

import recognizer
from indexer.pipeline import LazyRecognizer, ModelUnavailable
from inkdex.settings import Settings
from recognizer.page import segment_prepared


def _page(text: str) -> np.ndarray:
    page = np.full((400, 900), 255, np.uint8)
    cv2.putText(page, text, (40, 120), cv2.FONT_HERSHEY_SIMPLEX, 1.6, 0, 3)
    return page


class _Reader:
    version = "fake-1"

    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []

    def read_segmented(self, images, segmented):
        self.calls.append(("read_segmented", segmented))
        return [f"page {i}" for i in range(len(images))]

    def transcribe_pages(self, images):
        self.calls.append(("transcribe_pages", None))
        return [f"page {i}" for i in range(len(images))]


def _lazy(tmp_path: Path) -> LazyRecognizer:
    return LazyRecognizer(tmp_path / "bundle", Settings())


def test_the_first_pages_are_segmented_while_the_model_loads(tmp_path, monkeypatch) -> None:
    reader = _Reader()
    loaded_in: list[str] = []

    def load(settings, bundle):
        loaded_in.append(threading.current_thread().name)
        time.sleep(0.3)
        return reader

    monkeypatch.setattr(recognizer, "load_recognizer", load)
    pages = [_page("the cat sat"), _page("on the mat")]
    lazy = _lazy(tmp_path)
    assert lazy.transcribe_pages(pages) == ["page 0", "page 1"]
    assert loaded_in and loaded_in[0] != threading.current_thread().name
    ((kind, segmented),) = reader.calls
    assert kind == "read_segmented"
    assert [lines for _, lines in segmented] == [lines for _, lines in segment_prepared(pages)]
    # Loaded: later pages go to the recognizer whole, which segments them itself.
    assert lazy.transcribe_pages(pages[:1]) == ["page 0"]
    assert reader.calls[-1][0] == "transcribe_pages"
    assert len(loaded_in) == 1


def test_a_model_that_cannot_load_wins_over_a_page_that_cannot_be_segmented(
    tmp_path, monkeypatch
) -> None:
    def load(settings, bundle):
        raise OSError("weights unreadable")

    monkeypatch.setattr(recognizer, "load_recognizer", load)
    lazy = _lazy(tmp_path)
    with pytest.raises(ModelUnavailable, match="weights unreadable"):
        lazy.transcribe_pages([np.zeros((0, 0), np.uint8)])  # the documents stay queued
    with pytest.raises(ModelUnavailable, match="weights unreadable"):
        lazy.transcribe_pages([_page("the cat")])


def test_a_page_that_cannot_be_segmented_fails_with_a_loaded_model(tmp_path, monkeypatch) -> None:
    reader = _Reader()
    monkeypatch.setattr(recognizer, "load_recognizer", lambda settings, bundle: reader)
    lazy = _lazy(tmp_path)
    with pytest.raises(ValueError, match="non-empty"):
        lazy.transcribe_pages([np.zeros((0, 0), np.uint8)])
    assert lazy.get() is reader  # the model was loaded all the same
    assert not reader.calls


def test_a_recognizer_without_read_segmented_gets_the_pages_whole(tmp_path, monkeypatch) -> None:
    class Whole:
        version = "fake-2"

        def transcribe_pages(self, images):
            return ["whole"] * len(images)

    monkeypatch.setattr(recognizer, "load_recognizer", lambda settings, bundle: Whole())
    assert _lazy(tmp_path).transcribe_pages([_page("the cat")]) == ["whole"]
