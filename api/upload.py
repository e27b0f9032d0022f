"""Receiving an uploaded file: streamed to disk with a size limit, sniffed, size-probed.

The multipart body is parsed as it arrives (`python_multipart`), so a file over
`upload.max_bytes` is refused as soon as the limit is crossed and never held in memory.
The file type comes from the content's magic bytes, never from the name or the
Content-Type the client sent; the image's pixel count is read from its header before
anything decodes it. The client's file name is metadata only: it is reduced to a
harmless base name and never used to build a path.
"""

from __future__ import annotations

import logging
import os
import re
import struct
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from recognizer.preprocess import sniff_media_type

log = logging.getLogger(__name__)

FIELD = "file"
_MULTIPART_OVERHEAD = 64 * 1024  # boundaries, part headers and small fields around the file
_MAX_FIELDS_BYTES = 64 * 1024

MEDIA_EXTENSIONS = {
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/tiff": ".tif",
    "image/webp": ".webp",
    "image/bmp": ".bmp",
    "image/gif": ".gif",
    "application/pdf": ".pdf",
}


class UploadError(Exception):
    """An upload that cannot be accepted; `status_code` is the HTTP answer."""

    status_code = 422

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UploadTooLarge(UploadError):
    status_code = 413


class EmptyUpload(UploadError):
    status_code = 422


class MalformedUpload(UploadError):
    status_code = 422


class UnsupportedUpload(UploadError):
    status_code = 415


def upload_dir(data_dir: Path) -> Path:
    """Where uploads are written while they arrive (same disk as the originals store)."""
    return data_dir / "tmp" / "uploads"


def clear_partial_uploads(data_dir: Path) -> int:
    """Remove uploads a previous process left half-received; returns how many."""
    n = 0
    folder = upload_dir(data_dir)
    if folder.is_dir():
        for part in folder.glob("upload-*.part"):
            part.unlink(missing_ok=True)
            n += 1
    return n


@dataclass(frozen=True)
class ReceivedFile:
    """An uploaded file written to a temporary path; the caller removes `path`."""

    path: Path
    filename: str
    size: int


def sanitize_filename(name: str | None, max_length: int = 200) -> str:
    """Reduce a client-sent file name to a base name without separators or control chars.

    ``"../../etc/passwd.png"`` becomes ``"passwd.png"``; an empty result becomes ``""``.
    The extension is kept when the name has to be shortened.
    """
    if not name:
        return ""
    name = unicodedata.normalize("NFC", name)
    name = re.split(r"[/\\]", name)[-1]
    name = "".join(c for c in name if unicodedata.category(c) not in ("Cc", "Cf", "Cs", "Co"))
    name = re.sub(r"\s+", " ", name).strip(" .")
    if len(name) > max_length:
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) <= 10 and stem:
            name = stem[: max_length - len(ext) - 1].rstrip(" .") + "." + ext
        else:
            name = name[:max_length].rstrip(" .")
    return name


def probe_pixels(path: Path, media_type: str) -> tuple[int, int] | None:
    """Width and height from the image header (first page), without decoding pixels.

    Returns None for PDFs (their pages are rendered at a bounded size) and for headers
    that cannot be read (the worker then reports the file as failed with a reason).
    """
    if media_type == "application/pdf":
        return None
    if media_type == "image/png":  # IHDR is always the first chunk: read it even without data
        with open(path, "rb") as f:
            head = f.read(24)
        if len(head) == 24 and head[12:16] == b"IHDR":
            return struct.unpack(">II", head[16:24])
    from PIL import Image

    try:
        with Image.open(path) as im:
            return im.size
    except Image.DecompressionBombError as exc:
        raise UploadTooLarge(f"the image has too many pixels to be read safely ({exc})") from exc
    except Exception:  # truncated or odd header: leave the verdict to the worker
        log.info("could not read the image header of %s", path.name, exc_info=True)
        return None


def check_upload(path: Path, size: int, max_pixels: int) -> str:
    """Sniff the type and check the pixel count; returns the media type or raises UploadError."""
    if size == 0:
        raise EmptyUpload("the uploaded file is empty")
    with open(path, "rb") as f:
        head = f.read(64)
    media_type = sniff_media_type(head)
    if media_type is None:
        raise UnsupportedUpload(
            "the file is not an image inkdex can read (PNG, JPEG, TIFF, WebP, BMP, GIF or PDF), "
            "judging by its content"
        )
    dims = probe_pixels(path, media_type)
    if dims is not None:
        w, h = dims
        if w * h > max_pixels:
            raise UploadTooLarge(
                f"the image is {w}x{h} = {w * h:,} pixels; the limit is {max_pixels:,} "
                "(upload.max_pixels)"
            )
    return media_type


class _FormReceiver:
    """Multipart callbacks: the `file` part goes to a temporary file, other parts are skipped."""

    def __init__(self, tmp_dir: Path, max_bytes: int) -> None:
        self.tmp_dir = tmp_dir
        self.max_bytes = max_bytes
        self.path: Path | None = None
        self.filename: str | None = None
        self.size = 0
        self.fields_bytes = 0
        self._file = None
        self._writing = False
        self._headers: dict[bytes, bytes] = {}
        self._field = b""
        self._value = b""

    def callbacks(self) -> dict:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": self._header_field,
            "on_header_value": self._header_value,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
        }

    def _part_begin(self) -> None:
        self._headers = {}
        self._writing = False

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._field.lower()] = self._value
        self._field = self._value = b""

    def _headers_finished(self) -> None:
        disposition = self._headers.get(b"content-disposition", b"").decode("latin-1")
        _, params = parse_options_header(disposition)
        name = params.get(b"name", b"").decode("utf-8", "replace")
        if name != FIELD or self._file is not None:
            return
        fd, tmp = tempfile.mkstemp(prefix="upload-", suffix=".part", dir=self.tmp_dir)
        self._file = os.fdopen(fd, "wb")
        self.path = Path(tmp)
        self.filename = params.get(b"filename", b"").decode("utf-8", "replace")
        self._writing = True

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        n = end - start
        if not self._writing:
            self.fields_bytes += n
            if self.fields_bytes > _MAX_FIELDS_BYTES:
                raise MalformedUpload("the form has too much data besides the 'file' field")
            return
        self.size += n
        if self.size > self.max_bytes:
            raise UploadTooLarge(
                f"the file is larger than {self.max_bytes:,} bytes (upload.max_bytes)"
            )
        self._file.write(data[start:end])

    def _part_end(self) -> None:
        if self._writing:
            self._file.close()
            self._writing = False

    def discard(self) -> None:
        if self._file is not None and not self._file.closed:
            self._file.close()
        if self.path is not None:
            self.path.unlink(missing_ok=True)


async def receive_upload(
    request: Request, tmp_dir: Path, max_bytes: int, max_filename_length: int = 200
) -> ReceivedFile:
    """Stream the multipart field `file` of `request` into a temporary file under `tmp_dir`.

    Raises `UploadTooLarge` as soon as the file passes `max_bytes` (the partial file is
    removed), `MalformedUpload` when the body is not multipart or lacks the field.
    """
    ctype, params = parse_options_header(request.headers.get("content-type"))
    if ctype != b"multipart/form-data" or not params.get(b"boundary"):
        raise MalformedUpload(
            "send the file as multipart/form-data in a field named 'file' "
            "(e.g. curl -F file=@page.jpg ...)"
        )
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes + _MULTIPART_OVERHEAD:
        raise UploadTooLarge(
            f"the request is {int(declared):,} bytes; files up to {max_bytes:,} bytes are "
            "accepted (upload.max_bytes)"
        )
    tmp_dir.mkdir(parents=True, exist_ok=True)
    receiver = _FormReceiver(tmp_dir, max_bytes)
    parser = MultipartParser(params[b"boundary"], receiver.callbacks())
    try:
        async for chunk in request.stream():
            if chunk:
                parser.write(chunk)
        parser.finalize()
    except UploadError:
        receiver.discard()
        raise
    except Exception as exc:  # the multipart parser's own errors: a malformed body
        receiver.discard()
        raise MalformedUpload(f"the multipart body could not be read: {exc}") from exc
    if receiver.path is None:
        raise MalformedUpload("the form has no 'file' field")
    if receiver._writing:  # the body ended inside the file part
        receiver.discard()
        raise MalformedUpload("the upload ended before the file was complete")
    return ReceivedFile(
        path=receiver.path,
        filename=sanitize_filename(receiver.filename, max_filename_length),
        size=receiver.size,
    )
