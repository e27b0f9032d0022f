"""Bearer-token auth on write and admin routes; read routes stay open; CORS is opt-in."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.main import create_app

TOKEN = "s3cret-token"
WRITES = [
    ("post", "/documents"),
    ("delete", "/documents/abc"),
    ("post", "/admin/reindex"),
    ("get", "/admin/reindex"),
]


@pytest.fixture
def secured(settings, archive):
    settings.api.token = TOKEN
    with TestClient(create_app(settings, archive)) as c:
        yield c


@pytest.mark.parametrize(("method", "path"), WRITES)
@pytest.mark.parametrize("header", [None, "Bearer wrong", "Basic czNjcmV0", f"bearer{TOKEN}"])
def test_write_routes_need_the_token(secured, method, path, header) -> None:
    headers = {"Authorization": header} if header else {}
    r = secured.request(method, path, headers=headers)
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert r.json()["detail"]


def test_upload_with_the_token_is_accepted(secured, new_page) -> None:
    r = secured.post(
        "/documents",
        files={"file": ("a.png", new_page(["auth"], width=410).png)},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert r.status_code == 202


def test_unauthorised_upload_body_is_not_stored(secured, settings, new_page) -> None:
    r = secured.post("/documents", files={"file": ("a.png", new_page(["x"], width=420).png)})
    assert r.status_code == 401
    assert secured.get("/documents").json()["total"] == 0


@pytest.mark.parametrize("path", ["/health", "/search?q=x", "/documents", "/metrics", "/"])
def test_read_routes_are_open_with_a_token_set(secured, path) -> None:
    assert secured.get(path).status_code == 200


@pytest.mark.parametrize(("method", "path"), WRITES)
def test_without_a_token_configured_writes_are_open(client, method, path) -> None:
    assert client.request(method, path).status_code != 401


def test_cors_is_off_by_default(client) -> None:
    r = client.get("/health", headers={"Origin": "https://elsewhere.example"})
    assert "access-control-allow-origin" not in r.headers


def test_cors_origins_enable_cors_for_those_origins(settings, archive) -> None:
    settings.api.cors_origins = ["https://archive.example"]
    with TestClient(create_app(settings, archive)) as c:
        ok = c.get("/health", headers={"Origin": "https://archive.example"})
        other = c.get("/health", headers={"Origin": "https://evil.example"})
        pre = c.options(
            "/documents",
            headers={
                "Origin": "https://archive.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "Authorization",
            },
        )
    assert ok.headers["access-control-allow-origin"] == "https://archive.example"
    assert "access-control-allow-origin" not in other.headers
    assert pre.status_code == 200
