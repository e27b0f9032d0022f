"""Which words of a transcript a query matched, and the snippet shown for a hit.

The index says which documents match; this module finds the words (page, line,
word, box) by normalising each reading the same way the index did. It works on
transcripts, or -- faster, and what searches use -- on a `WordTable`: the words of
a document in a compact form kept in the index at indexing time, with each
normalised term mapped to the words that read it, so a search need neither decode
the whole transcript nor normalise every word of every hit.
"""

from __future__ import annotations

import html
import pickle
import re
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
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

    def select(self, keys: Collection[str]) -> list[str]:
        """The terms among `keys` that the query asked for."""
        exact = self.exact
        if not (self.prefixes or self.patterns or self.fuzzy):
            return [t for t in exact if t in keys]
        if not (self.patterns or self.fuzzy):
            prefixes = self.prefixes
            return [t for t in keys if t.startswith(prefixes) or t in exact]
        seen, matches = self._seen, self.matches
        return [t for t in keys if (seen[t] if t in seen else matches(t))]

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


# --- the compact word table kept in the index ------------------------------------------

WORD_TABLE_FORMAT = 1

# (page, line, line text, first word, number of words)
_LineRow = tuple[int, int, str, int, int]
# (line row, word index in its line, 1-best text, confidence, box)
_WordRow = tuple[int, int, str, float, BBox]
# (word row, rank among the word's alternatives, reading, probability)
_AltRow = tuple[int, int, str, float]


class WordTableBuilder:
    """Collects a document's words, page by page, into a `WordTable`.

    `add_word` returns the 1-best terms of the word so the indexer normalises
    each reading only once. Alternatives below `min_prob` are left out (the
    index leaves them out too).
    """

    def __init__(self, min_prob: float) -> None:
        self.min_prob = min_prob
        self.lines: list[_LineRow] = []
        self.words: list[_WordRow] = []
        self.best: dict[str, list[int]] = {}
        self.alts: dict[str, list[_AltRow]] = {}

    def add_line(self, page: int, line: int, text: str, n_words: int) -> None:
        self.lines.append((page, line, text, len(self.words), n_words))

    def add_word(
        self,
        index: int,
        text: str,
        confidence: float,
        bbox: Sequence[int],
        alternatives: Sequence[Sequence[Any]],
    ) -> tuple[tuple[str, ...], list[tuple[str, float]]]:
        """Add a word of the last line; returns (its 1-best terms, its (term, prob) alternatives)."""
        wid = len(self.words)
        box = bbox if type(bbox) is tuple else tuple(bbox)
        self.words.append((len(self.lines) - 1, index, text, float(confidence), box))
        best = tokens(text)
        for t in best:
            got = self.best.get(t)
            if got is None:
                self.best[t] = [wid]
            elif got[-1] != wid:
                got.append(wid)
        readings: list[tuple[str, float]] = []
        min_prob = self.min_prob
        for rank, (alt, prob) in enumerate(alternatives):
            if prob < min_prob:
                continue
            prob = float(prob)
            row = (wid, rank, alt, prob)
            for t in tokens(alt):
                readings.append((t, prob))
                got = self.alts.get(t)
                if got is None:
                    self.alts[t] = [row]
                else:
                    got.append(row)
        return best, readings

    def add_pages(self, pages: Sequence[Page]) -> None:
        """Add every word of `pages` (when the caller does not need the terms)."""
        for _ in iter_words(pages, self):
            pass

    def build(self) -> WordTable:
        return WordTable(
            tuple(self.lines),
            tuple(self.words),
            {t: tuple(w) for t, w in self.best.items()},
            {t: tuple(a) for t, a in self.alts.items()},
        )


def iter_words(
    pages: Sequence[Page], table: WordTableBuilder
) -> Iterator[tuple[tuple[str, ...], list[tuple[str, float]]]]:
    """Add every word of `pages` (transcripts, objects with their attributes, or their
    JSON form) to `table`, yielding
    each word's 1-best terms and its kept (term, probability) alternatives, in order."""
    for pi, page in enumerate(pages):
        if not isinstance(page, Mapping):  # a PageTranscript, or the like (same attributes)
            for li, line in enumerate(page.lines):
                table.add_line(pi, li, line.text, len(line.words))
                for wi, w in enumerate(line.words):
                    yield table.add_word(wi, w.text, w.confidence, w.bbox, w.alternatives)
        else:
            for li, line in enumerate(page["lines"]):
                words = line["words"]
                table.add_line(pi, li, line["text"], len(words))
                for wi, w in enumerate(words):
                    yield table.add_word(
                        wi, w["text"], w["confidence"], w["bbox"], w["alternatives"]
                    )


@dataclass(frozen=True)
class WordTable:
    """A document's words as the index keeps them for match finding and snippets.

    `best` maps each normalised 1-best term to the rows of `words` that read it;
    `alts` maps each term of a kept alternative reading to ``(word row, rank,
    reading, probability)``. `find_matches` and `snippet` give the same results as
    the functions of the same name on the transcript (for alternatives the index
    kept).
    """

    lines: tuple[_LineRow, ...]
    words: tuple[_WordRow, ...]
    best: Mapping[str, tuple[int, ...]]
    alts: Mapping[str, tuple[_AltRow, ...]]

    @classmethod
    def of(cls, pages: Sequence[Page], min_prob: float = 0.0) -> WordTable:
        b = WordTableBuilder(min_prob)
        b.add_pages(pages)
        return b.build()

    def to_bytes(self) -> bytes:
        return pickle.dumps(
            (WORD_TABLE_FORMAT, self.lines, self.words, self.best, self.alts),
            protocol=pickle.HIGHEST_PROTOCOL,
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> WordTable | None:
        """The table, or None for data in another format (an index from another version)."""
        try:
            got = pickle.loads(data)
        except Exception:  # noqa: BLE001 - unreadable data: the caller reads the transcript
            return None
        if not isinstance(got, tuple) or len(got) != 5 or got[0] != WORD_TABLE_FORMAT:
            return None
        return cls(*got[1:])

    def find_matches(
        self, terms: QueryTerms, min_confidence: float = 0.0, min_alternative_prob: float = 0.0
    ) -> list[Match]:
        """Every word whose 1-best reading (or else a kept alternative) matches `terms`."""
        if not terms:
            return []
        best: set[int] = set()
        for t in terms.select(self.best.keys()):
            best.update(self.best[t])
        min_alt = max(min_confidence, min_alternative_prob)
        alt: dict[int, _AltRow] = {}
        for t in terms.select(self.alts.keys()):
            for row in self.alts[t]:
                if row[3] >= min_alt:
                    have = alt.get(row[0])
                    if have is None or row[1] < have[1]:
                        alt[row[0]] = row
        out: list[Match] = []
        lines, words = self.lines, self.words
        for wid in sorted(best.union(alt)):
            ref, wi, text, conf, box = words[wid]
            page, line = lines[ref][0], lines[ref][1]
            if conf >= min_confidence and wid in best:
                out.append(Match(page, line, wi, text, box, conf))
                continue
            a = alt.get(wid)
            if a is not None:
                out.append(Match(page, line, wi, a[2], box, a[3]))
        return out

    def snippet(self, matches: Sequence[Match]) -> str:
        """As `snippet` on the transcript: the lines with matches, matched words marked."""
        if not matches:
            for row in self.lines:
                if row[2].strip():
                    return html.escape(_clip(row[2]))
            return ""
        marked: dict[tuple[int, int], set[int]] = {}
        for m in matches:
            marked.setdefault((m.page, m.line), set()).add(m.word)
        refs = {(row[0], row[1]): i for i, row in enumerate(self.lines)}
        parts: list[str] = []
        total = 0
        for key in list(marked)[:SNIPPET_LINES]:
            _, _, text, first, n = self.lines[refs[key]]
            words = marked[key]
            if n:
                rendered = " ".join(
                    f"<mark>{html.escape(w[2])}</mark>" if w[1] in words else html.escape(w[2])
                    for w in self.words[first : first + n]
                )
            else:
                rendered = html.escape(text)
            parts.append(rendered)
            total += len(rendered)
            if total >= SNIPPET_MAX_CHARS:
                break
        return " … ".join(parts)
