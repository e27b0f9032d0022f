"""/documents: upload, list with paging and status filter, detail, delete, original."""

from __future__ import annotations

from fastapi.testclient import TestClient


def _upload(client: TestClient, data: bytes, name: str = "page.png"):
    return client.post("/documents", files={"file": (name, data, "image/png")})


def test_upload_is_accepted_then_indexed_with_transcript(client, new_page, wait_done) -> None:
    page = new_page(["harbour", "ships"])
    r = _upload(client, page.png, "letter.png")
    assert r.status_code == 202
    body = r.json()
    assert set(body) == {"doc_id", "status"}
    assert body["status"] in ("queued", "processing", "indexed")
    doc = wait_done(client, body["doc_id"])
    assert doc["status"] == "indexed"
    assert doc["filename"] == "letter.png"
    assert doc["media_type"] == "image/png"
    assert doc["error"] is None
    words = [w["text"] for w in doc["transcript"]["pages"][0]["lines"][0]["words"]]
    assert words == ["harbour", "ships"]


def test_duplicate_content_is_409_with_existing_id(client, new_page) -> None:
    page = new_page(["twice"], width=500)
    first = _upload(client, page.png, "a.png").json()["doc_id"]
    r = _upload(client, page.png, "b.png")
    assert r.status_code == 409
    assert r.json()["doc_id"] == first
    assert first in r.json()["detail"]


def test_list_pages_and_filters_by_status(client, new_page, wait_done) -> None:
    ids = [
        _upload(client, new_page([f"w{i}"], width=400 + i).png).json()["doc_id"] for i in range(3)
    ]
    for doc_id in ids:
        wait_done(client, doc_id)
    r = client.get("/documents", params={"limit": 2, "offset": 0})
    assert r.status_code == 200
    body = r.json()
    assert body["total"] == 3 and len(body["documents"]) == 2
    rest = client.get("/documents", params={"limit": 2, "offset": 2}).json()
    assert len(rest["documents"]) == 1
    seen = {d["doc_id"] for d in body["documents"] + rest["documents"]}
    assert seen == set(ids)
    assert client.get("/documents", params={"status": "failed"}).json()["total"] == 0
    assert client.get("/documents", params={"status": "indexed"}).json()["total"] == 3


def test_list_rejects_an_unknown_status(client) -> None:
    assert client.get("/documents", params={"status": "lost"}).status_code == 422


def test_unknown_document_is_404_everywhere(client) -> None:
    for path in ("/documents/nope", "/documents/nope/image", "/documents/nope/original"):
        r = client.get(path)
        assert r.status_code == 404, path
        assert "nope" in r.json()["detail"]
    assert client.delete("/documents/nope").status_code == 404


def test_delete_removes_the_document(client, new_page, wait_done) -> None:
    doc_id = _upload(client, new_page(["gone"], width=520).png).json()["doc_id"]
    wait_done(client, doc_id)
    r = client.delete(f"/documents/{doc_id}")
    assert r.status_code == 204 and r.content == b""
    assert client.get(f"/documents/{doc_id}").status_code == 404
    assert client.get("/search", params={"q": "gone"}).json()["total"] == 0


def test_original_is_served_byte_for_byte(client, new_page) -> None:
    page = new_page(["original"], width=530)
    doc_id = _upload(client, page.png, "orig.png").json()["doc_id"]
    r = client.get(f"/documents/{doc_id}/original")
    assert r.status_code == 200
    assert r.content == page.png
    assert r.headers["content-type"] == "image/png"
    assert "orig.png" in r.headers["content-disposition"]
