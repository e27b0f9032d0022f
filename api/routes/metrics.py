"""GET /metrics: Prometheus text exposition of the app's registry."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.deps import MetricsDep

router = APIRouter(tags=["metrics"])


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "text format 0.0.4"}},
)
def metrics(m: MetricsDep) -> Response:
    """Documents by status, queue depth, index generation, search/upload/ingest latency."""
    return Response(generate_latest(m.registry), media_type=CONTENT_TYPE_LATEST)
