"""A character n-gram language model that the beam decoders add to the ink's evidence.

The network reads each line's letters from the ink alone; English spelling and
word order say which of two similar readings is likelier (``tbe`` against
``the``, ``ot`` against ``of``). The model here is a plain character n-gram
model with Witten-Bell interpolation: the probability of a character after a
context mixes the context's own counts with the next-shorter context's
probability, down to a uniform floor over the character set, so every character
keeps a probability and words the training text never held still read.

It is built from text (`CharLM.build`), stored as one ``.npz`` file of sorted
n-grams and counts (`save`, `load`), and queried per context
(`CharLM.logprobs`), with the distributions of recent contexts cached. Lines
start after a begin-of-line mark, so a line's first letters follow the
statistics of sentence starts.

The decoders score an extension of a reading by character ``c`` with
``weight * log P(c | context) + bonus``: `weight` scales the model against the
ink, and the per-character `bonus` offsets the model's preference for shorter
readings (every character costs some log-probability).
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from inkdex.fileio import atomic_write_bytes
from recognizer.bundle import LINE_PASSES
from recognizer.recipes import RECIPES

log = logging.getLogger(__name__)

FORMAT = 1
# The default recipe's settings (`recognizer.recipes`, where they are explained).
_RECIPE = RECIPES["default"]
DEFAULT_ORDER = _RECIPE.charlm_order
DEFAULT_MIN_COUNT = _RECIPE.charlm_min_count
DEFAULT_WEIGHT = _RECIPE.lm_weight
DEFAULT_BONUS = _RECIPE.lm_bonus
DEFAULT_LINE_PASS = _RECIPE.line_pass
# Begin-of-line mark: the context of a line's first character. Not a charset character.
BOL = "\n"
# Contexts whose distributions are cached (per character set) before the cache is reset.
_CACHE_LIMIT = 100_000
_SPACES = re.compile(r"\s+")


class CharLMError(ValueError):
    """The language model cannot be built or read; the message says why."""


def normalize_text(text: str) -> str:
    """One line of training or decoding text: whitespace runs become single spaces."""
    return _SPACES.sub(" ", text).strip()


class CharLM:
    """Character n-gram model of `order` (context of order - 1 characters)."""

    def __init__(self, order: int, grams: dict[int, tuple[np.ndarray, np.ndarray]]) -> None:
        if order < 1:
            raise CharLMError(f"order must be >= 1, got {order}")
        missing = [n for n in range(1, order + 1) if n not in grams]
        if missing:
            raise CharLMError(f"the model lacks its {missing[0]}-grams")
        self.order = order
        # grams[n] = (sorted n-gram strings, their counts), n = 1..order
        self._grams = grams
        self._cache: dict[str, dict[str, np.ndarray]] = {}
        self._class_index: dict[tuple[int, str], np.ndarray] = {}

    # -- construction -------------------------------------------------------------------------

    @classmethod
    def build(
        cls, texts: Iterable[str], order: int = DEFAULT_ORDER, min_count: int = DEFAULT_MIN_COUNT
    ) -> CharLM:
        """Count the n-grams of `texts` (one line or passage each).

        n-grams of 3 or more characters seen fewer than `min_count` times are dropped
        (their mass goes to the shorter contexts), which keeps the file small at
        little cost in accuracy.
        """
        if order < 1:
            raise CharLMError(f"order must be >= 1, got {order}")
        if min_count < 1:
            raise CharLMError(f"min_count must be >= 1, got {min_count}")
        counts: list[Counter[str]] = [Counter() for _ in range(order + 1)]
        lines = 0
        for raw in texts:
            text = normalize_text(raw)
            if not text:
                continue
            lines += 1
            padded = BOL + text
            for n in range(1, order + 1):
                # n-grams ending at each character of the text (the BOL mark never ends one)
                counts[n].update(padded[max(0, i - n + 1) : i + 1] for i in range(1, len(padded)))
        if not lines:
            raise CharLMError("no text to build the language model from")
        grams: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        for n in range(1, order + 1):
            floor = min_count if n >= 3 else 1
            # the shorter, BOL-led n-grams at a line's start are counted among the
            # lower orders, where a context that short is looked up
            kept = sorted((g, c) for g, c in counts[n].items() if c >= floor and len(g) == n)
            keys = np.array([g for g, _ in kept], dtype=f"<U{n}")
            vals = np.array([c for _, c in kept], dtype=np.int64)
            grams[n] = (keys, vals)
        lm = cls(order, grams)
        log.info(
            "character %d-gram model from %d lines: %d n-grams",
            order,
            lines,
            sum(len(k) for k, _ in grams.values()),
        )
        return lm

    def save(self, path: Path | str) -> None:
        """Write the model as one compressed ``.npz`` (atomically)."""
        import io

        arrays: dict[str, np.ndarray] = {"meta": np.array([FORMAT, self.order], dtype=np.int64)}
        for n, (keys, vals) in self._grams.items():
            arrays[f"keys{n}"] = keys
            arrays[f"counts{n}"] = vals
        buf = io.BytesIO()
        np.savez_compressed(buf, **arrays)
        atomic_write_bytes(Path(path), buf.getvalue())
        Path(path).chmod(0o644)  # part of a bundle: readable like its other files

    @classmethod
    def load(cls, path: Path | str) -> CharLM:
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as z:
                fmt, order = (int(v) for v in z["meta"])
                if fmt != FORMAT:
                    raise CharLMError(f"{path}: unknown language model format {fmt}")
                grams = {
                    n: (z[f"keys{n}"].astype(str), z[f"counts{n}"].astype(np.int64))
                    for n in range(1, order + 1)
                }
        except FileNotFoundError:
            raise CharLMError(f"language model file not found: {path}") from None
        except (OSError, KeyError, ValueError) as exc:
            if isinstance(exc, CharLMError):
                raise
            raise CharLMError(f"cannot read language model {path}: {exc}") from None
        return cls(order, grams)

    def __getstate__(self) -> dict[str, Any]:
        # Sent to the line-reading helper processes: without the caches.
        return {**self.__dict__, "_cache": {}, "_class_index": {}}

    # -- queries ------------------------------------------------------------------------------

    def __len__(self) -> int:
        return sum(len(k) for k, _ in self._grams.values())

    def context(self, text: str) -> str:
        """The part of `text` (a line read so far) that the next character depends on."""
        return (BOL + text)[-(self.order - 1) :] if self.order > 1 else ""

    def logprobs(self, context: str, chars: str) -> np.ndarray:
        """log P(c | context) for each character of `chars` (a float64 vector).

        `context` is `context(prefix)`: the begin-of-line mark plus the line's last
        characters. The distribution is normalised over `chars`.
        """
        table = self._cache.get(chars)
        if table is None or len(table) > _CACHE_LIMIT:
            table = self._cache[chars] = {}
        p = self._dist(context, chars, table)
        return np.log(p / p.sum())

    def _dist(self, h: str, chars: str, table: dict[str, np.ndarray]) -> np.ndarray:
        """Unnormalised P(c | h) over `chars`, interpolated with the shorter contexts'."""
        if len(h) >= self.order:
            h = h[len(h) - self.order + 1 :]
        p = table.get(h)
        if p is not None:
            return p
        shorter = self._dist(h[1:], chars, table) if h else np.full(len(chars), 1.0 / len(chars))
        keys, vals = self._grams[len(h) + 1]
        lo = int(np.searchsorted(keys, h, side="left"))
        hi = int(np.searchsorted(keys, h + "\U0010ffff", side="left"))
        if hi <= lo:  # an unseen context: the shorter one speaks for it
            p = shorter
        else:
            counts = np.zeros(len(chars) + 1)  # the last slot collects characters not in chars
            counts[self._classes(len(h) + 1, chars)[lo:hi]] = vals[lo:hi]
            types = hi - lo
            p = (counts[:-1] + types * shorter) / (float(vals[lo:hi].sum()) + types)
        table[h] = p
        return p

    def _classes(self, n: int, chars: str) -> np.ndarray:
        """For each n-gram, the index in `chars` of its last character (len(chars) if absent)."""
        key = (n, chars)
        idx = self._class_index.get(key)
        if idx is None:
            keys = np.ascontiguousarray(self._grams[n][0])
            # A fixed-width str array is UCS-4 code points, NUL-padded on the right.
            codes = keys.view(np.uint32).reshape(len(keys), -1)
            last = codes[np.arange(len(keys)), np.count_nonzero(codes, axis=1) - 1]
            points = np.array([ord(ch) for ch in chars], dtype=np.uint32)
            order = np.argsort(points)
            pos = np.searchsorted(points[order], last).clip(max=len(chars) - 1)
            idx = np.where(points[order][pos] == last, order[pos], len(chars)).astype(np.int64)
            self._class_index[key] = idx
        return idx


def check_weight(weight: float) -> float:
    """The language model's weight, which must be a number >= 0 (0: not used)."""
    if not weight >= 0:
        raise CharLMError(f"the language model weight must be >= 0, got {weight}")
    return float(weight)


class Fusion:
    """A `CharLM` with the weights the beam decoders give it against the ink.

    An extension of a reading by character ``c`` scores
    ``weight * log P(c | context) + bonus``; `score` is the sum of that over a text.
    """

    def __init__(self, model: CharLM, weight: float, bonus: float) -> None:
        check_weight(weight)
        self.model = model
        self.weight = float(weight)
        self.bonus = float(bonus)
        self._rows: dict[tuple[str, str], np.ndarray] = {}

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_rows": {}}

    def context(self, text: str) -> str:
        return self.model.context(text)

    def next_context(self, context: str, ch: str) -> str:
        """The context after `ch` is read in `context`."""
        n = self.model.order - 1
        return (context + ch)[-n:] if n > 0 else ""

    def row(self, context: str, chars: str) -> np.ndarray:
        """Scores of extending by each class (index 0, the CTC blank, scores 0)."""
        key = (context, chars)
        row = self._rows.get(key)
        if row is None:
            if len(self._rows) > _CACHE_LIMIT:
                self._rows.clear()
            row = np.empty(len(chars) + 1)
            row[0] = 0.0
            row[1:] = self.weight * self.model.logprobs(context, chars) + self.bonus
            self._rows[key] = row
        return row

    def score(self, before: str, text: str, chars: str) -> float:
        """The fused score of reading `text` after `before` (both text of one line)."""
        context = self.context(before)
        total = 0.0
        for ch in text:
            k = chars.find(ch)
            if k < 0:
                continue
            total += float(self.row(context, chars)[k + 1])
            context = self.next_context(context, ch)
        return total


def add_to_bundle(
    bundle_dir: Path,
    order: int = DEFAULT_ORDER,
    min_count: int = DEFAULT_MIN_COUNT,
    weight: float = DEFAULT_WEIGHT,
    bonus: float = DEFAULT_BONUS,
    line_pass: str = DEFAULT_LINE_PASS,
) -> CharLM:
    """Build the language model into a bundle and make its decoder use it.

    The text: the prose of Debian's fortunes (the synthetic text's sentences) and the
    glosses and examples of WordNet (Debian's wordnet-base). A missing one is left out
    with a warning (the bundle's card says what went in); with neither, `CharLMError`.
    """
    from recognizer.bundle import CHARLM_FILE, load_bundle, update_meta
    from recognizer.text import FORTUNES_DIR, WORDNET_DIR, fortune_texts, wordnet_texts

    if line_pass not in LINE_PASSES:
        raise CharLMError(f"line_pass is greedy or decoder, got {line_pass!r}")
    check_weight(weight)
    bundle = load_bundle(Path(bundle_dir))
    fortunes, glosses = fortune_texts(), wordnet_texts()
    if not fortunes and not glosses:
        raise CharLMError(
            f"no text in {FORTUNES_DIR} or {WORDNET_DIR}: install Debian's fortunes and "
            "wordnet-base packages (`make text`) to build the language model"
        )
    for name, texts, folder in (
        ("fortunes", fortunes, FORTUNES_DIR),
        ("wordnet-base", glosses, WORDNET_DIR),
    ):
        if not texts:
            log.warning("no %s in %s: the language model is built without it", name, folder)
    sources = []
    if fortunes:
        sources.append(f"{len(fortunes):,} prose passages of Debian's fortunes")
    if glosses:
        sources.append(f"{len(glosses):,} glosses and examples of WordNet 3.0 (wordnet-base)")
    lm = CharLM.build([*fortunes, *glosses], order, min_count)
    path = bundle.path / CHARLM_FILE
    lm.save(path)
    decoder = {
        **bundle.meta.get("decoder", {}),
        "lm_weight": float(weight),
        "lm_bonus": float(bonus),
        "line_pass": line_pass,
    }
    section = {
        "file": CHARLM_FILE,
        "order": order,
        "min_count": min_count,
        "ngrams": len(lm),
        "bytes": path.stat().st_size,
        "source": " and ".join(sources),
    }
    update_meta(bundle.path, {"decoder": decoder, "language_model": section})
    log.info("wrote %s: %d n-grams, %.1f MB", path, len(lm), path.stat().st_size / 1e6)
    return lm


def run_charlm_cli(args: Any, settings: Any) -> int:
    """`inkdex charlm BUNDLE`: build the character language model into a bundle."""
    try:
        lm = add_to_bundle(
            Path(args.bundle), args.order, args.min_count, args.weight, args.bonus, args.line_pass
        )
    except (ValueError, OSError) as exc:  # CharLMError, BundleError
        print(f"cannot build the language model: {exc}")
        return 1
    print(
        f"{args.bundle}: character {lm.order}-gram model with {len(lm):,} n-grams; "
        f"decoder weight {args.weight:g}, bonus {args.bonus:g}, {args.line_pass} line pass"
    )
    return 0
