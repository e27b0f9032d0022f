"""/admin/reindex: start a rebuild by bundle name (never a path), read its progress;
searches keep answering from the old generation until the new one takes over."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from indexer.archive import Archive


class SlowStub:
    """The stub recognizer under another bundle's name, slow enough to watch a rebuild."""

    def __init__(self, inner, version: str, delay_s: float) -> None:
        self.inner, self.version, self.delay_s = inner, version, delay_s
        self.height = inner.height

    def transcribe_pages(self, images):
        time.sleep(self.delay_s)
        return [
            p.__class__(self.version, p.width, p.height, p.lines)
            for p in self.inner.transcribe_pages(images)
        ]


@pytest.fixture
def rebuild_client(settings, recognizer) -> Iterator[TestClient]:
    arch = Archive.open(
        settings,
        recognizer=recognizer,
        recognizer_factory=lambda bundle: SlowStub(recognizer, bundle.name, 0.4),
    )
    with TestClient(create_app(settings, arch)) as c:
        yield c
    arch.close()


def _wait_state(client: TestClient, states: set[str], timeout_s: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout_s
    while True:
        p = client.get("/admin/reindex").json()
        if p["state"] in states:
            return p
        assert time.monotonic() < deadline, f"rebuild still {p['state']}: {p}"
        time.sleep(0.05)


def test_reindex_starts_a_job_and_reports_progress(client) -> None:
    r = client.post("/admin/reindex")
    assert r.status_code == 202
    job = r.json()["job_id"]
    p = _wait_state(client, {"done", "failed"})
    assert p["job_id"] == job
    assert p["state"] == "done", p
    assert {"job_id", "state", "model", "generation", "done", "total"} <= set(p)


def test_search_keeps_answering_during_a_rebuild_and_health_shows_the_new_generation(
    rebuild_client, new_page, wait_done
) -> None:
    client = rebuild_client
    ids = set()
    for i in range(3):
        page = new_page(["harbour", f"n{i}"], width=800 + i)
        doc_id = client.post("/documents", files={"file": ("p.png", page.png)}).json()["doc_id"]
        ids.add(doc_id)
        assert wait_done(client, doc_id)["status"] == "indexed"
    before = client.get("/health").json()

    r = client.post("/admin/reindex", json={"model": "inkdex-hw-9.9"})
    assert r.status_code == 202
    searched_while_running = 0
    while client.get("/admin/reindex").json()["state"] == "running":
        hits = client.get("/search", params={"q": "harbour"}).json()
        assert {h["doc_id"] for h in hits["hits"]} == ids
        searched_while_running += 1
        again = client.post("/admin/reindex", json={"model": "inkdex-hw-9.9"})
        assert again.status_code in (409, 202)  # 202 only if it finished in between
        if again.status_code == 409:
            assert "already running" in again.json()["detail"]
    assert searched_while_running > 0

    done = _wait_state(client, {"done", "failed"})
    assert done["state"] == "done", done
    after = client.get("/health").json()
    assert after["index_generation"] != before["index_generation"]
    assert after["model"] == "inkdex-hw-9.9"
    hits = client.get("/search", params={"q": "harbour"}).json()
    assert {h["doc_id"] for h in hits["hits"]} == ids


def test_reindex_with_a_bundle_name_resolves_it_in_models_dir(client, settings, archive) -> None:
    calls = []
    archive.start_reindex = lambda model=None, retranscribe=False: calls.append(model) or "job-1"
    r = client.post("/admin/reindex", json={"model": "inkdex-hw-9.9"})
    assert r.status_code == 202
    assert r.json() == {"job_id": "job-1"}
    assert calls == [settings.model.models_dir / "inkdex-hw-9.9"]


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("../../etc", 422),
        ("/etc/passwd", 422),
        ("a/b", 422),
        ("..", 422),
        ("missing-bundle", 404),
    ],
)
def test_reindex_refuses_paths_and_unknown_bundles(client, name, code) -> None:
    r = client.post("/admin/reindex", json={"model": name})
    assert r.status_code == code
    assert r.json()["detail"]


def test_reindex_refuses_unknown_fields(client) -> None:
    assert client.post("/admin/reindex", json={"path": "/tmp"}).status_code == 422


def test_retranscribe_reads_the_archive_again_with_the_active_model(
    client, new_page, wait_done
) -> None:
    page = new_page(["harbour", "lights"], width=700)
    doc_id = client.post("/documents", files={"file": ("p.png", page.png)}).json()["doc_id"]
    assert wait_done(client, doc_id)["status"] == "indexed"
    new_page(["harbor", "lights"], width=700)  # the same page, read otherwise now

    assert client.post("/admin/reindex").status_code == 202  # stored transcripts only
    assert _wait_state(client, {"done", "failed"})["retranscribe"] is False
    assert client.get("/search", params={"q": "harbor"}).json()["total"] == 0

    r = client.post("/admin/reindex", json={"retranscribe": True})
    assert r.status_code == 202
    done = _wait_state(client, {"done", "failed"})
    assert done["state"] == "done" and done["retranscribe"] is True, done
    assert [h["doc_id"] for h in client.get("/search", params={"q": "harbor"}).json()["hits"]] == [
        doc_id
    ]
    assert client.get("/search", params={"q": "harbour"}).json()["total"] == 0


def test_retranscribe_must_be_a_boolean(client) -> None:
    r = client.post("/admin/reindex", json={"retranscribe": "please"})
    assert r.status_code == 422
