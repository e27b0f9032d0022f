"""/documents: upload, list, inspect, delete, and see the page with its word boxes."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse

from api.deps import ArchiveDep, ImageCacheDep, MetricsDep, SettingsDep, WriteAuth
from api.highlight import highlight_boxes
from api.render import RenderError, render_page
from api.schemas import (
    DocumentDetail,
    DocumentList,
    DocumentOut,
    DuplicateOut,
    Problem,
    UploadAccepted,
)
from api.upload import MEDIA_EXTENSIONS, UploadError, check_upload, receive_upload, upload_dir
from indexer.archive import DuplicateDocument
from recognizer.preprocess import sniff_media_type

router = APIRouter(prefix="/documents", tags=["documents"])

_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "PNG, JPEG, TIFF, WebP, BMP, GIF or PDF",
                        }
                    },
                }
            }
        },
    }
}
_NOT_FOUND = {404: {"model": Problem, "description": "no document with this id"}}
_AUTH = {401: {"model": Problem, "description": "missing or wrong API token"}}


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=UploadAccepted,
    summary="Upload a page image or PDF",
    openapi_extra=_UPLOAD_BODY,
    responses={
        409: {"model": DuplicateOut, "description": "the same content is already archived"},
        413: {"model": Problem, "description": "file or image larger than the upload limits"},
        415: {"model": Problem, "description": "not an image inkdex can read"},
        422: {"model": Problem, "description": "empty file or malformed form"},
        **_AUTH,
    },
)
async def upload_document(
    request: Request,
    archive: ArchiveDep,
    settings: SettingsDep,
    metrics: MetricsDep,
    _auth: WriteAuth,
) -> UploadAccepted:
    """Store the file and queue it for transcription; poll `GET /documents/{doc_id}`."""
    started = time.perf_counter()
    try:
        received = await receive_upload(
            request,
            upload_dir(settings.data_dir),
            settings.upload.max_bytes,
            settings.upload.max_filename_length,
        )
    except UploadError:
        metrics.uploads.labels("rejected").inc()
        raise
    try:
        media_type = await run_in_threadpool(
            check_upload, received.path, received.size, settings.upload.max_pixels
        )
        filename = received.filename or "upload" + MEDIA_EXTENSIONS.get(media_type, "")
        doc = await run_in_threadpool(archive.add_file, received.path, filename=filename)
    except UploadError:
        metrics.uploads.labels("rejected").inc()
        raise
    except DuplicateDocument:
        metrics.uploads.labels("duplicate").inc()
        raise
    finally:
        received.path.unlink(missing_ok=True)
    metrics.uploads.labels("accepted").inc()
    metrics.upload_seconds.observe(time.perf_counter() - started)
    tracker = getattr(request.app.state, "ingest_tracker", None)
    if tracker is not None:
        tracker.track(doc.doc_id, time.monotonic())
    return UploadAccepted(doc_id=doc.doc_id, status=str(doc.status))


@router.get("", response_model=DocumentList, summary="List documents, newest first")
def list_documents(
    archive: ArchiveDep,
    status_: Annotated[
        Literal["queued", "processing", "indexed", "failed"] | None,
        Query(alias="status", description="only documents in this state"),
    ] = None,
    limit: Annotated[int, Query(ge=0, le=1000, description="documents per page")] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> DocumentList:
    total, docs = archive.list_documents(status=status_, limit=limit, offset=offset)
    return DocumentList(
        total=total,
        limit=limit,
        offset=offset,
        documents=[DocumentOut.from_document(d) for d in docs],
    )


@router.get(
    "/{doc_id}",
    response_model=DocumentDetail,
    summary="A document's metadata, status and transcript",
    responses=_NOT_FOUND,
)
def get_document(doc_id: str, archive: ArchiveDep) -> DocumentDetail:
    doc = archive.get(doc_id)
    return DocumentDetail.from_document(doc, archive.transcript(doc_id))


@router.delete(
    "/{doc_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a document, its original, transcript and index entries",
    responses={**_NOT_FOUND, **_AUTH},
)
def delete_document(
    doc_id: str, archive: ArchiveDep, cache: ImageCacheDep, _auth: WriteAuth
) -> Response:
    doc = archive.get(doc_id)
    archive.delete(doc_id)
    cache.drop(doc.sha256)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/{doc_id}/original",
    summary="Download the original file as it was uploaded",
    response_class=FileResponse,
    responses=_NOT_FOUND,
)
def get_original(doc_id: str, archive: ArchiveDep) -> FileResponse:
    doc = archive.get(doc_id)
    return FileResponse(
        archive.original_path(doc_id),
        media_type=doc.media_type or "application/octet-stream",
        filename=doc.filename,
        content_disposition_type="inline",
    )


@router.get(
    "/{doc_id}/image",
    summary="A page of the document as an image, optionally with hit boxes drawn",
    response_class=Response,
    responses={
        200: {"content": {"image/png": {}, "image/jpeg": {}}, "description": "the page"},
        **_NOT_FOUND,
        422: {"model": Problem, "description": "page out of range or unreadable original"},
    },
)
def get_image(
    doc_id: str,
    request: Request,
    archive: ArchiveDep,
    settings: SettingsDep,
    cache: ImageCacheDep,
    highlight: Annotated[
        str | None, Query(description="outline the words matching this query")
    ] = None,
    size: Annotated[
        int | None, Query(ge=16, le=20_000, description="longest side in pixels (thumbnails)")
    ] = None,
    page: Annotated[int, Query(ge=0, description="page index, from 0")] = 0,
) -> Response:
    """The page (first page by default) rendered to PNG or JPEG.

    Boxes are drawn for the words that match `highlight`; `size` scales the image down
    so its longest side is at most that many pixels (never up).
    """
    doc = archive.get(doc_id)
    path = archive.original_path(doc_id)
    max_side = min(size or settings.api.image_max_side, settings.api.image_max_side)
    pages = archive.transcript(doc_id)
    boxes: list = []
    if highlight and highlight.strip():
        if len(highlight) > settings.api.max_query_length:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                f"the highlight query is {len(highlight)} characters long; the limit is "
                f"{settings.api.max_query_length} (api.max_query_length)",
            )
        boxes = highlight_boxes(
            archive,
            doc_id,
            highlight,
            page,
            pages,
            settings.index.max_limit,
            request.app.state.search_memo,
        )
    page_size = None
    if pages and page < len(pages):
        page_size = (pages[page].width, pages[page].height)
    key = (doc.sha256, page, max_side, page_size, tuple(tuple(b) for b in boxes))
    etag = '"' + hashlib.sha1(repr(key).encode()).hexdigest()[:20] + '"'
    headers = {"ETag": etag, "Cache-Control": "private, max-age=60"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    rendered = cache.get(key)
    if rendered is None:
        media_type = doc.media_type or _sniff_file(path)
        try:
            rendered = render_page(
                path,
                media_type,
                page=page,
                page_size=page_size,
                boxes=boxes,
                max_side=max_side,
                jpeg_quality=settings.api.image_jpeg_quality,
            )
        except RenderError as exc:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
        cache.put(key, rendered)
    return Response(rendered.data, media_type=rendered.media_type, headers=headers)


def _sniff_file(path: Path) -> str:
    with open(path, "rb") as f:
        return sniff_media_type(f.read(64)) or "application/octet-stream"
