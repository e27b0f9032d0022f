"""POST /documents with bad input: every case is a 4xx (or 202 then `failed` with a reason),
never a 5xx, nothing is left behind, and the next good upload is still indexed."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.upload import sanitize_filename


def _png_header(width: int, height: int) -> bytes:
    """A PNG signature and IHDR chunk claiming `width` x `height`, with no pixel data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return (
        b"\x89PNG\r\n\x1a\n"
        + struct.pack(">I", len(ihdr))
        + chunk
        + struct.pack(">I", zlib.crc32(chunk))
    )


def _upload(client: TestClient, data: bytes, name: str = "page.png", ctype: str = "image/png"):
    return client.post("/documents", files={"file": (name, data, ctype)})


def _leftovers(settings) -> list[Path]:
    tmp = settings.data_dir / "tmp" / "uploads"
    return list(tmp.iterdir()) if tmp.exists() else []


BAD_UPLOADS = {
    "empty": (b"", "image/png", {422}),
    "not an image": (b"#!/bin/sh\necho hello\n" * 20, "image/png", {415}),
    "html named png": (b"<html><body>hi</body></html>", "image/png", {415}),
    "60000x60000 png header": (_png_header(60000, 60000), "image/png", {413, 422}),
    "3000x3000 png header (over max_pixels)": (_png_header(3000, 3000), "image/png", {413}),
}


@pytest.mark.parametrize("case", sorted(BAD_UPLOADS))
def test_bad_upload_is_refused_with_a_4xx_and_a_message(client, settings, case) -> None:
    data, ctype, codes = BAD_UPLOADS[case]
    r = _upload(client, data, ctype=ctype)
    assert r.status_code in codes, r.text
    assert r.json()["detail"]
    assert _leftovers(settings) == []
    assert client.get("/documents").json()["total"] == 0


def test_over_size_upload_is_413_and_its_partial_file_removed(client, settings) -> None:
    data = b"\x89PNG\r\n\x1a\n" + b"\0" * (settings.upload.max_bytes + 10)
    r = _upload(client, data)
    assert r.status_code == 413
    assert "upload.max_bytes" in r.json()["detail"]
    assert _leftovers(settings) == []


def test_size_limit_is_enforced_while_streaming_without_content_length(client, settings) -> None:
    """A chunked body (no Content-Length to refuse early) is refused once the file passes
    the limit, by the streaming parser's byte count."""
    boundary = "XyZ"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.png"\r\n'
        "Content-Type: image/png\r\n\r\n"
    ).encode()

    def body():
        yield head
        chunk = b"\0" * 65536
        for _ in range(settings.upload.max_bytes // 65536 + 50):
            yield chunk
        yield f"\r\n--{boundary}--\r\n".encode()

    r = client.post(
        "/documents",
        content=body(),
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert r.status_code == 413
    assert _leftovers(settings) == []


def test_truncated_image_is_accepted_then_fails_with_a_reason(client, new_page, wait_done) -> None:
    page = new_page(["cut"], width=610)
    r = _upload(client, page.png[: len(page.png) // 2], "cut.png")
    if r.status_code == 422:  # refused up front is also fine
        assert r.json()["detail"]
        return
    assert r.status_code == 202
    doc = wait_done(client, r.json()["doc_id"])
    assert doc["status"] == "failed"
    assert doc["error"]
    assert doc["transcript"] is None
    image = client.get(f"/documents/{doc['doc_id']}/image")
    assert image.status_code in (200, 422)  # what can be decoded, or a reason; never a 5xx


def test_path_traversal_filename_is_reduced_to_its_base_name(client, settings, new_page) -> None:
    page = new_page(["safe"], width=620)
    r = _upload(client, page.png, "../../etc/passwd.png")
    assert r.status_code == 202
    doc = client.get(f"/documents/{r.json()['doc_id']}").json()
    assert doc["filename"] == "passwd.png"
    assert not (settings.data_dir.parent / "etc").exists()


def test_type_comes_from_content_not_from_name_or_header(client, new_page) -> None:
    page = new_page(["sniffed"], width=630)
    r = _upload(client, page.png, "notes.txt", ctype="text/plain")
    assert r.status_code == 202
    doc = client.get(f"/documents/{r.json()['doc_id']}").json()
    assert doc["media_type"] == "image/png"


def test_form_without_file_field_is_422(client) -> None:
    r = client.post("/documents", files={"other": ("a.png", b"123")})
    assert r.status_code == 422
    assert "'file'" in r.json()["detail"]


def test_non_multipart_body_is_422_with_how_to(client) -> None:
    r = client.post("/documents", content=b"\x89PNG...", headers={"Content-Type": "image/png"})
    assert r.status_code == 422
    assert "multipart/form-data" in r.json()["detail"]


def test_service_keeps_indexing_after_every_bad_upload(client, new_page, wait_done) -> None:
    for data, ctype, _ in BAD_UPLOADS.values():
        assert _upload(client, data, ctype=ctype).status_code < 500
    page = new_page(["survivor"], width=640)
    r = _upload(client, page.png, "good.png")
    assert r.status_code == 202
    assert wait_done(client, r.json()["doc_id"])["status"] == "indexed"
    assert client.get("/search", params={"q": "survivor"}).json()["total"] == 1


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("../../etc/passwd.png", "passwd.png"),
        ("C:\\Users\\me\\scan 1.jpg", "scan 1.jpg"),
        ("a\x00b\x1fc\u202e.png", "abc.png"),
        ("  ..hidden.png  ", "hidden.png"),
        ("", ""),
        ("../", ""),
        ("x" * 300 + ".tiff", "x" * 195 + ".tiff"),
    ],
)
def test_sanitize_filename(raw: str, clean: str) -> None:
    assert sanitize_filename(raw, max_length=200) == clean


def test_partial_uploads_left_by_a_crash_are_removed_at_start(settings, archive) -> None:
    from api.main import create_app
    from api.upload import upload_dir

    folder = upload_dir(settings.data_dir)
    folder.mkdir(parents=True)
    (folder / "upload-abc.part").write_bytes(b"half a file")
    with TestClient(create_app(settings, archive)):
        assert list(folder.iterdir()) == []
