"""A word list that the lexicon decoder constrains its readings to.

The words are kept lower-cased in one sorted list; a prefix of a word is a slice
of that list found by bisection, so the structure behaves like a prefix trie
without holding one object per node (a 100k-word list stays a few MB).
Matching ignores case: the decoder may write `The` for the listed `the`, and the
reading keeps the case the model wrote.

With word counts (``word<TAB>count`` lines, or ``(word, count)`` pairs) the
lexicon also carries a unigram prior: the decoder adds
``prior_weight * log P(word)``, spread over the word's letters as they are read
(``log P(prefix + c) - log P(prefix)``, where P(prefix) is the mass of the words
starting with it), so a frequent word wins over a rare one with similar ink.

A second, fixed prior concerns case: most words of running text are written in
lower case, so a capital letter costs ``capital_logp[0]`` at the start of a word
and ``capital_logp[1]`` inside one (log-probability increments); a capital the
ink clearly shows is still read, an ambiguous ``c``/``C`` or ``w``/``W`` is read
lower-case.
"""

from __future__ import annotations

import logging
import math
import re
from bisect import bisect_left
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from inkdex.fileio import atomic_write_bytes

log = logging.getLogger(__name__)

# Sorts after every character a word can hold, so bisect_left(prefix + _END) ends a prefix's slice.
_END = "\U0010ffff"
# Compiled per-prefix transition tables kept per charset before the cache is reset.
_CACHE_LIMIT = 50_000
# Prior weight used when the word list carries counts and the caller does not choose one.
DEFAULT_PRIOR_WEIGHT = 0.5
# Words of the built English list: letters, with one inner apostrophe at most (don't, o'clock).
_LIST_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
_SPACE = re.compile(r"\s")
# Counts are word frequencies per this many words (so the rarest listed words still count >= 1).
_COUNT_SCALE = 1e9
# Log-probability added for a capital letter at the start of a word and inside a word.
DEFAULT_CAPITAL_LOGP = (0.0, 0.0)


class LexiconError(ValueError):
    """The word list cannot be read; the message names the file and line."""


class Lexicon:
    """Words the lexicon decoder may write, with an optional frequency prior."""

    def __init__(
        self,
        counts: dict[str, float],
        prior_weight: float | None = None,
        capital_logp: tuple[float, float] | None = None,
    ) -> None:
        words = sorted(w for w, c in counts.items() if w and c > 0)
        if not words:
            raise LexiconError("the lexicon holds no words")
        weights = np.array([counts[w] for w in words], dtype=np.float64)
        self._words: list[str] = words
        self._cum = np.concatenate([[0.0], np.cumsum(weights / weights.sum())])
        self._rarest = float(weights.min() / weights.sum())
        uniform = bool(np.all(weights == weights[0]))
        if prior_weight is None:
            prior_weight = 0.0 if uniform else DEFAULT_PRIOR_WEIGHT
        if prior_weight < 0:
            raise LexiconError(f"prior_weight must be >= 0, got {prior_weight}")
        self.prior_weight = float(prior_weight)
        if capital_logp is None:
            capital_logp = DEFAULT_CAPITAL_LOGP
        if not all(v <= 0 for v in capital_logp):
            raise LexiconError(f"capital_logp holds log-probabilities (<= 0), got {capital_logp}")
        self.capital_logp = (float(capital_logp[0]), float(capital_logp[1]))
        self._tables: dict[str, dict[str, tuple[np.ndarray, float]]] = {}

    def __getstate__(self) -> dict[str, Any]:
        # Sent to the line-reading helper processes: without the compiled tables (a cache).
        return {**self.__dict__, "_tables": {}}

    # -- construction -------------------------------------------------------------------------

    @classmethod
    def from_words(
        cls,
        words: Iterable[str | tuple[str, float]],
        prior_weight: float | None = None,
        capital_logp: tuple[float, float] | None = None,
    ) -> Lexicon:
        """Build from words, or from ``(word, count)`` pairs for a frequency prior.

        Case is folded (``The`` and ``the`` are one entry, counts added). Without counts
        the prior is off (`prior_weight` 0) unless a weight is given.
        """
        counts: dict[str, float] = {}
        for item in words:
            word, count = (item, 1.0) if isinstance(item, str) else (item[0], float(item[1]))
            word = word.strip().lower()
            if not word:
                continue
            if _SPACE.search(word):
                raise LexiconError(f"lexicon words cannot contain spaces: {word!r}")
            if not math.isfinite(count) or count < 0:
                raise LexiconError(f"word count must be a non-negative number: {word!r} {count}")
            counts[word] = counts.get(word, 0.0) + count
        return cls(counts, prior_weight, capital_logp)

    @classmethod
    def from_file(
        cls,
        path: Path | str,
        prior_weight: float | None = None,
        capital_logp: tuple[float, float] | None = None,
    ) -> Lexicon:
        """Read a UTF-8 word list: one ``word`` or ``word<TAB or spaces>count`` per line."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8-sig")
        except FileNotFoundError:
            raise LexiconError(f"lexicon file not found: {path}") from None
        except UnicodeDecodeError as exc:
            raise LexiconError(f"lexicon file {path} is not UTF-8: {exc}") from None
        # The fields of str.split() hold no spaces, so this skips from_words' checks (a
        # 300,000-word list is read in a fraction of a second: it is read at every start).
        counts: dict[str, float] = {}
        for n, raw in enumerate(text.splitlines(), start=1):
            fields = raw.split()
            if not fields:
                continue
            if len(fields) == 1:
                count = 1.0
            elif len(fields) > 2:
                raise LexiconError(
                    f"{path}:{n}: expected 'word' or 'word<TAB>count', got {raw.strip()!r}"
                )
            else:
                try:
                    count = float(fields[1])
                except ValueError:
                    raise LexiconError(f"{path}:{n}: count {fields[1]!r} is not a number") from None
                if not math.isfinite(count) or count < 0:
                    raise LexiconError(f"{path}:{n}: count must be a non-negative number")
            word = fields[0].lower()
            counts[word] = counts.get(word, 0.0) + count
        try:
            lexicon = cls(counts, prior_weight, capital_logp)
        except LexiconError as exc:
            raise LexiconError(f"{path}: {exc}") from None
        log.info(
            "lexicon %s: %d words, prior weight %.2f", path, len(lexicon), lexicon.prior_weight
        )
        return lexicon

    # -- queries ------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._words)

    def __contains__(self, word: object) -> bool:
        return isinstance(word, str) and self.is_word(word.lower())

    def _slice(self, prefix: str) -> tuple[int, int]:
        lo = bisect_left(self._words, prefix)
        return lo, bisect_left(self._words, prefix + _END, lo)

    def is_prefix(self, prefix: str) -> bool:
        """Whether some word starts with the lower-cased `prefix`."""
        lo, hi = self._slice(prefix)
        return lo < hi

    def is_word(self, prefix: str) -> bool:
        """Whether the lower-cased `prefix` is itself a word."""
        lo = bisect_left(self._words, prefix)
        return lo < len(self._words) and self._words[lo] == prefix

    def words(self) -> list[str]:
        """The listed words, lower-cased and sorted."""
        return list(self._words)

    def frequency(self, word: str) -> float:
        """The share of the list's counts that the lower-cased `word` holds (0 if unlisted)."""
        lo = bisect_left(self._words, word)
        if lo < len(self._words) and self._words[lo] == word:
            return float(self._cum[lo + 1] - self._cum[lo])
        return 0.0

    def log_prior(self, word: str) -> float:
        """``prior_weight * log P(word)`` for a lower-cased word, what the decoder adds
        for reading it; a word outside the list counts as the rarest listed word (0
        when the prior is off)."""
        if not self.prior_weight:
            return 0.0
        share = self.frequency(word)
        return self.prior_weight * math.log(share if share > 0 else self._rarest)

    def _log_mass(self, lo: int, hi: int) -> float:
        mass = self._cum[hi] - self._cum[lo]
        return math.log(mass) if mass > 0 else -math.inf

    # -- what the decoder uses ----------------------------------------------------------------

    def transitions(self, prefix: str, chars: str) -> tuple[np.ndarray, float]:
        """For a word being read (`prefix`, lower-case; "" between words) and a charset.

        Returns ``(child, leave)``: `child` is a float array over the classes (index 0
        = blank; ``len(chars) + 1`` entries) holding the prior's log increment for
        continuing the word with that character, -inf where no word continues so;
        `leave` is the prior's log increment for ending the word here (0 between
        words, -inf when `prefix` is not a whole word).
        """
        table = self._tables.get(chars)
        if table is None:
            table = self._tables[chars] = {}
        hit = table.get(prefix)
        if hit is not None:
            return hit
        if len(table) >= _CACHE_LIMIT:
            table.clear()
        hit = self._compile(prefix, chars)
        table[prefix] = hit
        return hit

    def _compile(self, prefix: str, chars: str) -> tuple[np.ndarray, float]:
        lo, hi = self._slice(prefix)
        weight = self.prior_weight
        here = self._log_mass(lo, hi) if weight else 0.0
        child = np.full(len(chars) + 1, -np.inf)
        depth = len(prefix)
        i = lo
        if i < hi and len(self._words[i]) == depth:
            i += 1  # the prefix itself is a word
        classes = _classes_by_lower(chars)
        while i < hi:
            ch = self._words[i][depth]
            j = bisect_left(self._words, prefix + ch + _END, i, hi)
            ids = classes.get(ch)
            if ids is not None:
                child[ids] = weight * (self._log_mass(i, j) - here) if weight else 0.0
            i = j
        child[_capital_classes(chars)] += self.capital_logp[0 if depth == 0 else 1]
        if prefix == "":
            leave = 0.0
        elif self.is_word(prefix):
            lo_w = bisect_left(self._words, prefix, lo, hi)
            leave = weight * (self._log_mass(lo_w, lo_w + 1) - here) if weight else 0.0
        else:
            leave = -math.inf
        return child, leave


_CLASS_CACHE: dict[str, dict[str, np.ndarray]] = {}
_CAPITAL_CACHE: dict[str, np.ndarray] = {}


def _capital_classes(chars: str) -> np.ndarray:
    """Class ids (1-based) of the characters that are capital letters."""
    hit = _CAPITAL_CACHE.get(chars)
    if hit is None:
        hit = np.array([k for k, ch in enumerate(chars, start=1) if ch != ch.lower()], dtype=int)
        _CAPITAL_CACHE[chars] = hit
    return hit


def _classes_by_lower(chars: str) -> dict[str, np.ndarray]:
    """Map each lower-cased character to the class ids (1-based) that write it in any case."""
    hit = _CLASS_CACHE.get(chars)
    if hit is None:
        groups: dict[str, list[int]] = {}
        for k, ch in enumerate(chars, start=1):
            groups.setdefault(ch.lower(), []).append(k)
        hit = {ch: np.array(ids) for ch, ids in groups.items()}
        _CLASS_CACHE[chars] = hit
    return hit


# -- building a word list -------------------------------------------------------------------------


def english_words(n_words: int) -> list[tuple[str, int]]:
    """The `n_words` most frequent English words with counts per billion words (wordfreq).

    Only plain words are kept (letters, one inner apostrophe); the list is in
    frequency order. Needs the `wordfreq` package.
    """
    if n_words < 1:
        raise LexiconError(f"the word count must be >= 1, got {n_words}")
    try:
        from wordfreq import top_n_list, word_frequency
    except ImportError:
        raise LexiconError(
            "building the English word list needs the wordfreq package (pip install wordfreq)"
        ) from None
    out = []
    for word in top_n_list("en", n_words):
        if _LIST_WORD.fullmatch(word):
            count = max(1, round(word_frequency(word, "en") * _COUNT_SCALE))
            out.append((word, count))
    return out


def write_word_list(path: Path, items: Iterable[tuple[str, float]]) -> int:
    """Write ``word<TAB>count`` lines atomically (readers see the old or the whole new list)."""
    lines = [f"{word}\t{count:.10g}\n" for word, count in items]
    atomic_write_bytes(Path(path), "".join(lines).encode("utf-8"))
    return len(lines)


def run_lexicon_cli(args: Any, settings: Any) -> int:
    """`inkdex lexicon`: write the English word list the lexicon decoder reads."""
    out = Path(args.out) if args.out else settings.model.lexicon
    if out is None:
        print("no output file: pass --out or set model.lexicon in the config")
        return 2
    if out.exists() and not args.force:
        print(f"{out} exists (use --force to rebuild it)")
        return 0
    try:
        n = write_word_list(out, english_words(args.words))
    except (LexiconError, OSError) as exc:
        print(f"cannot build the word list: {exc}")
        return 1
    print(f"wrote {n} words with their frequencies to {out}")
    return 0
