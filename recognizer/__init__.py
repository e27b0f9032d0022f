"""Image -> PageTranscript: preprocessing, segmentation, the CRNN+CTC model, decoding.

Knows nothing about indexes or HTTP. TensorFlow/Keras are imported lazily by the
modules that hold the network, so importing this package is cheap.
"""

from recognizer.transcript import BBox, Line, PageTranscript, Word

__all__ = ["BBox", "Line", "PageTranscript", "Word"]
