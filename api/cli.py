"""Subcommands owned by the HTTP layer: `serve`."""

from __future__ import annotations

import argparse

from inkdex.cli import add_command
from inkdex.settings import Settings


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from api.main import create_app

    app = create_app(settings)
    uvicorn.run(
        app,
        host=settings.api.host,
        port=settings.api.port,
        log_level=settings.log_level.lower(),
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
