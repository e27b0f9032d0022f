"""IngestTracker: upload-to-indexed time is recorded once per document, then forgotten."""

from __future__ import annotations

from types import SimpleNamespace

from api.metrics import IngestTracker, Metrics
from indexer.archive import DocumentNotFound


class _Docs:
    def __init__(self) -> None:
        self.status = {"a": "queued", "b": "processing"}

    def get(self, doc_id: str):
        if doc_id not in self.status:
            raise DocumentNotFound(doc_id)
        return SimpleNamespace(status=self.status[doc_id])


def _count(m: Metrics) -> float:
    return m.registry.get_sample_value("inkdex_ingest_seconds_count") or 0.0


def test_tracker_observes_documents_when_they_finish() -> None:
    metrics = Metrics(lambda: None)
    tracker = IngestTracker(metrics)
    docs = _Docs()
    tracker.track("a", 10.0)
    tracker.track("b", 10.0)
    tracker.track("gone", 10.0)
    tracker.poll(docs, 11.0)
    assert _count(metrics) == 0 and tracker.pending == 2  # "gone" was deleted meanwhile
    docs.status["a"] = "indexed"
    docs.status["b"] = "failed"
    tracker.poll(docs, 12.5)
    assert _count(metrics) == 2 and tracker.pending == 0
    assert metrics.registry.get_sample_value("inkdex_ingest_seconds_sum") == 5.0
    tracker.poll(docs, 20.0)
    assert _count(metrics) == 2


def test_tracker_is_bounded() -> None:
    tracker = IngestTracker(Metrics(lambda: None), max_tracked=3)
    for i in range(10):
        tracker.track(str(i), 0.0)
    assert tracker.pending == 3
