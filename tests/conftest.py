"""Shared fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"


@pytest.fixture(autouse=True)
def _clean_inkdex_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never see the developer's INKDEX_* environment."""
    import os

    for key in list(os.environ):
        if key.startswith("INKDEX_"):
            monkeypatch.delenv(key)


def shared_path(*parts: str) -> Path:
    """A path under ../shared, or a skip with the reason when it is absent (a user's clone)."""
    p = SHARED.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"{p} not present (real-handwriting sets live beside the repo, not in it)")
    return p
