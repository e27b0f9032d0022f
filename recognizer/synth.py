"""Synthetic handwriting lines: text rendered with handwriting fonts, then degraded.

`LineSynth.sample(index)` draws a line of text, renders it glyph by glyph with a
handwriting font (kerned, with jittered baseline, size and spacing), slants, rotates
and warps it, thickens or thins the strokes, and puts it on a surface: plain, ruled or
squared paper, a form with dark box lines, a whiteboard with glare (marker colours),
or a thresholded office scan with speckles. Crops catch pieces of the neighbouring
lines, as line crops cut from a page do. Blur, noise, low resolution and JPEG
artefacts follow. The result is a grayscale crop with dark ink on a light background.
Every sample is a pure function of (seed, index), so training runs are reproducible
and samples can be drawn from any thread or process.
"""

from __future__ import annotations

import logging
import re
import string
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from recognizer.fonts import FontError, face_key, family_key, missing_chars
from recognizer.text import TextSource

log = logging.getLogger(__name__)

# Substitutes for punctuation a font lacks (tried in order; dropped when none renders).
_SUBSTITUTES = {
    "`": "'",
    "^": "'",
    "{": "([",
    "}": ")]",
    "[": "(",
    "]": ")",
    "<": "(",
    ">": ")",
    "|": "/l",
    "\\": "/",
    "~": "-",
    "_": "-",
    '"': "'",
    "@": "a",
    "#": "",
    "&": "+",
    "*": "x",
    "+": "",
    "=": "-",
    "%": "",
    "$": "S",
    ";": ",",
    ":": ".",
    "!": "l",
    "?": "",
}


@dataclass(frozen=True)
class Sample:
    """One synthetic line: uint8 grayscale H x W (dark ink on light background) and its text."""

    image: np.ndarray
    text: str
    font: str = ""


_ALL_CAPS_WORD = re.compile(r"\b[A-Z][A-Z']*[A-Z]\b")

# Relative size change of one step of per-letter size jitter.
_SIZE_STEP = 0.07


@dataclass(frozen=True)
class _Glyph:
    mask: np.ndarray  # uint8 h x w coverage
    left: int  # x of the mask's left edge relative to the pen position
    top: int  # y of the mask's top edge relative to the baseline (negative = above)
    advance: float


class _FontRender:
    """One font at one pixel size with its glyph bitmaps, filled lazily under a lock."""

    def __init__(self, path: Path, ink_height: int) -> None:
        from PIL import ImageFont

        try:
            probe = ImageFont.truetype(str(path), 100)
            _, t0, _, b0 = probe.getbbox("Hg", anchor="ls")
            x_height = -probe.getbbox("xnu", anchor="ls")[1]
        except Exception as exc:  # noqa: BLE001 - any failure means the font is unusable
            raise FontError(f"cannot load font {path}: {exc}") from exc
        # Size by x-height (what a reader perceives as the writing size), so fonts with
        # long swashes are not shrunk; cap so capitals and descenders stay in bounds.
        by_x = 100 * 0.45 * ink_height / max(1, x_height)
        by_span = 100 * 1.3 * ink_height / max(1, b0 - t0)
        self.size = max(6, round(min(by_x, by_span)))
        self.font = ImageFont.truetype(str(path), self.size)
        _, top, _, bottom = self.font.getbbox("Hg", anchor="ls")
        self.ascent, self.descent = -top, bottom  # ink extent of a typical line
        self.path = str(path)

        # Formal scripts whose capitals are flourishes several times a letter's size:
        # nobody writes words in all capitals with them.
        def area(c: str) -> int:
            left, top, right, bottom = probe.getbbox(c, anchor="ls")
            return max(1, (right - left) * (bottom - top))

        ratio = np.median([area(c) for c in string.ascii_uppercase]) / np.median(
            [area(c) for c in string.ascii_lowercase]
        )
        self.ornate_caps = bool(ratio > 3.5)
        self.glyphs: dict[tuple[str, int], _Glyph] = {}
        self.pairs: dict[str, float] = {}
        self.lock = threading.Lock()

    def advance(self, ch: str, nxt: str) -> float:
        """Advance of `ch` when followed by `nxt`, with the font's kerning applied."""
        key = ch + nxt
        adv = self.pairs.get(key)
        if adv is None:
            with self.lock:
                if nxt and not nxt.isspace() and not ch.isspace():
                    adv = float(self.font.getlength(key) - self.font.getlength(nxt))
                else:
                    adv = float(self.font.getlength(ch))
                self.pairs[key] = adv
        return adv

    def glyph(self, ch: str, level: int = 0) -> _Glyph:
        """The bitmap of `ch`, at the base size or `level` size steps larger/smaller."""
        key = (ch, level)
        g = self.glyphs.get(key)
        if g is not None:
            return g
        with self.lock:
            g = self.glyphs.get(key)
            if g is not None:
                return g
            if level:
                base = self._base_glyph(ch)
                sc = 1.0 + _SIZE_STEP * level
                m = base.mask
                if m.size:
                    m = cv2.resize(
                        m, (max(1, round(m.shape[1] * sc)), max(1, round(m.shape[0] * sc)))
                    )
                g = _Glyph(m, round(base.left * sc), round(base.top * sc), base.advance * sc)
            else:
                g = self._base_glyph(ch)
            self.glyphs[key] = g
            return g

    def _base_glyph(self, ch: str) -> _Glyph:
        """The glyph at the base size; call with the lock held."""
        from PIL import Image, ImageDraw

        g = self.glyphs.get((ch, 0))
        if g is not None:
            return g
        adv = float(self.font.getlength(ch))
        left, top, right, bottom = self.font.getbbox(ch, anchor="ls")
        if ch.isspace() or right <= left or bottom <= top:
            g = _Glyph(np.zeros((0, 0), np.uint8), 0, 0, adv)
        else:
            img = Image.new("L", (right - left + 2, bottom - top + 2), 0)
            ImageDraw.Draw(img).text((1 - left, 1 - top), ch, font=self.font, fill=255, anchor="ls")
            g = _Glyph(np.asarray(img).copy(), left - 1, top - 1, adv)
        self.glyphs[(ch, 0)] = g
        return g


_renders: dict[tuple[str, int], _FontRender] = {}
_renders_lock = threading.Lock()


def _font_render(path: Path, ink_height: int) -> _FontRender:
    key = (str(path), ink_height)
    r = _renders.get(key)
    if r is None:
        with _renders_lock:
            r = _renders.get(key)
            if r is None:
                r = _renders[key] = _FontRender(path, ink_height)
    return r


def _paste_max(dst: np.ndarray, src: np.ndarray, x: int, y: int) -> None:
    """dst = max(dst, src placed at (x, y)), clipped to dst."""
    h, w = dst.shape
    sh, sw = src.shape
    x0, y0, x1, y1 = max(0, x), max(0, y), min(w, x + sw), min(h, y + sh)
    if x1 <= x0 or y1 <= y0:
        return
    region = dst[y0:y1, x0:x1]
    np.maximum(region, src[y0 - y : y1 - y, x0 - x : x1 - x], out=region)


def substitute_missing(text: str, missing: str) -> str:
    """Replace characters the font lacks by look-alikes it has, dropping the rest."""
    if not missing or not any(c in missing for c in text):
        return text
    out = []
    for c in text:
        if c not in missing:
            out.append(c)
            continue
        sub = next((s for s in _SUBSTITUTES.get(c, "") if s not in missing), "")
        out.append(sub)
    return " ".join("".join(out).split())


# ------------------------------------------------------------------------ colours

# BGR in [0, 1].
_PAPERS = (
    (0.97, 0.97, 0.97),  # white
    (0.86, 0.94, 0.97),  # cream
    (0.78, 0.93, 0.96),  # yellowish / legal pad
    (0.88, 0.88, 0.88),  # grey scan
    (0.93, 0.95, 0.93),  # recycled
    (0.80, 0.86, 0.90),  # aged
)
_INKS = {
    "blue": (0.55, 0.18, 0.10),
    "black": (0.10, 0.10, 0.10),
    "darkblue": (0.35, 0.12, 0.10),
    "red": (0.15, 0.12, 0.65),
    "green": (0.20, 0.45, 0.12),
    "pencil": (0.38, 0.38, 0.38),
    "brown": (0.16, 0.26, 0.38),  # faded iron-gall ink of old letters
}
_INK_WEIGHTS = {
    "blue": 0.3,
    "black": 0.35,
    "darkblue": 0.12,
    "red": 0.08,
    "green": 0.05,
    "pencil": 0.1,
    "brown": 0.08,
}
_MARKERS = {
    "black": (0.12, 0.12, 0.12),
    "blue": (0.60, 0.25, 0.08),
    "red": (0.18, 0.15, 0.75),
    "green": (0.25, 0.55, 0.15),
}


# What the line is written on, and how often.
_SURFACES = {"paper": 0.42, "ruled": 0.23, "form": 0.12, "whiteboard": 0.15, "scan": 0.08}

# BGR -> luminance weights (ITU-R BT.601, as OpenCV's BGR2GRAY).
_LUMA = np.array([0.114, 0.587, 0.299], np.float32)


def _pick(rng: np.random.Generator, weights: dict[str, float]) -> str:
    keys = list(weights)
    p = np.asarray([weights[k] for k in keys], np.float64)
    return keys[int(np.searchsorted(np.cumsum(p / p.sum()), rng.random(), side="right"))]


def _smooth_noise(rng: np.random.Generator, h: int, w: int, cell: float) -> np.ndarray:
    """Low-frequency noise in about [-1, 1], h x w float32 (random grid, upsampled)."""
    gh, gw = max(2, int(h / cell) + 2), max(2, int(w / cell) + 2)
    g = rng.standard_normal((gh, gw)).astype(np.float32)
    return cv2.resize(g, (w, h), interpolation=cv2.INTER_LINEAR)


class LineSynth:
    """Deterministic synthetic handwriting lines from a set of fonts.

    ``fonts``: font files (e.g. from `discover_fonts`); fonts are drawn family by
    family (`family_key`), so a face shipped in six weights is not six times as likely.
    ``augment`` in [0, 1] scales every distortion (0 = clean black text on white).
    ``height``: when given, every image is resized to that many pixels high
    (aspect kept); otherwise the ink of a line is 56-80 px high.
    """

    def __init__(
        self,
        fonts: Sequence[Path],
        seed: int = 0,
        augment: float = 1.0,
        height: int | None = None,
        *,
        text: TextSource | None = None,
    ) -> None:
        if not fonts:
            raise FontError("no fonts to render with; run `inkdex fonts fetch` (or `make fonts`)")
        if not 0.0 <= augment <= 1.0:
            raise ValueError(f"augment must be in [0, 1], got {augment}")
        if height is not None and not 8 <= height <= 512:
            raise ValueError(f"height must be between 8 and 512 pixels, got {height}")
        self.seed = int(seed)
        self.augment = float(augment)
        self.height = height
        self.text = text if text is not None else TextSource(seed)
        # Fonts are drawn family by family (a face shipped in six weights is one hand);
        # a collection of school scripts weighs as up to four families.
        families: dict[str, list[Path]] = {}
        for p in sorted(Path(f) for f in fonts):
            families.setdefault(family_key(p), []).append(p)
        self._families = [families[k] for k in sorted(families)]
        weights = np.array(
            [min(4, len({face_key(p) for p in fam})) for fam in self._families], np.float64
        )
        self._family_cdf = np.cumsum(weights / weights.sum())
        # Glyphs are rendered at the size the ink will have in the output (less work),
        # with head-room so the final resize shrinks rather than enlarges.
        self._ink = 64 if height is None else max(16, round(height * 0.85))

    @property
    def fonts(self) -> list[Path]:
        return [p for fam in self._families for p in fam]

    def sample(self, index: int) -> Sample:
        """The sample number `index`: the same (seed, index) always gives the same pixels."""
        rng = np.random.default_rng([self.seed, int(index)])
        k = int(np.searchsorted(self._family_cdf, rng.random(), side="right"))
        fam = self._families[min(k, len(self._families) - 1)]
        path = fam[rng.integers(len(fam))]
        text = self.text.line(rng)
        try:
            fr = _font_render(path, self._ink)
            text = substitute_missing(text, missing_chars(path))
            if fr.ornate_caps:
                text = _ALL_CAPS_WORD.sub(lambda m: m.group().capitalize(), text)
            if not text:
                text = self.text.word(rng)
            image = self._draw(rng, fr, text)
        except FontError:
            raise
        except Exception as exc:
            raise FontError(f"rendering {text!r} with {path.name} failed: {exc}") from exc
        return Sample(image=image, text=text, font=path.name)

    # ------------------------------------------------------------------ stages

    def _layout(
        self, rng: np.random.Generator, fr: _FontRender, text: str, a: float
    ) -> tuple[np.ndarray, int]:
        """Place the glyphs on a float32 coverage canvas; returns it and the baseline y.

        Half the lines keep the font's own spacing (cursive joins stay joined); the
        others get per-letter spacing jitter. Baseline and letter size wander a little.
        Word gaps never shrink below a third of the ink height, so spaces stay visible.
        """
        unit = self._ink
        n = len(text)
        adv = np.fromiter(
            (fr.advance(c, text[i + 1] if i + 1 < n else "") for i, c in enumerate(text)),
            np.float64,
            n,
        )
        is_space = np.fromiter((c == " " for c in text), bool, n)
        gap = max(fr.glyph(" ").advance, 0.33 * unit)
        if a > 0:
            if rng.random() < 0.6:
                levels = np.clip(np.rint(rng.normal(0, 0.8 * a, n)), -1, 1).astype(int)
            else:
                levels = np.zeros(n, int)
            scales = 1.0 + _SIZE_STEP * levels
            if rng.random() < 0.5:
                steps = adv * scales
            else:
                steps = (
                    adv * scales * (1 + rng.normal(0, 0.03 * a, n)) + rng.normal(0, 0.02) * unit * a
                )
            steps = np.where(is_space, gap * rng.uniform(0.85, 1.5), steps)
            dy = np.cumsum(rng.normal(0, 0.008 * unit * a, n)) + rng.normal(0, 0.012 * unit * a, n)
        else:
            levels = np.zeros(n, int)
            steps = np.where(is_space, gap, adv)
            dy = np.zeros(n)
        xs = np.rint(np.concatenate([[0.0], np.cumsum(steps)[:-1]])).astype(int).tolist()
        ys = np.rint(dy).astype(int).tolist()
        placed: list[tuple[np.ndarray, int, int]] = []
        for c, x, y, lv in zip(text, xs, ys, levels.tolist(), strict=True):
            g = fr.glyph(c, lv)
            if g.mask.size:
                placed.append((g.mask, x + g.left, y + g.top))
        pad = 2 + unit // 4
        if not placed:
            h = fr.ascent + fr.descent + 2 * pad
            return np.zeros((h, 2 * pad), np.float32), fr.ascent + pad
        x0 = min(p[1] for p in placed)
        x1 = max(p[1] + p[0].shape[1] for p in placed)
        y0 = min(min(p[2] for p in placed), -fr.ascent)
        y1 = max(max(p[2] + p[0].shape[0] for p in placed), fr.descent)
        canvas = np.zeros((y1 - y0 + 2 * pad, x1 - x0 + 2 * pad), np.uint8)
        for m, gx, gy in placed:
            cx, cy = gx - x0 + pad, gy - y0 + pad
            region = canvas[cy : cy + m.shape[0], cx : cx + m.shape[1]]
            np.maximum(region, m, out=region)
        return canvas.astype(np.float32) * np.float32(1 / 255), pad - y0

    def _geometry(
        self, rng: np.random.Generator, ink: np.ndarray, baseline: int, a: float
    ) -> tuple[np.ndarray, float]:
        """Slant, rotation, width, perspective and elastic warp; returns canvas and baseline."""
        h, w = ink.shape
        unit = self._ink
        if a <= 0:
            return ink, float(baseline)
        shear = rng.normal(0.08, 0.18) * a  # handwriting leans right more often than left
        angle = np.deg2rad(rng.normal(0, 1.2) * a)
        sx = 1.0 + rng.normal(0, 0.08) * a  # narrower or wider hand
        c, s = np.cos(angle), np.sin(angle)
        m = np.array([[sx, -shear, shear * baseline], [0, 1, 0], [0, 0, 1]], np.float64)
        m = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]]) @ m
        if rng.random() < 0.3 * a:
            # Small perspective: one end of the line a little smaller.
            k = rng.normal(0, 0.12 * a) / max(w, 1)
            m = np.array([[1, 0, 0], [0, 1, 0], [k, 0, 1]]) @ m
        corners = np.array([[0, 0, 1], [w, 0, 1], [0, h, 1], [w, h, 1]], np.float64).T
        t = m @ corners
        t = t[:2] / t[2]
        ox, oy = t[0].min(), t[1].min()
        ow, oh = int(np.ceil(t[0].max() - ox)) + 1, int(np.ceil(t[1].max() - oy)) + 1
        m = np.array([[1, 0, -ox], [0, 1, -oy], [0, 0, 1]]) @ m
        if rng.random() < 0.6 * a:
            # Elastic warp: a smooth random displacement field, composed with the
            # projective map so the image is resampled once.
            amp = unit * rng.uniform(0.015, 0.05) * a
            cell = unit * rng.uniform(0.4, 1.0)
            inv = np.linalg.inv(m).astype(np.float32)
            gx = np.arange(ow, dtype=np.float32)[None, :]
            gy = np.arange(oh, dtype=np.float32)[:, None]
            den = inv[2, 0] * gx + inv[2, 1] * gy + inv[2, 2]
            mx = (inv[0, 0] * gx + inv[0, 1] * gy + inv[0, 2]) / den
            my = (inv[1, 0] * gx + inv[1, 1] * gy + inv[1, 2]) / den
            mx += _smooth_noise(rng, oh, ow, cell) * amp
            my += _smooth_noise(rng, oh, ow, cell) * amp
            out = cv2.remap(ink, mx, my, cv2.INTER_LINEAR, borderValue=0)
        else:
            out = cv2.warpPerspective(ink, m, (ow, oh), flags=cv2.INTER_LINEAR, borderValue=0)
        mid = m @ np.array([w / 2, baseline, 1.0])
        return out, float(mid[1] / mid[2])

    def _strokes(
        self, rng: np.random.Generator, ink: np.ndarray, a: float, marker: bool
    ) -> np.ndarray:
        """Thicker or thinner strokes, sub-pixel (blur + gain / threshold) or by dilation."""
        if marker:
            k = int(rng.integers(2, 4 + int(self._ink > 40)))
            ink = cv2.dilate(ink, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
        if a <= 0:
            return ink
        r = rng.random()
        if r < 0.3:
            sigma = rng.uniform(0.4, 1.2) * a * self._ink / 48
            ink = cv2.GaussianBlur(ink, (0, 0), sigma)
            ink = np.minimum(ink * np.float32(rng.uniform(1.6, 3.0)), 1)
        elif r < 0.5:
            t = np.float32(rng.uniform(0.1, 0.45) * a)
            ink = np.clip((ink - t) * (1 / (1 - t)), 0, 1)
        elif r < 0.62 and not marker:
            k = 2 if self._ink < 56 else 3
            ink = cv2.dilate(ink, np.ones((k, k), np.uint8))
        return ink

    def _context(
        self,
        rng: np.random.Generator,
        fr: _FontRender,
        h: int,
        w: int,
        base_y: float,
        a: float,
    ) -> np.ndarray | None:
        """Ink of the neighbouring lines that a tight line crop catches, or None.

        Lines cut from a page show the descenders of the line above and the ascenders
        of the line below; the recognizer must learn to ignore them.
        """
        if a <= 0 or rng.random() >= 0.45 * a:
            return None
        out = np.zeros((h, w), np.float32)
        unit = self._ink
        for side in (-1, 1):
            if rng.random() < 0.35:
                continue
            text = self.text.line(rng)
            text = substitute_missing(text, missing_chars(Path(fr.path)))
            ink, nb = self._layout(rng, fr, text or "the", a)
            y = round(base_y + side * unit * rng.uniform(1.0, 1.5)) - nb
            x = (
                round(rng.uniform(-0.5, 0.3) * ink.shape[1])
                if ink.shape[1] > w
                else round(rng.uniform(-0.2, 0.6) * w)
            )
            _paste_max(out, ink, x, y)
        return out

    def _background(
        self, rng: np.random.Generator, h: int, w: int, a: float, kind: str, base_y: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """Paper or whiteboard: base colour (3,) float32 and a lighting map h x w."""
        if kind == "whiteboard":
            base = np.array([0.95, 0.95, 0.94]) * rng.uniform(0.85, 1.0)
        else:
            base = np.array(_PAPERS[rng.integers(len(_PAPERS))]) * rng.uniform(0.8, 1.03)
        base = np.clip(base + rng.normal(0, 0.02 * a, 3), 0, 1).astype(np.float32)
        light = np.ones((h, w), np.float32)
        if kind == "scan":
            return np.maximum(base, np.float32(0.85)), light
        if rng.random() < 0.7 * a:
            # Uneven light: a ramp across the line.
            gx = np.linspace(-1, 1, w, dtype=np.float32)[None, :] * np.float32(
                rng.normal(0, 0.08 * a)
            )
            gy = np.linspace(-1, 1, h, dtype=np.float32)[:, None] * np.float32(
                rng.normal(0, 0.05 * a)
            )
            light += gx + gy
        if rng.random() < 0.5 * a:
            # Paper texture and soft blotches.
            cell = rng.uniform(h * 0.3, h * 3)
            light += _smooth_noise(rng, h, w, cell) * np.float32(rng.uniform(0.01, 0.05) * a)
        if kind == "whiteboard":
            if rng.random() < 0.6 * a:
                # Glare: a bright elliptical spot.
                cx, cy = rng.uniform(0, w), rng.uniform(-h, 2 * h)
                rx, ry = rng.uniform(0.2, 0.8) * w + 1, rng.uniform(0.5, 2.0) * h + 1
                xx = ((np.arange(w, dtype=np.float32) - cx) / rx) ** 2
                yy = ((np.arange(h, dtype=np.float32) - cy) / ry) ** 2
                light += np.exp(-(yy[:, None] + xx[None, :])) * np.float32(
                    rng.uniform(0.1, 0.35) * a
                )
            if rng.random() < 0.4 * a:
                # Ghosts of erased writing.
                ghost = _smooth_noise(rng, h, w, rng.uniform(3, 10))
                light -= np.maximum(ghost, 0) * np.float32(0.06)
        return base, light

    def _rules(
        self, rng: np.random.Generator, h: int, w: int, kind: str, base_y: float
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """Printed lines: ruled or squared paper, or the dark lines and boxes of a form."""
        if kind not in ("ruled", "form"):
            return None
        unit = self._ink
        lines = np.zeros((h, w), np.float32)
        if kind == "ruled":
            color = np.array([0.85, 0.7, 0.55] if rng.random() < 0.7 else [0.6, 0.6, 0.6])
            thick, alpha = int(rng.integers(1, 3)), rng.uniform(0.3, 0.8)
            step = rng.uniform(1.1, 1.6) * unit
            y = base_y + rng.normal(0.05, 0.06) * unit
            for k in range(-3, 4):
                yi = round(y + k * step)
                lines[max(0, yi) : max(0, yi + thick)] = alpha
            if rng.random() < 0.2:  # squared paper
                for x in np.arange(rng.uniform(0, step), w, step):
                    lines[:, int(x) : int(x) + thick] = alpha
        else:
            color = np.array([0.1, 0.1, 0.1]) * rng.uniform(0.5, 3)
            thick, alpha = int(rng.integers(1, max(2, unit // 12) + 1)), rng.uniform(0.7, 1.0)
            r = rng.random()
            if r < 0.6:  # the line written on
                yi = round(base_y + rng.uniform(-0.05, 0.3) * unit)
                lines[max(0, yi) : max(0, yi + thick)] = alpha
            if r > 0.4:  # a box edge above
                yi = round(base_y - rng.uniform(0.9, 1.3) * unit)
                lines[max(0, yi) : max(0, yi + thick)] = alpha
            if rng.random() < 0.3:  # a box edge at one end
                xi = int(rng.choice([rng.uniform(0, 0.1), rng.uniform(0.9, 1.0)]) * w)
                lines[:, xi : xi + thick] = alpha
        return np.clip(color, 0, 1).astype(np.float32), lines

    def _draw(self, rng: np.random.Generator, fr: _FontRender, text: str) -> np.ndarray:
        a = self.augment
        kind = _pick(rng, _SURFACES) if a > 0 else "paper"
        marker = kind == "whiteboard"
        ink, baseline = self._layout(rng, fr, text, a)
        ink = self._strokes(rng, ink, a, marker)
        ink, base = self._geometry(rng, ink, baseline, a)
        ink, base_y = self._crop(rng, ink, base, a)
        h, w = ink.shape
        if a <= 0:
            gray = np.clip((1.0 - ink) * 255 + 0.5, 0, 255).astype(np.uint8)
            return self._resize(rng, gray, a)

        context = self._context(rng, fr, h, w, base_y, a)
        if context is not None:
            ink = np.maximum(ink, context * np.float32(rng.uniform(0.7, 1.0)))
        base, light = self._background(rng, h, w, a, kind, base_y)
        if marker:
            color = np.array(_MARKERS[_pick(rng, dict.fromkeys(_MARKERS, 1.0))])
            opacity = rng.uniform(0.75, 1.0)
        else:
            name = "black" if kind == "scan" else _pick(rng, _INK_WEIGHTS)
            color = np.array(_INKS[name])
            opacity = rng.uniform(0.55, 0.8) if name == "pencil" else rng.uniform(0.8, 1.0)
        color = np.clip(color + rng.normal(0, 0.04, 3), 0, 1).astype(np.float32)
        alpha = ink * np.float32(opacity)
        if rng.random() < 0.5 * a:
            # Uneven ink flow: ballpoint skips, dry marker, pencil grain.
            flow = np.abs(_smooth_noise(rng, h, w, rng.uniform(2, 8)))
            alpha *= np.clip(1 - flow * np.float32(rng.uniform(0.1, 0.4) * a), 0, 1)
        if kind == "paper" and rng.random() < 0.15 * a:
            # Show-through of the writing on the back of the sheet, mirrored.
            back = self._context(rng, fr, h, w, base_y, 1.0)
            if back is not None:
                back = cv2.GaussianBlur(back[:, ::-1], (0, 0), 1.0)
                light -= back * np.float32(rng.uniform(0.05, 0.15))
        # Compositing is linear, so unless JPEG (whose chroma subsampling needs colour)
        # follows, it is done on luminance only: same result, a third of the work.
        jpeg = kind != "scan" and rng.random() < 0.5 * a
        if not jpeg:
            base, color = base @ _LUMA, color @ _LUMA
        paper = light * base if not jpeg else light[:, :, None] * base
        rules = self._rules(rng, h, w, kind, base_y)
        if rules is not None:
            rc, rl = rules
            if jpeg:
                paper += (rc - paper) * rl[:, :, None]
            else:
                paper += (rc @ _LUMA - paper) * rl
        img = paper + (color - paper) * (alpha[:, :, None] if jpeg else alpha)

        if rng.random() < 0.5 * a:
            sigma = rng.uniform(0.3, 1.1) * a * self._ink / 48
            img = cv2.GaussianBlur(img, (0, 0), sigma)
        if rng.random() < 0.7 * a:
            noise = rng.standard_normal((h, w), np.float32)
            noise *= np.float32(rng.uniform(0.005, 0.04) * a)
            img += noise[:, :, None] if jpeg else noise
        img8 = cv2.convertScaleAbs(img, alpha=255.0)  # saturating; noise never goes far below 0
        if rng.random() < 0.2 * a:
            # Low-resolution scan or photo: down and up again.
            f = rng.uniform(0.45, 0.8)
            small = cv2.resize(
                img8, (max(1, int(w * f)), max(1, int(h * f))), interpolation=cv2.INTER_AREA
            )
            img8 = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
        if jpeg:
            q = int(rng.integers(25, 90))
            ok, buf = cv2.imencode(".jpg", img8, [cv2.IMWRITE_JPEG_QUALITY, q])
            if ok:
                img8 = cv2.imdecode(buf, cv2.IMREAD_COLOR)
            img8 = cv2.cvtColor(img8, cv2.COLOR_BGR2GRAY)
        gray = img8
        if kind == "scan":
            paper_level, ink_level = float(base) * 255, float(color) * 255
            t = ink_level + (paper_level - ink_level) * rng.uniform(0.45, 0.75)
            gray = self._binarize(rng, gray, a, t)
        return self._resize(rng, gray, a)

    def _crop(
        self, rng: np.random.Generator, ink: np.ndarray, base: float, a: float
    ) -> tuple[np.ndarray, float]:
        """Cut the line out: tight around the ink horizontally, around the line's extent
        (cap height to descender, or the ink if larger) vertically, each side with a
        small random margin. Returns the crop and the baseline's y in it."""
        unit = self._ink
        cols = np.flatnonzero(ink.max(axis=0) > 0.1)
        rows = np.flatnonzero(ink.max(axis=1) > 0.1)
        if len(cols) == 0:
            cols = rows = np.array([0, 1])
        lo, hi = (0.02, 0.35) if a > 0 else (0.12, 0.12)
        x0 = int(np.floor(cols[0] - rng.uniform(lo, hi) * unit))
        x1 = int(np.ceil(cols[-1] + 1 + rng.uniform(lo, hi) * unit))
        top, bottom = base - 0.85 * unit, base + 0.3 * unit
        y0 = int(np.floor(min(rows[0], top) - rng.uniform(lo, hi) * unit * 0.5))
        y1 = int(np.ceil(max(rows[-1] + 1, bottom) + rng.uniform(lo, hi) * unit * 0.5))
        ih, iw = ink.shape
        out = np.zeros((y1 - y0, x1 - x0), np.float32)
        _paste_max(out, ink, -x0, -y0)
        return out, base - y0

    def _binarize(
        self, rng: np.random.Generator, gray: np.ndarray, a: float, t: float
    ) -> np.ndarray:
        """An office scan: thresholded at `t` to black and white, with speckles."""
        out = np.where(gray < t, 0, 255).astype(np.uint8)
        if rng.random() < 0.6 * a:
            p = rng.uniform(0.002, 0.03) * a
            speck = rng.random(gray.shape, np.float32)
            out[speck < p / 2] = 0
            out[speck > 1 - p / 2] = 255
        if rng.random() < 0.5:
            out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.4, 0.9))
        return out

    def _resize(self, rng: np.random.Generator, gray: np.ndarray, a: float) -> np.ndarray:
        """To the configured height, or to a random natural size (ink 56-80 px high)."""
        h, w = gray.shape
        if self.height is not None:
            scale = self.height / h
            out_h = self.height
        else:
            scale = rng.uniform(56, 80) / self._ink if a > 0 else 1.0
            out_h = max(1, round(h * scale))
        if out_h == h:
            return gray
        interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        return cv2.resize(gray, (max(1, round(w * scale)), out_h), interpolation=interp)


def synth_sheet(synth: LineSynth, out: Path, n: int = 60, start: int = 0, columns: int = 2) -> Path:
    """Write a PNG grid of `n` samples, each with its text and font name beneath it."""
    from PIL import Image, ImageDraw, ImageFont

    cell_w, img_h, label_h = 820, 56, 18
    rows = -(-n // columns)
    sheet = Image.new("L", (columns * cell_w, rows * (img_h + label_h)), 160)
    draw = ImageDraw.Draw(sheet)
    label_font = ImageFont.load_default(size=12)
    for k in range(n):
        s = synth.sample(start + k)
        im = s.image
        w = max(1, round(im.shape[1] * img_h / im.shape[0]))
        im = cv2.resize(im, (w, img_h), interpolation=cv2.INTER_AREA)[:, : cell_w - 8]
        x, y = (k // rows) * cell_w, (k % rows) * (img_h + label_h)
        sheet.paste(Image.fromarray(im), (x + 4, y))
        draw.text((x + 4, y + img_h + 2), f"{s.text}   [{s.font}]", font=label_font, fill=255)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out)
    return out


def run_synth_cli(args, settings) -> int:
    """`inkdex synth sheet OUT.png`: a contact sheet of synthetic lines to eyeball."""
    import sys

    from recognizer.fonts import discover_fonts, split_fonts

    cfg = settings.synth
    fonts = discover_fonts(cfg.font_cache, cfg.font_dirs)
    if not fonts:
        print(
            f"inkdex synth: no fonts in {cfg.font_cache}; run `inkdex fonts fetch`", file=sys.stderr
        )
        return 1
    train, heldout = split_fonts(fonts, cfg.heldout_fraction, cfg.split_seed)
    use = heldout if args.heldout else train
    augment = cfg.augment if args.augment is None else args.augment
    synth = LineSynth(
        use,
        seed=args.seed,
        augment=augment,
        height=args.height,
        text=TextSource(args.seed, max_chars=cfg.max_chars),
    )
    print(synth_sheet(synth, args.out, n=args.n))
    return 0
