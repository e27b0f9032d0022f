"""The `inkdex` command: subcommand listing and honest 'not implemented' exits."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from inkdex.cli import build_parser, main

SUBCOMMANDS = {"serve", "transcribe", "ingest", "search", "reindex", "train", "eval", "models"}


def test_help_lists_every_subcommand() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "inkdex.cli", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for name in SUBCOMMANDS:
        assert name in out


@pytest.mark.parametrize("name", sorted(SUBCOMMANDS))
def test_every_subcommand_takes_config_and_data_dir(name: str, tmp_path: Path) -> None:
    parser = build_parser()
    extra = {"transcribe": ["x.png"], "ingest": ["x"], "search": ["q"]}.get(name, [])
    args = parser.parse_args([name, *extra, "--config", "c.yaml", "--data-dir", str(tmp_path)])
    assert args.config == "c.yaml"
    assert args.data_dir == str(tmp_path)


def test_bad_config_exits_nonzero_with_message(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    bad = tmp_path / "config.yaml"
    bad.write_text("api:\n  port: abc\n")
    assert main(["models", "--config", str(bad)]) == 2
    assert "api.port" in capsys.readouterr().err
