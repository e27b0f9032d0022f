"""A deterministic stand-in for the recognizer, and test pages it can read.

A test page carries its own transcript: the UTF-8 bytes of a small markup written
into the first pixel row of a PNG (lossless, so they survive the round trip).
Markup: lines separated by newlines, words by spaces; a word is ``text``,
``text@0.6`` (its confidence) or ``text@0.6{alt:0.3,other:0.1}`` (alternatives).
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from recognizer.transcript import Line, PageTranscript, Word

_WORD = re.compile(r"^(?P<text>[^@{]+)(?:@(?P<conf>[0-9.]+))?(?:\{(?P<alts>[^}]*)\})?$")
WORD_W, WORD_H, LINE_H = 90, 30, 40


def page_image(markup: str, height: int = 40) -> np.ndarray:
    """A grayscale page whose first row holds `markup` (0-terminated)."""
    data = markup.encode("utf-8")
    width = max(64, len(data) + 1)
    img = np.full((height, width), 255, np.uint8)
    img[0, : len(data)] = np.frombuffer(data, np.uint8)
    img[0, len(data)] = 0
    return img


def write_page(path: Path, markup: str) -> Path:
    """A PNG (whatever the name's extension) carrying `markup`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, png = cv2.imencode(".png", page_image(markup))
    assert ok
    path.write_bytes(png.tobytes())
    return path


def write_tiff(path: Path, markups: Sequence[str]) -> Path:
    """A multi-page TIFF, one page per markup."""
    from PIL import Image

    frames = [Image.fromarray(page_image(m)) for m in markups]
    frames[0].save(path, save_all=True, append_images=frames[1:], compression="tiff_deflate")
    return path


def read_markup(image: np.ndarray) -> str:
    row = image[0] if image.ndim == 2 else image[0, :, 0]
    data = bytes(row.tolist())
    return data.split(b"\x00", 1)[0].decode("utf-8")


def transcript(markup: str, version: str) -> PageTranscript:
    lines = []
    for li, text in enumerate(markup.split("\n")):
        words = []
        for wi, tok in enumerate(text.split()):
            m = _WORD.match(tok)
            if m is None:
                raise ValueError(f"bad test word {tok!r}")
            alts: tuple[tuple[str, float], ...] = ()
            if m.group("alts"):
                alts = tuple(
                    (a.split(":")[0], float(a.split(":")[1])) for a in m.group("alts").split(",")
                )
            conf = float(m.group("conf") or 0.9)
            box = (wi * (WORD_W + 10), li * LINE_H, WORD_W, WORD_H)
            words.append(Word(box, m.group("text"), conf, alts))
        lines.append(
            Line((0, li * LINE_H, 1000, WORD_H), " ".join(w.text for w in words), 0.9, tuple(words))
        )
    return PageTranscript(version, 1000, LINE_H * len(lines), tuple(lines))


class FakeRecognizer:
    """Reads the markup back from each image; records every batch it was given."""

    def __init__(self, version: str = "fake-1", delay_s: float = 0.0) -> None:
        self.version = version
        self.delay_s = delay_s
        self.batches: list[int] = []

    def transcribe_pages(self, images: Sequence[np.ndarray]) -> list[PageTranscript]:
        self.batches.append(len(images))
        if self.delay_s:
            time.sleep(self.delay_s * len(images))
        return [transcript(read_markup(img), self.version) for img in images]
