"""/admin/reindex: start a rebuild by bundle name (never a path), read its progress."""

from __future__ import annotations

import pytest


def test_reindex_starts_a_job_and_reports_progress(client) -> None:
    r = client.post("/admin/reindex")
    assert r.status_code == 202
    job = r.json()["job_id"]
    p = client.get("/admin/reindex")
    assert p.status_code == 200
    assert p.json()["job_id"] == job
    assert p.json()["state"] in ("running", "done")


def test_reindex_with_a_bundle_name_resolves_it_in_models_dir(client, settings, archive) -> None:
    calls = []
    real = archive.start_reindex
    archive.start_reindex = lambda model=None: calls.append(model) or real(model)
    r = client.post("/admin/reindex", json={"model": "inkdex-hw-9.9"})
    assert r.status_code == 202
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


def test_second_reindex_while_running_is_409(client, archive) -> None:
    archive.reindex = {"state": "running", "job_id": "reindex-0042"}
    r = client.post("/admin/reindex")
    assert r.status_code == 409
    assert "reindex-0042" in r.json()["detail"]
