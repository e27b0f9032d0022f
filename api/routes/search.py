"""GET /search: keyword search over every indexed word, with where each hit is written."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status

from api.deps import ArchiveDep, MetricsDep, SettingsDep
from api.schemas import HitOut, Problem, SearchOut

router = APIRouter(tags=["search"])


@router.get(
    "/search",
    response_model=SearchOut,
    summary="Search the archive",
    responses={422: {"model": Problem, "description": "empty, too long or malformed query"}},
)
def search(
    archive: ArchiveDep,
    settings: SettingsDep,
    metrics: MetricsDep,
    q: Annotated[
        str,
        Query(
            description='words to find; Whoosh syntax: AND/OR/NOT, "phrases", wildcards (harb*)',
            examples=["harbour", "ships AND dawn"],
        ),
    ],
    limit: Annotated[
        int | None, Query(ge=1, description="hits per page (default index.default_limit)")
    ] = None,
    offset: Annotated[int, Query(ge=0, description="hits to skip")] = 0,
    fuzzy: Annotated[
        bool, Query(description="also match words within a small edit distance")
    ] = False,
    min_confidence: Annotated[
        float, Query(ge=0.0, le=1.0, description="ignore words read with lower confidence")
    ] = 0.0,
) -> SearchOut:
    """Documents whose words match `q`, best first, each with the boxes of the matching words."""
    if not q.strip():
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "the query is empty")
    max_len = settings.api.max_query_length
    if len(q) > max_len:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"the query is {len(q)} characters long; the limit is {max_len} (api.max_query_length)",
        )
    if limit is None:
        limit = settings.index.default_limit
    if limit > settings.index.max_limit:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"limit {limit} is above the largest page size, {settings.index.max_limit} "
            "(index.max_limit)",
        )
    started = time.perf_counter()
    result = archive.search(
        q, limit=limit, offset=offset, fuzzy=fuzzy, min_confidence=min_confidence
    )
    metrics.search_seconds.observe(time.perf_counter() - started)
    return SearchOut(total=result.total, hits=[HitOut.from_hit(h) for h in result.hits])
