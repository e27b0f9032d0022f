"""What a transcript depends on besides the page: the bundle's files and the reading settings.

Transcripts are filed under the bundle's folder name, so a new bundle is noticed (and
the archive re-read) by its name. The reading settings (decoder, beam width, word
list, language model weight, ...) and a bundle whose files were replaced in place
change readings too without changing that name: each indexed document records the
fingerprint of what read it, and documents read otherwise than the archive would read
them now are counted (`Archive.read_otherwise`), so the service can say that
`inkdex reindex --retranscribe` would bring them up to date.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import yaml

from inkdex.settings import ModelSettings

# Bundle files whose content decides readings (model.yaml holds measured figures too,
# so only its reading sections count; the card is prose).
_BUNDLE_FILES = ("model.weights.h5", "charset.txt", "charlm.npz")
_META_SECTIONS = ("input", "architecture", "decoder", "language_model")
# Settings that do not change what is read.
_NOT_READING = {"bundle", "models_dir", "batch_size", "decode_processes", "lexicon"}


def fingerprint(model: ModelSettings, bundle: Path) -> str:
    """A short hex digest of `bundle`'s reading files and `model`'s reading settings."""
    h = hashlib.sha256()
    settings = model.model_dump(mode="json", exclude=_NOT_READING)
    h.update(json.dumps(settings, sort_keys=True).encode())
    for name in _BUNDLE_FILES:
        h.update(f"\0{name}\0".encode())
        h.update(_file_digest(bundle / name))
    h.update(json.dumps(_meta_sections(bundle / "model.yaml"), sort_keys=True).encode())
    if model.lexicon is not None:
        h.update(b"\0lexicon\0")
        h.update(_file_digest(model.lexicon))
    return h.hexdigest()[:16]


def _file_digest(path: Path) -> bytes:
    try:
        with path.open("rb") as f:
            return hashlib.file_digest(f, "sha256").digest()
    except OSError:  # absent (an optional file, or a bundle not yet there)
        return b"-"


def _meta_sections(path: Path) -> dict[str, Any]:
    try:
        meta = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return {}
    if not isinstance(meta, dict):
        return {}
    return {k: meta.get(k) for k in _META_SECTIONS}
