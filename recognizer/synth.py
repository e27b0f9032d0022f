"""Synthetic handwriting lines: text rendered with handwriting fonts, then degraded.

`LineSynth.sample(index)` draws a line of text, renders it glyph by glyph with a
handwriting font (jittered baseline, size and spacing), slants, rotates and warps it,
thickens or thins the strokes, puts it on paper or a whiteboard in a pen or marker
colour, and adds blur, noise and JPEG artefacts. The result is a grayscale crop with
dark ink on a light background, like a line cut from a scanned or photographed page.
Every sample is a pure function of (seed, index), so training runs are reproducible
and samples can be drawn from any thread or process.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from recognizer.fonts import FontError, family_key, missing_chars
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
        self.glyphs: dict[str, _Glyph] = {}
        self.lock = threading.Lock()

    def glyph(self, ch: str) -> _Glyph:
        g = self.glyphs.get(ch)
        if g is not None:
            return g
        from PIL import Image, ImageDraw

        with self.lock:
            g = self.glyphs.get(ch)
            if g is not None:
                return g
            adv = float(self.font.getlength(ch))
            left, top, right, bottom = self.font.getbbox(ch, anchor="ls")
            if ch.isspace() or right <= left or bottom <= top:
                g = _Glyph(np.zeros((0, 0), np.uint8), 0, 0, adv)
            else:
                img = Image.new("L", (right - left + 2, bottom - top + 2), 0)
                ImageDraw.Draw(img).text(
                    (1 - left, 1 - top), ch, font=self.font, fill=255, anchor="ls"
                )
                g = _Glyph(np.asarray(img).copy(), left - 1, top - 1, adv)
            self.glyphs[ch] = g
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
}
_INK_WEIGHTS = {
    "blue": 0.3,
    "black": 0.35,
    "darkblue": 0.12,
    "red": 0.08,
    "green": 0.05,
    "pencil": 0.1,
}
_MARKERS = {
    "black": (0.12, 0.12, 0.12),
    "blue": (0.60, 0.25, 0.08),
    "red": (0.18, 0.15, 0.75),
    "green": (0.25, 0.55, 0.15),
}


def _pick(rng: np.random.Generator, weights: dict[str, float]) -> str:
    keys = list(weights)
    p = np.asarray([weights[k] for k in keys], np.float64)
    return keys[int(np.searchsorted(np.cumsum(p / p.sum()), rng.random(), side="right"))]


def _smooth_noise(rng: np.random.Generator, h: int, w: int, cell: float) -> np.ndarray:
    """Low-frequency noise in about [-1, 1], h x w float32 (random grid, upsampled)."""
    gh, gw = max(2, int(h / cell) + 2), max(2, int(w / cell) + 2)
    g = rng.standard_normal((gh, gw)).astype(np.float32)
    return cv2.resize(g, (w, h), interpolation=cv2.INTER_CUBIC)


class LineSynth:
    """Deterministic synthetic handwriting lines from a set of fonts.

    ``fonts``: font files (e.g. from `discover_fonts`); fonts are drawn family by
    family, so a family shipped in six weights is not six times as likely.
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
        families: dict[str, list[Path]] = {}
        for p in sorted(Path(f) for f in fonts):
            families.setdefault(family_key(p), []).append(p)
        self._families = [families[k] for k in sorted(families)]
        # Glyphs are rendered at the size the ink will have in the output (less work),
        # with head-room so the final resize shrinks rather than enlarges.
        self._ink = 64 if height is None else max(16, round(height * 0.85))

    @property
    def fonts(self) -> list[Path]:
        return [p for fam in self._families for p in fam]

    def sample(self, index: int) -> Sample:
        """The sample number `index`: the same (seed, index) always gives the same pixels."""
        rng = np.random.default_rng([self.seed, int(index)])
        fam = self._families[rng.integers(len(self._families))]
        path = fam[rng.integers(len(fam))]
        text = self.text.line(rng)
        try:
            text = substitute_missing(text, missing_chars(path))
            if not text:
                text = self.text.word(rng)
            image = self._draw(rng, path, text)
        except FontError:
            raise
        except Exception as exc:
            raise FontError(f"rendering {text!r} with {path.name} failed: {exc}") from exc
        return Sample(image=image, text=text, font=path.name)

    # ------------------------------------------------------------------ stages

    def _layout(
        self, rng: np.random.Generator, fr: _FontRender, text: str, a: float
    ) -> tuple[np.ndarray, int]:
        """Place the glyphs on a float32 coverage canvas; returns it and the baseline y."""
        size = fr.size
        n = len(text)
        cursive_safe = rng.random() < 0.5  # half the lines keep the font's spacing exactly
        track = rng.normal(0.0, 0.03) * size * a if not cursive_safe else 0.0
        space = rng.uniform(0.8, 1.6) if a > 0 else 1.0
        # Baseline wanders smoothly along the line, plus a little per-glyph jitter.
        drift = np.cumsum(rng.normal(0, 0.012 * size * a, n + 1)) if a > 0 else np.zeros(n + 1)
        jitter = rng.normal(0, 0.015 * size * a, n) if a > 0 else np.zeros(n)
        scales = 1.0 + rng.normal(0, 0.05 * a, n) if a > 0 and rng.random() < 0.6 else np.ones(n)
        placed: list[tuple[np.ndarray, int, int]] = []
        x = 0.0
        for i, ch in enumerate(text):
            g = fr.glyph(ch)
            if ch == " ":
                x += g.advance * space
                continue
            m, left, top = g.mask, g.left, g.top
            s = float(scales[i])
            if m.size and abs(s - 1.0) > 0.03:
                m = cv2.resize(m, (max(1, round(m.shape[1] * s)), max(1, round(m.shape[0] * s))))
                left, top = round(left * s), round(top * s)
            dy = drift[i] + jitter[i]
            if m.size:
                placed.append((m, round(x) + left, round(dy) + top))
            x += g.advance * (s if cursive_safe else s * (1 + rng.normal(0, 0.04 * a))) + track
        pad = 2 + size // 4
        if not placed:
            return np.zeros(
                (fr.ascent + fr.descent + 2 * pad, 2 * pad), np.float32
            ), fr.ascent + pad
        x0 = min(p[1] for p in placed)
        x1 = max(p[1] + p[0].shape[1] for p in placed)
        y0 = min(min(p[2] for p in placed), -fr.ascent)
        y1 = max(max(p[2] + p[0].shape[0] for p in placed), fr.descent)
        canvas = np.zeros((y1 - y0 + 2 * pad, x1 - x0 + 2 * pad), np.uint8)
        for m, gx, gy in placed:
            cx, cy = gx - x0 + pad, gy - y0 + pad
            region = canvas[cy : cy + m.shape[0], cx : cx + m.shape[1]]
            np.maximum(region, m, out=region)
        return canvas.astype(np.float32) * (1.0 / 255.0), pad - y0

    def _geometry(
        self, rng: np.random.Generator, ink: np.ndarray, baseline: int, a: float, size: int
    ) -> tuple[np.ndarray, float, float]:
        """Slant, rotation, perspective and elastic warp; returns canvas and line extent."""
        h, w = ink.shape
        if a <= 0:
            return ink, baseline - size, baseline + size * 0.3
        shear = rng.normal(0.08, 0.18) * a  # handwriting leans right more often than left
        angle = np.deg2rad(rng.normal(0, 1.2) * a)
        sx = 1.0 + rng.normal(0, 0.08) * a  # narrower or wider hand
        c, s = np.cos(angle), np.sin(angle)
        m = np.array([[sx, -shear, shear * baseline], [0, 1, 0], [0, 0, 1]], np.float64)
        m = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]]) @ m
        if rng.random() < 0.3 * a:
            # Small perspective: the far end of the line a little smaller.
            k = rng.normal(0, 0.12 * a) / max(w, 1)
            m = np.array([[1, 0, 0], [0, 1, 0], [k, 0, 1]]) @ m
        corners = np.array([[0, 0, 1], [w, 0, 1], [0, h, 1], [w, h, 1]], np.float64).T
        t = m @ corners
        t = t[:2] / t[2]
        ox, oy = t[0].min(), t[1].min()
        ow, oh = int(np.ceil(t[0].max() - ox)) + 1, int(np.ceil(t[1].max() - oy)) + 1
        m = np.array([[1, 0, -ox], [0, 1, -oy], [0, 0, 1]]) @ m
        out = cv2.warpPerspective(ink, m, (ow, oh), flags=cv2.INTER_LINEAR, borderValue=0)
        if rng.random() < 0.6 * a:
            amp = size * rng.uniform(0.02, 0.06) * a
            cell = size * rng.uniform(0.4, 1.0)
            dx = _smooth_noise(rng, oh, ow, cell) * amp
            dy = _smooth_noise(rng, oh, ow, cell) * amp
            gx, gy = np.meshgrid(np.arange(ow, dtype=np.float32), np.arange(oh, dtype=np.float32))
            out = cv2.remap(out, gx + dx, gy + dy, cv2.INTER_LINEAR, borderValue=0)
        mid = m @ np.array([w / 2, baseline, 1.0])
        by = mid[1] / mid[2]
        return out, by - size, by + size * 0.3

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
        if r < 0.35:
            sigma = rng.uniform(0.4, 1.2) * a * self._ink / 48
            ink = cv2.GaussianBlur(ink, (0, 0), sigma)
            ink = np.clip(ink * rng.uniform(1.6, 3.0), 0, 1)
        elif r < 0.55:
            t = rng.uniform(0.1, 0.45) * a
            ink = np.clip((ink - t) / (1 - t), 0, 1)
        elif r < 0.65 and not marker:
            k = 2 if self._ink < 56 else 3
            ink = cv2.dilate(ink, np.ones((k, k), np.uint8))
        return ink

    def _background(
        self, rng: np.random.Generator, h: int, w: int, a: float, kind: str, y_base: float
    ) -> np.ndarray:
        """Paper or whiteboard, h x w x 3 float32 BGR in [0, 1]."""
        if a <= 0:
            return np.ones((h, w, 3), np.float32)
        if kind == "whiteboard":
            base = np.array([0.95, 0.95, 0.94]) * rng.uniform(0.85, 1.0)
        else:
            base = np.array(_PAPERS[rng.integers(len(_PAPERS))]) * rng.uniform(0.8, 1.03)
        base = base + rng.normal(0, 0.02 * a, 3)
        bg = np.empty((h, w, 3), np.float32)
        bg[:] = np.clip(base, 0, 1).astype(np.float32)
        # Uneven light: a ramp across the line and soft blotches.
        light = np.ones((h, w), np.float32)
        if rng.random() < 0.7 * a:
            gx = np.linspace(-1, 1, w, dtype=np.float32)[None, :] * rng.normal(0, 0.08 * a)
            gy = np.linspace(-1, 1, h, dtype=np.float32)[:, None] * rng.normal(0, 0.05 * a)
            light += gx + gy
        if rng.random() < 0.5 * a:
            light += (
                _smooth_noise(rng, h, w, rng.uniform(h * 0.5, h * 3)) * rng.uniform(0.01, 0.05) * a
            )
        if kind == "whiteboard" and rng.random() < 0.6 * a:
            # Glare: a bright elliptical spot.
            cx, cy = rng.uniform(0, w), rng.uniform(-h, 2 * h)
            rx, ry = rng.uniform(0.2, 0.8) * w + 1, rng.uniform(0.5, 2.0) * h + 1
            xx = ((np.arange(w, dtype=np.float32) - cx) / rx) ** 2
            yy = ((np.arange(h, dtype=np.float32) - cy) / ry) ** 2
            light += np.exp(-(yy[:, None] + xx[None, :])) * rng.uniform(0.1, 0.35) * a
        bg *= light[:, :, None]
        if kind == "ruled" and a > 0:
            color = np.array([0.85, 0.7, 0.55]) if rng.random() < 0.7 else np.array([0.6, 0.6, 0.6])
            thick = int(rng.integers(1, 3))
            gap = rng.uniform(1.1, 1.6) * self._ink
            y = y_base + rng.normal(0, 0.05) * self._ink
            ys = [y + k * gap for k in range(-3, 4)]
            alpha = rng.uniform(0.3, 0.8)
            for yy in ys:
                yi = int(round(yy))
                if 0 <= yi < h:
                    bg[yi : yi + thick] = bg[yi : yi + thick] * (1 - alpha) + color * alpha
            if rng.random() < 0.2:  # squared paper: vertical lines too
                off = rng.uniform(0, gap)
                for xx in np.arange(off, w, gap):
                    xi = int(xx)
                    bg[:, xi : xi + thick] = bg[:, xi : xi + thick] * (1 - alpha) + color * alpha
        if kind == "whiteboard" and rng.random() < 0.4 * a:
            # Ghosts of erased writing.
            ghost = np.clip(_smooth_noise(rng, h, w, rng.uniform(3, 10)), 0, None) * 0.06
            bg -= ghost[:, :, None]
        return bg

    def _draw(self, rng: np.random.Generator, path: Path, text: str) -> np.ndarray:
        a = self.augment
        fr = _font_render(path, self._ink)
        kind = "paper"
        if a > 0:
            r = rng.random()
            kind = "whiteboard" if r < 0.2 else "ruled" if r < 0.45 else "paper"
        marker = kind == "whiteboard"
        ink, baseline = self._layout(rng, fr, text, a)
        ink = self._strokes(rng, ink, a, marker)
        ink, top, bottom = self._geometry(rng, ink, baseline, a, self._ink)

        # Crop: tight around the ink horizontally, around the line extent vertically,
        # each side with a small random margin.
        cols = np.flatnonzero(ink.max(axis=0) > 0.1)
        rows = np.flatnonzero(ink.max(axis=1) > 0.1)
        if len(cols) == 0:
            cols = rows = np.array([0, 1])
        ih, iw = ink.shape
        unit = self._ink
        mlo, mhi = (0.02, 0.35) if a > 0 else (0.12, 0.12001)
        x0 = cols[0] - rng.uniform(mlo, mhi) * unit
        x1 = cols[-1] + 1 + rng.uniform(mlo, mhi) * unit
        y0 = min(rows[0], top) - rng.uniform(mlo, mhi) * unit * 0.5
        y1 = max(rows[-1] + 1, bottom) + rng.uniform(mlo, mhi) * unit * 0.5
        x0, y0 = int(np.floor(x0)), int(np.floor(y0))
        x1, y1 = int(np.ceil(x1)), int(np.ceil(y1))
        pad = ((max(0, -y0), max(0, y1 - ih)), (max(0, -x0), max(0, x1 - iw)))
        if any(v for pair in pad for v in pair):
            ink = np.pad(ink, pad)
            y0, y1, x0, x1 = y0 + pad[0][0], y1 + pad[0][0], x0 + pad[1][0], x1 + pad[1][0]
        ink = ink[y0:y1, x0:x1]
        h, w = ink.shape
        base_y = (top + self._ink) - (y0 - pad[0][0])

        bg = self._background(rng, h, w, a, kind, base_y)
        if a <= 0:
            return self._resize(rng, np.clip((1.0 - ink) * 255 + 0.5, 0, 255).astype(np.uint8), a)

        if marker:
            color = np.array(_MARKERS[_pick(rng, dict.fromkeys(_MARKERS, 1.0))])
            opacity = rng.uniform(0.75, 1.0)
        else:
            name = _pick(rng, _INK_WEIGHTS)
            color = np.array(_INKS[name])
            opacity = rng.uniform(0.55, 0.8) if name == "pencil" else rng.uniform(0.8, 1.0)
        color = np.clip(color + rng.normal(0, 0.04, 3), 0, 1).astype(np.float32)
        alpha = ink * opacity
        if rng.random() < 0.5 * a:
            # Uneven ink flow: ballpoint skips, dry marker, pencil grain.
            flow = (
                1.0
                - np.abs(_smooth_noise(rng, h, w, rng.uniform(2, 8))) * rng.uniform(0.1, 0.4) * a
            )
            alpha = alpha * np.clip(flow, 0, 1)
        img = bg * (1 - alpha[:, :, None]) + color * alpha[:, :, None]

        if rng.random() < 0.5 * a:
            sigma = rng.uniform(0.3, 1.1) * a * self._ink / 48
            img = cv2.GaussianBlur(img, (0, 0), sigma)
        if rng.random() < 0.7 * a:
            img = img + rng.normal(0, rng.uniform(0.005, 0.04) * a, img.shape).astype(np.float32)
        img8 = np.clip(img * 255 + 0.5, 0, 255).astype(np.uint8)
        if rng.random() < 0.2 * a:
            # Low-resolution scan or photo: down and up again.
            f = rng.uniform(0.45, 0.8)
            small = cv2.resize(
                img8, (max(1, int(w * f)), max(1, int(h * f))), interpolation=cv2.INTER_AREA
            )
            img8 = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
        if rng.random() < 0.5 * a:
            q = int(rng.integers(25, 90))
            ok, buf = cv2.imencode(".jpg", img8, [cv2.IMWRITE_JPEG_QUALITY, q])
            if ok:
                img8 = cv2.imdecode(buf, cv2.IMREAD_COLOR)
        gray = cv2.cvtColor(img8, cv2.COLOR_BGR2GRAY)
        return self._resize(rng, gray, a)

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
