"""Image -> PageTranscript: preprocessing, segmentation, the CRNN+CTC model, decoding.

Knows nothing about indexes or HTTP. TensorFlow/Keras are imported lazily by the
modules that hold the network, so importing this package is cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from recognizer.transcript import BBox, Line, PageTranscript, Word

if TYPE_CHECKING:
    from recognizer.recognize import Recognizer


def load_recognizer(model_settings: Any) -> Recognizer:
    """A `Recognizer` for the ``model`` section of the settings (bundle, decoder, batch)."""
    from recognizer.recognize import load_recognizer as _load

    return _load(model_settings)


__all__ = ["BBox", "Line", "PageTranscript", "Word", "load_recognizer"]
