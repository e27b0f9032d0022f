"""Fixtures for the indexer tests: settings on a temporary data dir, an archive with a fake recognizer."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from indexer.archive import Archive
from inkdex.settings import Settings, load_settings

FAKES_PATH = Path(__file__).with_name("fakes.py")


def _load_fakes():
    name = "inkdex_test_fakes"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, FAKES_PATH)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture
def fakes():
    """The `fakes` module (page images that carry their transcript, FakeRecognizer)."""
    return _load_fakes()


def make_settings(tmp_path: Path, **sections) -> Settings:
    config = tmp_path / "config.yaml"
    config.write_text("{}\n")
    overrides = {
        "data_dir": str(tmp_path / "data"),
        "inbox": {"stable_s": 0.3, "rescan_s": 1.0, "poll_interval_s": 0.2},
        "worker": {"retry_backoff_s": 0.01},
    }
    for key, value in sections.items():
        overrides.setdefault(key, {}).update(value)
    return load_settings(config, overrides)


@pytest.fixture(name="make_settings")
def _make_settings_fixture():
    """`make_settings(tmp_path, section={key: value})`: settings on a temporary data dir."""
    return make_settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def archive(settings: Settings, fakes) -> Iterator[Archive]:
    arch = Archive.open(settings, recognizer=fakes.FakeRecognizer())
    yield arch
    arch.close()
