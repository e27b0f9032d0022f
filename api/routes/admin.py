"""/admin/reindex: rebuild the index (optionally with another model) in the background."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, status

from api.deps import ArchiveDep, SettingsDep, require_write_token
from api.schemas import Problem, ReindexAccepted, ReindexRequest

# Every admin route, reading ones included, needs the API token when one is set.
router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[Depends(require_write_token)])

_BUNDLE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_AUTH = {401: {"model": Problem, "description": "missing or wrong API token"}}


def resolve_bundle(models_dir: Path, name: str) -> Path:
    """The bundle folder called `name` inside `models_dir`; a name, never a path."""
    if not _BUNDLE_NAME.fullmatch(name) or ".." in name:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"{name!r} is not a bundle name (letters, digits, '.', '_' and '-'; "
            "a folder name inside model.models_dir, not a path)",
        )
    root = models_dir.resolve()
    bundle = (root / name).resolve()
    if bundle.parent != root or not bundle.is_dir():
        available = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            f"no model bundle named {name!r} in {root.name}/ "
            f"(available: {', '.join(available) or 'none'})",
        )
    return bundle


@router.post(
    "/reindex",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ReindexAccepted,
    summary="Rebuild the index into a new generation, in the background",
    responses={
        404: {"model": Problem, "description": "no bundle with that name"},
        409: {"model": Problem, "description": "a rebuild is already running"},
        **_AUTH,
    },
)
def start_reindex(
    archive: ArchiveDep,
    settings: SettingsDep,
    request: Annotated[ReindexRequest | None, Body()] = None,
) -> ReindexAccepted:
    """Rebuild the index into a new generation; searches keep using the old one until the
    new one is complete. With `model` (a bundle name other than the active one's) every
    original is transcribed again with it; with `retranscribe` every original is read
    again even by its own model; otherwise the stored transcripts are indexed anew."""
    model = None
    retranscribe = request is not None and request.retranscribe
    if request is not None and request.model:
        model = resolve_bundle(settings.model.models_dir, request.model)
    return ReindexAccepted(job_id=archive.start_reindex(model=model, retranscribe=retranscribe))


@router.get(
    "/reindex",
    summary="Progress of the latest rebuild",
    responses={
        **_AUTH,
        200: {
            "content": {
                "application/json": {
                    "example": {
                        "job_id": "reindex-0004",
                        "state": "running",
                        "model": "inkdex-hw-0.12",
                        "generation": "0004",
                        "done": 120,
                        "total": 1250,
                        "error": None,
                        "started_at": "2026-11-21T12:00:00+00:00",
                        "finished_at": None,
                        "retranscribe": False,
                    }
                }
            }
        },
    },
)
def reindex_progress(archive: ArchiveDep) -> dict[str, Any]:
    """`state` is idle, running, interrupted, done or failed; `done`/`total` count documents."""
    return archive.reindex_progress()
