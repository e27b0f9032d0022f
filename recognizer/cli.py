"""Subcommands owned by the recognizer: `transcribe`, `train`, `eval`, `fonts`."""

from __future__ import annotations

import argparse

from inkdex.cli import add_command, not_implemented


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "transcribe", not_implemented("transcribe"), "transcribe images")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("--json", action="store_true")
    add_command(sub, "train", not_implemented("train"), "train a model bundle")
    p = add_command(sub, "eval", not_implemented("eval"), "evaluate a model bundle")
    p.add_argument("--labels", metavar="FILE")
    add_command(sub, "fonts", not_implemented("fonts"), "fetch and check handwriting fonts")
