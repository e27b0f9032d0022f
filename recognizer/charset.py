"""The character set a model reads: text <-> class ids for CTC.

Class 0 is the CTC blank and is not a character; class ``i + 1`` is ``chars[i]``.
A bundle stores its charset as ``charset.txt``, one character per line, with the
space written as ``<space>`` so that editors cannot strip it.
"""

from __future__ import annotations

import string
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

BLANK = 0
_SPACE_TOKEN = "<space>"

# Look-alikes folded onto the ASCII charset before encoding training labels.
_FOLD = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2013": "-",
        "\u2014": "-",
        "\u00a0": " ",
        "\u2026": "...",
    }
)


class CharsetError(ValueError):
    """A charset file is invalid, or a text holds characters the charset lacks."""


@dataclass(frozen=True)
class Charset:
    """An ordered set of characters; index 0 (blank) is implicit."""

    chars: str
    _index: dict[str, int] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        if not self.chars:
            raise CharsetError("a charset needs at least one character")
        dupes = sorted({c for c in self.chars if self.chars.count(c) > 1})
        if dupes:
            raise CharsetError(f"charset has duplicate characters: {dupes!r}")
        bad = [c for c in self.chars if c in "\n\r\t" or not c.isprintable() and c != " "]
        if bad:
            raise CharsetError(f"charset has control characters: {bad!r}")
        object.__setattr__(self, "_index", {c: i + 1 for i, c in enumerate(self.chars)})

    @property
    def num_classes(self) -> int:
        """Model output size: the characters plus the blank."""
        return len(self.chars) + 1

    def __len__(self) -> int:
        return len(self.chars)

    def __contains__(self, c: object) -> bool:
        return c in self._index

    def missing(self, text: str) -> set[str]:
        """Characters of `text` that this charset cannot encode."""
        return {c for c in text if c not in self._index}

    def fold(self, text: str) -> str:
        """Map typographic look-alikes and accented letters onto this charset where possible.

        Curly quotes become straight ones, dashes become ``-``, ``é`` becomes ``e``; characters
        with no counterpart are kept (and `encode` will then refuse them).
        """
        text = text.translate(_FOLD)
        out = []
        for c in text:
            if c not in self._index:
                base = unicodedata.normalize("NFKD", c)
                base = "".join(b for b in base if not unicodedata.combining(b))
                if base and all(b in self._index for b in base):
                    c = base
            out.append(c)
        return "".join(out)

    def encode(self, text: str, errors: Literal["strict", "skip"] = "strict") -> list[int]:
        """Class ids of `text`; unknown characters raise `CharsetError` (or are skipped)."""
        if errors == "strict":
            missing = self.missing(text)
            if missing:
                raise CharsetError(
                    f"text {text!r} has characters outside the charset: {sorted(missing)!r}"
                )
            return [self._index[c] for c in text]
        return [self._index[c] for c in text if c in self._index]

    def decode(self, ids: Iterable[int]) -> str:
        """Text of class ids, ignoring blanks (no CTC collapsing: that is the decoder's job)."""
        n = len(self.chars)
        return "".join(self.chars[i - 1] for i in (int(x) for x in ids) if 0 < i <= n)

    def save(self, path: Path) -> None:
        """Write one character per line (space as ``<space>``), UTF-8."""
        lines = [_SPACE_TOKEN if c == " " else c for c in self.chars]
        Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> Charset:
        """Read a file written by `save`; raises `CharsetError` when it is missing or malformed."""
        path = Path(path)
        try:
            raw = path.read_text(encoding="utf-8")
        except FileNotFoundError as exc:
            raise CharsetError(f"charset file not found: {path}") from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise CharsetError(f"cannot read charset file {path}: {exc}") from exc
        chars = []
        for n, line in enumerate(raw.split("\n"), start=1):
            line = line.rstrip("\r")
            if line == "":
                continue
            if line == _SPACE_TOKEN:
                line = " "
            if len(line) != 1:
                raise CharsetError(
                    f"{path}:{n}: expected one character per line (or {_SPACE_TOKEN}), got {line!r}"
                )
            chars.append(line)
        return cls("".join(chars))


DEFAULT_CHARSET = Charset(" " + string.digits + string.ascii_letters + string.punctuation)
