"""Test-time shifts (each batch of lines also read moved up or down by a few rows):
their check, light enough for the settings to validate ``model.test_time_shifts``
without loading the recognizer."""

from __future__ import annotations

from collections.abc import Sequence

from recognizer.errors import RecognizerError

# Largest vertical shift, in model-input rows, for test-time shifting (a sixth of the
# 48-row input: more moves ascenders or descenders out of the image).
MAX_SHIFT = 8


def check_shifts(shifts: Sequence[int]) -> tuple[int, ...]:
    """Validated test-time shifts: distinct non-zero whole rows, each within `MAX_SHIFT`."""
    out = tuple(int(v) for v in shifts)
    if any(v != s for v, s in zip(out, shifts, strict=True)):
        raise RecognizerError(f"test-time shifts are whole rows, got {list(shifts)}")
    if any(v == 0 or abs(v) > MAX_SHIFT for v in out) or len(set(out)) != len(out):
        raise RecognizerError(
            f"test-time shifts must be distinct, non-zero and within +-{MAX_SHIFT} rows, "
            f"got {list(out)}"
        )
    return out
