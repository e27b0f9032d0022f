"""GET /search: response schema, paging, limits and query errors as 422."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from indexer.archive import QueryError


def _index(client: TestClient, new_page, wait_done, words, width) -> str:
    page = new_page(words, width=width)
    doc_id = client.post("/documents", files={"file": ("p.png", page.png)}).json()["doc_id"]
    assert wait_done(client, doc_id)["status"] == "indexed"
    return doc_id


def test_search_returns_hits_with_boxes_of_the_matching_words(client, new_page, wait_done) -> None:
    page = new_page(["the", "harbour", "at", "dawn"], width=700)
    doc_id = client.post("/documents", files={"file": ("h.png", page.png)}).json()["doc_id"]
    wait_done(client, doc_id)
    r = client.get("/search", params={"q": "harbour"})
    assert r.status_code == 200
    body = r.json()
    assert body["total"] == 1
    hit = body["hits"][0]
    assert set(hit) == {"doc_id", "filename", "score", "snippet", "matches"}
    assert hit["doc_id"] == doc_id and hit["filename"] == "h.png"
    (m,) = hit["matches"]
    assert set(m) == {"page", "line", "word", "text", "bbox", "confidence"}
    assert (m["page"], m["line"], m["word"], m["text"]) == (0, 0, 1, "harbour")
    assert tuple(m["bbox"]) == dict(page.words)["harbour"]


def test_search_pages_with_limit_and_offset(client, new_page, wait_done) -> None:
    ids = {_index(client, new_page, wait_done, ["common", f"x{i}"], 600 + i) for i in range(3)}
    first = client.get("/search", params={"q": "common", "limit": 2}).json()
    second = client.get("/search", params={"q": "common", "limit": 2, "offset": 2}).json()
    assert first["total"] == second["total"] == 3
    assert len(first["hits"]) == 2 and len(second["hits"]) == 1
    assert {h["doc_id"] for h in first["hits"] + second["hits"]} == ids


def test_search_with_no_match_is_empty_not_an_error(client) -> None:
    r = client.get("/search", params={"q": "nothinghere"})
    assert r.status_code == 200
    assert r.json() == {"total": 0, "hits": []}


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({"q": "x" * 257}, "api.max_query_length"),
        ({"q": "   "}, "empty"),
        ({"q": "a", "limit": 101}, "index.max_limit"),
        ({"q": "a", "limit": 0}, ""),
        ({"q": "a", "offset": -1}, ""),
        ({"q": "a", "min_confidence": 2}, ""),
        ({}, ""),
    ],
)
def test_bad_search_parameters_are_422_with_a_message(client, params, needle) -> None:
    r = client.get("/search", params=params)
    assert r.status_code == 422
    assert needle in str(r.json()["detail"])


def test_query_errors_from_the_index_are_422_with_the_same_message(client, archive) -> None:
    def refuse(*args, **kwargs):
        raise QueryError("cannot parse query 'x((': unbalanced parenthesis")

    archive.search = refuse
    r = client.get("/search", params={"q": "x(("})
    assert r.status_code == 422
    assert r.json() == {"detail": "cannot parse query 'x((': unbalanced parenthesis"}


@pytest.mark.parametrize("q", ['"unclosed phrase', "(", "text:", "AND", "[a TO", "*", "a~^"])
def test_malformed_queries_never_fail_the_server(client, q) -> None:
    r = client.get("/search", params={"q": q})
    assert r.status_code in (200, 422)
    assert "total" in r.json() or r.json()["detail"]
