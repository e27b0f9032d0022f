"""Subcommands owned by the recognizer: `transcribe`, `train`, `eval`, `fonts`, `synth`, `lexicon`,
`charlm`.

Each subcommand has its own `_register_<name>` function; the handlers live in the
module of the stage they drive and are imported lazily, so `inkdex --help` stays fast.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from inkdex.cli import add_command, common_parser
from inkdex.settings import Settings


def _transcribe(args: argparse.Namespace, settings: Settings) -> int:
    from recognizer.recognize import run_transcribe

    return run_transcribe(args, settings)


# Decoder options of `transcribe` and `eval`: argparse dest -> settings key.
_DECODER_FLAGS = {
    "decoder": "model.decoder",
    "beam_width": "model.beam_width",
    "shifts": "model.test_time_shifts",
    "lexicon": "model.lexicon",
    "lm_weight": "model.lm_weight",
    "lm_bonus": "model.lm_bonus",
    "line_pass": "model.line_pass",
}


def _add_decoder_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--decoder", choices=["greedy", "beam", "lexicon"], help="default from config")
    p.add_argument("--beam-width", type=int, metavar="N", help="default from config")
    p.add_argument("--lexicon", metavar="FILE", help="word list for the lexicon decoder")
    p.add_argument(
        "--shifts",
        type=int,
        nargs="+",
        metavar="ROWS",
        help="test-time shifts, e.g. -2 2 (default from config)",
    )
    p.add_argument(
        "--lm-weight", type=float, metavar="W", help="character language model weight (0: off)"
    )
    p.add_argument("--lm-bonus", type=float, metavar="B", help="language model bonus per character")
    p.add_argument("--line-pass", choices=["greedy", "decoder"], help="first pass over a line")


def _register_transcribe(sub: argparse._SubParsersAction) -> None:
    p = add_command(
        sub,
        "transcribe",
        _transcribe,
        "transcribe images (prints the text, or one PageTranscript JSON object per page)",
        settings_flags=_DECODER_FLAGS,
    )
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("--json", action="store_true", help="one JSON object per page, with path")
    p.add_argument("--model", metavar="BUNDLE", help="bundle folder or name in model.models_dir")
    _add_decoder_flags(p)
    p.add_argument("--line", action="store_true", help="read each image as one text line")
    p.add_argument(
        "--overlay",
        metavar="OUT.png",
        type=Path,
        help="also draw line and word boxes with the words read (OUT-1.png, ... per page)",
    )


def _train(args: argparse.Namespace, settings: Settings) -> int:
    from recognizer.train import run_cli

    return run_cli(args, settings)


def _register_train(sub: argparse._SubParsersAction) -> None:
    from recognizer.recipes import RECIPES

    p = add_command(sub, "train", _train, "train a model bundle")
    p.add_argument("--recipe", default="default", choices=sorted(RECIPES), help="training recipe")
    p.add_argument("--name", default="inkdex-hw", help="bundle name (default: inkdex-hw)")
    p.add_argument("--version", default="0.1", help="bundle version (default: 0.1)")
    p.add_argument("--out", type=Path, help="folder for the bundle (default: model.models_dir)")
    p.add_argument("--run-dir", type=Path, help="checkpoints, logs (default: runs/NAME-VERSION)")
    p.add_argument("--epochs", type=int, help="override the recipe's epochs")
    p.add_argument("--steps-per-epoch", type=int, help="override the recipe's steps per epoch")
    p.add_argument("--batch-size", type=int, help="override the recipe's batch size")
    p.add_argument("--height", type=int, help="override the input height (multiple of 8)")
    p.add_argument("--learning-rate", type=float, help="override the peak learning rate")
    p.add_argument("--synth-weight", type=float, help="weight of synthetic lines (0 = real only)")
    p.add_argument(
        "--synth-augment",
        type=float,
        help="strength of the synthetic lines' distortions, 0-1 (default: the recipe's, 1.0)",
    )
    p.add_argument(
        "--lstm-units",
        type=int,
        help="override the LSTM width; with --init-from, widens the bundle's LSTM layers",
    )
    p.add_argument(
        "--res-blocks",
        type=int,
        help="residual blocks after the CNN (default 0); with --init-from, adds them to the "
        "bundle's network",
    )
    p.add_argument("--resume", action="store_true", help="continue the run in --run-dir")
    p.add_argument("--init-from", type=Path, metavar="BUNDLE", help="fine-tune from a bundle")
    p.add_argument(
        "--real",
        action="append",
        default=[],
        metavar="TSV[:WEIGHT]",
        help="labelled real lines to mix in (repeatable); weight relative to synthetic (1.0)",
    )
    p.add_argument("--val-real", type=Path, metavar="TSV", help="real lines for validation CER")
    p.add_argument(
        "--fonts",
        action="append",
        type=Path,
        default=[],
        metavar="PATH",
        help="font files or folders to render with (default: the font cache)",
    )
    p.add_argument("--workers", type=int, default=-1, help="rendering processes (0 = in process)")


def _eval(args: argparse.Namespace, settings: Settings) -> int:
    if getattr(args, "pages", None):
        from recognizer.page_eval import run_page_eval

        return run_page_eval(args, settings)
    from recognizer.evaluate import run_eval

    return run_eval(args, settings)


def _register_eval(sub: argparse._SubParsersAction) -> None:
    p = add_command(
        sub,
        "eval",
        _eval,
        "measure a model bundle's CER and WER on labelled line images (prints JSON)",
        settings_flags=_DECODER_FLAGS,
    )
    src = p.add_argument_group("labelled lines (give one)")
    src.add_argument("--labels", metavar="FILE", help="image_path<TAB>text file")
    src.add_argument("--iam-lines", metavar="FILE", help="IAM ascii/lines.txt (with --images)")
    src.add_argument("--iam-words", metavar="FILE", help="IAM ascii/words.txt (with --images)")
    src.add_argument("--images", metavar="DIR", help="IAM lines/ or words/ image folder")
    src.add_argument("--folder", metavar="DIR", help="folder of id_label.png images")
    src.add_argument(
        "--pages", metavar="DIR", type=Path, help="page folder with pages.jsonl: line/word boxes"
    )
    p.add_argument("--skip-err", action="store_true", help="IAM: skip rows marked 'err'")
    p.add_argument("--model", metavar="BUNDLE", help="bundle folder or name in model.models_dir")
    _add_decoder_flags(p)
    p.add_argument("--limit", type=int, metavar="N", help="evaluate only the first N lines")
    p.add_argument("--report-lines", action="store_true", help="add per-line results")
    p.add_argument("--json", action="store_true", help="one compact JSON line (default: indented)")
    p.add_argument("--progress", action="store_true", help="progress bar on stderr")


def _action(actions: argparse._SubParsersAction, name: str, help: str) -> argparse.ArgumentParser:
    """An action of a subcommand (`inkdex fonts fetch`) that also takes the common options."""
    common = common_parser()
    for option in common._actions:  # given after the action, or not at all (keeps the first)
        option.default = argparse.SUPPRESS
    return actions.add_parser(name, help=help, description=help, parents=[common])


def _fonts(args: argparse.Namespace, settings: Settings) -> int:
    from recognizer.fonts import run_fonts_cli

    return run_fonts_cli(args, settings)


def _register_fonts(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "fonts", _fonts, "fetch and check handwriting fonts")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    fetch = _action(actions, "fetch", "fetch and check Debian and Google handwriting fonts")
    fetch.add_argument("--dest", type=Path, help="font cache (default: synth.font_cache)")
    fetch.add_argument("--jobs", type=int, default=6, help="parallel downloads (default: 6)")
    fetch.add_argument("--no-debian", action="store_true", help="skip the Debian packages")
    fetch.add_argument("--no-google", action="store_true", help="skip the Google Fonts families")
    ls = _action(actions, "list", "list accepted fonts (with --all, rejected ones too)")
    ls.add_argument("--all", action="store_true")
    sheet = _action(actions, "sheet", "write a PNG with one line per accepted font")
    sheet.add_argument("out", type=Path, metavar="OUT.png")
    for a in (ls, sheet):
        a.add_argument("--dest", type=Path, help="font cache (default: synth.font_cache)")


def _synth(args: argparse.Namespace, settings: Settings) -> int:
    from recognizer.synth import run_synth_cli

    return run_synth_cli(args, settings)


def _register_synth(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "synth", _synth, "synthetic handwriting lines")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    sheet = _action(actions, "sheet", "write a PNG contact sheet of synthetic lines")
    sheet.add_argument("out", type=Path, metavar="OUT.png")
    sheet.add_argument("--n", type=int, default=60, help="number of lines (default: 60)")
    sheet.add_argument("--seed", type=int, default=0, help="sample seed (default: 0)")
    sheet.add_argument("--heldout", action="store_true", help="use the held-out fonts")
    sheet.add_argument("--augment", type=float, help="distortion strength (default: config)")
    sheet.add_argument("--height", type=int, help="resize lines to this height")


def _lexicon(args: argparse.Namespace, settings: Settings) -> int:
    from recognizer.lexicon import run_lexicon_cli

    return run_lexicon_cli(args, settings)


# Words `inkdex lexicon` writes: all of wordfreq's English list (319,938 entries, of which
# 307,583 are plain words). On the Hooker validation lines the lexicon decoder read 21.0%
# CER with 50,000, 20.5% with 200,000 and with all (models/README.md, Experiments).
DEFAULT_LEXICON_WORDS = 320_000


def _register_lexicon(sub: argparse._SubParsersAction) -> None:
    p = add_command(
        sub, "lexicon", _lexicon, "write the English word list (with frequencies) for the decoder"
    )
    p.add_argument("--out", type=Path, help="output file (default: model.lexicon)")
    p.add_argument(
        "--words",
        type=int,
        default=DEFAULT_LEXICON_WORDS,
        help=f"most frequent words (default: {DEFAULT_LEXICON_WORDS}, all of wordfreq's English)",
    )
    p.add_argument("--force", action="store_true", help="rebuild an existing file")


def _charlm(args: argparse.Namespace, settings: Settings) -> int:
    from recognizer.charlm import run_charlm_cli

    return run_charlm_cli(args, settings)


def _export(args: argparse.Namespace, settings: Settings) -> int:
    from recognizer.export import run_export_cli

    return run_export_cli(args, settings)


def _register_export(sub: argparse._SubParsersAction) -> None:
    p = add_command(
        sub,
        "export",
        _export,
        "write a bundle's network as ONNX (model.onnx), which model.runtime auto/onnx reads",
    )
    p.add_argument("bundle", type=Path, metavar="BUNDLE", help="bundle folder")


def _register_charlm(sub: argparse._SubParsersAction) -> None:
    from recognizer.bundle import LINE_PASSES
    from recognizer.recipes import RECIPES

    recipe = RECIPES["default"]
    p = add_command(
        sub,
        "charlm",
        _charlm,
        "build a bundle's character language model (Debian's fortunes and WordNet) and use it",
    )
    p.add_argument("bundle", type=Path, metavar="BUNDLE", help="bundle folder")
    p.add_argument("--order", type=int, default=recipe.charlm_order, help="n-gram order")
    p.add_argument(
        "--min-count",
        type=int,
        default=recipe.charlm_min_count,
        help="drop n-grams of 3+ characters seen fewer times",
    )
    p.add_argument("--weight", type=float, default=recipe.lm_weight, help="decoder weight")
    p.add_argument(
        "--bonus", type=float, default=recipe.lm_bonus, help="decoder bonus per character"
    )
    p.add_argument("--line-pass", choices=LINE_PASSES, default=recipe.line_pass)


def register(sub: argparse._SubParsersAction) -> None:
    _register_transcribe(sub)
    _register_train(sub)
    _register_eval(sub)
    _register_fonts(sub)
    _register_synth(sub)
    _register_lexicon(sub)
    _register_charlm(sub)
    _register_export(sub)
