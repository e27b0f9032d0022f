"""Image -> PageTranscript: preprocessing, segmentation, the CRNN+CTC model, decoding.

Knows nothing about indexes or HTTP. TensorFlow/Keras are imported lazily by the
modules that hold the network, so importing this package is cheap.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from recognizer.transcript import BBox, Line, PageTranscript, Word

if TYPE_CHECKING:
    from recognizer.recognize import Recognizer


def load_recognizer(model_settings: Any, bundle: Path | None = None) -> Recognizer:
    """A `Recognizer` for the ``model`` section of the settings (decoder, word list, priors,
    batch), on `bundle` or else the settings' active bundle."""
    from recognizer.recognize import load_recognizer as _load

    return _load(model_settings, bundle)


__all__ = ["BBox", "Line", "PageTranscript", "Word", "load_recognizer"]
