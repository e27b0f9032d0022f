"""Optional spelling correction of the words a line was read as (off by default).

A word whose letters are not in the word list is replaced by the nearest listed word
(Levenshtein distance from rapidfuzz) within one edit for words of up to 5 letters,
`max_distance` edits beyond, the most frequent one on a tie; the reading the model made stays among the word's alternatives, so the
index still finds it. Case (`Word`, `WORD`), punctuation around the word and words
with digits are kept as written. With the lexicon decoder most words are listed
words already; this helps most after the beam or greedy decoder.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from recognizer.lexicon import Lexicon

__all__ = ["SpellCorrector"]

# Leading punctuation, the word (letters with inner apostrophes or hyphens), trailing rest.
_PARTS = re.compile(r"^([^A-Za-z]*)([A-Za-z](?:[A-Za-z'-]*[A-Za-z])?)([^A-Za-z]*)$")
# Words shorter than this are left alone: too many listed words lie one edit away.
MIN_LENGTH = 3
# Words up to this long are corrected by one edit at most (as fuzzy search does).
SHORT_WORD = 5


@dataclass(frozen=True)
class Correction:
    """A word as read and as corrected (the same when nothing changed)."""

    read: str
    text: str

    @property
    def changed(self) -> bool:
        return self.read != self.text


class SpellCorrector:
    """Nearest listed word for each unlisted word of a reading."""

    def __init__(self, lexicon: Lexicon, max_distance: int = 2) -> None:
        if not 1 <= max_distance <= 3:
            raise ValueError(f"max_distance must be 1, 2 or 3, got {max_distance}")
        self.lexicon = lexicon
        self.max_distance = max_distance
        by_length: dict[int, list[str]] = defaultdict(list)
        for w in lexicon.words():
            by_length[len(w)].append(w)
        self._by_length = dict(by_length)
        self._memo: dict[str, str] = {}

    def _nearest(self, word: str) -> str:
        """The listed word nearest to lower-case `word`, or `word` when none is close."""
        hit = self._memo.get(word)
        if hit is not None:
            return hit
        n = len(word)
        limit = 1 if n <= SHORT_WORD else self.max_distance
        best, best_key = word, (limit + 1, 0.0)
        for length in range(n - limit, n + limit + 1):
            pool = self._by_length.get(length)
            if not pool:
                continue
            found = process.extract(
                word,
                pool,
                scorer=Levenshtein.distance,
                score_cutoff=limit,
                limit=None,
            )
            for cand, dist, _ in found:
                key = (int(dist), -self.lexicon.frequency(cand))
                if key < best_key:
                    best, best_key = cand, key
        if len(self._memo) > 100_000:
            self._memo.clear()
        self._memo[word] = best
        return best

    def correct(self, token: str) -> Correction:
        """Correct one space-free token, keeping its case pattern and punctuation."""
        m = _PARTS.match(token)
        if m is None:
            return Correction(token, token)  # digits, or several words glued by punctuation
        head, core, tail = m.groups()
        lower = core.lower()
        if len(core) < MIN_LENGTH or self.lexicon.is_word(lower):
            return Correction(token, token)
        fixed = self._nearest(lower)
        if fixed == lower:
            return Correction(token, token)
        if core.isupper():
            fixed = fixed.upper()
        elif core[0].isupper():
            fixed = fixed[0].upper() + fixed[1:]
        return Correction(token, head + fixed + tail)
