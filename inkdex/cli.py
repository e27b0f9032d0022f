"""The `inkdex` command: gathers the subcommands each package registers.

Every subcommand accepts `--config FILE` and `--data-dir DIR`. A handler has the
signature ``handler(args, settings) -> int`` (the process exit status).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any

from inkdex import __version__
from inkdex.settings import Settings, SettingsError, load_settings

Handler = Callable[[argparse.Namespace, Settings], int]


def common_parser() -> argparse.ArgumentParser:
    """Options shared by every subcommand."""
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("common options")
    g.add_argument(
        "--config", metavar="FILE", help="config file (default: $INKDEX_CONFIG or ./config.yaml)"
    )
    g.add_argument("--data-dir", metavar="DIR", help="data directory (overrides config)")
    g.add_argument(
        "--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"], help="log verbosity"
    )
    return p


def add_command(
    sub: argparse._SubParsersAction,
    name: str,
    handler: Handler,
    help: str,
    settings_flags: dict[str, str] | None = None,
) -> argparse.ArgumentParser:
    """Register a subcommand. `settings_flags` maps an argparse dest to a dotted settings key."""
    p = sub.add_parser(name, help=help, description=help, parents=[common_parser()])
    p.set_defaults(func=handler, settings_flags=settings_flags or {})
    return p


def not_implemented(name: str) -> Handler:
    """Handler for a subcommand whose feature has not been built yet: says so, exits 2."""

    def handler(args: argparse.Namespace, settings: Settings) -> int:
        print(f"inkdex {name}: not implemented yet", file=sys.stderr)
        return 2

    return handler


def build_parser() -> argparse.ArgumentParser:
    from api.cli import register as register_api
    from indexer.cli import register as register_indexer
    from recognizer.cli import register as register_recognizer

    parser = argparse.ArgumentParser(
        prog="inkdex", description="Search indexer for archives of handwritten material."
    )
    parser.add_argument("--version", action="version", version=f"inkdex {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for register in (register_api, register_indexer, register_recognizer):
        register(sub)
    return parser


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if args.data_dir:
        out["data_dir"] = args.data_dir
    if args.log_level:
        out["log_level"] = args.log_level
    for dest, key in args.settings_flags.items():
        value = getattr(args, dest, None)
        if value is None:
            continue
        node = out
        *parents, leaf = key.split(".")
        for k in parents:
            node = node.setdefault(k, {})
        node[leaf] = value
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings(args.config, _overrides(args))
    except SettingsError as exc:
        print(f"inkdex: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return int(args.func(args, settings) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
