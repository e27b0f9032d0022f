"""Page images in, clean grayscale pages out.

Two jobs. Loading: any accepted file (PNG, JPEG, TIFF with several pages, BMP, WebP,
GIF, PDF) becomes a list of BGR uint8 pages with EXIF orientation applied, with the
pixel count checked from the header before anything is decoded. Normalising: a page
photo (a whiteboard at an angle with glare and shadows, coloured markers, a
blackboard) becomes dark ink on a flat white background, rectified and deskewed,
together with the homography back to the original pixels so boxes found on the clean
page can be reported where the user sees them.
"""

from __future__ import annotations

import io
import logging
import struct
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, ImageSequence, UnidentifiedImageError

log = logging.getLogger(__name__)

#: Resolution PDF pages are rendered at (capped so a page stays within max_pixels).
PDF_DPI = 200
#: A document with more pages than this is refused (each page is decoded in memory).
MAX_PAGES = 500

_PIL_FORMATS = ("PNG", "JPEG", "TIFF", "BMP", "WEBP", "GIF")
_SUPPORTED = "PNG, JPEG, TIFF, BMP, WebP, GIF or PDF"
#: pdfium is not thread-safe: hold this lock around any pdfium call in this process.
PDF_LOCK = threading.Lock()


class ImageLoadError(ValueError):
    """A file could not be turned into page images; the message says why."""


class ImageTooLarge(ImageLoadError):
    """The file or the image it holds exceeds the configured size limits."""


class UnsupportedImage(ImageLoadError):
    """The file is not in a format inkdex reads."""


class CorruptImage(ImageLoadError):
    """The file claims a supported format but cannot be decoded (empty, truncated, damaged)."""


def sniff_media_type(head: bytes) -> str | None:
    """The media type of a file from its first bytes, or None when it is no format we read."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")):
        return "image/tiff"
    if head.startswith(b"BM") and len(head) >= 14:
        return "image/bmp"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head.lstrip(b"\x00\t\n\r ")[:5] == b"%PDF-":
        return "application/pdf"
    return None


def load_pages(
    source: Path | bytes,
    max_pixels: int,
    max_bytes: int | None = None,
    *,
    pdf_dpi: int = PDF_DPI,
    max_pages: int = MAX_PAGES,
) -> list[np.ndarray]:
    """Decode a file (path or bytes) into its pages as BGR uint8 arrays, EXIF-rotated.

    Multi-page TIFF and PDF give several pages; other formats one (the first frame of an
    animation). Raises `ImageTooLarge`, `UnsupportedImage` or `CorruptImage` (all
    `ImageLoadError`, a `ValueError`) with a message a user can act on.
    """
    name = str(source) if isinstance(source, Path) else "upload"
    data = _read_bytes(source, max_bytes, name)
    if not data:
        raise CorruptImage(f"{name}: the file is empty")
    media = sniff_media_type(data[:64])
    if media is None:
        raise UnsupportedImage(f"{name}: not a supported image (expected {_SUPPORTED})")
    if media == "application/pdf":
        pages = _load_pdf(data, max_pixels, pdf_dpi, max_pages, name)
    else:
        pages = _load_raster(data, max_pixels, max_pages, name)
    if not pages:
        raise CorruptImage(f"{name}: the file holds no pages")
    return pages


def _read_bytes(source: Path | bytes, max_bytes: int | None, name: str) -> bytes:
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        if max_bytes is not None and len(data) > max_bytes:
            raise ImageTooLarge(f"{name}: {len(data)} bytes is over the limit of {max_bytes} bytes")
        return data
    path = Path(source)
    try:
        size = path.stat().st_size
        if max_bytes is not None and size > max_bytes:
            raise ImageTooLarge(f"{name}: {size} bytes is over the limit of {max_bytes} bytes")
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise ImageLoadError(f"{name}: no such file") from exc
    except IsADirectoryError as exc:
        raise ImageLoadError(f"{name}: is a folder, not an image file") from exc
    except PermissionError as exc:
        raise ImageLoadError(f"{name}: permission denied") from exc


def _check_pixels(w: int, h: int, max_pixels: int, name: str) -> None:
    if w <= 0 or h <= 0:
        raise CorruptImage(f"{name}: image has no pixels ({w}x{h})")
    if w * h > max_pixels:
        raise ImageTooLarge(
            f"{name}: {w}x{h} = {w * h} pixels is over the limit of {max_pixels} pixels"
        )


def _load_raster(data: bytes, max_pixels: int, max_pages: int, name: str) -> list[np.ndarray]:
    # Pillow refuses images over 2x MAX_IMAGE_PIXELS in Image.open (before decoding);
    # keep its guard at least as large as ours so our own, clearer check decides.
    if Image.MAX_IMAGE_PIXELS is not None and Image.MAX_IMAGE_PIXELS < max_pixels:
        Image.MAX_IMAGE_PIXELS = max_pixels
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data), formats=_PIL_FORMATS)
        with im:
            multi = im.format == "TIFF"
            frames = ImageSequence.Iterator(im) if multi else [im]
            pages: list[np.ndarray] = []
            for i, frame in enumerate(frames):
                if i >= max_pages:
                    raise ImageTooLarge(f"{name}: more than {max_pages} pages")
                _check_pixels(frame.size[0], frame.size[1], max_pixels, name)
                pages.append(_to_bgr(ImageOps.exif_transpose(frame)))
            return pages
    except Image.DecompressionBombError as exc:
        raise ImageTooLarge(f"{name}: image dimensions are over the pixel limit ({exc})") from exc
    except UnidentifiedImageError as exc:
        raise CorruptImage(f"{name}: looks like an image but cannot be decoded") from exc
    except ImageLoadError:
        raise
    except (OSError, ValueError, SyntaxError, EOFError, struct.error) as exc:
        raise CorruptImage(f"{name}: damaged or truncated image ({exc})") from exc


def _to_bgr(im: Image.Image) -> np.ndarray:
    """Any Pillow mode -> BGR uint8; transparency is composited on white."""
    if im.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        a = np.asarray(im, dtype=np.float32)
        lo, hi = float(a.min()), float(a.max())
        a = (a - lo) / (hi - lo) * 255.0 if hi > lo else np.zeros_like(a)
        gray = a.astype(np.uint8)
        return cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        bg = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        im = Image.alpha_composite(bg, rgba)
    rgb = np.asarray(im.convert("RGB"))
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)


def _load_pdf(
    data: bytes, max_pixels: int, dpi: int, max_pages: int, name: str
) -> list[np.ndarray]:
    import pypdfium2 as pdfium

    pages: list[np.ndarray] = []
    with PDF_LOCK:
        try:
            pdf = pdfium.PdfDocument(data)
        except pdfium.PdfiumError as exc:
            raise CorruptImage(
                f"{name}: cannot open the PDF (damaged or encrypted: {exc})"
            ) from exc
        try:
            n = len(pdf)
            if n > max_pages:
                raise ImageTooLarge(f"{name}: {n} pages is more than the limit of {max_pages}")
            for i in range(n):
                page = pdf[i]
                try:
                    w_pt, h_pt = page.get_size()
                    scale = dpi / 72.0
                    if w_pt * h_pt * scale * scale > max_pixels:
                        scale = (max_pixels / (w_pt * h_pt)) ** 0.5
                    if w_pt * scale < 1 or h_pt * scale < 1:
                        raise CorruptImage(f"{name}: page {i + 1} has no area")
                    bitmap = page.render(scale=scale)
                    rgb = np.asarray(bitmap.to_pil().convert("RGB"))
                    pages.append(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
                finally:
                    page.close()
        except pdfium.PdfiumError as exc:
            raise CorruptImage(f"{name}: cannot render the PDF ({exc})") from exc
        finally:
            pdf.close()
    return pages


# ---------------------------------------------------------------- normalising


@dataclass(frozen=True)
class PreparedPage:
    """A page ready for segmentation: dark ink on flat white, rectified and deskewed.

    `gray` is uint8; `to_original` is the 3x3 homography taking (x, y) in `gray` to
    pixels of the original image (after EXIF rotation), whose size is `original_size`
    (width, height). `quad` is the board/page outline found in the original, if any;
    `skew` the deskew angle in degrees; `inverted` whether light-on-dark was flipped.
    """

    gray: np.ndarray
    to_original: np.ndarray
    original_size: tuple[int, int]
    quad: np.ndarray | None = None
    skew: float = 0.0
    inverted: bool = False

    def box_to_original(self, box: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
        """An (x, y, w, h) box in `gray` as the enclosing (x, y, w, h) box in the original."""
        return map_box(box, self.to_original, self.original_size)


def map_box(
    box: tuple[int, int, int, int], h: np.ndarray, size: tuple[int, int]
) -> tuple[int, int, int, int]:
    """Map an axis-aligned box through homography `h`; clip to `size` (w, h)."""
    x, y, w, hh = box
    pts = np.array([[x, y], [x + w, y], [x + w, y + hh], [x, y + hh]], np.float64)
    out = cv2.perspectiveTransform(pts[None], h)[0]
    x0 = int(np.floor(max(0.0, out[:, 0].min())))
    y0 = int(np.floor(max(0.0, out[:, 1].min())))
    x1 = int(np.ceil(min(float(size[0]), out[:, 0].max())))
    y1 = int(np.ceil(min(float(size[1]), out[:, 1].max())))
    return (x0, y0, max(0, x1 - x0), max(0, y1 - y0))


def to_gray(image: np.ndarray) -> np.ndarray:
    """Channel-aware grayscale: the darkest channel, so coloured ink on white stays dark.

    Luminance would turn a yellow or light-blue marker nearly white; the minimum over
    the channels keeps any saturated colour dark while white paper stays white.
    """
    if image.ndim == 2:
        return image
    if image.shape[2] == 1:
        return image[:, :, 0]
    b, g, r = cv2.split(np.ascontiguousarray(image[:, :, :3]))
    return cv2.min(cv2.min(b, g), r)


def _small(gray: np.ndarray, side: int) -> tuple[np.ndarray, float]:
    h, w = gray.shape[:2]
    f = min(1.0, side / max(h, w))
    if f >= 1.0:
        return gray, 1.0
    return cv2.resize(gray, (max(1, round(w * f)), max(1, round(h * f))), cv2.INTER_AREA), f


def is_inverted(gray: np.ndarray) -> bool:
    """True when the page is light writing on a dark surface (a blackboard, a dark slide)."""
    small, _ = _small(gray, 400)
    # The background is the bulk of the page: its median says which polarity it has.
    return float(np.median(small)) < 100.0


def normalize_background(gray: np.ndarray, ink_scale: float | None = None) -> np.ndarray:
    """Divide out the background (shadows, glare, paper tint): ink dark on flat white.

    The background is estimated by a morphological closing (which removes dark strokes
    narrower than the kernel) on a downscaled copy, then smoothed and scaled back up.
    """
    h, w = gray.shape
    small, f = _small(gray, 600)
    # The kernel must be wider than any pen or marker stroke.
    k = ink_scale * f * 3 if ink_scale else max(small.shape) / 20
    k = int(max(15, min(61, round(k)))) | 1
    bg = cv2.morphologyEx(small, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (k, k)))
    bg = cv2.GaussianBlur(bg, (0, 0), k / 2)
    if f < 1.0:
        bg = cv2.resize(bg, (w, h), interpolation=cv2.INTER_LINEAR)
    bg = np.maximum(bg.astype(np.float32), 1.0)
    out = gray.astype(np.float32) / bg
    # Stretch: paper at 1.0 -> 255; the darkest ink (1st percentile) -> 0.
    lo = float(np.percentile(out[:: max(1, h // 300), :: max(1, w // 300)], 1.0))
    # Never stretch so far that paper texture turns into ink.
    lo = min(lo, 0.6)
    out = (out - lo) / max(1e-3, 0.97 - lo)
    return np.clip(out * 255.0, 0, 255).astype(np.uint8)


def find_quad(image: np.ndarray, min_area: float = 0.2) -> np.ndarray | None:
    """The corners (TL, TR, BR, BL; float32, 4x2) of a clearly visible page or board.

    Looks for convex four-sided outlines covering at least `min_area` of the photo but
    not its whole frame (then there is nothing to rectify), and takes the one whose
    sides all follow clear edges best (large outlines preferred). None otherwise.
    """
    small, f = _small(image, 500)
    small = to_gray(small)
    sh, sw = small.shape
    area = float(sh * sw)
    blur = cv2.GaussianBlur(small, (5, 5), 0)
    candidates: list[np.ndarray] = []
    edges = cv2.Canny(blur, 30, 90)
    edges = cv2.dilate(edges, np.ones((3, 3), np.uint8))
    _, otsu = cv2.threshold(blur, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    otsu = cv2.morphologyEx(otsu, cv2.MORPH_OPEN, np.ones((5, 5), np.uint8))
    for mask in (edges, otsu):
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        for c in sorted(contours, key=cv2.contourArea, reverse=True)[:5]:
            hull = cv2.convexHull(c)
            peri = cv2.arcLength(hull, True)
            for eps in (0.02, 0.03, 0.05):
                approx = cv2.approxPolyDP(hull, eps * peri, True)
                if len(approx) == 4:
                    break
            if len(approx) != 4 or not cv2.isContourConvex(approx):
                continue
            a = cv2.contourArea(approx)
            if a < min_area * area:
                continue
            pts = approx.reshape(4, 2).astype(np.float32)
            # The whole frame (or nearly) is no board to find, nor is an outline that
            # runs along the frame (a shadow or a dark corner cut off by the picture's
            # edge): two of its corners sit on the edge. A board photographed close up
            # keeps its corners (just) inside the picture.
            margin = max(2.0, 0.005 * max(sh, sw))
            on_border = (
                (pts[:, 0] <= margin)
                | (pts[:, 0] >= sw - 1 - margin)
                | (pts[:, 1] <= margin)
                | (pts[:, 1] >= sh - 1 - margin)
            )
            if on_border.sum() >= 2 or a > 0.97 * area or not _plausible_quad(pts, small):
                continue
            candidates.append(pts)
    if not candidates:
        return None
    gx = cv2.Sobel(blur, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(blur, cv2.CV_32F, 0, 1, ksize=3)
    best = max(candidates, key=lambda p: _edge_score(p, gx, gy))
    return order_corners(best / f)


def _edge_score(pts: np.ndarray, gx: np.ndarray, gy: np.ndarray) -> float:
    """How well an outline follows edges: its weakest side's median gradient across it,
    times the square root of its area (of two outlines on equally clear edges, the
    larger is the board; a shadow or the glare on a wall has no clear edge all round)."""
    q = order_corners(pts)
    h, w = gx.shape
    sides = []
    for i in range(4):
        a, b = q[i], q[(i + 1) % 4]
        t = np.linspace(0.05, 0.95, max(2, int(np.linalg.norm(b - a))))[:, None]
        p = a + t * (b - a)
        nx, ny = float(b[1] - a[1]), float(a[0] - b[0])
        norm = float(np.hypot(nx, ny)) or 1.0
        xi = np.clip(p[:, 0].round().astype(int), 0, w - 1)
        yi = np.clip(p[:, 1].round().astype(int), 0, h - 1)
        sides.append(float(np.median(np.abs(gx[yi, xi] * nx + gy[yi, xi] * ny))) / norm)
    return min(sides) * float(np.sqrt(cv2.contourArea(q)))


def _plausible_quad(pts: np.ndarray, gray: np.ndarray) -> bool:
    """Four distinct corners, angles not far from square, and a surface unlike its surround."""
    q = order_corners(pts)
    side = max(gray.shape)
    for i in range(4):
        a, b, c = q[i - 1], q[i], q[(i + 1) % 4]
        u, v = a - b, c - b
        nu, nv = float(np.linalg.norm(u)), float(np.linalg.norm(v))
        if nu < 0.1 * side or nv < 0.1 * side:
            return False
        cos = float(np.dot(u, v)) / (nu * nv)
        if abs(cos) > 0.6:  # interior angle outside ~53..127 degrees
            return False
    mask = np.zeros(gray.shape, np.uint8)
    cv2.fillConvexPoly(mask, q.astype(np.int32), 1)
    inner = cv2.erode(mask, np.ones((9, 9), np.uint8))
    outer = 1 - cv2.dilate(mask, np.ones((9, 9), np.uint8))
    if inner.sum() == 0 or outer.sum() < 0.03 * gray.size:
        return False
    inside = float(np.median(gray[inner > 0]))
    outside = float(np.median(gray[outer > 0]))
    return abs(inside - outside) >= 25.0


def order_corners(pts: np.ndarray) -> np.ndarray:
    """Four points as TL, TR, BR, BL."""
    pts = np.asarray(pts, np.float32).reshape(4, 2)
    s = pts.sum(axis=1)
    d = pts[:, 1] - pts[:, 0]
    return np.array(
        [pts[np.argmin(s)], pts[np.argmin(d)], pts[np.argmax(s)], pts[np.argmax(d)]], np.float32
    )


def rectify(image: np.ndarray, quad: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Warp the quadrilateral `quad` (TL, TR, BR, BL) to an upright rectangle.

    Returns the warped image and the homography from warped to original coordinates.
    """
    q = order_corners(quad)
    w = int(round(max(np.linalg.norm(q[1] - q[0]), np.linalg.norm(q[2] - q[3]))))
    h = int(round(max(np.linalg.norm(q[3] - q[0]), np.linalg.norm(q[2] - q[1]))))
    w, h = max(w, 8), max(h, 8)
    dst = np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], np.float32)
    fwd = cv2.getPerspectiveTransform(q, dst)
    warped = cv2.warpPerspective(
        image, fwd, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    return warped, np.linalg.inv(fwd)


def estimate_skew(ink: np.ndarray, max_angle: float = 10.0) -> float:
    """How far the text lines are rotated from level, degrees, counter-clockwise positive.

    `rotate(page, -angle)` levels them.

    Projection-profile search: the angle at which the row sums of the ink are most
    peaked (sum of squares) wins; coarse 0.5 degree steps, then 0.1 around the best.
    `ink` is a binary or ink-high image.
    """
    small, f = _small(ink, 800)
    ys, xs = np.nonzero(small > 0)
    if len(xs) < 50:
        return 0.0
    if len(xs) > 40000:
        sel = np.random.default_rng(0).choice(len(xs), 40000, replace=False)
        xs, ys = xs[sel], ys[sel]
    xs = xs.astype(np.float64) - small.shape[1] / 2
    ys = ys.astype(np.float64)
    nbins = small.shape[0] + small.shape[1]

    def score(deg: float) -> float:
        t = np.deg2rad(deg)
        # Row of each ink point after rotating the page by -deg.
        r = ys * np.cos(t) - xs * np.sin(t) + small.shape[1] / 2
        hist = np.bincount(np.clip(r.astype(np.int64), 0, nbins - 1), minlength=nbins)
        return float((hist.astype(np.float64) ** 2).sum())

    coarse = np.arange(-max_angle, max_angle + 1e-9, 0.5)
    scores = [score(a) for a in coarse]
    best = float(coarse[int(np.argmax(scores))])
    fine = np.arange(best - 0.4, best + 0.41, 0.1)
    best = float(fine[int(np.argmax([score(a) for a in fine]))])
    # Lines sloping down to the right score best at a positive `best`: a clockwise tilt.
    return round(-best, 2) if abs(best) >= 0.2 else 0.0


def rotate(image: np.ndarray, deg: float) -> tuple[np.ndarray, np.ndarray]:
    """Rotate by `deg` about the centre into an enlarged canvas (white fill).

    Returns the rotated image and the 3x3 map from rotated to input coordinates.
    """
    h, w = image.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), deg, 1.0)
    c, s = abs(m[0, 0]), abs(m[0, 1])
    nw, nh = int(np.ceil(w * c + h * s)), int(np.ceil(w * s + h * c))
    m[0, 2] += nw / 2 - w / 2
    m[1, 2] += nh / 2 - h / 2
    out = cv2.warpAffine(
        image,
        m,
        (nw, nh),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=255,
    )
    fwd = np.vstack([m, [0, 0, 1]])
    return out, np.linalg.inv(fwd)


def prepare_page(
    image: np.ndarray, *, rectify_quad: bool = True, deskew: bool = True
) -> PreparedPage:
    """Original page (BGR or gray uint8) -> `PreparedPage` for segmentation and cropping."""
    if image.ndim not in (2, 3) or image.size == 0:
        raise ValueError(f"expected a non-empty gray or BGR image, got shape {image.shape}")
    oh, ow = image.shape[:2]
    to_orig = np.eye(3)
    quad = find_quad(image) if rectify_quad and min(oh, ow) >= 64 else None
    work = image
    if quad is not None:
        work, to_orig = rectify(image, quad)
        log.debug("rectified page quad %s", quad.round(1).tolist())
    gray = to_gray(work)
    inverted = is_inverted(gray)
    if inverted:
        gray = 255 - gray
    gray = normalize_background(gray)
    skew = 0.0
    if deskew:
        ink = (gray < 128).astype(np.uint8)
        skew = estimate_skew(ink)
        if skew:
            gray, back = rotate(gray, -skew)
            to_orig = to_orig @ back
    return PreparedPage(gray, to_orig, (ow, oh), quad, skew, inverted)
