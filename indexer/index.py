"""The full-text index: one Whoosh schema and a handful of plain functions around it.

One index document per archive document, with two word fields:

- ``text``: the 1-best reading of every word, with positions (for phrases);
- ``alt``: the recognizer's alternative readings of every word with probability of
  at least ``index.alternative_min_prob``, each weighted by its posterior (a
  probabilistic word index in the PrIx sense: a word the recognizer was unsure of
  is still findable through its likely readings). Terms the document already has
  as 1-best readings are left out.

A query word matches either field. Results come in tiers, each ranked alone:
documents matching every clause through 1-best readings first (a ``text`` match
scores in [1, 2): BM25F squashed), then, with fuzzy search, through near spellings
of 1-best readings (weight 0.4), then the rest, where alternatives count (an
``alt`` match scores the summed posterior, capped at 1, halved). Ranking a tier
alone is also what keeps common-word searches fast on large archives.

Swapping the engine should only touch this file (plus `analysis.analyzer`).
"""

from __future__ import annotations

import bisect
import copy
import heapq
import logging
import pickle
import re
import struct
import threading
import time
import weakref
import zlib
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from fnmatch import translate as glob_to_regex
from pathlib import Path
from typing import Any

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein
from whoosh import columns, fields, formats, index, query, scoring
from whoosh.codec.whoosh3 import W3Codec, W3LeafMatcher, W3TermInfo, W3TermsReader
from whoosh.filedb.filestore import FileStorage
from whoosh.index import EmptyIndexError, LockError
from whoosh.matching.wrappers import FilterMatcher
from whoosh.qparser import AndGroup, MultifieldParser
from whoosh.reading import TermNotFound
from whoosh.searching import Searcher
from whoosh.system import pack_uint
from whoosh.util import make_weighted_tree, random_name
from whoosh.writing import IndexWriter, SegmentWriter

from indexer.analysis import analyzer, tokens
from indexer.highlight import QueryTerms, WordTable, WordTableBuilder, iter_words
from recognizer.transcript import PageTranscript

log = logging.getLogger(__name__)

TEXT = "text"
ALT = "alt"
WORDS = "words"  # a column: the document's `WordTable`, for matches and snippets
WORD_FIELDS = (TEXT, ALT)
ALT_SCALE = 0.5
FUZZY_BOOST = 0.4
MAX_EXPANSION = 64  # default for terms a prefix, wildcard or fuzzy clause expands to
MAX_OPTIMIZED_LEAVES = 16
OPEN_RETRIES = 5
WRITE_LOCK_TIMEOUT_S = 30.0
WRITER_MB = 128
# Posting lists shorter than this are kept in the term table itself, not written as
# blocks of their own: most terms of a handwriting index are rare misreadings, and a
# block per term is most of the time a commit takes.
INLINE_POSTINGS = 16


def _set_inline(self: W3TermInfo, ids: Any, weights: Any, values: Any) -> None:
    """Keep a short posting list in the term info (the method Whoosh's writer calls
    for that, missing from its term info class). Fields without posting values get an
    empty value per posting, as the readers of inline postings expect."""
    self._inlined = (tuple(ids), tuple(weights), tuple(values) or (b"",) * len(ids))


if not hasattr(W3TermInfo, "set_inline"):
    W3TermInfo.set_inline = _set_inline  # type: ignore[attr-defined]

# A posting block is a pickle (protocol 2) of (ids, weights, values); values of the
# 1-best field are a tuple of bytes (positions), which protocol 2 writes as a call of
# `_codecs.encode` each, most of the time unpickling a block takes. The values start
# with this marker, which cannot occur earlier (ids and weights are integer and float
# opcodes at most 9 bytes apart, none of whose codes is in it).
_VALUES_START = b"(c_codecs\nencode\n"
_VALUES_NOT_READ = object()
_w3_read_values = W3LeafMatcher._read_values


def _block_raw(m: W3LeafMatcher) -> bytes:
    raw = m._postfile.get(m._dataoffset, m._nextoffset - m._dataoffset)
    return zlib.decompress(raw) if m._compression else raw


def _read_block_data(self: W3LeafMatcher) -> None:
    """Read a posting block's ids and weights, its values only once asked for (scoring
    and counting never read them; phrases do)."""
    raw = _block_raw(self)
    k = raw.find(_VALUES_START)
    if k > 0:
        try:
            ids, weights, _ = pickle.loads(raw[:k] + b"N\x87.")  # None, TUPLE3, STOP
        except Exception:  # not the layout expected: read it whole
            pass
        else:
            n = self._blocklength
            if len(ids) == n and (weights is None or type(weights) is float or len(weights) == n):
                self._data = (ids, weights, _VALUES_NOT_READ)
                return
    self._data = pickle.loads(raw)


def _read_block_values(self: W3LeafMatcher) -> None:
    if self._data is not None and self._data[2] is _VALUES_NOT_READ:
        self._data = pickle.loads(_block_raw(self))
    _w3_read_values(self)


W3LeafMatcher._read_data = _read_block_data
W3LeafMatcher._read_values = _read_block_values


class QueryError(ValueError):
    """The search query cannot be run (empty, malformed, or too long)."""


class IndexLocked(RuntimeError):
    """Another writer holds the index lock for longer than the timeout (transient)."""


class _PackedPositions(formats.Positions):
    """Positions stored as a packed uint32 array (faster to write than Whoosh's pickle)."""

    def encode(self, poslist):  # type: ignore[no-untyped-def]
        n = len(poslist)
        return struct.pack(f"<{n + 1}I", n, *poslist)

    def word_values(self, value, analyzer, **kwargs):  # type: ignore[no-untyped-def]
        if isinstance(value, str):
            yield from super().word_values(value, analyzer, **kwargs)
            return
        # Already normalised terms (`analysis.tokens`): positions are list indexes.
        poses: dict[str, list[int]] = {}
        for i, t in enumerate(value):
            got = poses.get(t)
            if got is None:
                poses[t] = [i]
            else:
                got.append(i)
        fb = self.field_boost
        for t, pl in poses.items():
            n = len(pl)
            yield t, n, n * fb, struct.pack(f"<{n + 1}I", n, *pl)

    def decode_positions(self, valuestring):  # type: ignore[no-untyped-def]
        n = (len(valuestring) - 4) // 4
        return list(struct.unpack_from(f"<{n}I", valuestring, 4))

    def decode_frequency(self, valuestring):  # type: ignore[no-untyped-def]
        return struct.unpack_from("<I", valuestring)[0]

    def combine(self, vs):  # type: ignore[no-untyped-def]
        s: set[int] = set()
        for v in vs:
            s.update(self.decode_positions(v))
        return self.encode(sorted(s))


class _ReadingsField(fields.TEXT):
    """A TEXT field whose index value is a list of ``(term, probability)``.

    The terms are already normalised (`analysis.tokens`). A term's weight is the
    sum of its probabilities in the document -- the expected number of times it is
    written there -- which is what the alternatives scorer ranks by. No positions:
    phrases are matched on the 1-best text. Queries are analysed as usual.
    """

    def __init__(self, analyzer: object) -> None:
        super().__init__(analyzer=analyzer)
        self.format = formats.Frequency()

    def index(self, value, **kwargs):  # type: ignore[no-untyped-def]
        if isinstance(value, str):  # plain text from a generic caller: weight 1 per word
            value = [(t, 1.0) for t in tokens(value)]
        freqs: dict[str, int] = defaultdict(int)
        weights: dict[str, float] = defaultdict(float)
        for term, prob in value:
            freqs[term] += 1
            weights[term] += prob
        for term, n in freqs.items():
            yield term.encode("utf-8"), n, weights[term], pack_uint(n)


def schema() -> fields.Schema:
    ana = analyzer()
    text = fields.TEXT(analyzer=ana, phrase=True)
    text.format = _PackedPositions(field_boost=1.0)
    return fields.Schema(
        doc_id=fields.ID(stored=True, unique=True),
        filename=fields.TEXT(stored=True, analyzer=ana),
        created=fields.DATETIME(),
        model_version=fields.ID(stored=True),
        text=text,
        alt=_ReadingsField(analyzer=ana),
        # A column (read per hit, uncompressed), not a stored field: stored fields are
        # compressed per document and read whole wherever a document id is.
        words=fields.COLUMN(columns.VarBytesColumn(write_offsets_cutoff=0)),
    )


@dataclass(frozen=True)
class IndexEntry:
    """What the index needs to know about one document.

    `pages` are `PageTranscript`s or their JSON form (``PageTranscript.to_dict()``),
    which a rebuild reads without building objects.
    """

    doc_id: str
    filename: str
    created: datetime
    model_version: str
    pages: Sequence[PageTranscript | Mapping[str, Any]]


@dataclass(frozen=True)
class IndexHits:
    """One page of ranked documents, the total, and the terms to highlight."""

    total: int
    hits: tuple[tuple[str, float], ...]  # (doc_id, score)
    terms: QueryTerms
    # The word table of each hit, in the same order (None where the index has none).
    tables: tuple[WordTable | None, ...] = ()


# --- opening and writing -------------------------------------------------------------


def create_index(path: Path) -> index.Index:
    """Create an empty index in `path` (made if missing)."""
    path.mkdir(parents=True, exist_ok=True)
    return index.create_in(str(path), schema())


def open_index(path: Path, create: bool = False) -> index.Index:
    """Open the index in `path`, retrying briefly while a commit is in flight."""
    if create and not index.exists_in(str(path)):
        return create_index(path)
    for attempt in range(OPEN_RETRIES):
        try:
            return index.open_dir(str(path))
        except (EmptyIndexError, OSError) as exc:
            if attempt == OPEN_RETRIES - 1:
                raise
            log.debug("retrying open of %s: %s", path, exc)
            time.sleep(0.05 * 2**attempt)
    raise AssertionError("unreachable")


class _SegmentWriter(SegmentWriter):
    """Whoosh's segment writer, faster for this schema.

    `add_document` hands a document's postings to the pool in one step (Whoosh adds
    and checks them one at a time); documents with boosts, custom stored values,
    vectors or spelling fields take Whoosh's own path. At commit, writing the
    postings asks for the length of the field in the document of every posting (for
    the block statistics BM25 skips blocks by); Whoosh reads each one from the column
    file again, here each field's lengths are read once.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.extra_segments: list[Any] = []

    def _commit_toc(self, segments):  # type: ignore[no-untyped-def]
        super()._commit_toc([*segments, *self.extra_segments])

    def add_document(self, **fields: Any) -> None:
        schema = self.schema
        if any(n.startswith("_") for n in fields) or any(
            schema[n].vector or schema[n].separate_spelling() for n in fields if n in schema
        ):
            super().add_document(**fields)
            return
        self._check_state()
        names = sorted(fields)
        self._check_fields(schema, names)
        pdw = self.perdocwriter
        docnum = self.docnum
        postings: list[tuple[str, bytes, int, float, bytes]] = []
        size = 0
        pdw.start_doc(docnum)
        try:
            for name in names:
                value = fields[name]
                if value is None:
                    continue
                field = schema[name]
                length = 0
                if field.indexed:
                    scorable = field.scorable
                    for tbytes, freq, weight, vbytes in field.index(value):
                        if scorable:
                            length += freq
                        postings.append((name, tbytes, docnum, weight, vbytes))
                        size += len(name) + 2 * len(tbytes) + len(vbytes or b"")
                pdw.add_field(name, field, value if field.stored else None, length)
                column = field.column_type
                if column:
                    pdw.add_column_value(name, column, field.to_column_value(value))
        except BaseException:
            pdw.cancel_doc()
            raise
        pdw.finish_doc()
        pool = self.pool
        pool.fieldnames.update(p[0] for p in postings)
        pool.current.extend(postings)
        # Whoosh's estimate of a posting's memory, as `PostingPool.add` makes it
        pool.currentsize += size + len(postings) * _POSTING_OVERHEAD
        if pool.currentsize > pool.limit:
            pool.save()
        self._added = True
        self.docnum += 1

    def _flush_segment(self):  # type: ignore[no-untyped-def]
        self.perdocwriter.close()
        pdr = self.per_document_reader()
        try:
            lengths = _FieldLengths(pdr)
            self.fieldwriter.add_postings(self.schema, lengths, self.pool.iter_postings())
            self.fieldwriter.close()
        finally:
            pdr.close()


_POSTING_OVERHEAD = 28 + 4 * 5 + 21 + 26 + 18 + 16 + 21  # + name, term and value sizes


class _FieldLengths:
    """`doc_field_length` from per-field lists, each read from `pdr` once."""

    def __init__(self, pdr: Any) -> None:
        self._pdr = pdr
        self._n = pdr.doc_count_all()
        self._by_field: dict[str, list[int]] = {}

    def doc_field_length(self, docnum: int, fieldname: str, default: int = 0) -> int:
        got = self._by_field.get(fieldname)
        if got is None:
            length = self._pdr.doc_field_length
            got = [length(d, fieldname, default) for d in range(self._n)]
            self._by_field[fieldname] = got
        return got[docnum]


def _codec() -> W3Codec:
    return W3Codec(compression=0, inlinelimit=INLINE_POSTINGS)


def open_writer(
    ix: index.Index, timeout_s: float = WRITE_LOCK_TIMEOUT_S, memory_mb: int = WRITER_MB
) -> IndexWriter:
    """A writer (holding the index lock until `commit()` or `cancel()`).

    Postings are stored uncompressed: about twice as fast to write, for a larger index.
    Past `memory_mb` of postings the writer sorts them through temporary files.
    """
    try:
        return _SegmentWriter(ix, timeout=timeout_s, delay=0.05, limitmb=memory_mb, codec=_codec())
    except LockError as exc:
        raise IndexLocked(
            f"index {ix.storage.folder} stayed locked by another writer for {timeout_s:.0f}s"
        ) from exc


def open_segment_writer(ix: index.Index, memory_mb: int = WRITER_MB) -> IndexWriter:
    """A writer of one new segment of `ix` that neither takes the index lock nor commits.

    For indexing in several processes: each writes a segment, `finish_segment` closes
    it, and the process holding the lock makes the segments part of the index with
    `add_segments`. The lock holder must not commit while such a writer is open
    (a commit removes files no committed segment names).
    """
    own = copy.copy(ix)
    own.storage = _OwnTempStorage(ix.storage.folder, supports_mmap=ix.storage.supports_mmap)
    return _SegmentWriter(own, _lk=False, limitmb=memory_mb, codec=_codec())


class _OwnTempStorage(FileStorage):
    """The index folder, with a scratch folder of this writer's own.

    Whoosh names a writer's scratch folder after the index (``MAIN.tmp``; the writer's
    postings pool and its column writer both use it) and removes it when the writer is
    done, which is safe with one writer at a time; segment writers in several
    processes would delete each other's files.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._suffix = random_name()

    def temp_storage(self, name: str | None = None) -> FileStorage:
        return super().temp_storage(f"{name or 'segment'}-{self._suffix}")


def finish_segment(w: IndexWriter) -> Any | None:
    """Write out the segment of an `open_segment_writer`; None when it holds no document."""
    if not w._added:
        w.cancel()
        return None
    segment = w._finalize_segment()
    w._finish()
    return segment


def add_segments(w: IndexWriter, segments: Sequence[Any]) -> None:
    """Make `segments` (from `finish_segment`) part of the index when `w` commits."""
    w.extra_segments.extend(segments)


@contextmanager
def writer(ix: index.Index, timeout_s: float = WRITE_LOCK_TIMEOUT_S) -> Iterator[IndexWriter]:
    """A writer that commits when the block ends normally and cancels on an exception."""
    w = open_writer(ix, timeout_s)
    try:
        yield w
    except BaseException:
        w.cancel()
        raise
    w.commit()


def _fields(entry: IndexEntry, min_prob: float, table: bool = True) -> dict[str, object]:
    text: list[str] = []
    alt: list[tuple[str, float]] = []
    words = WordTableBuilder(min_prob)
    for best, readings in iter_words(entry.pages, words):
        if best:
            text.extend(best)
            alt.extend(readings)
    # A term the document has as a 1-best reading already ranks it in the top tier.
    written = set(text)
    alt = [a for a in alt if a[0] not in written]
    out: dict[str, object] = {
        "doc_id": entry.doc_id,
        "filename": entry.filename,
        "created": entry.created,
        "model_version": entry.model_version,
        "text": text,
        "alt": alt,
    }
    if table:
        out[WORDS] = words.build().to_bytes()
    return out


def _has_words(w: IndexWriter) -> bool:
    return WORDS in w.schema  # an index made before word tables were kept has none


def add_document(w: IndexWriter, entry: IndexEntry, min_prob: float = 0.0) -> None:
    """Add a document known not to be in the index yet (fast path for rebuilds)."""
    w.add_document(**_fields(entry, min_prob, _has_words(w)))


def update_document(w: IndexWriter, entry: IndexEntry, min_prob: float = 0.0) -> None:
    """Add or replace the document with `entry.doc_id`; alternatives below `min_prob` are left out."""
    w.update_document(**_fields(entry, min_prob, _has_words(w)))


def remove_document(w: IndexWriter, doc_id: str) -> None:
    w.delete_by_term("doc_id", doc_id)


def doc_ids(ix: index.Index) -> set[str]:
    """The ids of every document in the index.

    Read from the term list of a segment without deletions (each id a term), else
    from the stored fields of its live documents.
    """
    out: set[str] = set()
    with ix.searcher() as s:
        for sub, _ in s.reader().leaf_readers():
            if sub.has_deletions():
                out.update(d["doc_id"] for d in sub.all_stored_fields())
            else:
                out.update(t.decode("utf-8") for t in sub.lexicon("doc_id"))
    return out


# --- searching -----------------------------------------------------------------------


class _ExactScorer(scoring.BaseScorer):
    """BM25F squashed into [1, 2): a 1-best match always outranks any alternative."""

    def __init__(self, inner: scoring.BaseScorer) -> None:
        self._inner = inner

    @staticmethod
    def _squash(s: float) -> float:
        return 1.0 + s / (s + 1.0) if s > 0 else 1.0

    def supports_block_quality(self) -> bool:
        return self._inner.supports_block_quality()

    def score(self, matcher) -> float:  # type: ignore[no-untyped-def]
        return self._squash(self._inner.score(matcher))

    def max_quality(self) -> float:
        return self._squash(self._inner.max_quality())

    def block_quality(self, matcher) -> float:  # type: ignore[no-untyped-def]
        return self._squash(self._inner.block_quality(matcher))


class _AltScorer(scoring.BaseScorer):
    """The summed posterior of a reading in the document, capped at 1, times ALT_SCALE."""

    def __init__(self, max_weight: float) -> None:
        self._max = ALT_SCALE * min(max_weight, 1.0)

    def supports_block_quality(self) -> bool:
        return True

    def score(self, matcher) -> float:  # type: ignore[no-untyped-def]
        return ALT_SCALE * min(matcher.weight(), 1.0)

    def max_quality(self) -> float:
        return self._max

    def block_quality(self, matcher) -> float:  # type: ignore[no-untyped-def]
        return ALT_SCALE * min(matcher.block_max_weight(), 1.0)


class _TieredWeighting(scoring.WeightingModel):
    def __init__(self) -> None:
        self._bm25 = scoring.BM25F()

    def scorer(self, searcher, fieldname, text, qf=1):  # type: ignore[no-untyped-def]
        if fieldname == ALT:
            return _AltScorer(searcher.term_info(fieldname, text).max_weight())
        inner = self._bm25.scorer(searcher, fieldname, text, qf=qf)
        return _ExactScorer(inner) if fieldname == TEXT else inner


def searcher(ix: index.Index) -> Searcher:
    """A searcher with the tiered weighting; refresh it with `searcher.refresh()`."""
    return ix.searcher(weighting=_TieredWeighting())


def fuzzy_distance(term: str, max_distance: int) -> int:
    """Edit distance allowed for a fuzzy term: none up to 2 letters, 1 up to 5, else 2."""
    n = len(term)
    if n <= 2:
        return 0
    return 1 if n <= 5 else min(2, max_distance)


class _Lexicon:
    """One index segment's terms of one field: sorted (prefixes are a slice of it) and
    grouped by length (a term within d edits of a word is within d letters of its
    length, so fuzzy matching compares against those groups only), with the number of
    documents of each (which terms a capped expansion keeps)."""

    def __init__(self, terms: list[str], freqs: Sequence[int] | None = None) -> None:
        self.terms = terms
        self.freqs = np.asarray(freqs if freqs is not None else [0] * len(terms), np.int64)
        by_length: dict[int, list[str]] = defaultdict(list)
        for t in terms:
            by_length[len(t)].append(t)
        self.by_length = dict(by_length)

    def _span(self, prefix: str) -> tuple[int, int]:
        if not prefix:
            return 0, len(self.terms)
        lo = bisect.bisect_left(self.terms, prefix)
        return lo, bisect.bisect_left(self.terms, prefix + "\U0010ffff", lo)

    def prefixed(self, prefix: str) -> list[str]:
        """The terms starting with `prefix` (terms are in code point order)."""
        lo, hi = self._span(prefix)
        return self.terms[lo:hi]

    def prefixed_freqs(self, prefix: str) -> dict[str, int]:
        """The terms starting with `prefix`, with their document frequency."""
        lo, hi = self._span(prefix)
        return dict(zip(self.terms[lo:hi], self.freqs[lo:hi].tolist(), strict=True))

    def freq(self, term: str) -> int:
        """The document frequency of `term` (0 where absent)."""
        i = bisect.bisect_left(self.terms, term)
        return int(self.freqs[i]) if i < len(self.terms) and self.terms[i] == term else 0

    def near(self, term: str, distance: int) -> dict[str, int]:
        """The terms within `distance` edits of `term`, with their distance."""
        out: dict[str, int] = {}
        n = len(term)
        for length in range(max(1, n - distance), n + distance + 1):
            group = self.by_length.get(length)
            if group:
                for t, d, _ in process.extract(
                    term, group, scorer=Levenshtein.distance, score_cutoff=distance, limit=None
                ):
                    out[t] = d
        return out


_lexicons: OrderedDict[tuple[str, str], _Lexicon] = OrderedDict()
_lexicons_lock = threading.Lock()
LEXICON_CACHE_SEGMENTS = 64
# Segments of at least this many documents share one term list (a term in several
# is compared once); smaller ones, which come and go as documents are added and
# merged, keep their own.
SHARED_LEXICON_DOCS = 1000


def _segment_lexicons(s: Searcher, fieldname: str) -> list[_Lexicon]:
    """The terms of a field: one list for the large index segments, one per small
    segment. Segments never change, so each list is read once and kept (a refreshed
    searcher only reads new segments)."""
    big, small = [], []
    for sub, _ in s.reader().leaf_readers():
        segid = _segment_key(sub)
        (big if sub.doc_count_all() >= SHARED_LEXICON_DOCS else small).append((segid, sub))
    groups = [[g] for g in small]
    if big:
        groups.insert(0, big)
    out = []
    for group in groups:
        key = ("+".join(sorted(segid for segid, _ in group)), fieldname)
        with _lexicons_lock:
            lex = _lexicons.get(key)
            if lex is not None:
                _lexicons.move_to_end(key)
        if lex is None:
            if len(group) == 1:
                freqs = _term_freqs(group[0][1], fieldname)
            else:
                freqs = defaultdict(int)
                for _, sub in group:
                    for t, n in _term_freqs(sub, fieldname).items():
                        freqs[t] += n
            ordered = sorted(freqs)
            lex = _Lexicon([t.decode("utf-8") for t in ordered], [freqs[t] for t in ordered])
            with _lexicons_lock:
                _lexicons[key] = lex
                while len(_lexicons) > LEXICON_CACHE_SEGMENTS:
                    _lexicons.popitem(last=False)
        out.append(lex)
    return out


def _term_freqs(sub: Any, fieldname: str) -> dict[bytes, int]:
    """Each term of a field in one segment with its document frequency, read in one
    pass over the segment's term table where the codec allows (a lookup per term
    costs about as much as the whole pass for a few thousand terms)."""
    terms = getattr(sub, "_terms", None)
    if not isinstance(terms, W3TermsReader):
        return {t: sub.doc_frequency(fieldname, t) for t in sub.lexicon(fieldname)}
    table = terms._tindex
    start = terms._keycoder(fieldname, b"")
    unpack = W3TermInfo._struct.unpack_from
    out: dict[bytes, int] = {}
    for key, value in table.items_from(start):
        if not key.startswith(start):
            break
        out[key[len(start) :]] = unpack(value)[2]  # (flags, weight, doc frequency, ...)
    return out


def _near_terms(s: Searcher, fieldname: str, term: str, distance: int, cap: int) -> list[str]:
    """Index terms within `distance` edits of `term`: the nearest, then the most frequent."""
    near: dict[str, int] = {}
    for lex in _segment_lexicons(s, fieldname):
        near.update(lex.near(term, distance))
    found = sorted(near.items(), key=lambda td: td[1])
    if len(found) > cap:
        lexicons = _segment_lexicons(s, fieldname)
        found.sort(key=lambda td: (td[1], -sum(lex.freq(td[0]) for lex in lexicons)))
    return [t for t, _ in found[:cap]]


def _expand(q: query.Query, s: Searcher, cap: int) -> query.Query:
    """Replace prefix and wildcard clauses by their `cap` most frequent terms.

    A handwriting index holds many rare misreadings; an unbounded expansion of
    ``a*`` would OR together thousands of them for no better ranking.
    """
    if isinstance(q, query.Prefix | query.Wildcard) and q.fieldname in WORD_FIELDS:
        text = q.text
        if isinstance(q, query.Wildcard):
            cut = min((i for i, ch in enumerate(text) if ch in "*?"), default=len(text))
            pattern = re.compile(glob_to_regex(text))
            prefix = text[:cut]
        else:
            pattern, prefix = None, text
        freqs: dict[str, int] = defaultdict(int)
        for lex in _segment_lexicons(s, q.fieldname):
            for t, n in lex.prefixed_freqs(prefix).items():
                if pattern is None or pattern.fullmatch(t):
                    freqs[t] += n
        found = sorted(freqs)
        if len(found) > cap:
            found = heapq.nlargest(cap, found, key=freqs.__getitem__)
        if not found:
            return query.NullQuery
        return query.Or([query.Term(q.fieldname, t, boost=q.boost) for t in found])
    return q.apply(lambda c: _expand(c, s, cap))


class _WideOr(query.Or):
    """An OR of many terms, matched by adding up each term's scores in arrays, a block
    of documents at a time: on large indexes Whoosh would otherwise walk a tree of
    two-way unions for every matching document (slow for prefix and fuzzy
    expansions; the tree is only needed to ask which terms matched, which search
    does not)."""

    matcher_type = query.Or.ARRAY_MATCHER


def _widen(q: query.Query) -> query.Query:
    """`q` with each OR of more than MAX_OPTIMIZED_LEAVES clauses made a `_WideOr`
    (after `normalize()`, which would merge it into an enclosing OR)."""
    if type(q) is query.Or and len(q.subqueries) > MAX_OPTIMIZED_LEAVES:
        return _WideOr([_widen(c) for c in q.subqueries], boost=q.boost)
    return q.apply(_widen)


def _fuzzify(q: query.Query, s: Searcher, max_distance: int, cap: int) -> query.Query:
    """Each 1-best word term ORed with its near spellings (down-weighted); alternatives
    stay exact (a near spelling of an unsure reading is mostly noise)."""
    if isinstance(q, query.Term) and q.fieldname == TEXT:
        d = fuzzy_distance(q.text, max_distance)
        if d == 0:
            return q
        near = [t for t in _near_terms(s, q.fieldname, q.text, d, cap) if t != q.text]
        return query.Or(
            [q, *(query.Term(q.fieldname, t, boost=q.boost * FUZZY_BOOST) for t in near)]
        )
    if isinstance(q, (query.Not, query.Phrase)):
        return q
    return q.apply(lambda c: _fuzzify(c, s, max_distance, cap))


def _terms(q: query.Query, max_distance: int, fuzzy: bool) -> QueryTerms:
    exact: set[str] = set()
    prefixes: list[str] = []
    patterns: list[re.Pattern[str]] = []
    near: dict[str, int] = {}

    def walk(node: query.Query) -> None:
        if isinstance(node, query.Not):
            return
        if isinstance(node, query.AndNot):
            walk(node.a)
            return
        field = getattr(node, "fieldname", None)
        if isinstance(node, query.Term) and field in WORD_FIELDS:
            exact.add(node.text)
            d = fuzzy_distance(node.text, max_distance) if fuzzy else 0
            if d:
                near[node.text] = d
        elif isinstance(node, query.Phrase) and field in WORD_FIELDS:
            exact.update(node.words)
        elif isinstance(node, query.Prefix) and field in WORD_FIELDS:
            prefixes.append(node.text)
        elif isinstance(node, query.Wildcard) and field in WORD_FIELDS:
            patterns.append(re.compile(glob_to_regex(node.text)))
        for child in node.children():
            walk(child)

    walk(q)
    return QueryTerms(
        frozenset(exact),
        tuple(dict.fromkeys(prefixes)),
        tuple(dict.fromkeys(patterns)),
        tuple(near.items()),
    )


def parse(s: Searcher, text: str) -> query.Query:
    """Parse a user query: words (all required), "phrases", AND/OR/NOT, prefix*, field:x."""
    if not text.strip():
        raise QueryError("empty query: give at least one word")
    parser = MultifieldParser(list(WORD_FIELDS), s.schema, group=AndGroup)
    try:
        q = parser.parse(text)
    except Exception as exc:  # the parser is lenient; this is a safety net
        raise QueryError(f"cannot parse query {text!r}: {exc}") from exc
    return _phrases_on_text(q).normalize()


def _phrases_on_text(q: query.Query) -> query.Query:
    """Drop phrase clauses on the alternatives field (it keeps no positions)."""
    if isinstance(q, query.Phrase | query.Sequence) and getattr(q, "fieldname", None) == ALT:
        return query.NullQuery
    if isinstance(q, query.Sequence):
        if any(getattr(c, "fieldname", None) == ALT for c in q.children()):
            return query.NullQuery
    return q.apply(_phrases_on_text)


def search(
    s: Searcher,
    text: str,
    limit: int = 10,
    offset: int = 0,
    fuzzy: bool = False,
    max_distance: int = 2,
    max_expansion: int = MAX_EXPANSION,
) -> IndexHits:
    """Ranked doc ids for the query `text` (1-best matches first, then alternatives)."""
    q = parse(s, text)
    if q is query.NullQuery:
        return IndexHits(0, (), QueryTerms())
    terms = _terms(q, max_distance, fuzzy)
    q = _expand(q, s, max_expansion).normalize()
    if q is query.NullQuery:
        return IndexHits(0, (), terms)
    full = _fuzzify(q, s, max_distance, max_expansion).normalize() if fuzzy else q
    want = offset + limit
    opt = sum(1 for _ in full.leaves()) <= MAX_OPTIMIZED_LEAVES
    # Tiers, each ranked alone (cheap) and each containing the one before: documents
    # matching every clause through 1-best readings, then (fuzzy) through near
    # spellings of 1-best readings, then everything the full query matches.
    tiers = [_text_tier(q)]
    if fuzzy:
        tiers.append(_text_tier(full))
    tiers = [t for t in tiers if t is not None]
    postings = _PostingsCache()
    if not tiers:
        page, matched = _top(s, full, want, opt, postings)
        return _hits(s, _count(full, s, matched, postings), page[offset:want], terms)
    got: list[tuple[str, float, int]] = []
    seen: set[str] = set()
    for tq in [*tiers, full]:
        for hit in _top(s, tq, want + len(got), opt, postings)[0]:
            if hit[0] not in seen:
                seen.add(hit[0])
                got.append(hit)
        if len(got) >= want:
            break
    return _hits(s, _count(full, s, postings=postings), got[offset:want], terms)


def _hits(
    s: Searcher, total: int, page: list[tuple[str, float, int]], terms: QueryTerms
) -> IndexHits:
    tables = word_tables(s, [docnum for _, _, docnum in page])
    return IndexHits(total, tuple((d, score) for d, score, _ in page), terms, tables)


_columns: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()
_columns_lock = threading.Lock()


def word_tables(s: Searcher, docnums: Sequence[int]) -> tuple[WordTable | None, ...]:
    """The word table of each document (None where the index keeps none)."""
    if WORDS not in s.schema or not docnums:
        return (None,) * len(docnums)
    leaves = s.reader().leaf_readers()
    offsets = [offset for _, offset in leaves]
    out: list[WordTable | None] = []
    for docnum in docnums:
        i = bisect.bisect_right(offsets, docnum) - 1
        sub, offset = leaves[i]
        col = _column(sub)
        data = col[docnum - offset] if col is not None else None
        out.append(WordTable.from_bytes(data) if data else None)
    return tuple(out)


def _column(sub: Any) -> Any:
    """The word-table column reader of an index segment, made once per segment reader
    (making one reads the segment's offset array)."""
    with _columns_lock:
        col = _columns.get(sub)
    if col is None:
        if WORDS not in sub.schema or not sub.has_column(WORDS):
            return None
        col = sub.column_reader(WORDS, translate=False)
        with _columns_lock:
            _columns[sub] = col
    return col


def _top(
    s: Searcher, q: query.Query, limit: int, optimize: bool, postings: _PostingsCache
) -> tuple[list[tuple[str, float, int]], Callable[[], int]]:
    """The `limit` best hits as (doc_id, score, docnum), and how to count the documents
    the matcher scored (Whoosh's count may run the matcher again). A term or an OR of
    terms is scored with arrays over posting lists (`_top_arrays`: the posting lists
    are read once per search, for the count as well, and Whoosh's matchers cost a
    Python call per posting). Otherwise Whoosh's matchers; without `optimize` their
    rewriting and block skipping are off: they cost time quadratic in the width of an
    OR (wide fuzzy and prefix expansions) and save little there."""
    got = _top_arrays(s, q, limit, postings)
    if got is not None:
        return got
    c = s.collector(limit=limit, optimize=optimize)
    if not optimize:
        c.replace = 0
    s.search_with_collector(_widen(q), c)
    results = c.results()
    return [(r["doc_id"], float(r.score), r.docnum) for r in results], results.__len__


def _fields_of(q: query.Query) -> set[str]:
    return {field for field, _ in q.iter_all_terms(phrases=True)}


def _text_only(clause: query.Query) -> query.Query | None:
    """The 1-best part of a clause that ORs a 1-best part with an alternatives part."""
    if isinstance(clause, query.Term | query.Phrase):
        return clause if clause.fieldname == TEXT else None
    if not isinstance(clause, query.Or) or clause.boost != 1.0:
        return None
    text = [c for c in clause.subqueries if _fields_of(c) == {TEXT}]
    alt = [c for c in clause.subqueries if _fields_of(c) == {ALT}]
    if not text or len(text) + len(alt) != len(clause.subqueries):
        return None
    return text[0] if len(text) == 1 else query.Or(text)


def _text_tier(q: query.Query) -> query.Query | None:
    """The query restricted to 1-best readings, when every document it matches outranks
    every document it does not (one clause, or clauses joined by AND); else None."""
    if isinstance(q, query.AndNot):
        a = _text_tier(q.a)
        return query.AndNot(a, q.b) if a is not None else None
    if isinstance(q, query.And) and q.boost == 1.0:
        parts = []
        for c in q.subqueries:
            t = c if isinstance(c, query.Not) else _text_only(c)
            if t is None:
                return None
            parts.append(t)
        return query.And(parts)
    return _text_only(q)


def _count(
    q: query.Query,
    s: Searcher,
    matched: Callable[[], int] | None = None,
    postings: _PostingsCache | None = None,
) -> int:
    """How many documents match: by set algebra over posting lists (boolean arrays),
    segment by segment, where the query is terms joined by AND/OR/NOT (fast), else
    `matched` (the matcher's own count) or by running the matcher."""
    cache = postings if postings is not None else _PostingsCache()
    total = 0
    for i, (sub, _) in enumerate(s.reader().leaf_readers()):
        docs = _docmask(q, sub, i, cache)
        if docs is None:
            return matched() if matched is not None else len(list(q.matcher(s).all_ids()))
        total += int(np.count_nonzero(docs))
    return total


def _docmask(q: query.Query, reader: Any, seg: int, postings: _PostingsCache) -> Any:
    """The documents of one segment matching `q`, as a boolean array (None: `q` is
    not made of terms joined by AND/OR/NOT)."""
    if isinstance(q, query.Term):
        mask = np.zeros(reader.doc_count_all(), dtype=bool)
        mask[postings.get(reader, seg, q.fieldname, q.text)[0]] = True
        return mask
    if isinstance(q, query.AndNot):
        a, b = _docmask(q.a, reader, seg, postings), _docmask(q.b, reader, seg, postings)
        return None if a is None or b is None else a & ~b
    if isinstance(q, query.Or | query.And) and q.subqueries:
        parts = [c for c in q.subqueries if not isinstance(c, query.Not)]
        nots = [c.query for c in q.subqueries if isinstance(c, query.Not)]
        if isinstance(q, query.Or) and nots or not parts:
            return None
        masks = [_docmask(c, reader, seg, postings) for c in parts]
        negs = [_docmask(c, reader, seg, postings) for c in nots]
        if any(m is None for m in [*masks, *negs]):
            return None
        out = masks[0].copy()
        for m in masks[1:]:
            if isinstance(q, query.Or):
                out |= m
            else:
                out &= m
        for m in negs:
            out &= ~m
        return out
    return None


class _PostingsCache:
    """Posting lists read in one search, as arrays: the tiers and the count read the
    same terms."""

    def __init__(self) -> None:
        self._got: dict[tuple[int, str, str], tuple[Any, Any]] = {}
        self._scorers: dict[tuple[str, str], scoring.BaseScorer] = {}

    def scorer(self, sub_s: Searcher, fieldname: str, text: str) -> scoring.BaseScorer:
        """The term's scorer, made once: its statistics (idf, average length) are the
        whole index's, the same from every segment."""
        key = (fieldname, text)
        got = self._scorers.get(key)
        if got is None:
            tbytes = sub_s.schema[fieldname].to_bytes(text)
            got = self._scorers[key] = sub_s.weighting.scorer(sub_s, fieldname, tbytes)
        return got

    def get(self, reader: Any, seg: int, fieldname: str, text: str) -> tuple[Any, Any]:
        """(doc numbers ascending, weights) of a term in one segment, deleted documents
        left out; empty arrays where the segment lacks the term."""
        key = (seg, fieldname, text)
        got = self._got.get(key)
        if got is None:
            got = self._got[key] = _posting_arrays(reader, fieldname, text)
        return got


_NO_POSTINGS = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64))


def _segment_key(reader: Any) -> str:
    seg = reader.segment()
    return f"{id(reader.storage) if seg is None else seg.segment_id()}"


def _posting_arrays(reader: Any, fieldname: str, text: str) -> tuple[Any, Any]:
    id_arr, w_arr = _read_posting_arrays(reader, fieldname, text)
    if reader.has_deletions() and len(id_arr):
        deleted = reader.deleted_docs_set
        keep = ~np.isin(id_arr, np.fromiter(deleted, dtype=np.int64, count=len(deleted)))
        id_arr, w_arr = id_arr[keep], w_arr[keep]
    return id_arr, w_arr


def _read_posting_arrays(reader: Any, fieldname: str, text: str) -> tuple[Any, Any]:
    """A term's postings in one segment, deleted documents included."""
    try:
        m = reader.postings(fieldname, text)
    except TermNotFound:
        return _NO_POSTINGS
    if isinstance(m, FilterMatcher):  # a segment with deletions
        m = m.child
    if type(m) is W3LeafMatcher:  # block by block, not one posting at a time
        ids, weights = [], []
        while m.is_active():
            if m._data is None:
                m._read_data()
            raw = m._data[0]
            if m._byteids:
                ids.append(np.asarray(m._ids if m._ids is not None else raw, dtype=np.int64))
            else:  # gaps between document numbers (Whoosh's `delta_decode`)
                ids.append(np.cumsum(np.asarray(raw, dtype=np.int64)))
            w = m._data[1]
            if w is None or isinstance(w, float):  # one weight for the block (None: 1)
                w = np.full(m._blocklength, 1.0 if w is None else w, dtype=np.float32)
            weights.append(np.asarray(w, dtype=np.float64))
            m._next_block()
        id_arr, w_arr = np.concatenate(ids), np.concatenate(weights)
    else:  # inline postings (a few)
        id_list, w_list = [], []
        while m.is_active():
            id_list.append(m.id())
            w_list.append(m.weight())
            m.next()
        id_arr = np.array(id_list, dtype=np.int64)
        w_arr = np.array(w_list, dtype=np.float64)
    return id_arr, w_arr


_lengths: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()
_lengths_lock = threading.Lock()


def _field_lengths(reader: Any, fieldname: str) -> Any:
    """Each document's length of a field in one segment (as BM25 reads it), read once
    per segment reader."""
    with _lengths_lock:
        got = _lengths.setdefault(reader, {}).get(fieldname)
    if got is None:
        length = reader.doc_field_length
        got = np.array(
            [length(d, fieldname, 0) or 0 for d in range(reader.doc_count_all())],
            dtype=np.float64,
        )
        with _lengths_lock:
            _lengths[reader][fieldname] = got
    return got


def _term_terms(q: query.Query) -> tuple[list[query.Term], query.Query | None] | None:
    """The terms of `q` when it is a term or an OR of terms, possibly minus a NOT part
    (the queries `_top_arrays` scores)."""
    if isinstance(q, query.AndNot):
        got = _term_terms(q.a)
        return (got[0], q.b) if got is not None and got[1] is None else None
    if type(q) is query.Term:
        return [q], None
    if (
        type(q) is query.Or
        and q.boost == 1.0
        and q.subqueries
        and all(type(c) is query.Term for c in q.subqueries)
    ):
        return list(q.subqueries), None
    return None


# Whoosh's `Or` matches with a tree of two-way unions on segments of more than this
# many documents (or for two clauses), else with its array matcher.
_OR_TREE_DOCS = 5000


def _adds_in_order(terms: Sequence[query.Term], reader: Any) -> bool:
    """Whether Whoosh adds up the scores of an OR of `terms` in one segment one term
    after another, in query order (its array matcher: `_widen`'s wide ORs, and ORs of
    more than two clauses on small segments), rather than by a tree of unions."""
    n = len(terms)
    if n > MAX_OPTIMIZED_LEAVES:
        return True
    return n >= query.Or.TOO_MANY_CLAUSES or (n != 2 and reader.doc_count_all() <= _OR_TREE_DOCS)


class _Sum:
    """Documents (ascending) and their scores; a node of the union tree `_tree_sum`
    builds. Never ordered before another (as Whoosh's matchers compare when their tree
    is built), so the tree depends on the weights alone."""

    __slots__ = ("ids", "scores")

    def __init__(self, ids: Any, scores: Any) -> None:
        self.ids, self.scores = ids, scores

    def __lt__(self, other: object) -> bool:
        return False

    @staticmethod
    def union(a: _Sum, b: _Sum) -> _Sum:
        """What Whoosh's `UnionMatcher` scores: a's score plus b's where both match,
        else the one that matches (x + 0.0 is x exactly)."""
        ids = np.union1d(a.ids, b.ids)
        scores = np.zeros(len(ids), dtype=np.float64)
        scores[np.searchsorted(ids, a.ids)] = a.scores
        scores[np.searchsorted(ids, b.ids)] += b.scores
        return _Sum(ids, scores)


def _tree_sum(terms: Sequence[query.Term], parts: Sequence[_Sum], reader: Any) -> _Sum:
    """The scores of an OR of `terms` (`parts`: each term's) added up as Whoosh's
    `DefaultOr` adds them: a Huffman-like tree of unions weighted by each term's
    document count in the segment, built by Whoosh's own function."""
    weighted = [(t.estimate_size(reader), p) for t, p in zip(terms, parts, strict=True)]
    return make_weighted_tree(_Sum.union, weighted)


def _term_scores(sub_s: Searcher, seg: int, t: query.Term, postings: _PostingsCache) -> Any:
    """(doc numbers, scores) of one term in one segment, computed as its Whoosh matcher
    would score each posting (same operations, same order); None for a scorer this
    does not know."""
    reader = sub_s.reader()
    ids, weights = postings.get(reader, seg, t.fieldname, t.text)
    if not len(ids):
        return ids, weights
    scorer = postings.scorer(sub_s, t.fieldname, t.text)
    if isinstance(scorer, _AltScorer):
        scores = ALT_SCALE * np.minimum(weights, 1.0)
    elif isinstance(scorer, _ExactScorer) and type(scorer._inner) is scoring.BM25FScorer:
        bm = scorer._inner
        fl = _field_lengths(reader, t.fieldname)[ids]
        # scoring.bm25, operation by operation
        raw = bm.idf * (
            (weights * (bm.K1 + 1)) / (weights + bm.K1 * ((1 - bm.B) + bm.B * fl / bm.avgfl))
        )
        scores = np.where(raw > 0, 1.0 + raw / (raw + 1.0), 1.0)
    else:
        return None
    if t.boost != 1.0:
        scores = scores * t.boost
    return ids, scores


def _or_scores(
    sub_s: Searcher, seg: int, terms: Sequence[query.Term], postings: _PostingsCache
) -> tuple[Any, Any] | None:
    """(documents ascending, scores) of an OR of `terms` in one segment, each score
    what Whoosh's matcher of the OR gives the document; None for a scorer `_term_scores`
    does not know."""
    parts = []
    for t in terms:
        got = _term_scores(sub_s, seg, t, postings)
        if got is None:
            return None
        parts.append(got)
    if len(parts) == 1:
        return parts[0]
    reader = sub_s.reader()
    if _adds_in_order(terms, reader):
        acc = np.zeros(reader.doc_count_all(), dtype=np.float64)
        for ids, scores in parts:
            acc[ids] += scores
        docs = np.flatnonzero(acc > 0)  # the array matcher's test of a match
        return docs, acc[docs]
    total = _tree_sum(terms, [_Sum(*p) for p in parts], reader)
    return total.ids, total.scores


def _top_arrays(
    s: Searcher, q: query.Query, limit: int, postings: _PostingsCache
) -> tuple[list[tuple[str, float, int]], Callable[[], int]] | None:
    """`_top` for a term or an OR of terms (minus a NOT part): each term's scores
    computed over its posting list and added up per segment in the order Whoosh's
    matcher adds them (`_adds_in_order`, `_tree_sum`), and the best `limit` taken as
    its collector takes them (higher score first, then lower document number). None
    where the query has another shape."""
    shape = _term_terms(q)
    if shape is None:
        return None
    terms, minus = shape
    best_scores, best_docs = [], []
    matched = 0
    for seg, (sub_s, offset) in enumerate(s.leaf_searchers()):
        reader = sub_s.reader()
        got = _or_scores(sub_s, seg, terms, postings)
        if got is None:
            return None
        docs, scores = got
        if minus is not None and len(docs):
            excluded = _docmask(minus, reader, seg, postings)
            if excluded is None:
                return None
            keep = ~excluded[docs]
            docs, scores = docs[keep], scores[keep]
        matched += len(docs)
        scores, docs = _best(scores, docs, limit)
        best_scores.append(scores)
        best_docs.append(docs + offset)
    if not best_scores:
        return [], lambda: 0
    scores, docs = _best(np.concatenate(best_scores), np.concatenate(best_docs), limit)
    hits = [
        (s.stored_fields(int(d))["doc_id"], float(sc), int(d))
        for sc, d in zip(scores, docs, strict=True)
    ]
    return hits, lambda: matched


def _best(scores: Any, docs: Any, k: int) -> tuple[Any, Any]:
    """The `k` best of `docs` (ascending), highest score first, ties by lower number."""
    if len(scores) > k:
        cut = np.partition(scores, len(scores) - k)[len(scores) - k]
        above = np.flatnonzero(scores > cut)
        ties = np.flatnonzero(scores == cut)[: k - len(above)]
        keep = np.sort(np.concatenate([above, ties]))
        scores, docs = scores[keep], docs[keep]
    order = np.lexsort((docs, -scores))
    return scores[order], docs[order]
