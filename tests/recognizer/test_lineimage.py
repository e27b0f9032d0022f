"""Line normalisation (what the model sees) and the frame -> pixel mapping."""

from __future__ import annotations

import numpy as np
import pytest

from recognizer.lineimage import LineImageError, frame_to_x, line_scale, normalize_line


def _line(h: int = 40, w: int = 200, ink: int = 20, paper: int = 230) -> np.ndarray:
    img = np.full((h, w), paper, np.uint8)
    img[15:25, 30:60] = ink  # a "word"
    img[15:25, 120:170] = ink
    return img


def test_dark_ink_on_light_paper_becomes_ink_high() -> None:
    out = normalize_line(_line(), 48)
    assert out.dtype == np.float32
    assert out.shape == (48, 240)  # aspect kept: 200 * 48 / 40
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert out[24, 50] > 0.9  # ink
    assert out[5, 100] < 0.05  # paper


def test_faint_pencil_and_dark_ink_normalise_alike() -> None:
    dark = normalize_line(_line(ink=10, paper=250), 48)
    faint = normalize_line(_line(ink=170, paper=215), 48)
    assert np.abs(dark - faint).mean() < 0.02


def test_light_ink_on_dark_background_keeps_ink_high() -> None:
    inverted = 255 - _line()
    out = normalize_line(inverted, 48)
    assert out[24, 50] > 0.9 and out[5, 100] < 0.05


def test_bgr_and_float_inputs_are_accepted() -> None:
    gray = _line()
    bgr = np.stack([gray] * 3, axis=-1)
    assert np.allclose(normalize_line(bgr, 32), normalize_line(gray, 32), atol=1e-3)
    assert np.allclose(normalize_line(gray / 255.0, 32), normalize_line(gray, 32), atol=1e-2)


def test_narrow_crops_are_padded_on_the_right_to_min_width() -> None:
    out = normalize_line(_line(w=10), 48, min_width=32)
    assert out.shape == (48, 32)
    assert out[:, 12:].max() == 0.0


def test_blank_crop_does_not_amplify_noise() -> None:
    rng = np.random.default_rng(0)
    paper = (200 + rng.integers(0, 3, (40, 100))).astype(np.uint8)
    assert normalize_line(paper, 48).max() < 0.05


def test_empty_crop_is_a_clear_error() -> None:
    with pytest.raises(LineImageError):
        normalize_line(np.zeros((0, 10), np.uint8), 48)


def test_frame_to_x_inverts_the_resize_and_downsampling() -> None:
    scale = line_scale(96, 48)  # crop is twice the model height
    assert scale == 0.5
    assert frame_to_x(0, scale, 4) == 0.0
    assert frame_to_x(10, scale, 4) == 80.0  # 10 frames * 4 columns / 0.5
