"""GET /metrics: Prometheus text with document, queue and latency metrics, per app."""

from __future__ import annotations

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from api.main import create_app


def _families(client: TestClient) -> dict:
    r = client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    return {f.name: f for f in text_string_to_metric_families(r.text)}


def _value(fam, sample: str | None = None, **labels) -> float:
    for s in fam.samples:
        if sample is not None and s.name != sample:
            continue
        if all(s.labels.get(k) == v for k, v in labels.items()):
            return s.value
    raise AssertionError(f"no sample {labels} in {fam.name}")


def test_metrics_count_documents_searches_and_uploads(client, new_page, wait_done) -> None:
    doc_id = client.post("/documents", files={"file": ("m.png", new_page(["m"], width=430).png)})
    wait_done(client, doc_id.json()["doc_id"])
    client.get("/search", params={"q": "m"})
    fams = _families(client)
    assert _value(fams["inkdex_documents"], status="indexed") == 1
    assert _value(fams["inkdex_documents"], status="failed") == 0
    assert _value(fams["inkdex_queue_depth"]) == 0
    assert _value(fams["inkdex_documents_read_otherwise"]) == 0
    assert _value(fams["inkdex_search_seconds"], sample="inkdex_search_seconds_count") == 1
    assert _value(fams["inkdex_upload_seconds"], sample="inkdex_upload_seconds_count") == 1
    assert _value(fams["inkdex_uploads"], "inkdex_uploads_total", outcome="accepted") == 1
    assert "inkdex_ingest_seconds" in fams
    generation = client.get("/health").json()["index_generation"]
    assert _value(fams["inkdex_index_info"], generation=generation, model="stub-0.1") == 1


def test_request_latency_is_labelled_by_route_template(client) -> None:
    client.get("/documents/abc")
    fams = _families(client)
    fam = fams["inkdex_http_request_seconds"]
    assert (
        _value(fam, "inkdex_http_request_seconds_count", route="/documents/{doc_id}", status="404")
        >= 1
    )
    assert not any("abc" in s.labels.get("route", "") for s in fam.samples)


def test_two_apps_have_separate_registries(settings, archive) -> None:
    with (
        TestClient(create_app(settings, archive)) as a,
        TestClient(create_app(settings, archive)) as b,
    ):
        a.get("/search", params={"q": "x"})
        fa, fb = _families(a), _families(b)
    assert _value(fa["inkdex_search_seconds"], sample="inkdex_search_seconds_count") == 1
    assert _value(fb["inkdex_search_seconds"], sample="inkdex_search_seconds_count") == 0
