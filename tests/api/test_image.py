"""GET /documents/{id}/image: the page, scaled for thumbnails, with hit boxes drawn."""

from __future__ import annotations

import io

import numpy as np
from fastapi.testclient import TestClient
from PIL import Image

from api.render import HIGHLIGHT_OUTLINE


def _indexed(client: TestClient, new_page, wait_done, words, width=700, height=160):
    page = new_page(words, width=width, height=height)
    doc_id = client.post("/documents", files={"file": ("p.png", page.png)}).json()["doc_id"]
    assert wait_done(client, doc_id)["status"] == "indexed"
    return doc_id, page


def _rgb(resp) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(resp.content)).convert("RGB")).astype(int)


def _outline_pixels(rgb: np.ndarray, box, scale: float = 1.0) -> int:
    x, y, w, h = (round(v * scale) for v in box)
    region = rgb[y : y + h, x : x + w]
    close = np.abs(region - np.array(HIGHLIGHT_OUTLINE)).sum(axis=2) < 60
    return int(close.sum())


def test_page_without_highlight_has_no_box_colour(client, new_page, wait_done) -> None:
    doc_id, page = _indexed(client, new_page, wait_done, ["plain", "page"], width=710)
    r = client.get(f"/documents/{doc_id}/image")
    assert r.status_code == 200
    assert r.headers["content-type"] == "image/png"
    rgb = _rgb(r)
    assert rgb.shape[:2] == (page.height, page.width)
    for _, box in page.words:
        assert _outline_pixels(rgb, box) == 0


def test_highlight_draws_a_box_where_the_word_is_and_only_there(
    client, new_page, wait_done
) -> None:
    doc_id, page = _indexed(client, new_page, wait_done, ["quill", "harbour", "dawn"], width=720)
    r = client.get(f"/documents/{doc_id}/image", params={"highlight": "harbour"})
    assert r.status_code == 200
    rgb = _rgb(r)
    boxes = dict(page.words)
    x, y, w, h = boxes["harbour"]
    # The outline runs along the word's box: its colour is found in the box's border band.
    assert _outline_pixels(rgb, boxes["harbour"]) > 2 * (w + h)
    assert _outline_pixels(rgb, boxes["quill"]) == 0
    assert _outline_pixels(rgb, boxes["dawn"]) == 0


def test_thumbnail_is_scaled_and_keeps_the_box_on_the_word(client, new_page, wait_done) -> None:
    doc_id, page = _indexed(client, new_page, wait_done, ["tiny", "thumb"], width=730)
    r = client.get(f"/documents/{doc_id}/image", params={"highlight": "thumb", "size": 320})
    assert r.status_code == 200
    rgb = _rgb(r)
    assert max(rgb.shape[:2]) == 320
    scale = 320 / page.width
    assert _outline_pixels(rgb, dict(page.words)["thumb"], scale) > 20
    assert _outline_pixels(rgb, dict(page.words)["tiny"], scale) == 0


def test_image_is_cacheable_with_an_etag(client, new_page, wait_done) -> None:
    doc_id, _ = _indexed(client, new_page, wait_done, ["etag"], width=740)
    first = client.get(f"/documents/{doc_id}/image", params={"size": 100})
    again = client.get(
        f"/documents/{doc_id}/image",
        params={"size": 100},
        headers={"If-None-Match": first.headers["etag"]},
    )
    assert again.status_code == 304


def test_page_out_of_range_is_422(client, new_page, wait_done) -> None:
    doc_id, _ = _indexed(client, new_page, wait_done, ["one"], width=750)
    r = client.get(f"/documents/{doc_id}/image", params={"page": 3})
    assert r.status_code == 422
    assert "page 3" in r.json()["detail"]


def test_jpeg_original_is_served_as_jpeg(client, recognizer) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (300, 200), "white").save(buf, "JPEG")
    doc_id = client.post("/documents", files={"file": ("p.jpg", buf.getvalue())}).json()["doc_id"]
    r = client.get(f"/documents/{doc_id}/image", params={"size": 150})
    assert r.status_code == 200
    assert r.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(r.content)).size == (150, 100)


def test_pdf_pages_are_rendered_one_at_a_time(client) -> None:
    buf = io.BytesIO()
    first = Image.new("RGB", (400, 300), (255, 255, 255))
    second = Image.new("RGB", (400, 300), (0, 0, 0))
    first.save(buf, "PDF", save_all=True, append_images=[second])
    doc_id = client.post("/documents", files={"file": ("two.pdf", buf.getvalue())}).json()["doc_id"]
    p0 = _rgb(client.get(f"/documents/{doc_id}/image", params={"size": 200}))
    p1 = _rgb(client.get(f"/documents/{doc_id}/image", params={"size": 200, "page": 1}))
    assert max(p0.shape[:2]) == 200
    assert p0.mean() > 200 and p1.mean() < 50


def test_exif_rotated_photo_is_served_upright(client) -> None:
    """Boxes are measured on the page after EXIF rotation, so the image must be rotated too."""
    im = Image.new("RGB", (300, 100), "white")
    im.paste((0, 0, 0), (0, 0, 30, 30))  # a black square in the stored top-left corner
    exif = Image.Exif()
    exif[0x0112] = 6  # display rotated 90 degrees clockwise
    buf = io.BytesIO()
    im.save(buf, "JPEG", exif=exif, quality=95)
    doc_id = client.post("/documents", files={"file": ("rot.jpg", buf.getvalue())}).json()["doc_id"]
    rgb = _rgb(client.get(f"/documents/{doc_id}/image"))
    assert rgb.shape[:2] == (300, 100)  # upright: 100 wide, 300 tall
    assert rgb[5:25, 75:95].mean() < 60  # the square is now top-right
    assert rgb[5:25, 5:25].mean() > 200
