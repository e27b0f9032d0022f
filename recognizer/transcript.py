"""The recognizer's output: PageTranscript -> Line -> Word, frozen and JSON-round-trippable.

Boxes are ``(x, y, w, h)`` in pixels of the original image after EXIF rotation.
The JSON form is what the indexer's transcript store keeps, so `from_json(to_json(t)) == t`
must hold exactly.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

BBox = tuple[int, int, int, int]


def _bbox(v: Any) -> BBox:
    x, y, w, h = (int(c) for c in v)
    return (x, y, w, h)


@dataclass(frozen=True)
class Word:
    bbox: BBox
    text: str
    confidence: float
    alternatives: tuple[tuple[str, float], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "bbox": list(self.bbox),
            "text": self.text,
            "confidence": self.confidence,
            "alternatives": [[t, p] for t, p in self.alternatives],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Word:
        return cls(
            bbox=_bbox(d["bbox"]),
            text=str(d["text"]),
            confidence=float(d["confidence"]),
            alternatives=tuple((str(t), float(p)) for t, p in d.get("alternatives", ())),
        )


@dataclass(frozen=True)
class Line:
    bbox: BBox
    text: str
    confidence: float
    words: tuple[Word, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "bbox": list(self.bbox),
            "text": self.text,
            "confidence": self.confidence,
            "words": [w.to_dict() for w in self.words],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Line:
        return cls(
            bbox=_bbox(d["bbox"]),
            text=str(d["text"]),
            confidence=float(d["confidence"]),
            words=tuple(Word.from_dict(w) for w in d.get("words", ())),
        )


@dataclass(frozen=True)
class PageTranscript:
    model_version: str
    width: int
    height: int
    lines: tuple[Line, ...] = field(default_factory=tuple)

    @property
    def text(self) -> str:
        """The 1-best text of the page, one line per text line."""
        return "\n".join(line.text for line in self.lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model_version": self.model_version,
            "width": self.width,
            "height": self.height,
            "lines": [line.to_dict() for line in self.lines],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PageTranscript:
        return cls(
            model_version=str(d["model_version"]),
            width=int(d["width"]),
            height=int(d["height"]),
            lines=tuple(Line.from_dict(x) for x in d.get("lines", ())),
        )

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, **kwargs)

    @classmethod
    def from_json(cls, s: str | bytes) -> PageTranscript:
        return cls.from_dict(json.loads(s))
