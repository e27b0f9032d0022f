"""GET /health: is the service up, which model and index generation it serves."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from api.deps import SettingsDep

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str
    model: str | None
    index_generation: str | None
    documents: int | None
    queue: int | None


@router.get("/health", response_model=Health)
def health(settings: SettingsDep) -> Health:
    bundle = settings.model.bundle
    return Health(
        status="ok",
        model=bundle.name if bundle.is_dir() else None,
        index_generation=None,
        documents=None,
        queue=None,
    )
