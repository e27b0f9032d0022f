"""GET /health answers with the contract's fields."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from api.main import create_app
from inkdex.settings import load_settings


def test_health_reports_ok(tmp_path: Path) -> None:
    settings = load_settings(None, {"data_dir": str(tmp_path / "data")})
    with TestClient(create_app(settings)) as client:
        r = client.get("/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok"
    assert {"model", "index_generation", "documents", "queue"} <= set(body)
