"""Prometheus metrics of one app, in its own `CollectorRegistry`.

Counters and histograms are fed by the routes (search and upload latency, HTTP requests);
documents by status, queue depth, the live index generation and the documents read
with other settings than now are read from the archive at scrape time, so they are
never stale and cost nothing between scrapes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

# Seconds; search is expected in milliseconds, ingest (upload to indexed) in seconds.
SEARCH_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
UPLOAD_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
INGEST_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0)
STATUSES = ("queued", "processing", "indexed", "failed")


class _ArchiveCollector(Collector):
    """Reads document counts, queue depth and index generation from the archive."""

    def __init__(self, get_archive: Callable[[], Any]) -> None:
        self._get_archive = get_archive

    def collect(self) -> Iterator[Metric]:
        archive = self._get_archive()
        if archive is None:
            return
        try:
            health = archive.health()
            counts = {s: archive.list_documents(status=s, limit=0)[0] for s in STATUSES}
            otherwise = archive.read_otherwise()
        except Exception:  # a scrape must not fail because the archive is busy
            log.warning("could not read archive state for /metrics", exc_info=True)
            return
        docs = GaugeMetricFamily(
            "inkdex_documents", "Documents in the archive by status", labels=["status"]
        )
        for s, n in counts.items():
            docs.add_metric([s], n)
        yield docs
        yield GaugeMetricFamily(
            "inkdex_queue_depth", "Ingest jobs waiting or running", value=health.get("queue") or 0
        )
        yield GaugeMetricFamily(
            "inkdex_documents_read_otherwise",
            "Indexed documents the active model read with other reading settings or bundle "
            "files than now (POST /admin/reindex with retranscribe reads them again)",
            value=otherwise,
        )
        info = InfoMetricFamily("inkdex_index", "The live index generation and model")
        info.add_metric(
            [],
            {
                "generation": str(health.get("index_generation") or ""),
                "model": str(health.get("model") or ""),
            },
        )
        yield info


class Metrics:
    """The metrics of one app; create one per app so tests can build several apps."""

    def __init__(self, get_archive: Callable[[], Any]) -> None:
        self.registry = CollectorRegistry()
        self.search_seconds = Histogram(
            "inkdex_search_seconds",
            "Time to answer a search, in the archive",
            buckets=SEARCH_BUCKETS,
            registry=self.registry,
        )
        self.upload_seconds = Histogram(
            "inkdex_upload_seconds",
            "Time to receive, check and store an uploaded file (until it is queued)",
            buckets=UPLOAD_BUCKETS,
            registry=self.registry,
        )
        self.ingest_seconds = Histogram(
            "inkdex_ingest_seconds",
            "Time from upload to the document being indexed or failed, as seen by this process",
            buckets=INGEST_BUCKETS,
            registry=self.registry,
        )
        self.uploads = Counter(
            "inkdex_uploads",
            "Uploads by outcome (accepted, duplicate, rejected)",
            labelnames=["outcome"],
            registry=self.registry,
        )
        self.requests = Histogram(
            "inkdex_http_request_seconds",
            "HTTP request latency by route template, method and status",
            labelnames=["route", "method", "status"],
            buckets=SEARCH_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(_ArchiveCollector(get_archive))


class IngestTracker:
    """Follows uploaded documents until they are indexed or failed, to time their ingest.

    `poll` is called periodically by the app; it asks the archive for each document still
    in flight and records upload-to-done time in `Metrics.ingest_seconds`.
    """

    def __init__(self, metrics: Metrics, max_tracked: int = 10_000) -> None:
        self._metrics = metrics
        self._max = max_tracked
        self._pending: dict[str, float] = {}

    @property
    def pending(self) -> int:
        return len(self._pending)

    def track(self, doc_id: str, started: float) -> None:
        if len(self._pending) >= self._max:  # drop the oldest rather than grow without bound
            self._pending.pop(next(iter(self._pending)))
        self._pending[doc_id] = started

    def poll(self, archive: Any, now: float) -> None:
        for doc_id, started in list(self._pending.items()):
            try:
                doc = archive.get(doc_id)
            except KeyError:  # deleted meanwhile
                self._pending.pop(doc_id, None)
                continue
            if str(doc.status) in ("indexed", "failed"):
                self._metrics.ingest_seconds.observe(max(0.0, now - started))
                self._pending.pop(doc_id, None)
