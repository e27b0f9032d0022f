"""Which word boxes of a page to outline for a query.

The index decides first: the document's hit for the query carries the matching words
(with stemming, alternatives and confidence rules applied exactly as in search). When
the document is not among the hits (the query does not select it, or it lies beyond the
largest result page), the words of the page whose reading or alternative readings match
a query term are outlined instead, so the image still shows where the words are.
"""

from __future__ import annotations

import fnmatch
import re
import threading
import time
from typing import Any

from recognizer.transcript import BBox, PageTranscript

FIRST_LOOK = 10
_OPERATORS = {"and", "or", "not", "andnot", "andmaybe", "to"}
_EDGE_PUNCT = re.compile(r"^\W+|\W+$")


def query_terms(q: str) -> list[str]:
    """Lower-case words and wildcard patterns of a query, without operators or field names."""
    terms = []
    for token in re.findall(r"[\w*?'-]+(?::[\w*?'-]+)?", q):
        token = token.split(":")[-1].lower().strip("'-")
        if token and token not in _OPERATORS:
            terms.append(token)
    return terms


def _norm(word: str) -> str:
    return _EDGE_PUNCT.sub("", word.lower())


def transcript_boxes(pages: list[PageTranscript], page: int, q: str) -> list[BBox]:
    """Boxes on `page` of words (or alternative readings) that match a term of `q`."""
    if not 0 <= page < len(pages):
        return []
    terms = query_terms(q)
    if not terms:
        return []
    boxes = []
    for line in pages[page].lines:
        for word in line.words:
            readings = [word.text, *(t for t, _ in word.alternatives)]
            if any(fnmatch.fnmatchcase(_norm(r), t) for r in readings for t in terms):
                boxes.append(word.bbox)
    return boxes


class SearchMemo:
    """Search results kept for a few seconds, shared by the image requests of one page view.

    A results page asks for ten highlighted thumbnails at once, all with the same query:
    the first request runs the search, the others wait for it and reuse the answer.
    """

    def __init__(self, ttl_s: float = 5.0, max_entries: int = 128) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._items: dict[tuple, tuple[float, Any]] = {}
        self._running: dict[tuple, threading.Lock] = {}
        self._lock = threading.Lock()

    def _fresh(self, key: tuple) -> Any | None:
        item = self._items.get(key)
        if item is not None and item[0] > time.monotonic():
            return item[1]
        return None

    def search(self, archive: Any, q: str, limit: int) -> Any:
        key = (id(archive), q, limit)
        with self._lock:
            found = self._fresh(key)
            if found is not None:
                return found
            running = self._running.setdefault(key, threading.Lock())
        with running:
            with self._lock:
                found = self._fresh(key)
            if found is not None:
                return found
            result = archive.search(q, limit=limit)
            with self._lock:
                now = time.monotonic()
                self._items[key] = (now + self.ttl_s, result)
                self._running.pop(key, None)
                if len(self._items) > self.max_entries:
                    for k in [k for k, (exp, _) in self._items.items() if exp <= now]:
                        del self._items[k]
                    while len(self._items) > self.max_entries:
                        del self._items[next(iter(self._items))]
            return result


def highlight_boxes(
    archive: Any,
    doc_id: str,
    q: str,
    page: int,
    pages: list[PageTranscript] | None,
    max_limit: int,
    memo: SearchMemo | None = None,
) -> list[BBox]:
    """Boxes to draw on `page` of `doc_id` for the query `q` (see the module docstring)."""
    # A thumbnail is usually of a first-page hit: look there before the largest page.
    for limit in dict.fromkeys((min(FIRST_LOOK, max_limit), max_limit)):
        if memo is not None:
            result = memo.search(archive, q, limit)
        else:
            result = archive.search(q, limit=limit)
        for hit in result.hits:
            if hit.doc_id == doc_id:
                return [tuple(m.bbox) for m in hit.matches if m.page == page]
        if result.total <= limit:
            break
    return transcript_boxes(pages or [], page, q)
