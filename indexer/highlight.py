"""Which words of a transcript a query matched, and the snippet shown for a hit.

Works on transcripts, not on the index, so it does not change when the search
engine does: the index says which documents match, this module finds the words
(page, line, word, box) by normalising each reading the same way the index did.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rapidfuzz.distance import Levenshtein

from indexer.analysis import tokens
from recognizer.transcript import BBox, PageTranscript

SNIPPET_LINES = 3
SNIPPET_MAX_CHARS = 300


@dataclass(frozen=True)
class Match:
    """A word of a hit that matches the query. `page`, `line`, `word` are 0-based indexes.

    `text` is the reading that matched (the 1-best text, or the alternative reading
    when only an alternative matched) and `confidence` its probability.
    """

    page: int
    line: int
    word: int
    text: str
    bbox: BBox
    confidence: float


@dataclass(frozen=True)
class QueryTerms:
    """The positive terms of a parsed query, as normalised index terms."""

    exact: frozenset[str] = frozenset()
    prefixes: tuple[str, ...] = ()
    patterns: tuple[re.Pattern[str], ...] = ()
    fuzzy: tuple[tuple[str, int], ...] = ()  # (term, largest edit distance)
    _seen: dict[str, bool] = field(default_factory=dict, compare=False, repr=False)

    def __bool__(self) -> bool:
        return bool(self.exact or self.prefixes or self.patterns or self.fuzzy)

    def matches(self, term: str) -> bool:
        """Whether the normalised `term` is one the query asked for."""
        hit = self._seen.get(term)
        if hit is None:
            hit = (
                term in self.exact
                or any(term.startswith(p) for p in self.prefixes)
                or any(p.fullmatch(term) for p in self.patterns)
                or any(Levenshtein.distance(term, f, score_cutoff=d) <= d for f, d in self.fuzzy)
            )
            self._seen[term] = hit
        return hit

    def any_of(self) -> Callable[[tuple[str, ...]], bool]:
        """A fast test: does any of these normalised terms match?"""
        if not (self.prefixes or self.patterns or self.fuzzy):
            exact = self.exact
            return lambda terms: not exact.isdisjoint(terms)
        matches = self.matches
        return lambda terms: any(matches(t) for t in terms)


Page = PageTranscript | Mapping[str, Any]


def _as_json(pages: Sequence[Page]) -> list[Mapping[str, Any]]:
    return [p.to_dict() if isinstance(p, PageTranscript) else p for p in pages]


def find_matches(
    pages: Sequence[Page],
    terms: QueryTerms,
    min_confidence: float = 0.0,
    min_alternative_prob: float = 0.0,
) -> list[Match]:
    """Every word whose 1-best reading (or else an indexed alternative) matches `terms`.

    `pages` are transcripts or their JSON form as stored (read without building objects).
    """
    out: list[Match] = []
    if not terms:
        return out
    hit = terms.any_of()
    min_alt = max(min_confidence, min_alternative_prob)
    for pi, page in enumerate(_as_json(pages)):
        for li, line in enumerate(page["lines"]):
            for wi, word in enumerate(line["words"]):
                conf = word["confidence"]
                if conf >= min_confidence and hit(tokens(word["text"])):
                    out.append(Match(pi, li, wi, word["text"], _bbox(word["bbox"]), conf))
                    continue
                for text, prob in word["alternatives"]:
                    if prob >= min_alt and hit(tokens(text)):
                        out.append(Match(pi, li, wi, text, _bbox(word["bbox"]), prob))
                        break
    return out


def _bbox(b: Sequence[int]) -> BBox:
    x, y, w, h = b
    return (int(x), int(y), int(w), int(h))


def snippet(pages: Sequence[Page], matches: Sequence[Match]) -> str:
    """A short HTML snippet: the lines with matches, matched words in ``<mark>``.

    Text is HTML-escaped; only the ``<mark>`` tags are markup. Without matches,
    the start of the first page.
    """
    jpages = _as_json(pages)
    if not matches:
        for page in jpages:
            for line in page["lines"]:
                if line["text"].strip():
                    return html.escape(_clip(line["text"]))
        return ""
    marked: dict[tuple[int, int], set[int]] = {}
    for m in matches:
        marked.setdefault((m.page, m.line), set()).add(m.word)
    parts: list[str] = []
    total = 0
    for page_i, line_i in list(marked)[:SNIPPET_LINES]:
        line = jpages[page_i]["lines"][line_i]
        words = marked[(page_i, line_i)]
        if line["words"]:
            rendered = " ".join(
                f"<mark>{html.escape(w['text'])}</mark>" if i in words else html.escape(w["text"])
                for i, w in enumerate(line["words"])
            )
        else:
            rendered = html.escape(line["text"])
        parts.append(rendered)
        total += len(rendered)
        if total >= SNIPPET_MAX_CHARS:
            break
    return " … ".join(parts)


def _clip(text: str) -> str:
    return text if len(text) <= SNIPPET_MAX_CHARS else text[: SNIPPET_MAX_CHARS - 1] + "…"
