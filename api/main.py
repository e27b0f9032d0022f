"""Builds the FastAPI app: settings, lifespan (archive and background parts), routers.

The lifespan opens the archive (the model is loaded once, when first needed), starts
the inbox watcher and the ingest worker, and stops them on shutdown (uvicorn turns
SIGTERM and Ctrl-C into a clean shutdown); a job interrupted there is resumed at the
next start. The indexer's errors become 4xx answers carrying the same message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.highlight import SearchMemo
from api.metrics import IngestTracker, Metrics
from api.render import ImageCache
from api.routes import admin, documents, health, metrics, search, web
from api.upload import UploadError, clear_partial_uploads
from indexer.archive import (
    Archive,
    DocumentNotFound,
    DuplicateDocument,
    QueryError,
    RebuildError,
    RebuildRunning,
)
from inkdex import __version__
from inkdex.settings import Settings

log = logging.getLogger(__name__)

INGEST_POLL_S = 1.0

DESCRIPTION = """
Keyword search over archives of handwritten pages. Upload page images (or drop them in
the inbox folder); each is transcribed and its words indexed with their boxes on the
page. Write and admin routes need `Authorization: Bearer <token>` when `api.token` is set.
"""


def create_app(settings: Settings, archive: Archive | None = None) -> FastAPI:
    """The inkdex app. With `archive` given, that archive is used (and not closed at exit)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        log.info("inkdex %s starting, data dir %s", __version__, settings.data_dir)
        owned = archive is None
        if n := clear_partial_uploads(settings.data_dir):
            log.info("removed %d partial upload(s) left by a previous run", n)
        arch = await run_in_threadpool(Archive.open, settings) if owned else archive
        app.state.archive = arch
        await run_in_threadpool(arch.start)
        poller = asyncio.create_task(_poll_ingest(app))
        try:
            yield
        finally:
            poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await poller
            log.info("stopping the watcher and the worker")
            await run_in_threadpool(arch.stop)
            if owned:
                await run_in_threadpool(arch.close)
            app.state.archive = None
            log.info("inkdex stopped")

    app = FastAPI(
        title="inkdex",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.archive = None
    app.state.metrics = Metrics(lambda: app.state.archive)
    app.state.image_cache = ImageCache(settings.api.image_cache_entries)
    app.state.search_memo = SearchMemo()
    app.state.ingest_tracker = IngestTracker(app.state.metrics)

    for router in (
        health.router,
        search.router,
        documents.router,
        admin.router,
        metrics.router,
        web.router,
    ):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=web.STATIC_DIR), name="static")
    _add_error_handlers(app)
    if settings.api.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.api.cors_origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.add_middleware(_RequestMetrics, metrics=app.state.metrics)
    return app


async def _poll_ingest(app: FastAPI) -> None:
    """Time uploads until they are indexed (feeds inkdex_ingest_seconds)."""
    tracker: IngestTracker = app.state.ingest_tracker
    while True:
        await asyncio.sleep(INGEST_POLL_S)
        arch = app.state.archive
        if arch is None or not tracker.pending:
            continue
        try:
            await run_in_threadpool(tracker.poll, arch, time.monotonic())
        except Exception:
            log.warning("could not poll ingest state", exc_info=True)


def _add_error_handlers(app: FastAPI) -> None:
    def problem(code: int, detail: str, **extra: object) -> JSONResponse:
        return JSONResponse({"detail": detail, **extra}, status_code=code)

    @app.exception_handler(DocumentNotFound)
    async def _not_found(request: Request, exc: DocumentNotFound) -> JSONResponse:
        return problem(404, str(exc))

    @app.exception_handler(QueryError)
    async def _bad_query(request: Request, exc: QueryError) -> JSONResponse:
        return problem(422, str(exc))

    @app.exception_handler(DuplicateDocument)
    async def _duplicate(request: Request, exc: DuplicateDocument) -> JSONResponse:
        return problem(409, str(exc), doc_id=exc.existing_id)

    @app.exception_handler(RebuildRunning)
    async def _rebuild_running(request: Request, exc: RebuildRunning) -> JSONResponse:
        return problem(409, f"{exc}; see GET /admin/reindex for its progress")

    @app.exception_handler(RebuildError)
    async def _rebuild_error(request: Request, exc: RebuildError) -> JSONResponse:
        return problem(422, str(exc))

    @app.exception_handler(UploadError)
    async def _bad_upload(request: Request, exc: UploadError) -> JSONResponse:
        return problem(exc.status_code, exc.message)


class _RequestMetrics:
    """ASGI middleware: request latency by route template (not raw path), method, status."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status_code = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.metrics.requests.labels(template, scope["method"], str(status_code)).observe(
                time.perf_counter() - started
            )
