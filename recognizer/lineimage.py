"""Text-line crop -> the model's input image, and model frames -> crop pixel columns.

The model reads a float32 ``H x W`` image in ``[0, 1]`` with ink high (1) and the
background at 0, scaled to a fixed height with the aspect ratio kept. Training and
inference both go through `normalize_line`, so the model always sees the same
polarity and contrast whatever the paper, ink or scanner. Framework-free.
"""

from __future__ import annotations

import cv2
import numpy as np

# Below this spread between background and ink (in 0..255 grey levels) a crop is
# treated as blank rather than stretched into amplified noise.
_MIN_CONTRAST = 12.0


class LineImageError(ValueError):
    """A line crop cannot be normalised (empty, wrong dtype or shape)."""


def to_gray(image: np.ndarray) -> np.ndarray:
    """A 2-D grayscale view of a gray, BGR or BGRA image (uint8 or float)."""
    if image.ndim == 2:
        return image
    if image.ndim == 3 and image.shape[2] == 1:
        return image[:, :, 0]
    if image.ndim == 3 and image.shape[2] in (3, 4):
        code = cv2.COLOR_BGR2GRAY if image.shape[2] == 3 else cv2.COLOR_BGRA2GRAY
        if image.dtype not in (np.uint8, np.uint16, np.float32):
            image = image.astype(np.float32)
        return cv2.cvtColor(image, code)
    raise LineImageError(f"expected a gray or BGR image, got shape {image.shape}")


def line_scale(crop_height: int, height: int) -> float:
    """Resize factor from a crop of `crop_height` pixels to the model's input `height`."""
    return height / max(1, int(crop_height))


def _to_uint8(g: np.ndarray) -> np.ndarray:
    if g.dtype == np.uint8:
        return g
    if g.dtype == np.uint16:
        return (g >> 8).astype(np.uint8)
    g = g.astype(np.float32)
    if g.max(initial=0.0) <= 1.0:
        g = g * 255.0
    return np.clip(g + 0.5, 0, 255).astype(np.uint8)


def _percentile(hist_cdf: np.ndarray, q: float) -> int:
    """Grey level at percentile `q` (0..100) from a cumulative histogram."""
    return int(np.searchsorted(hist_cdf, q / 100.0 * hist_cdf[-1], side="left"))


def normalize_line(gray: np.ndarray, height: int, min_width: int = 16) -> np.ndarray:
    """Scale a line crop to `height` (aspect kept) with ink 1 and background 0.

    `gray` is dark ink on light paper (uint8 0..255 or float 0..1); a crop whose
    background is dark (light ink) is detected and not inverted. Contrast is stretched
    between the background level and the darkest ink so faded pencil and dark ink look
    alike. Narrow results are padded on the right to `min_width` (padding does not
    move any column, so `frame_to_x` stays valid).
    """
    if not isinstance(gray, np.ndarray) or gray.size == 0:
        raise LineImageError("empty line image")
    g = to_gray(gray)
    if g.ndim != 2 or min(g.shape) < 1:
        raise LineImageError(f"line image has no pixels: shape {gray.shape}")
    g = _to_uint8(g)
    h, w = g.shape
    new_w = max(1, int(round(w * height / h)))
    interp = cv2.INTER_AREA if height < h else cv2.INTER_LINEAR
    g = cv2.resize(g, (new_w, height), interpolation=interp)

    # Levels from the histogram: background near the 30th percentile of "inkness",
    # ink at the 99.5th. A lookup table then maps every grey level at once.
    hist = cv2.calcHist([g], [0], None, [256], [0, 256])[:, 0]
    cdf = np.cumsum(hist)
    levels = np.arange(256, dtype=np.float32)
    if _percentile(cdf, 50) >= 96:  # light paper: ink is dark, invert
        ink_cdf = np.cumsum(hist[::-1])
        ink = 255.0 - levels
    else:  # light-on-dark crops keep their polarity
        ink_cdf = cdf
        ink = levels
    lo = float(_percentile(ink_cdf, 30))
    hi = float(_percentile(ink_cdf, 99.5))
    span = 255.0 if hi - lo < _MIN_CONTRAST else hi - lo
    lut = np.clip((ink - lo) / span, 0.0, 1.0).astype(np.float32)
    out = lut[g]
    if new_w < min_width:
        out = np.pad(out, ((0, 0), (0, min_width - new_w)))
    return out


def frame_to_x(frame: float, scale: float, downsample: int) -> float:
    """Left edge, in crop pixels, of model output frame `frame`.

    `scale` is the crop -> model-input resize factor (`line_scale`), `downsample` the
    model's horizontal stride (input columns per output frame). Use ``frame_to_x(f + 1,
    ...)`` for the right edge of frame ``f``.
    """
    return float(frame) * downsample / scale
