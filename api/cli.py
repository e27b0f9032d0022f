"""Subcommands owned by the HTTP layer: `serve`."""

from __future__ import annotations

import argparse
import logging

from inkdex.cli import add_command
from inkdex.settings import Settings

log = logging.getLogger(__name__)

# Seconds a shutdown (SIGTERM, Ctrl-C) waits for requests in flight before closing them.
GRACEFUL_SHUTDOWN_S = 10


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from api.main import create_app

    if settings.api.host not in ("127.0.0.1", "localhost", "::1") and not settings.api.token:
        log.warning(
            "serving on %s without an API token: anyone who can reach it may upload and "
            "delete documents (set INKDEX_API__TOKEN)",
            settings.api.host,
        )
    app = create_app(settings)
    uvicorn.run(
        app,
        host=settings.api.host,
        port=settings.api.port,
        log_level=settings.log_level.lower(),
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
    )
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(
        sub,
        "serve",
        _serve,
        "run the HTTP API, the inbox watcher and the ingest worker",
        settings_flags={"host": "api.host", "port": "api.port"},
    )
    p.add_argument("--host", help="bind address (default from config: 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default from config: 8000)")
