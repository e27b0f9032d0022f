"""Subcommands owned by the indexer: `ingest`, `search`, `reindex`, `models`."""

from __future__ import annotations

import argparse

from inkdex.cli import add_command, not_implemented


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(
        sub, "ingest", not_implemented("ingest"), "ingest files or folders synchronously"
    )
    p.add_argument("paths", nargs="+", metavar="PATH")
    p = add_command(sub, "search", not_implemented("search"), "search the archive")
    p.add_argument("query")
    p.add_argument("--limit", type=int)
    p.add_argument("--json", action="store_true")
    p = add_command(
        sub, "reindex", not_implemented("reindex"), "rebuild the index into a new generation"
    )
    p.add_argument("--model", metavar="BUNDLE")
    add_command(
        sub, "models", not_implemented("models"), "list model bundles and show the active one"
    )
