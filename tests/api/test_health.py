"""GET /health answers with the contract's fields, read from the archive."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_health_reports_model_generation_documents_and_queue(client: TestClient) -> None:
    r = client.get("/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok"
    assert set(body) == {"status", "model", "index_generation", "documents", "queue"}
    assert body["model"] == "stub-0.1"
    assert isinstance(body["documents"], int) and isinstance(body["queue"], int)


def test_lifespan_starts_and_stops_the_archive(settings, archive) -> None:
    from api.main import create_app

    with TestClient(create_app(settings, archive)):
        assert archive.started and not archive.stopped
    assert archive.stopped
