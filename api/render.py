"""Page images for the web: one page of an original, scaled, with word boxes drawn.

Boxes arrive in the transcript's pixel space (the page as the recognizer saw it, after
EXIF rotation); they are scaled to the served size, so a thumbnail and a full page show
the same boxes. Lossless originals are served as PNG, everything else as JPEG. Rendered
images are kept in a small in-memory LRU cache because the same thumbnails are asked for
again and again by the search page.
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageOps

BBox = tuple[int, int, int, int]

# Box colours: a solid outline and a translucent fill (RGB / RGBA).
HIGHLIGHT_OUTLINE = (255, 110, 0)
HIGHLIGHT_FILL = (255, 200, 0, 70)
_LOSSLESS = {"image/png", "image/gif", "image/bmp"}


class RenderError(ValueError):
    """The original could not be rendered (unreadable file or page out of range)."""


@dataclass(frozen=True)
class RenderedImage:
    data: bytes
    media_type: str
    width: int
    height: int


def _open_page(path: Path, media_type: str, page: int, max_side: int) -> tuple[Image.Image, int]:
    """The page as an RGB image no larger than needed for `max_side`, and the page count."""
    if media_type == "application/pdf":
        import pypdfium2 as pdfium

        # pdfium is not thread-safe: share the page loader's lock.
        from recognizer.preprocess import PDF_LOCK

        with PDF_LOCK:
            pdf = pdfium.PdfDocument(str(path))
            try:
                count = len(pdf)
                if not 0 <= page < count:
                    raise RenderError(f"page {page} does not exist; the document has {count} pages")
                p = pdf[page]
                w_pt, h_pt = p.get_size()
                scale = max_side / max(w_pt, h_pt, 1.0)
                im = p.render(scale=scale).to_pil().convert("RGB")
                p.close()
            finally:
                pdf.close()
        return im, count
    with Image.open(path) as src:
        count = getattr(src, "n_frames", 1)
        if not 0 <= page < count:
            raise RenderError(f"page {page} does not exist; the document has {count} pages")
        if page:
            src.seek(page)
        if src.format == "JPEG":
            src.draft("RGB", (max_side, max_side))  # decode at a reduced scale: much faster
        return ImageOps.exif_transpose(src).convert("RGB"), count


def render_page(
    path: Path,
    media_type: str,
    *,
    page: int = 0,
    page_size: tuple[int, int] | None = None,
    boxes: Sequence[BBox] = (),
    max_side: int = 2400,
    jpeg_quality: int = 85,
) -> RenderedImage:
    """Render one page of the original at `path` with `boxes` outlined.

    `page_size` is the (width, height) the boxes are measured in (the transcript's page
    size); when None, the boxes are taken to be in the original's own pixels.
    """
    try:
        im, _ = _open_page(path, media_type, page, max_side)
    except RenderError:
        raise
    except Exception as exc:
        raise RenderError(f"the original could not be read as an image: {exc}") from exc
    # The size boxes refer to, before scaling down for serving.
    if page_size is None:
        page_size = _natural_size(path, media_type, page) or im.size
    if max(im.size) > max_side:
        im = ImageOps.contain(im, (max_side, max_side), Image.Resampling.LANCZOS)
    if boxes:
        im = _draw_boxes(im, boxes, page_size)
    out = io.BytesIO()
    if media_type in _LOSSLESS:
        im.save(out, "PNG", optimize=False, compress_level=3)
        kind = "image/png"
    else:
        im.save(out, "JPEG", quality=jpeg_quality)
        kind = "image/jpeg"
    return RenderedImage(out.getvalue(), kind, im.width, im.height)


def _natural_size(path: Path, media_type: str, page: int) -> tuple[int, int] | None:
    if media_type == "application/pdf":
        return None
    with Image.open(path) as im:
        if page:
            im.seek(page)
        w, h = im.size
        orientation = im.getexif().get(0x0112, 1)
    return (h, w) if orientation in (5, 6, 7, 8) else (w, h)


def _draw_boxes(im: Image.Image, boxes: Sequence[BBox], page_size: tuple[int, int]) -> Image.Image:
    sx = im.width / max(page_size[0], 1)
    sy = im.height / max(page_size[1], 1)
    line = max(2, round(min(im.size) / 250))
    overlay = Image.new("RGBA", im.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    rects = []
    for x, y, w, h in boxes:
        x0, y0 = round(x * sx), round(y * sy)
        x1, y1 = max(x0 + 1, round((x + w) * sx) - 1), max(y0 + 1, round((y + h) * sy) - 1)
        rects.append((x0, y0, x1, y1))
        draw.rectangle((x0, y0, x1, y1), fill=HIGHLIGHT_FILL)
    out = Image.alpha_composite(im.convert("RGBA"), overlay).convert("RGB")
    draw = ImageDraw.Draw(out)
    for r in rects:
        draw.rectangle(r, outline=HIGHLIGHT_OUTLINE, width=line)
    return out


class ImageCache:
    """A thread-safe LRU of rendered images, bounded by entry count and total bytes."""

    def __init__(self, max_entries: int, max_bytes: int = 64 * 1024 * 1024) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple, RenderedImage] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: tuple) -> RenderedImage | None:
        with self._lock:
            item = self._items.get(key)
            if item is not None:
                self._items.move_to_end(key)
            return item

    def put(self, key: tuple, item: RenderedImage) -> None:
        if self.max_entries <= 0 or len(item.data) > self.max_bytes:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= len(old.data)
            self._items[key] = item
            self._bytes += len(item.data)
            while len(self._items) > self.max_entries or self._bytes > self.max_bytes:
                _, dropped = self._items.popitem(last=False)
                self._bytes -= len(dropped.data)

    def drop(self, prefix: str) -> None:
        """Forget every entry whose key starts with `prefix` (a deleted document)."""
        with self._lock:
            for key in [k for k in self._items if k[0] == prefix]:
                self._bytes -= len(self._items.pop(key).data)
