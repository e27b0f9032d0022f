"""Word normalisation shared by indexing, querying and match finding.

Handwriting transcripts are noisy, so matching is forgiving: lowercase, accents
folded (``café`` = ``cafe``), and a light English stemmer that only removes
plural endings (``letters`` = ``letter``, ``flies`` = ``fly``). A heavier stemmer
would merge too many distinct words once recognition errors are added on top.
"""

from __future__ import annotations

import re

from whoosh.analysis import (
    Analyzer,
    CharsetFilter,
    LowercaseFilter,
    RegexTokenizer,
    StemFilter,
)
from whoosh.support.charset import accent_map

# Whoosh's default word pattern: letters/digits, with inner dots kept (e.g. "e.g").
WORD_PATTERN = r"\w+(\.?\w+)*"
_WORD_RE = re.compile(WORD_PATTERN)


def light_stem(word: str) -> str:
    """Harman's "S" stemmer: strip English plural endings, nothing else."""
    if len(word) <= 3:
        return word
    if word.endswith("ies") and not word.endswith(("eies", "aies")):
        return word[:-3] + "y"
    if word.endswith("es") and not word.endswith(("aes", "ees", "oes")):
        return word[:-1]
    if word.endswith("s") and not word.endswith(("us", "ss")):
        return word[:-1]
    return word


_MEMO: dict[str, tuple[str, ...]] = {}
_MEMO_MAX = 200_000


def tokens(text: str) -> tuple[str, ...]:
    """The index terms of `text`, in order (same result as `analyzer()` gives).

    Memoised in a plain dict (cleared when full): words repeat a lot, and unlike an
    LRU cache a dict adds no per-entry objects for the garbage collector to walk.
    """
    got = _MEMO.get(text)
    if got is None:
        out = []
        for m in _WORD_RE.finditer(text):
            t = light_stem(m.group().lower().translate(accent_map))
            if t:
                out.append(t)
        got = tuple(out)
        if len(_MEMO) >= _MEMO_MAX:
            _MEMO.clear()
        _MEMO[text] = got
    return got


def analyzer() -> Analyzer:
    """The Whoosh analyzer equivalent to `tokens`, used to parse queries."""
    return (
        RegexTokenizer(WORD_PATTERN)
        | LowercaseFilter()
        | CharsetFilter(accent_map)
        | StemFilter(stemfn=light_stem, cachesize=50_000)
    )
