"""Synthetic pages with ground truth: notebook pages, letters and whiteboard photos.

Each page is composed word by word with handwriting fonts, so the true box of every
word (its inked pixels) and of every line is known; the page is then aged, skewed or,
for whiteboards, drawn with markers among doodles and photographed at an angle with
glare and shadow, and the truth boxes follow every geometric step. A page is a pure
function of (seed, index). `write_pages` writes a folder in the `pages.jsonl` format
that `recognizer.page_eval` reads (the same format as the real letter pages).

Use train fonts for anything that might be trained on and held-out fonts for
evaluation pages (`recognizer.fonts.split_fonts`).
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from recognizer.page_eval import PageTruth, TruthLine, TruthWord
from recognizer.transcript import BBox

log = logging.getLogger(__name__)

KINDS = ("notebook", "letter", "whiteboard")
#: Default mix of `write_pages`: half whiteboard photos, a quarter each of the others.
DEFAULT_MIX = ("whiteboard", "notebook", "whiteboard", "letter")

# BGR in [0, 1].
_PAPERS = ((0.97, 0.97, 0.97), (0.86, 0.94, 0.97), (0.80, 0.91, 0.95), (0.90, 0.90, 0.90))
_PENS = ((0.55, 0.18, 0.10), (0.12, 0.12, 0.12), (0.35, 0.12, 0.10), (0.38, 0.38, 0.38))
_MARKERS = ((0.12, 0.12, 0.12), (0.65, 0.28, 0.08), (0.18, 0.15, 0.78), (0.25, 0.55, 0.15))
_WALLS = ((0.45, 0.50, 0.55), (0.25, 0.28, 0.30), (0.60, 0.68, 0.72), (0.35, 0.30, 0.22))


@dataclass(frozen=True)
class SynthPage:
    """A page image (BGR uint8) and its true lines (boxes in image pixels), in reading order."""

    image: np.ndarray
    lines: tuple[TruthLine, ...]
    kind: str

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)

    def truth(self, file: str) -> PageTruth:
        h, w = self.image.shape[:2]
        return PageTruth(file, w, h, self.lines, self.kind)


@dataclass
class _Word:
    text: str
    ys: np.ndarray  # ink pixel coordinates on the canvas
    xs: np.ndarray


@functools.lru_cache(maxsize=256)
def _font(path: str, size: int) -> ImageFont.FreeTypeFont:
    if path:
        return ImageFont.truetype(path, size)
    return ImageFont.load_default(size)


@functools.lru_cache(maxsize=256)
def _scale_for(path: str) -> float:
    """Font size per pixel of x-height, so every font writes at the size asked for."""
    font = _font(path, 100)
    heights = []
    for ch in "xaeonu":
        _, t, _, b = font.getbbox(ch, anchor="ls")
        heights.append(b - t)
    xh = float(np.median(heights))
    return float(np.clip(100.0 / xh, 1.2, 4.0)) if xh > 0 else 2.0


def _sized_font(path: str, size: int) -> ImageFont.FreeTypeFont:
    """A font whose x-height is about half of `size` pixels."""
    return _font(path, int(round(np.clip(0.5 * size * _scale_for(path), 6, 400))))


def _missing(path: str) -> str:
    if not path:
        return ""
    try:
        from recognizer.fonts import missing_chars

        return missing_chars(Path(path))
    except Exception:  # a font the checks cannot read: render what it has
        return ""


def _clean(text: str, missing: str) -> str:
    if not missing:
        return text
    try:
        from recognizer.synth import substitute_missing

        return substitute_missing(text, missing)
    except ImportError:
        return "".join(c for c in text if c not in missing)


class _Text:
    """Words to write: from `recognizer.text.TextSource` when available, else a small list."""

    _FALLBACK = (
        "the of and to in is that it was for on are as with his they at be this from have or "
        "by one had not but what all were when we there can an your which their said if do "
        "will each about how up out them then she many some so these would other into has "
        "more her two like him see time could no make than first been its who now people my "
        "made over did down only way find use may water long little very after words called "
        "just where most know meeting notes draft plan 2024 review budget ideas Monday"
    ).split()

    def __init__(self, seed: int) -> None:
        try:
            from recognizer.text import TextSource

            self._src = TextSource(seed)
        except Exception:  # no vocabulary available: the built-in list will do
            self._src = None

    def words(self, rng: np.random.Generator) -> list[str]:
        if self._src is not None:
            words = self._src.line(rng).split()
            if words:
                return words
        n = int(rng.integers(2, 9))
        return [self._FALLBACK[int(rng.integers(len(self._FALLBACK)))] for _ in range(n)]


class PageSynth:
    """Draws synthetic pages: `sample(index)` is deterministic in (seed, index).

    `fonts` are font files (empty: Pillow's built-in font, enough for tests); `kinds`
    is cycled through by index (default: half whiteboards).
    """

    def __init__(
        self,
        fonts: Sequence[Path] = (),
        seed: int = 0,
        kinds: Sequence[str] = DEFAULT_MIX,
    ) -> None:
        bad = [k for k in kinds if k not in KINDS]
        if bad or not kinds:
            raise ValueError(f"unknown page kinds {bad or kinds}; choose from {KINDS}")
        self.fonts = [str(p) for p in fonts] or [""]
        self.seed = seed
        self.kinds = tuple(kinds)
        self._text = _Text(seed)

    def sample(self, index: int, kind: str | None = None) -> SynthPage:
        kind = kind or self.kinds[index % len(self.kinds)]
        if kind not in KINDS:
            raise ValueError(f"unknown page kind {kind!r}; choose from {KINDS}")
        rng = np.random.default_rng([self.seed, index, KINDS.index(kind)])
        return getattr(self, f"_{kind}")(rng)

    # ---------------------------------------------------------------- layout

    def _pick_font(self, rng: np.random.Generator) -> str:
        return self.fonts[int(rng.integers(len(self.fonts)))]

    def _write_word(
        self,
        layer: np.ndarray,
        font: ImageFont.FreeTypeFont,
        text: str,
        x: int,
        base: int,
        stroke: int,
    ) -> _Word | None:
        """Render `text` with its baseline at `base`, left edge at x, into the coverage layer."""
        left, t, r, b = font.getbbox(text, anchor="ls", stroke_width=stroke)
        w, h = r - left + 4, b - t + 4
        if w <= 4 or h <= 4:
            return None
        im = Image.new("L", (w, h), 0)
        ImageDraw.Draw(im).text(
            (2 - left, 2 - t),
            text,
            font=font,
            fill=255,
            anchor="ls",
            stroke_width=stroke,
            stroke_fill=255,
        )
        mask = np.asarray(im)
        ox, oy = x + left - 2, base + t - 2
        H, W = layer.shape
        x0, y0 = max(0, ox), max(0, oy)
        x1, y1 = min(W, ox + w), min(H, oy + h)
        if x1 <= x0 or y1 <= y0:
            return None
        sub = mask[y0 - oy : y1 - oy, x0 - ox : x1 - ox]
        np.maximum(layer[y0:y1, x0:x1], sub, out=layer[y0:y1, x0:x1])
        ys, xs = np.nonzero(sub > 96)
        if len(xs) == 0:
            return None
        return _Word(text, ys + y0, xs + x0)

    def _paragraph(
        self,
        rng: np.random.Generator,
        layer: np.ndarray,
        font_path: str,
        size: int,
        x0: int,
        x1: int,
        y: int,
        pitch: float,
        nlines: int,
        indent: int = 0,
        stroke: int = 0,
        y_max: int | None = None,
        jitter: bool = True,
    ) -> tuple[list[list[_Word]], int]:
        """Flow words into up to `nlines` lines between x0 and x1, baselines `pitch` apart."""
        font = _sized_font(font_path, size)
        missing = _missing(font_path)
        # People leave at least about an x-height between words, whatever the font says.
        space = max(font.getlength(" ") if font_path else 0.0, 0.3 * size)
        lines: list[list[_Word]] = []
        base = y
        y_max = y_max if y_max is not None else layer.shape[0] - size
        pending: list[str] = []
        for li in range(nlines):
            if base > y_max:
                break
            x = x0 + (indent if li == 0 else 0) + int(rng.integers(0, max(1, size // 3)))
            slope = rng.normal(0, 0.01)
            words: list[_Word] = []
            start_x = x
            # A short last line now and then, like the end of a paragraph.
            right = x1 if li < nlines - 1 else int(x0 + (x1 - x0) * rng.uniform(0.3, 1.0))
            while True:
                if not pending:
                    pending = [_clean(w, missing) for w in self._text.words(rng)]
                    pending = [w for w in pending if w.strip()]
                    if not pending:
                        continue
                word = pending[0]
                wlen = font.getlength(word)
                if x + wlen > right and words:
                    break
                if x + wlen > x1 and not words:
                    pending.pop(0)  # a word longer than the line: skip it
                    if x + size > right:
                        break
                    continue
                pending.pop(0)
                wob = int(round(rng.normal(0, size * 0.04) + slope * (x - start_x)))
                w = self._write_word(layer, font, word, int(x), base + wob, stroke)
                if w is not None:
                    words.append(w)
                x += wlen + space * rng.uniform(1.0, 1.8)
            if words:
                lines.append(words)
            base += int(round(pitch * (rng.uniform(0.97, 1.03) if jitter else 1.0)))
        return lines, base

    # ---------------------------------------------------------------- kinds

    def _letter(self, rng: np.random.Generator) -> SynthPage:
        W = int(rng.integers(1100, 1400))
        H = int(W * 1.414)
        layer = np.zeros((H, W), np.uint8)
        font = self._pick_font(rng)
        size = int(rng.integers(30, 46))
        pitch = size * rng.uniform(1.7, 2.2)
        mx = int(W * rng.uniform(0.08, 0.13))
        y = int(H * rng.uniform(0.07, 0.12))
        blocks: list[list[list[_Word]]] = []
        # A date or place line at the top right.
        if rng.random() < 0.7:
            lines, y = self._paragraph(rng, layer, font, size, int(W * 0.62), W - mx, y, pitch, 1)
            blocks.append(lines)
            y += int(pitch * 0.6)
        while y < H * 0.8:
            n = int(rng.integers(2, 8))
            lines, y = self._paragraph(
                rng,
                layer,
                font,
                size,
                mx,
                W - mx,
                y,
                pitch,
                n,
                indent=int(size * 1.5),
                y_max=int(H * 0.9),
            )
            blocks.append(lines)
            y += int(pitch * rng.uniform(0.6, 1.2))
        paper = np.array(_PAPERS[int(rng.integers(len(_PAPERS)))], np.float32)
        ink = np.array(_PENS[int(rng.integers(len(_PENS)))], np.float32)
        img = _paper(rng, H, W, paper)
        # Wear of an old letter, drawn from its own stream so the layout stays the same
        # as without it: the other side's writing shows through, pen pressure varies.
        aux = rng.spawn(1)[0]
        if aux.random() < SHOW_THROUGH:
            img = self._show_through(aux, img, font, size, pitch, mx, ink)
        opacity = rng.uniform(0.75, 1.0) * _pressure(aux, H, W, size)
        img = _ink(img, layer, ink, opacity)
        return self._finish_paper(rng, img, blocks, "letter")

    def _show_through(
        self,
        rng: np.random.Generator,
        img: np.ndarray,
        font: str,
        size: int,
        pitch: float,
        margin: int,
        ink: np.ndarray,
    ) -> np.ndarray:
        """The writing on the back of the sheet, mirrored, blurred and faint."""
        H, W = img.shape[:2]
        back = np.zeros((H, W), np.uint8)
        y = int(H * rng.uniform(0.05, 0.15))
        self._paragraph(
            rng,
            back,
            font,
            size,
            margin,
            W - margin,
            y,
            pitch * rng.uniform(0.9, 1.1),
            40,
            y_max=int(H * 0.92),
        )
        back = cv2.GaussianBlur(back[:, ::-1], (0, 0), rng.uniform(1.0, 2.5))
        return _ink(img, back, ink, rng.uniform(0.12, 0.3))

    def _notebook(self, rng: np.random.Generator) -> SynthPage:
        W = int(rng.integers(1100, 1400))
        H = int(W * rng.uniform(1.3, 1.45))
        layer = np.zeros((H, W), np.uint8)
        font = self._pick_font(rng)
        size = int(rng.integers(28, 42))
        rule = int(size * rng.uniform(1.6, 2.0))
        top = int(H * rng.uniform(0.08, 0.12))
        margin = int(W * rng.uniform(0.1, 0.16))
        blocks: list[list[list[_Word]]] = []
        base = top + rule
        while base < H - 2 * rule:
            n = int(rng.integers(1, 7))
            lines, base = self._paragraph(
                rng,
                layer,
                font,
                size,
                margin + size // 2,
                W - int(W * 0.05),
                base,
                rule,
                n,
                y_max=H - 2 * rule,
                jitter=False,
            )
            blocks.append(lines)
            base += rule * int(rng.integers(1, 3))
        paper = np.array(_PAPERS[int(rng.integers(2))], np.float32)
        img = _paper(rng, H, W, paper)
        # Ruled lines and the margin rule, under the writing.
        rules = np.zeros((H, W), np.uint8)
        for y in range(top, H - rule // 2, rule):
            cv2.line(rules, (0, y), (W - 1, y), 150, 2)
        cv2.line(rules, (margin, 0), (margin, H - 1), 170, 2)
        img = _ink(img, rules, np.array((0.85, 0.6, 0.45), np.float32), 0.5)
        red = np.zeros((H, W), np.uint8)
        cv2.line(red, (margin, 0), (margin, H - 1), 200, 2)
        img = _ink(img, red, np.array((0.45, 0.45, 0.9), np.float32), 0.6)
        ink = np.array(_PENS[int(rng.integers(len(_PENS)))], np.float32)
        aux = rng.spawn(1)[0]
        img = _ink(img, layer, ink, rng.uniform(0.75, 1.0) * _pressure(aux, H, W, size))
        return self._finish_paper(rng, img, blocks, "notebook")

    def _finish_paper(
        self, rng: np.random.Generator, img: np.ndarray, blocks: list, kind: str
    ) -> SynthPage:
        """Scanner or phone: a small rotation, a soft shadow, blur and noise."""
        H, W = img.shape[:2]
        deg = rng.uniform(-2.5, 2.5)
        m = cv2.getRotationMatrix2D((W / 2, H / 2), deg, 1.0)
        img = cv2.warpAffine(img, m, (W, H), borderMode=cv2.BORDER_REPLICATE)
        hom = np.vstack([m, [0, 0, 1]])
        if rng.random() < 0.4:
            img = img * _shadow(rng, H, W, 0.25)[:, :, None]
        img = _degrade(rng, img)
        return SynthPage(img, _truth(blocks, hom, W, H), kind)

    def _whiteboard(self, rng: np.random.Generator) -> SynthPage:
        BW = int(rng.integers(1500, 1900))
        BH = int(BW * rng.uniform(0.55, 0.7))
        layers = []
        blocks: list[list[list[_Word]]] = []
        # Blocks on a coarse grid of cells, some cells empty.
        cols = int(rng.integers(1, 4))
        rows = int(rng.integers(1, 3)) if cols > 1 else 2
        cw, ch = BW / cols, BH / rows
        occupied: list[tuple[int, int, int, int]] = []
        for r in range(rows):
            for c in range(cols):
                if rng.random() < 0.2 and (r or c):
                    continue
                size = (
                    int(rng.integers(34, 64)) if rng.random() < 0.8 else int(rng.integers(64, 90))
                )
                pitch = size * rng.uniform(1.5, 1.9)
                x0 = int(c * cw + rng.uniform(0.05, 0.15) * cw)
                x1 = int((c + 1) * cw - rng.uniform(0.05, 0.12) * cw)
                y0 = int(r * ch + rng.uniform(0.08, 0.2) * ch) + size
                y1 = int((r + 1) * ch - 0.08 * ch)
                if x1 - x0 < 5 * size:
                    continue
                nlines = int(rng.integers(2, 7))
                layer = np.zeros((BH, BW), np.uint8)
                lines, yend = self._paragraph(
                    rng,
                    layer,
                    self._pick_font(rng),
                    size,
                    x0,
                    x1,
                    y0,
                    pitch,
                    nlines,
                    stroke=int(rng.integers(0, 2)),
                    y_max=y1,
                )
                if not lines:
                    continue
                colour = np.array(_MARKERS[int(rng.integers(len(_MARKERS)))], np.float32)
                layers.append((layer, colour))
                blocks.append(lines)
                ys = np.concatenate([w.ys for line in lines for w in line])
                xs = np.concatenate([w.xs for line in lines for w in line])
                occupied.append((int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())))
        board = _paper(rng, BH, BW, np.array((0.95, 0.96, 0.96), np.float32), noise=0.01)
        board = board * _shadow(rng, BH, BW, 0.12)[:, :, None]
        doodles = _doodles(rng, BH, BW, occupied)
        board = _ink(board, doodles, np.array(_MARKERS[int(rng.integers(4))], np.float32), 0.9)
        for layer, colour in layers:
            board = _ink(board, layer, colour, rng.uniform(0.8, 1.0))
        # Aluminium frame.
        f = int(BW * 0.015)
        board = cv2.copyMakeBorder(board, f, f, f, f, cv2.BORDER_CONSTANT, value=(0.7, 0.7, 0.72))
        hom_frame = np.array([[1, 0, f], [0, 1, f], [0, 0, 1]], np.float64)
        BHf, BWf = board.shape[:2]
        # The photo: the board at an angle, inside a room.
        PW = int(rng.integers(1600, 2100))
        PH = int(PW * 0.75)
        cover = rng.uniform(0.6, 0.88)
        bw, bh = PW * cover, PW * cover * BHf / BWf
        if bh > PH * 0.92:
            bh = PH * 0.92
            bw = bh * BWf / BHf
        cx, cy = PW / 2 + rng.uniform(-0.05, 0.05) * PW, PH / 2 + rng.uniform(-0.05, 0.05) * PH
        j = 0.06 * bw
        dst = np.array(
            [
                [cx - bw / 2 + rng.uniform(-j, j), cy - bh / 2 + rng.uniform(-j, j)],
                [cx + bw / 2 + rng.uniform(-j, j), cy - bh / 2 + rng.uniform(-j, j)],
                [cx + bw / 2 + rng.uniform(-j, j), cy + bh / 2 + rng.uniform(-j, j)],
                [cx - bw / 2 + rng.uniform(-j, j), cy + bh / 2 + rng.uniform(-j, j)],
            ],
            np.float32,
        )
        src = np.array([[0, 0], [BWf - 1, 0], [BWf - 1, BHf - 1], [0, BHf - 1]], np.float32)
        persp = cv2.getPerspectiveTransform(src, dst)
        warped = cv2.warpPerspective(board, persp, (PW, PH), flags=cv2.INTER_AREA)
        inside = cv2.warpPerspective(np.ones((BHf, BWf), np.float32), persp, (PW, PH))
        wall = np.array(_WALLS[int(rng.integers(len(_WALLS)))], np.float32)
        room = _paper(rng, PH, PW, wall, noise=0.04) * _shadow(rng, PH, PW, 0.3)[:, :, None]
        img = warped * inside[:, :, None] + room * (1 - inside[:, :, None])
        # Glare: a soft bright spot; shadow: a darkening gradient.
        if rng.random() < 0.8:
            gx, gy = rng.uniform(0.2, 0.8), rng.uniform(0.2, 0.8)
            rad = rng.uniform(0.08, 0.2)
            ratio = PW / PH
            g = _smooth_field(
                PH,
                PW,
                lambda x, y: np.exp(
                    -(((x - gx) / rad) ** 2 + ((y - gy) / (rad * 0.7 * ratio)) ** 2)
                ),
            )
            g = (g * rng.uniform(0.3, 0.6))[:, :, None]
            img = img * (1 - g) + g
        img = img * _shadow(rng, PH, PW, 0.4)[:, :, None]
        img = _degrade(rng, img)
        return SynthPage(img, _truth(blocks, persp @ hom_frame, PW, PH), "whiteboard")


def _paper(
    rng: np.random.Generator, H: int, W: int, colour: np.ndarray, noise: float = 0.02
) -> np.ndarray:
    low = cv2.resize(rng.normal(0, noise, (H // 32 + 2, W // 32 + 2)).astype(np.float32), (W, H))
    return cv2.merge([low + float(c) for c in colour])


def _ink(
    img: np.ndarray, layer: np.ndarray, colour: np.ndarray, opacity: float | np.ndarray
) -> np.ndarray:
    """Composite a coverage layer (uint8) in `colour` onto `img`, in place where it has ink.

    `opacity` is a number or a map the size of the image (ink that varies along a line).
    """
    x, y, w, h = cv2.boundingRect(layer)
    if w == 0 or h == 0:
        return img
    op = opacity[y : y + h, x : x + w] if isinstance(opacity, np.ndarray) else opacity
    a = (layer[y : y + h, x : x + w].astype(np.float32) * (op / 255.0))[:, :, None]
    sub = img[y : y + h, x : x + w]
    img[y : y + h, x : x + w] = sub * (1 - a) + colour[None, None, :] * a
    return img


#: Share of letters whose back shows through; pen pressure varies on papers this often.
SHOW_THROUGH = 0.4
PRESSURE = 0.6


def _pressure(rng: np.random.Generator, H: int, W: int, size: int) -> np.ndarray | float:
    """Ink strength varying over a few letter widths (pen pressure, a drying pen), or 1."""
    if rng.random() >= PRESSURE:
        return 1.0
    cell = max(4, int(size * rng.uniform(0.5, 1.5)))
    grid = rng.random((H // cell + 2, W // cell + 2)).astype(np.float32)
    field = cv2.resize(grid, (W + 2 * cell, H + 2 * cell), interpolation=cv2.INTER_CUBIC)
    field = np.clip(field[cell : cell + H, cell : cell + W], 0.0, 1.0)
    return 1.0 - rng.uniform(0.2, 0.55) * field


def _smooth_field(H: int, W: int, f: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> np.ndarray:
    """A smooth field computed on a coarse grid by `f(xx, yy)` (coordinates in 0..1)."""
    h, w = max(2, H // 16), max(2, W // 16)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    small = f(xx / (w - 1), yy / (h - 1)).astype(np.float32)
    return cv2.resize(small, (W, H), interpolation=cv2.INTER_LINEAR)


def _shadow(rng: np.random.Generator, H: int, W: int, depth: float) -> np.ndarray:
    """A linear darkening gradient (1 on the lit side, 1 - depth on the other)."""
    ang = rng.uniform(0, 2 * np.pi)
    k = rng.uniform(0.5, 1.0)
    return _smooth_field(
        H,
        W,
        lambda x, y: (
            1.0 - depth * np.clip((x - 0.5) * np.cos(ang) + (y - 0.5) * np.sin(ang) + 0.5, 0, 1) * k
        ),
    )


def _doodles(
    rng: np.random.Generator, H: int, W: int, occupied: list[tuple[int, int, int, int]]
) -> np.ndarray:
    """Boxes around some blocks, arrows between blocks, an underline or a circle."""
    out = np.zeros((H, W), np.uint8)
    t = int(rng.integers(3, 6))
    for x0, y0, x1, y1 in occupied:
        r = rng.random()
        pad = int(rng.integers(25, 45))
        if r < 0.25:
            cv2.rectangle(out, (x0 - pad, y0 - pad), (x1 + pad, y1 + pad), 255, t)
        elif r < 0.4:
            cv2.ellipse(
                out,
                ((x0 + x1) // 2, (y0 + y1) // 2),
                ((x1 - x0) // 2 + 2 * pad, (y1 - y0) // 2 + 2 * pad),
                0,
                0,
                360,
                255,
                t,
            )
    for a, b in zip(occupied, occupied[1:], strict=False):
        if rng.random() < 0.5:
            p = (a[2] + 20, (a[1] + a[3]) // 2)
            q = (b[0] - 20, (b[1] + b[3]) // 2)
            if abs(p[0] - q[0]) + abs(p[1] - q[1]) > 100:
                cv2.arrowedLine(out, p, q, 255, t, tipLength=0.08)
    if rng.random() < 0.3:  # a small sketch in an empty corner
        cx, cy = int(rng.uniform(0.1, 0.9) * W), int(rng.uniform(0.1, 0.9) * H)
        if not any(
            x0 - 80 < cx < x1 + 80 and y0 - 80 < cy < y1 + 80 for x0, y0, x1, y1 in occupied
        ):
            cv2.circle(out, (cx, cy), int(rng.integers(40, 90)), 255, t)
    return out


def _degrade(rng: np.random.Generator, img: np.ndarray) -> np.ndarray:
    if rng.random() < 0.5:
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.5, 1.2))
    noise = np.empty_like(img)
    cv2.setRNGSeed(int(rng.integers(2**31 - 1)))
    cv2.randn(noise, 0.0, float(rng.uniform(0.005, 0.03)))
    img = cv2.add(img, noise)
    return cv2.convertScaleAbs(np.clip(img, 0, 1), alpha=255.0)


def _truth(blocks: list, hom: np.ndarray, W: int, H: int) -> tuple[TruthLine, ...]:
    """True lines (reading order as written) with ink boxes mapped through `hom`."""
    out = []
    for lines in blocks:
        for words in lines:
            tw = []
            for w in words:
                pts = np.stack([w.xs, w.ys], 1).astype(np.float64)
                pts = cv2.perspectiveTransform(pts[None], hom)[0]
                tw.append(TruthWord(_clip_box(pts, W, H), w.text))
            tw = [w for w in tw if w.bbox[2] > 0 and w.bbox[3] > 0]
            if not tw:
                continue
            x0 = min(w.bbox[0] for w in tw)
            y0 = min(w.bbox[1] for w in tw)
            x1 = max(w.bbox[0] + w.bbox[2] for w in tw)
            y1 = max(w.bbox[1] + w.bbox[3] for w in tw)
            out.append(
                TruthLine((x0, y0, x1 - x0, y1 - y0), " ".join(w.text for w in tw), tuple(tw))
            )
    return tuple(out)


def _clip_box(pts: np.ndarray, W: int, H: int) -> BBox:
    x0 = int(np.floor(max(0.0, pts[:, 0].min())))
    y0 = int(np.floor(max(0.0, pts[:, 1].min())))
    x1 = int(np.ceil(min(float(W), pts[:, 0].max() + 1)))
    y1 = int(np.ceil(min(float(H), pts[:, 1].max() + 1)))
    return (x0, y0, max(0, x1 - x0), max(0, y1 - y0))


def write_pages(folder: Path, synth: PageSynth, count: int, start: int = 0) -> Path:
    """Write `count` pages as `page_NNN.png` plus `pages.jsonl`; returns the jsonl path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    index = folder / "pages.jsonl"
    with index.open("w", encoding="utf-8") as f:
        for i in range(start, start + count):
            page = synth.sample(i)
            name = f"page_{i:03d}.png"
            cv2.imwrite(str(folder / name), page.image)
            f.write(json.dumps(page.truth(name).to_dict(), ensure_ascii=False) + "\n")
            log.debug("wrote %s (%s, %d lines)", name, page.kind, len(page.lines))
    return index


def default_fonts(heldout: bool, cache_dir: Path, extra_dirs: Sequence[Path] = ()) -> list[Path]:
    """The train or held-out side of the usable handwriting fonts (empty when none)."""
    try:
        from recognizer.fonts import discover_fonts, split_fonts
    except ImportError:
        return []
    fonts = discover_fonts(Path(cache_dir).expanduser(), extra_dirs)
    train, held = split_fonts(fonts)
    return held if heldout else train


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m recognizer.synthpage OUT --count N`: write an evaluation page set."""
    import argparse

    from inkdex.settings import load_settings

    ap = argparse.ArgumentParser(
        prog="python -m recognizer.synthpage",
        description="Write synthetic pages with true line and word boxes (pages.jsonl).",
    )
    ap.add_argument("out", type=Path, help="folder to write page_NNN.png and pages.jsonl into")
    ap.add_argument("--count", type=int, default=200, help="number of pages (default: 200)")
    ap.add_argument("--seed", type=int, default=0, help="page seed (default: 0)")
    ap.add_argument(
        "--train-fonts",
        action="store_true",
        help="draw with the training fonts (default: held-out fonts, for evaluation)",
    )
    ap.add_argument("--kinds", default=",".join(DEFAULT_MIX), help="page kinds, cycled")
    args = ap.parse_args(argv)
    settings = load_settings()
    fonts = default_fonts(not args.train_fonts, settings.synth.font_cache, settings.synth.font_dirs)
    if not fonts:
        log.warning("no handwriting fonts found; using Pillow's built-in font")
    synth = PageSynth(fonts, seed=args.seed, kinds=tuple(args.kinds.split(",")))
    index = write_pages(args.out, synth, args.count)
    print(f"wrote {args.count} pages to {index}")
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main())
