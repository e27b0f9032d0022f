"""The recognizer's setup error, in a module light enough for the settings to import."""

from __future__ import annotations


class RecognizerError(ValueError):
    """The recognizer cannot be set up (bad bundle, decoder or lexicon)."""
