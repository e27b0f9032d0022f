"""Page loading (formats, limits, bad files, EXIF) and page normalisation."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from recognizer.preprocess import (
    CorruptImage,
    ImageLoadError,
    ImageTooLarge,
    UnsupportedImage,
    estimate_skew,
    find_quad,
    is_inverted,
    load_pages,
    normalize_background,
    prepare_page,
    rectify,
    rotate,
    sniff_media_type,
    to_gray,
)

MAX = 10_000_000


def _picture(w: int = 40, h: int = 30) -> Image.Image:
    """An RGB picture whose top-left pixel is red and the rest blue-ish."""
    a = np.zeros((h, w, 3), np.uint8)
    a[:] = (20, 40, 200)
    a[0, 0] = (255, 0, 0)
    return Image.fromarray(a)


@pytest.mark.parametrize(
    ("fmt", "suffix", "media"),
    [
        ("PNG", ".png", "image/png"),
        ("JPEG", ".jpg", "image/jpeg"),
        ("TIFF", ".tif", "image/tiff"),
        ("BMP", ".bmp", "image/bmp"),
        ("WEBP", ".webp", "image/webp"),
        ("GIF", ".gif", "image/gif"),
    ],
)
def test_every_raster_format_loads_as_one_bgr_page(
    tmp_path: Path, fmt: str, suffix: str, media: str
) -> None:
    path = tmp_path / f"page{suffix}"
    _picture().save(path, fmt)
    assert sniff_media_type(path.read_bytes()[:64]) == media
    pages = load_pages(path, MAX)
    assert len(pages) == 1
    assert pages[0].shape == (30, 40, 3) and pages[0].dtype == np.uint8
    if fmt in ("PNG", "TIFF", "BMP"):  # lossless: channel order is BGR
        assert tuple(pages[0][5, 5]) == (200, 40, 20)
    # Bytes work like paths.
    assert load_pages(path.read_bytes(), MAX)[0].shape == (30, 40, 3)


def test_multipage_tiff_gives_every_page(tmp_path: Path) -> None:
    path = tmp_path / "doc.tif"
    frames = [Image.new("L", (20 + i, 10), 255 - 60 * i) for i in range(3)]
    frames[0].save(path, save_all=True, append_images=frames[1:])
    pages = load_pages(path, MAX)
    assert [p.shape[:2] for p in pages] == [(10, 20), (10, 21), (10, 22)]


def test_pdf_pages_are_rendered(tmp_path: Path) -> None:
    path = tmp_path / "doc.pdf"
    ims = [Image.new("RGB", (200, 100), "white"), Image.new("RGB", (100, 200), "black")]
    ims[0].save(path, "PDF", resolution=100, save_all=True, append_images=ims[1:])
    assert sniff_media_type(path.read_bytes()[:16]) == "application/pdf"
    pages = load_pages(path, MAX)
    assert len(pages) == 2
    # 2 x 1 inch at 200 dpi; the second page is portrait and dark.
    assert pages[0].shape[:2] == (200, 400)
    assert pages[1].shape[0] > pages[1].shape[1]
    assert pages[0].mean() > 200 and pages[1].mean() < 50


def test_pdf_render_is_capped_by_max_pixels(tmp_path: Path) -> None:
    path = tmp_path / "big.pdf"
    Image.new("RGB", (1000, 1000), "white").save(path, "PDF", resolution=10)
    (page,) = load_pages(path, max_pixels=250_000)
    assert page.shape[0] * page.shape[1] <= 250_000


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    path = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: rotate 90 degrees clockwise to view
    Image.new("RGB", (60, 20), "white").save(path, "JPEG", exif=exif)
    (page,) = load_pages(path, MAX)
    assert page.shape[:2] == (60, 20)


def test_transparency_is_composited_on_white(tmp_path: Path) -> None:
    path = tmp_path / "alpha.png"
    Image.new("RGBA", (10, 10), (0, 0, 0, 0)).save(path)
    (page,) = load_pages(path, MAX)
    assert page.min() == 255


def test_sixteen_bit_images_are_scaled_to_eight(tmp_path: Path) -> None:
    path = tmp_path / "deep.png"
    a = np.zeros((8, 8), np.uint16)
    a[:, 4:] = 60000
    Image.fromarray(a).save(path)
    (page,) = load_pages(path, MAX)
    assert page[0, 0, 0] == 0 and page[0, 7, 0] == 255


def _png_claiming(w: int, h: int) -> bytes:
    """A tiny PNG whose header claims w x h pixels (a decompression bomb's signature)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def test_decompression_bomb_is_refused_before_decoding(tmp_path: Path) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(_png_claiming(60000, 60000))
    assert path.stat().st_size < 200
    with pytest.raises(ImageTooLarge, match="pixel"):
        load_pages(path, 80_000_000)


def test_pixel_limit_applies_to_ordinary_images(tmp_path: Path) -> None:
    path = tmp_path / "a.png"
    _picture(100, 100).save(path)
    with pytest.raises(ImageTooLarge, match="100x100 = 10000 pixels"):
        load_pages(path, max_pixels=9_999)


def test_byte_limit_is_checked(tmp_path: Path) -> None:
    path = tmp_path / "a.png"
    _picture().save(path)
    with pytest.raises(ImageTooLarge, match="bytes"):
        load_pages(path, MAX, max_bytes=10)
    with pytest.raises(ImageTooLarge, match="bytes"):
        load_pages(path.read_bytes(), MAX, max_bytes=10)


def test_truncated_image_is_corrupt(tmp_path: Path) -> None:
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (200, 200, 3), np.uint8)).save(
        buf, "PNG"
    )
    data = buf.getvalue()
    with pytest.raises(CorruptImage):
        load_pages(data[: len(data) // 2], MAX)


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"", CorruptImage),
        (b"hello, this is a text file\n", UnsupportedImage),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, CorruptImage),
        (b"%PDF-1.4\n garbage", CorruptImage),
        (b"\xff\xd8\xff\xe0" + b"junk" * 10, CorruptImage),
    ],
    ids=["empty", "text", "bad-png", "bad-pdf", "bad-jpeg"],
)
def test_bad_files_raise_clear_errors(tmp_path: Path, data: bytes, error: type) -> None:
    path = tmp_path / "file.bin"
    path.write_bytes(data)
    with pytest.raises(error) as info:
        load_pages(path, MAX)
    assert isinstance(info.value, ImageLoadError) and isinstance(info.value, ValueError)
    assert str(path) in str(info.value)


def test_missing_file_is_a_load_error(tmp_path: Path) -> None:
    with pytest.raises(ImageLoadError, match="no such file"):
        load_pages(tmp_path / "nope.png", MAX)


def test_sniff_rejects_unknown_bytes() -> None:
    assert sniff_media_type(b"GIF89a....") == "image/gif"
    assert sniff_media_type(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "image/webp"
    assert sniff_media_type(b"PK\x03\x04") is None
    assert sniff_media_type(b"") is None


# ------------------------------------------------------------------ normalising


def test_to_gray_keeps_coloured_ink_dark() -> None:
    img = np.full((4, 4, 3), 255, np.uint8)
    img[0, 0] = (0, 255, 255)  # yellow marker (BGR)
    assert to_gray(img)[0, 0] == 0
    assert to_gray(img)[1, 1] == 255


def test_background_normalisation_removes_a_shadow() -> None:
    h, w = 200, 300
    shade = np.linspace(1.0, 0.45, w, dtype=np.float32)[None, :].repeat(h, 0)
    page = (235 * shade).astype(np.uint8)
    cv2.putText(page, "ink", (20, 120), cv2.FONT_HERSHEY_SIMPLEX, 2.5, 0, 6)
    out = normalize_background(page)
    paper = out[:, 250:]
    assert paper.mean() > 235  # the dark side of the paper is white again
    assert out[100:120, 30:60].min() < 60  # the ink stays dark


def test_blackboard_is_detected_as_inverted() -> None:
    board = np.full((100, 100), 40, np.uint8)
    board[40:50, 10:90] = 230
    assert is_inverted(board)
    assert not is_inverted(255 - board)
    page = prepare_page(cv2.cvtColor(board, cv2.COLOR_GRAY2BGR), rectify_quad=False)
    assert page.inverted and page.gray[45, 50] < 100 and page.gray[10, 10] > 200


def test_skew_is_estimated_and_undone() -> None:
    page = np.full((500, 700), 255, np.uint8)
    for i in range(7):
        cv2.putText(page, "level lines of text", (30, 60 + 60 * i), 0, 1.3, 0, 3)
    tilted, _ = rotate(page, 5.0)
    assert estimate_skew((tilted < 128).astype(np.uint8)) == pytest.approx(5.0, abs=0.3)
    prepared = prepare_page(tilted, rectify_quad=False)
    assert prepared.skew == pytest.approx(5.0, abs=0.3)
    # A point on the prepared page maps back onto the tilted original.
    box = prepared.box_to_original((100, 100, 10, 10))
    assert 0 <= box[0] < tilted.shape[1] and 0 <= box[1] < tilted.shape[0]


def _board_photo() -> tuple[np.ndarray, np.ndarray]:
    """A white board seen at an angle on a dark wall; returns (photo, true corners)."""
    photo = np.full((600, 800, 3), (70, 60, 50), np.uint8)
    quad = np.array([[150, 100], [650, 130], [620, 480], [120, 450]], np.float32)
    cv2.fillConvexPoly(photo, quad.astype(np.int32), (235, 235, 235))
    return photo, quad


def test_board_quadrilateral_is_found() -> None:
    photo, quad = _board_photo()
    found = find_quad(photo)
    assert found is not None
    assert np.abs(found - quad).max() < 8


def test_glare_on_the_wall_beside_the_board_is_not_taken_into_its_outline() -> None:
    """A bright glare running into a corner makes a larger bright outline; the board's
    own edges are the clear ones."""
    photo = np.full((600, 800, 3), 70, np.uint8)
    board = np.array([[200, 150], [650, 170], [640, 480], [210, 470]], np.float32)
    cv2.fillConvexPoly(photo, board.astype(np.int32), (225, 225, 225))
    yy, xx = np.mgrid[0:600, 0:800]
    glare = np.exp(-(((xx - 170) / 160.0) ** 2 + ((yy - 120) / 110.0) ** 2)) * 170
    photo = np.clip(photo + glare[:, :, None], 0, 255).astype(np.uint8)
    found = find_quad(photo)
    assert found is not None
    assert np.abs(found - board).max() < 8


def test_board_reaching_two_edges_of_the_photo_is_found() -> None:
    """A board photographed close up, its top and left sides just inside the picture."""
    photo = np.full((600, 800, 3), (70, 60, 50), np.uint8)
    quad = np.array([[9, 11], [700, 8], [690, 560], [8, 520]], np.float32)
    cv2.fillConvexPoly(photo, quad.astype(np.int32), (235, 235, 235))
    found = find_quad(photo)
    assert found is not None
    assert np.abs(found - quad).max() < 8


def test_photo_frame_itself_is_no_board() -> None:
    """A bright picture with a dark rim all round: the rim is no board outline."""
    photo = np.full((600, 800, 3), 230, np.uint8)
    cv2.rectangle(photo, (0, 0), (799, 599), (40, 40, 40), 6)
    assert find_quad(photo) is None


def test_an_outline_running_along_the_picture_edge_is_no_board() -> None:
    """A lit part of a page scan cut off by a shadow: three of its corners lie on the
    picture's edge, so it is no board to rectify to."""
    photo = np.full((600, 800, 3), 205, np.uint8)
    quad = np.array([[350, 60], [799, 0], [799, 599], [120, 599]], np.int32)
    cv2.fillConvexPoly(photo, quad, (245, 245, 245))
    assert find_quad(photo) is None


def test_plain_scan_has_no_quadrilateral() -> None:
    page = np.full((400, 300, 3), 240, np.uint8)
    cv2.putText(page, "a plain page", (20, 200), 0, 1, (0, 0, 0), 2)
    assert find_quad(page) is None


def test_rectification_maps_back_to_the_original_corners() -> None:
    photo, quad = _board_photo()
    warped, to_orig = rectify(photo, quad)
    h, w = warped.shape[:2]
    corners = np.array([[[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]]], np.float64)
    back = cv2.perspectiveTransform(corners, to_orig)[0]
    assert np.abs(back - quad).max() < 1.0
    # The board fills the rectified image.
    assert warped[5:-5, 5:-5].mean() > 200


def test_prepare_page_rectifies_and_maps_boxes_to_the_photo() -> None:
    photo, quad = _board_photo()
    prepared = prepare_page(photo)
    assert prepared.quad is not None
    h, w = prepared.gray.shape
    x, y, bw, bh = prepared.box_to_original((0, 0, w, h))
    assert abs(x - 120) < 10 and abs(y - 100) < 10
    assert abs(x + bw - 650) < 10 and abs(y + bh - 480) < 10


def test_prepare_page_rejects_empty_arrays() -> None:
    with pytest.raises(ValueError, match="non-empty"):
        prepare_page(np.zeros((0, 0), np.uint8))
