"""OpenAPI docs at /docs: every route, with examples and the upload's multipart body."""

from __future__ import annotations


def test_openapi_lists_every_route_with_examples(client) -> None:
    spec = client.get("/openapi.json").json()
    assert set(spec["paths"]) == {
        "/health",
        "/search",
        "/documents",
        "/documents/{doc_id}",
        "/documents/{doc_id}/image",
        "/documents/{doc_id}/original",
        "/admin/reindex",
        "/metrics",
    }
    upload = spec["paths"]["/documents"]["post"]
    body = upload["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert body["required"] == ["file"]
    assert {"202", "409", "413", "415", "422", "401"} <= set(upload["responses"])
    schemas = spec["components"]["schemas"]
    for name in ("SearchOut", "Health", "DocumentOut", "UploadAccepted", "DuplicateOut"):
        assert schemas[name].get("examples"), name
    assert client.get("/docs").status_code == 200
