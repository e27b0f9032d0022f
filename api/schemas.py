"""Response and request bodies of the HTTP API, with the examples shown at /docs.

They mirror the indexer's dataclasses (`Document`, `Hit`, `Match`) and the recognizer's
`PageTranscript`; `from_*` helpers convert, so routes never hand-build dicts.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

BBOX_DOC = "word box (x, y, w, h) in pixels of the page after EXIF rotation"


class Health(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "status": "ok",
                    "model": "inkdex-hw-0.1",
                    "index_generation": "0003",
                    "documents": 1250,
                    "queue": 4,
                }
            ]
        }
    )

    status: str = Field(description="'ok' while the service answers")
    model: str | None = Field(description="active model bundle")
    index_generation: str | None = Field(description="index generation answering searches")
    documents: int | None = Field(description="documents in the archive")
    queue: int | None = Field(description="ingest jobs waiting or running")


class MatchOut(BaseModel):
    page: int = Field(description="page index in the document, from 0")
    line: int = Field(description="line index on the page, from 0")
    word: int = Field(description="word index in the line, from 0")
    text: str = Field(description="the word as read (or the alternative reading that matched)")
    bbox: tuple[int, int, int, int] = Field(description=BBOX_DOC)
    confidence: float

    @classmethod
    def from_match(cls, m: Any) -> MatchOut:
        return cls(
            page=m.page,
            line=m.line,
            word=m.word,
            text=m.text,
            bbox=tuple(m.bbox),
            confidence=m.confidence,
        )


class HitOut(BaseModel):
    doc_id: str
    filename: str
    score: float
    snippet: str = Field(
        description="the lines with matches: HTML-escaped text, matched words in <mark></mark>"
    )
    matches: list[MatchOut]

    @classmethod
    def from_hit(cls, h: Any) -> HitOut:
        return cls(
            doc_id=h.doc_id,
            filename=h.filename,
            score=h.score,
            snippet=h.snippet,
            matches=[MatchOut.from_match(m) for m in h.matches],
        )


class SearchOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "total": 1,
                    "hits": [
                        {
                            "doc_id": "3f2a9c0d1e7b",
                            "filename": "letter-1887-03.jpg",
                            "score": 7.31,
                            "snippet": "the <mark>harbour</mark> at dawn, the ships",
                            "matches": [
                                {
                                    "page": 0,
                                    "line": 2,
                                    "word": 1,
                                    "text": "harbour",
                                    "bbox": [412, 388, 161, 52],
                                    "confidence": 0.93,
                                }
                            ],
                        }
                    ],
                }
            ]
        }
    )

    total: int = Field(description="documents matching, over all pages of results")
    hits: list[HitOut]


class UploadAccepted(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"doc_id": "3f2a9c0d1e7b", "status": "queued"}]}
    )

    doc_id: str
    status: str = Field(description="queued, processing, indexed or failed")


class Problem(BaseModel):
    """An error: `detail` says what went wrong and what to do about it."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"detail": "the uploaded file is empty"}]}
    )

    detail: str


class DuplicateOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "detail": "this file is already in the archive as document 3f2a9c0d1e7b",
                    "doc_id": "3f2a9c0d1e7b",
                }
            ]
        }
    )

    detail: str
    doc_id: str = Field(description="the document that already holds this content")


class DocumentOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "doc_id": "3f2a9c0d1e7b",
                    "filename": "letter-1887-03.jpg",
                    "sha256": "9b71d224bd62f3785d96d46ad3ea3d73319bfbc2890caadae2dff72519673ca7",
                    "size": 1843211,
                    "media_type": "image/jpeg",
                    "status": "indexed",
                    "model_version": "inkdex-hw-0.1",
                    "error": None,
                    "pages": 1,
                    "created_at": "2026-11-21T12:00:00Z",
                    "updated_at": "2026-11-21T12:00:04Z",
                }
            ]
        }
    )

    doc_id: str
    filename: str
    sha256: str
    size: int = Field(description="bytes")
    media_type: str | None
    status: str = Field(description="queued, processing, indexed or failed")
    model_version: str | None = Field(description="model bundle that transcribed it")
    error: str | None = Field(description="why ingest failed, when it did")
    pages: int | None
    created_at: datetime | str | None
    updated_at: datetime | str | None

    @classmethod
    def from_document(cls, d: Any) -> DocumentOut:
        return cls(**_document_fields(d))


def _document_fields(d: Any) -> dict[str, Any]:
    return {
        "doc_id": d.doc_id,
        "filename": d.filename,
        "sha256": d.sha256,
        "size": d.size,
        "media_type": d.media_type,
        "status": str(d.status),
        "model_version": d.model_version,
        "error": d.error,
        "pages": d.pages,
        "created_at": d.created_at,
        "updated_at": d.updated_at,
    }


class WordOut(BaseModel):
    bbox: tuple[int, int, int, int] = Field(description=BBOX_DOC)
    text: str
    confidence: float
    alternatives: list[tuple[str, float]] = Field(description="(reading, probability), best first")


class LineOut(BaseModel):
    bbox: tuple[int, int, int, int]
    text: str
    confidence: float
    words: list[WordOut]


class PageOut(BaseModel):
    model_version: str
    width: int = Field(description="page width in pixels; boxes are measured in this space")
    height: int
    lines: list[LineOut]


class TranscriptOut(BaseModel):
    pages: list[PageOut]

    @classmethod
    def from_pages(cls, pages: list[Any]) -> TranscriptOut:
        return cls.model_validate({"pages": [p.to_dict() for p in pages]})


class DocumentDetail(DocumentOut):
    transcript: TranscriptOut | None = Field(
        description="what was read, page by page; null until the document is indexed"
    )

    @classmethod
    def from_document(cls, d: Any, pages: list[Any] | None = None) -> DocumentDetail:  # type: ignore[override]
        transcript = TranscriptOut.from_pages(pages) if pages is not None else None
        return cls(**_document_fields(d), transcript=transcript)


class DocumentList(BaseModel):
    total: int = Field(description="documents matching the filter, over all pages")
    limit: int
    offset: int
    documents: list[DocumentOut]


class ReindexRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"model": "inkdex-hw-0.12"}]}
    )

    model: str | None = Field(
        None,
        description="name of a bundle folder inside model.models_dir; omitted = the active bundle",
    )
    retranscribe: bool = Field(
        False,
        description="read every original again, also with the model that made its transcript "
        "(to apply changed decoder settings or a bundle changed in place); otherwise the "
        "active model's stored transcripts are re-indexed",
    )


class ReindexAccepted(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"job_id": "reindex-0004"}]})

    job_id: str
