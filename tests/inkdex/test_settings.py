"""Settings precedence (defaults < file < env < flags) and start-up errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from inkdex.settings import SettingsError, load_settings

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture()
def config_file(tmp_path: Path) -> Path:
    p = tmp_path / "conf" / "config.yaml"
    p.parent.mkdir()
    p.write_text("data_dir: ./d\napi:\n  port: 8100\n  host: 127.0.0.1\n")
    return p


def test_defaults_without_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    s = load_settings()
    assert s.api.host == "127.0.0.1"
    assert s.api.port == 8000
    assert s.data_dir == tmp_path / "data"


def test_file_overrides_defaults_and_paths_resolve_against_file(config_file: Path) -> None:
    s = load_settings(config_file)
    assert s.api.port == 8100
    assert s.data_dir == config_file.parent / "d"
    assert s.data_dir.is_absolute()


def test_env_overrides_file(config_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INKDEX_API__PORT", "8200")
    s = load_settings(config_file)
    assert s.api.port == 8200
    assert s.api.host == "127.0.0.1"  # sibling keys from the file survive


def test_flags_override_env(config_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INKDEX_API__PORT", "8200")
    monkeypatch.setenv("INKDEX_DATA_DIR", "/from/env")
    s = load_settings(config_file, {"api": {"port": 8300}, "data_dir": "/from/flag"})
    assert s.api.port == 8300
    assert s.data_dir == Path("/from/flag")


def test_cli_flags_reach_settings(config_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from inkdex.cli import _overrides, build_parser

    monkeypatch.setenv("INKDEX_API__PORT", "8200")
    args = build_parser().parse_args(
        ["serve", "--config", str(config_file), "--port", "8400", "--data-dir", "/x"]
    )
    s = load_settings(args.config, _overrides(args))
    assert s.api.port == 8400
    assert s.data_dir == Path("/x")


@pytest.mark.parametrize("command", ["transcribe", "eval"])
def test_language_model_flags_reach_settings(config_file: Path, command: str) -> None:
    from inkdex.cli import _overrides, build_parser

    args = build_parser().parse_args(
        [command, *(["x.png"] if command == "transcribe" else [])]
        + ["--config", str(config_file), "--lm-weight", "0.5", "--lm-bonus", "1"]
        + ["--line-pass", "decoder"]
    )
    m = load_settings(args.config, _overrides(args)).model
    assert (m.lm_weight, m.lm_bonus, m.line_pass) == (0.5, 1.0, "decoder")


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("api:\n  port: not-a-number\n", "api.port"),
        ("api:\n  port: 70000\n", "api.port"),
        ("model:\n  decoder: magic\n", "model.decoder"),
        ("model:\n  lm_weight: -0.5\n", "model.lm_weight"),
        ("model:\n  line_pass: sideways\n", "model.line_pass"),
        ("inbox:\n  stable_seconds: 3\n", "inbox.stable_seconds"),
        ("model:\n  test_time_shifts: [0, 2]\n", "model.test_time_shifts"),
        ("model:\n  test_time_shifts: [2, 2]\n", "model.test_time_shifts"),
    ],
)
def test_bad_value_names_the_key(tmp_path: Path, text: str, key: str) -> None:
    p = tmp_path / "config.yaml"
    p.write_text(text)
    with pytest.raises(SettingsError, match=key.replace(".", r"\.")):
        load_settings(p)


def test_checking_test_time_shifts_does_not_load_the_recognizer(tmp_path: Path) -> None:
    """The settings check shifts with `recognizer.shifts` alone: loading a config (the
    CLI, the service's start) must not pull in the recognizer, its OpenCV and its model
    code."""
    p = tmp_path / "config.yaml"
    p.write_text("model:\n  test_time_shifts: [-2, 2]\n")
    code = (
        "import sys; from inkdex.settings import load_settings; "
        f"s = load_settings({str(p)!r}); "
        "print(s.model.test_time_shifts, 'recognizer.recognize' in sys.modules, 'cv2' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    ).stdout
    assert out.split() == ["[-2,", "2]", "False", "False"]


def test_bad_env_value_names_the_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("INKDEX_API__PORT", "abc")
    with pytest.raises(SettingsError, match=r"api\.port"):
        load_settings()


def test_missing_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="not found"):
        load_settings(tmp_path / "nope.yaml")


def test_repo_config_is_valid() -> None:
    repo = Path(__file__).resolve().parents[2]
    s = load_settings(repo / "config.yaml")
    assert s.api.host == "127.0.0.1"
    assert s.model.bundle.parent == repo / "models"
