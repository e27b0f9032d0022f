"""Subcommands owned by the recognizer: `transcribe`, `train`, `eval`, `fonts`, `synth`.

Each subcommand has its own `_register_<name>` function; the handlers live in the
module of the stage they drive and are imported lazily, so `inkdex --help` stays fast.
"""

from __future__ import annotations

import argparse

from inkdex.cli import add_command, not_implemented


def _register_transcribe(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "transcribe", not_implemented("transcribe"), "transcribe images")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("--json", action="store_true")


def _register_train(sub: argparse._SubParsersAction) -> None:
    add_command(sub, "train", not_implemented("train"), "train a model bundle")


def _register_eval(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "eval", not_implemented("eval"), "evaluate a model bundle")
    p.add_argument("--labels", metavar="FILE")


def _register_fonts(sub: argparse._SubParsersAction) -> None:
    add_command(sub, "fonts", not_implemented("fonts"), "fetch and check handwriting fonts")


def _register_synth(sub: argparse._SubParsersAction) -> None:
    pass


def register(sub: argparse._SubParsersAction) -> None:
    _register_transcribe(sub)
    _register_train(sub)
    _register_eval(sub)
    _register_fonts(sub)
    _register_synth(sub)
