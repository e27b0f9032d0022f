"""Which boxes a highlight query outlines: the index's matches first, the transcript after."""

from __future__ import annotations

from types import SimpleNamespace

from api.highlight import highlight_boxes, query_terms, transcript_boxes
from recognizer.transcript import Line, PageTranscript, Word


def _pages() -> list[PageTranscript]:
    words = (
        Word((0, 0, 10, 10), "Harbour,", 0.9, (("Harbour,", 0.9), ("harbor", 0.05))),
        Word((20, 0, 10, 10), "ships", 0.8),
    )
    return [PageTranscript("m", 100, 20, (Line((0, 0, 30, 10), "Harbour, ships", 0.9, words),))]


def test_query_terms_drop_operators_and_field_names() -> None:
    assert query_terms('harbour AND "old ships" NOT text:dawn harb*') == [
        "harbour",
        "old",
        "ships",
        "dawn",
        "harb*",
    ]


def test_transcript_boxes_match_words_alternatives_and_wildcards() -> None:
    pages = _pages()
    assert transcript_boxes(pages, 0, "harbour") == [(0, 0, 10, 10)]
    assert transcript_boxes(pages, 0, "harbor") == [(0, 0, 10, 10)]
    assert transcript_boxes(pages, 0, "sh*") == [(20, 0, 10, 10)]
    assert transcript_boxes(pages, 0, "dawn") == []
    assert transcript_boxes(pages, 1, "harbour") == []


class _Index:
    def __init__(self, hits: list, total: int) -> None:
        self.hits, self.total, self.limits = hits, total, []

    def search(self, q: str, limit: int = 10):
        self.limits.append(limit)
        return SimpleNamespace(total=self.total, hits=self.hits[:limit])


def _hit(doc_id: str, boxes) -> SimpleNamespace:
    return SimpleNamespace(
        doc_id=doc_id, matches=[SimpleNamespace(page=p, bbox=b) for p, b in boxes]
    )


def test_index_matches_win_and_are_filtered_by_page() -> None:
    index = _Index([_hit("d", [(0, (1, 2, 3, 4)), (1, (5, 6, 7, 8))])], total=1)
    assert highlight_boxes(index, "d", "ships", 1, _pages(), 100) == [(5, 6, 7, 8)]
    assert index.limits == [10]


def test_a_document_beyond_the_first_results_is_looked_up_in_the_largest_page() -> None:
    hits = [_hit(f"o{i}", []) for i in range(30)] + [_hit("d", [(0, (9, 9, 9, 9))])]
    index = _Index(hits, total=31)
    assert highlight_boxes(index, "d", "ships", 0, _pages(), 100) == [(9, 9, 9, 9)]
    assert index.limits == [10, 100]


def test_a_document_the_index_does_not_return_falls_back_to_its_transcript() -> None:
    index = _Index([], total=0)
    assert highlight_boxes(index, "d", "ships", 0, _pages(), 100) == [(20, 0, 10, 10)]
    assert index.limits == [10]


def test_memo_runs_one_search_for_many_identical_image_requests() -> None:
    import threading
    import time

    from api.highlight import SearchMemo

    calls = []

    class Slow:
        def search(self, q, limit=10):
            calls.append(q)
            time.sleep(0.05)
            return SimpleNamespace(total=0, hits=[])

    memo, arch = SearchMemo(ttl_s=60), Slow()
    threads = [threading.Thread(target=memo.search, args=(arch, "q", 10)) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == ["q"]
    memo.search(arch, "other", 10)
    assert calls == ["q", "other"]


def test_memo_entries_expire() -> None:
    from api.highlight import SearchMemo

    index = _Index([], total=0)
    memo = SearchMemo(ttl_s=0.0)
    memo.search(index, "q", 10)
    memo.search(index, "q", 10)
    assert index.limits == [10, 10]
