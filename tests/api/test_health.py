"""GET /health answers with the contract's fields, read from the archive; the lifespan
starts the background parts and stops them cleanly."""

from __future__ import annotations

from fastapi.testclient import TestClient

from api.main import create_app
from indexer.archive import Archive


def test_health_reports_model_generation_documents_and_queue(client: TestClient) -> None:
    r = client.get("/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok"
    assert set(body) == {"status", "model", "index_generation", "documents", "queue"}
    assert body["model"] == "stub-0.1"
    assert body["index_generation"]
    assert body["documents"] == 0 and body["queue"] == 0


def test_health_counts_documents(client: TestClient, new_page, wait_done) -> None:
    doc_id = client.post("/documents", files={"file": ("h.png", new_page(["h"], width=450).png)})
    wait_done(client, doc_id.json()["doc_id"])
    assert client.get("/health").json()["documents"] == 1


def test_shutdown_stops_the_worker_so_another_process_can_take_over(settings, recognizer) -> None:
    """The worker lock is released at shutdown: a second archive on the same data dir starts."""
    with TestClient(create_app(settings, Archive.open(settings, recognizer=recognizer))):
        pass
    second = Archive.open(settings, recognizer=recognizer)
    try:
        second.start()
    finally:
        second.close()


def test_app_opens_its_own_archive_when_none_is_given(settings, recognizer) -> None:
    with TestClient(create_app(settings)) as c:
        body = c.get("/health").json()
    assert body["status"] == "ok"
    assert (settings.data_dir / "inkdex.sqlite").exists()
