"""Text for synthetic lines: English words, sentences, numbers, dates and the like.

Everything comes from what is installed, nothing is downloaded at run time: word
frequencies from `wordfreq`, sentences from Debian's `fortunes` package when it is
present (``/usr/share/games/fortunes``; without it lines are built from words only).
`wordnet_texts` (Debian's `wordnet-base`) is not synthetic text: it feeds the
decoders' character language model (`recognizer.charlm`) with the fortunes.
Every line is restricted to printable ASCII, the recognizer's character set.
"""

from __future__ import annotations

import logging
import re
import string
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

FORTUNES_DIR = Path("/usr/share/games/fortunes")
WORDNET_DIR = Path("/usr/share/wordnet")
PRINTABLE = frozenset(string.ascii_letters + string.digits + string.punctuation + " ")
# The files of Debian's `fortunes` and `fortunes-min` that hold prose (their art,
# ascii-art, perl, linux, computers, debian and translate-me files are mostly code,
# pictures or jargon). Only these are read, so that installing another fortunes package
# (fortune-anarchism, ...) changes neither the synthetic text nor the language model.
FORTUNE_FILES = (
    "cookie definitions disclaimer drugs education ethnic food fortunes goedel humorists "
    "kids knghtbrd law linuxcookie literature love magic medicine men-women miscellaneous "
    "news paradoxum people pets platitudes politics pratchett riddles science songs-poems "
    "sports startrek tao wisdom work zippy"
).split()

_ASCII_MAP = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u2032": "'",
        "\u00b4": "'",
        "\u0060": "`",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u2033": '"',
        "\u00ab": '"',
        "\u00bb": '"',
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u2015": "-",
        "\u2212": "-",
        "\u2026": "...",
        "\u00a0": " ",
        "\u2009": " ",
        "\u00d7": "x",
        "\u00df": "ss",
        "\u00e6": "ae",
        "\u00c6": "AE",
        "\u0153": "oe",
        "\u0152": "OE",
        "\u00f8": "o",
        "\u00d8": "O",
        "\u0142": "l",
        "\u0141": "L",
        "\u00a3": "GBP ",
        "\u20ac": "EUR ",
        "\t": " ",
    }
)


def to_ascii(text: str) -> str:
    """Map typographic quotes, dashes and accented letters to ASCII; drop the rest.

    Whitespace runs collapse to one space and the ends are stripped.
    """
    text = unicodedata.normalize("NFKD", text.translate(_ASCII_MAP))
    text = "".join(c for c in text if c in PRINTABLE or c.isspace())
    return " ".join(text.split())


@dataclass(frozen=True)
class _Vocab:
    words: tuple[str, ...]
    cdf: np.ndarray  # cumulative sampling weights, last = 1


@lru_cache(maxsize=4)
def _vocab(n: int, power: float) -> _Vocab:
    """The `n` most frequent English words (ASCII, letters/apostrophes) with a CDF."""
    from wordfreq import get_frequency_dict, top_n_list

    freqs = get_frequency_dict("en")
    words, weights = [], []
    for w in top_n_list("en", n):
        a = to_ascii(w)
        if not a or not re.fullmatch(r"[A-Za-z][A-Za-z']*", a):
            continue
        words.append(a)
        weights.append(freqs.get(w, 1e-9) ** power)
    cdf = np.cumsum(np.asarray(weights, dtype=np.float64))
    return _Vocab(tuple(words), cdf / cdf[-1])


@lru_cache(maxsize=2)
def _fortunes(folder: Path) -> tuple[str, ...]:
    """Prose sentences from the fortunes files (empty when the package is absent)."""
    if not folder.is_dir():
        log.info("no fortunes in %s; synthetic text uses word lists only", folder)
        return ()
    out: list[str] = []
    missing = []
    for name in FORTUNE_FILES:
        try:
            raw = (folder / name).read_text(encoding="utf-8", errors="replace")
        except OSError:
            missing.append(name)
            continue
        for entry in raw.split("\n%\n"):
            # Skip quoted code, tables and pictures: they have many leading spaces.
            lines = entry.splitlines()
            if sum(ln.startswith("    ") for ln in lines) > len(lines) / 2:
                continue
            text = to_ascii(entry)
            if len(text) < 8 or sum(c.isalpha() for c in text) < 0.6 * len(text):
                continue
            out.append(text)
    if missing:
        log.warning("fortunes files missing from %s: %s", folder, " ".join(missing))
    return tuple(out)


_MONTHS = (
    "January February March April May June July August September October November December"
).split()
_DAYS = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()
_TLDS = ("com", "org", "net", "edu", "co.uk", "de", "io", "info")
_UNITS = ("kg", "g", "km", "m", "cm", "mm", "ml", "l", "lb", "oz", "ft", "in", "mi", "%", "h")


def fortune_sentences(folder: Path = FORTUNES_DIR) -> int:
    """How many prose sentences the fortunes package offers the synthetic text (0: absent)."""
    return len(_fortunes(Path(folder)))


def fortune_texts(folder: Path = FORTUNES_DIR) -> tuple[str, ...]:
    """The fortunes' prose passages (ASCII) the synthetic text draws on; empty when absent."""
    return _fortunes(Path(folder))


@lru_cache(maxsize=2)
def wordnet_texts(folder: Path = WORDNET_DIR) -> tuple[str, ...]:
    """The glosses and example sentences of WordNet's synsets (Debian's ``wordnet-base``).

    Each synset line of ``data.noun`` and the like ends in ``| gloss; "example"``; every
    gloss and example of 8 characters or more is one text, in ASCII. Empty when the
    package is absent. Plain modern English, for the decoders' language model.
    """
    folder = Path(folder)
    out: list[str] = []
    for f in sorted(folder.glob("data.*")) if folder.is_dir() else []:
        try:
            lines = f.read_text(encoding="latin-1").splitlines()
        except OSError:
            continue
        for line in lines:
            if line.startswith(" ") or "|" not in line:
                continue  # the licence header, or a synset without a gloss
            for part in line.split("|", 1)[1].split(";"):
                part = part.strip().strip('"').strip()
                if len(part) >= 8:
                    out.append(to_ascii(part))
    return tuple(out)


class TextSource:
    """Random text lines for synthetic handwriting, from 1 word to about `max_chars`.

    ``line(rng)`` draws everything from the generator it is given, so a caller that
    seeds the generator per sample gets the same text for the same sample.
    """

    def __init__(
        self,
        seed: int = 0,
        *,
        max_chars: int = 60,
        vocab_size: int = 50_000,
        fortunes_dir: Path | None = FORTUNES_DIR,
    ) -> None:
        if max_chars < 8:
            raise ValueError(f"max_chars must be at least 8, got {max_chars}")
        self.seed = seed
        self.max_chars = max_chars
        self._vocab = _vocab(vocab_size, 0.6)
        self._fortunes = _fortunes(Path(fortunes_dir)) if fortunes_dir is not None else ()

    # ------------------------------------------------------------------ pieces

    def word(self, rng: np.random.Generator) -> str:
        """One English word, frequency-weighted (tempered so rarer words show up too)."""
        i = int(np.searchsorted(self._vocab.cdf, rng.random(), side="right"))
        return self._vocab.words[min(i, len(self._vocab.words) - 1)]

    def _number(self, rng: np.random.Generator) -> str:
        k = rng.integers(0, 10)
        if k == 0:
            return str(rng.integers(0, 10))
        if k == 1:
            return str(rng.integers(10, 100))
        if k == 2:
            return str(rng.integers(100, 10_000))
        if k == 3:
            return f"{rng.integers(1000, 1_000_000):,}"
        if k == 4:
            return f"{rng.random() * 100:.{rng.integers(1, 3)}f}"
        if k == 5:
            return f"{rng.integers(1, 100)}%"
        if k == 6:
            n = int(rng.integers(1, 32))
            suffix = {1: "st", 2: "nd", 3: "rd"}.get(n % 10 if n not in (11, 12, 13) else 0, "th")
            return f"{n}{suffix}"
        if k == 7:
            return f"{rng.integers(1, 1000)}{_UNITS[rng.integers(len(_UNITS))]}"
        if k == 8:
            return f"-{rng.integers(1, 100)}"
        return f"#{rng.integers(1, 500)}"

    def _date(self, rng: np.random.Generator) -> str:
        y, m, d = int(rng.integers(1900, 2040)), int(rng.integers(1, 13)), int(rng.integers(1, 29))
        month = _MONTHS[m - 1]
        k = rng.integers(0, 9)
        return [
            f"{d:02d}/{m:02d}/{y}",
            f"{m}/{d}/{y % 100:02d}",
            f"{y}-{m:02d}-{d:02d}",
            f"{d}.{m}.{y}",
            f"{d} {month} {y}",
            f"{month} {d}, {y}",
            f"{d} {month[:3]}",
            f"{_DAYS[rng.integers(7)][:3]} {d} {month[:3]}",
            f"{_DAYS[rng.integers(7)]}",
        ][k]

    def _time(self, rng: np.random.Generator) -> str:
        h, mi = int(rng.integers(0, 24)), int(rng.integers(0, 12)) * 5
        k = rng.integers(0, 4)
        if k == 0:
            return f"{h}:{mi:02d}"
        if k == 1:
            return f"{(h % 12) or 12}:{mi:02d} {'am' if h < 12 else 'pm'}"
        if k == 2:
            return f"{(h % 12) or 12}{'am' if h < 12 else 'pm'}"
        return f"{h:02d}h{mi:02d}"

    def _price(self, rng: np.random.Generator) -> str:
        v = rng.integers(1, 2000) if rng.random() < 0.5 else rng.integers(100, 100_000) / 100
        s = f"{v:.2f}" if isinstance(v, float) else str(v)
        k = rng.integers(0, 4)
        return [f"${s}", f"{s} EUR", f"USD {s}", f"${s}"][k]

    def _phone(self, rng: np.random.Generator) -> str:
        d = "".join(str(x) for x in rng.integers(0, 10, 10))
        k = rng.integers(0, 4)
        return [
            f"({d[:3]}) {d[3:6]}-{d[6:]}",
            f"{d[:3]}-{d[3:6]}-{d[6:]}",
            f"+{d[0] or 1}{d[1]} {d[2:4]} {d[4:8]} {d[8:]}",
            f"{d[:4]} {d[4:7]} {d[7:]}",
        ][k]

    def _web(self, rng: np.random.Generator) -> str:
        a, b = self.word(rng).lower().replace("'", ""), self.word(rng).lower().replace("'", "")
        tld = _TLDS[rng.integers(len(_TLDS))]
        k = rng.integers(0, 4)
        return [
            f"{a}.{b}@{b}.{tld}",
            f"{a}{rng.integers(1, 99)}@{b}.{tld}",
            f"www.{a}{b}.{tld}",
            f"https://{a}.{tld}/{b}",
        ][k]

    def token(self, rng: np.random.Generator) -> str:
        """A non-word token: number, date, time, price, phone number, email or URL."""
        r = rng.random()
        if r < 0.4:
            return self._number(rng)
        if r < 0.6:
            return self._date(rng)
        if r < 0.72:
            return self._time(rng)
        if r < 0.84:
            return self._price(rng)
        if r < 0.93:
            return self._phone(rng)
        return self._web(rng)

    # -------------------------------------------------------------------- lines

    def _target_length(self, rng: np.random.Generator) -> int:
        r = rng.random()
        if r < 0.12:
            return 0  # a single word or token
        if r < 0.35:
            return int(rng.integers(6, 20))
        return int(rng.integers(12, self.max_chars + 1))

    def _words_line(self, rng: np.random.Generator, target: int) -> str:
        parts: list[str] = []
        length = 0
        p_token = 0.15 if rng.random() < 0.6 else 0.4
        while True:
            w = self.token(rng) if rng.random() < p_token else self.word(rng)
            r = rng.random()
            if r < 0.12:
                w = w.capitalize()
            elif r < 0.14:
                w = w.upper()
            if rng.random() < 0.12:
                w += ",.;:!?"[rng.integers(0, 6)] if rng.random() < 0.85 else "..."
            if rng.random() < 0.03:
                q = "\"'("[rng.integers(0, 3)]
                w = f"{q}{w}{')' if q == '(' else q}"
            if rng.random() < 0.02:
                w = ("-", "&", "+", "=", "/", "*", "@", "~")[rng.integers(0, 8)]
            if parts and length + 1 + len(w) > max(target, 1):
                break
            parts.append(w)
            length += len(w) + (1 if length else 0)
            if length >= target:
                break
        text = " ".join(parts)
        if rng.random() < 0.3:
            text = text[:1].upper() + text[1:]
        return text

    def _fortune_line(self, rng: np.random.Generator, target: int) -> str:
        f = self._fortunes[rng.integers(len(self._fortunes))]
        words = f.split(" ")
        if len(f) <= target or len(words) == 1:
            return f[: self.max_chars].strip()
        # A window of whole words of about the target length, often at a sentence start.
        start = int(rng.integers(0, len(words)))
        if rng.random() < 0.5:
            starts = [i for i, w in enumerate(words) if i == 0 or words[i - 1][-1:] in ".!?"]
            start = starts[rng.integers(len(starts))]
        out: list[str] = []
        n = 0
        for w in words[start:]:
            if out and n + 1 + len(w) > target:
                break
            out.append(w)
            n += len(w) + (1 if n else 0)
        return " ".join(out)

    def line(self, rng: np.random.Generator) -> str:
        """One line of printable ASCII text, 1 to `max_chars` characters."""
        target = self._target_length(rng)
        r = rng.random()
        if target == 0:
            text = self.token(rng) if r < 0.25 else self.word(rng)
            r2 = rng.random()
            if r2 < 0.25:
                text = text.capitalize()
            elif r2 < 0.32:
                text = text.upper()
        elif self._fortunes and r < 0.45:
            text = self._fortune_line(rng, target)
        else:
            text = self._words_line(rng, target)
        if rng.random() < 0.04:
            text = text.upper()
        text = to_ascii(text)[: self.max_chars].strip()
        return text or self.word(rng)
