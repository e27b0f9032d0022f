"""GET /health: is the service up, which model and index generation it serves."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import ArchiveDep
from api.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health, summary="Service status")
def health(archive: ArchiveDep) -> Health:
    """The active model, the index generation answering searches, documents and queue depth."""
    h = archive.health()
    return Health(
        status="ok",
        model=h.get("model"),
        index_generation=h.get("index_generation"),
        documents=h.get("documents"),
        queue=h.get("queue"),
    )
