"""Builds the FastAPI app: settings, lifespan (background parts), routers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api.routes import health
from inkdex import __version__
from inkdex.settings import Settings

log = logging.getLogger(__name__)


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        log.info("inkdex %s starting, data dir %s", __version__, settings.data_dir)
        yield
        log.info("inkdex stopped")

    app = FastAPI(title="inkdex", version=__version__, lifespan=lifespan)
    app.state.settings = settings
    app.include_router(health.router)
    return app
