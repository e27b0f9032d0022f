"""Whole pages -> `PageTranscript`s: segment, crop lines, read them, place the words.

Each page is normalised (rectified, deskewed, background flattened), segmented into
lines, and every line is cut from the clean page with a small margin. All lines of all
pages go to the recognizer together (it batches them by width). A word's box takes its
x-range from the decoder's frames mapped into page pixels and its y-range from the ink
the segmenter found under that x-range; every box is then mapped back to the pixels
of the original image.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from recognizer.preprocess import PreparedPage, prepare_page
from recognizer.segment import LineBox, segment_lines
from recognizer.transcript import BBox, Line, PageTranscript, Word

log = logging.getLogger(__name__)

#: Margin around a line crop, as a fraction of the line's height (top/bottom, sides).
CROP_MARGIN_Y = 0.12
CROP_MARGIN_X = 0.3


class _WordReading(Protocol):
    text: str
    confidence: float
    x0: int
    x1: int
    alternatives: tuple[tuple[str, float], ...]


class _LineReading(Protocol):
    text: str
    confidence: float
    words: Sequence[_WordReading]


class LineReader(Protocol):
    """What `transcribe_pages` needs of a recognizer (`recognizer.recognize.Recognizer`)."""

    @property
    def version(self) -> str: ...

    def recognize_lines(self, crops: Sequence[np.ndarray]) -> Sequence[_LineReading]: ...


@dataclass(frozen=True)
class LineCrop:
    """A line cut from a prepared page: the pixels and where they came from."""

    image: np.ndarray  # uint8 gray, dark ink on white
    origin: tuple[int, int]  # (x, y) of the crop's top-left corner in the prepared page
    line: LineBox  # in prepared-page coordinates


def crop_line(gray: np.ndarray, line: LineBox) -> LineCrop:
    """Cut `line` out of the prepared page with a margin proportional to its height."""
    x, y, w, h = line.bbox
    my = max(2, int(round(CROP_MARGIN_Y * h)))
    mx = max(4, int(round(CROP_MARGIN_X * h)))
    H, W = gray.shape[:2]
    x0, y0 = max(0, x - mx), max(0, y - my)
    x1, y1 = min(W, x + w + mx), min(H, y + h + my)
    return LineCrop(gray[y0:y1, x0:x1], (x0, y0), line)


def segment_prepared(images: Sequence[np.ndarray]) -> list[tuple[PreparedPage, list[LineBox]]]:
    """Prepare and segment each page; line boxes are in prepared-page coordinates."""
    out = []
    for image in images:
        prepared = prepare_page(image)
        out.append((prepared, segment_lines(prepared.gray)))
    return out


def transcribe_pages(
    recognizer: LineReader,
    images: Sequence[np.ndarray],
    segmented: Sequence[tuple[PreparedPage, list[LineBox]]] | None = None,
) -> list[PageTranscript]:
    """Transcribe page images (BGR or gray uint8); one `PageTranscript` per image.

    Boxes are in pixels of each original image. Lines read as empty are left out. A
    recognizer with a ``segment_pages(images)`` method (`Recognizer`: in its helper
    processes) segments the pages itself, as `segment_prepared` does; `segmented`, when
    given, is what `segment_prepared(images)` gave.
    """
    if segmented is not None:
        if len(segmented) != len(images):
            raise ValueError(f"{len(segmented)} segmented pages for {len(images)} images")
        pages = list(segmented)
    else:
        pages = getattr(recognizer, "segment_pages", segment_prepared)(images)
    crops: list[LineCrop] = []
    owner: list[int] = []
    for i, (prepared, lines) in enumerate(pages):
        for line in lines:
            crops.append(crop_line(prepared.gray, line))
            owner.append(i)
    readings = recognizer.recognize_lines([c.image for c in crops]) if crops else []
    per_page: list[list[Line]] = [[] for _ in pages]
    for crop, reading, i in zip(crops, readings, owner, strict=True):
        line = _place_line(pages[i][0], crop, reading)
        if line is not None:
            per_page[i].append(line)
    out = []
    for (prepared, _), lines in zip(pages, per_page, strict=True):
        w, h = prepared.original_size
        out.append(PageTranscript(recognizer.version, w, h, tuple(lines)))
    return out


def _place_line(prepared: PreparedPage, crop: LineCrop, reading: _LineReading) -> Line | None:
    if not reading.text.strip():
        return None
    ox, oy = crop.origin
    lx, ly, lw, lh = crop.line.bbox
    words = []
    for wr in reading.words:
        if not wr.text.strip():
            continue
        x0 = max(lx, ox + int(wr.x0))
        x1 = min(lx + lw, ox + int(wr.x1))
        if x1 <= x0:  # a word read in the margin: keep it, at the line's nearest edge
            x0, x1 = ox + int(wr.x0), ox + max(int(wr.x1), int(wr.x0) + 1)
        y0, y1 = _ink_rows(crop.line, x0, x1)
        box = prepared.box_to_original((x0, y0, x1 - x0, y1 - y0))
        words.append(Word(box, wr.text, float(wr.confidence), tuple(wr.alternatives)))
    bbox = prepared.box_to_original(crop.line.bbox)
    return Line(bbox, reading.text, float(reading.confidence), tuple(words))


def _ink_rows(line: LineBox, x0: int, x1: int) -> tuple[int, int]:
    """Vertical extent of the segmented words under columns x0..x1 (else the line's)."""
    lx, ly, lw, lh = line.bbox
    top, bottom = None, None
    for wx, wy, ww, wh in line.words:
        overlap = min(x1, wx + ww) - max(x0, wx)
        if overlap > 0.3 * min(ww, x1 - x0):
            top = wy if top is None else min(top, wy)
            bottom = wy + wh if bottom is None else max(bottom, wy + wh)
    if top is None or bottom is None:
        return ly, ly + lh
    return top, bottom


# ------------------------------------------------------------------ overlay


def draw_overlay(image: np.ndarray, transcript: PageTranscript) -> np.ndarray:
    """The page with line boxes (green), word boxes (blue) and the words read, for people."""
    from PIL import Image, ImageDraw

    base = image if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    # Light copy of the page so boxes and labels stand out.
    faded = (base.astype(np.float32) * 0.6 + 255 * 0.4).astype(np.uint8)
    pil = Image.fromarray(cv2.cvtColor(faded, cv2.COLOR_BGR2RGB))
    draw = ImageDraw.Draw(pil)
    for line in transcript.lines:
        x, y, w, h = line.bbox
        draw.rectangle([x, y, x + w, y + h], outline=(0, 170, 0), width=2)
        for word in line.words:
            wx, wy, ww, wh = word.bbox
            draw.rectangle([wx, wy, wx + ww, wy + wh], outline=(30, 60, 220), width=1)
            size = int(np.clip(0.45 * max(8, wh), 10, 40))
            font = _label_font(size)
            ty = max(0, wy - size - 2)
            tb = draw.textbbox((wx, ty), word.text, font=font)
            draw.rectangle(tb, fill=(255, 255, 255))
            draw.text((wx, ty), word.text, fill=(200, 0, 0), font=font)
    return cv2.cvtColor(np.asarray(pil), cv2.COLOR_RGB2BGR)


def _label_font(size: int) -> Any:
    from PIL import ImageFont

    return ImageFont.load_default(size)


def save_overlay(path: Path, image: np.ndarray, transcript: PageTranscript) -> Path:
    """Write `draw_overlay` to `path` (format from the suffix, PNG when unknown)."""
    path = Path(path)
    if path.suffix.lower() not in (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"):
        path = path.with_suffix(".png")
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), draw_overlay(image, transcript)):
        raise OSError(f"cannot write overlay image {path}")
    return path


def overlay_path(base: Path, index: int, count: int) -> Path:
    """`out.png` for one page; `out-1.png`, `out-2.png`, ... when there are several."""
    base = Path(base)
    if count <= 1:
        return base
    return base.with_name(f"{base.stem}-{index + 1}{base.suffix or '.png'}")


__all__ = [
    "BBox",
    "LineCrop",
    "LineReader",
    "crop_line",
    "draw_overlay",
    "overlay_path",
    "save_overlay",
    "segment_prepared",
    "transcribe_pages",
]
