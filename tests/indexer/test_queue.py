"""The durable job queue: claim order, retries with backoff, recovery of running jobs."""

from __future__ import annotations

import time
from pathlib import Path

from indexer.queue import JobQueue
from indexer.store import Database, DocStatus, Document, now


def _db_with_docs(tmp_path: Path, n: int) -> tuple[Database, JobQueue]:
    db = Database(tmp_path / "q.sqlite")
    q = JobQueue(db)
    with db.tx() as c:
        for i in range(n):
            t = now()
            db.insert_document(
                c,
                Document(
                    f"d{i}",
                    f"f{i}",
                    None,
                    f"sha{i}",
                    1,
                    "image/png",
                    DocStatus.queued,
                    None,
                    None,
                    None,
                    t,
                    t,
                ),
            )
            q.enqueue(c, f"d{i}")
            q.enqueue(c, f"d{i}")  # queued twice: still one job
    return db, q


def test_claims_oldest_first_and_marks_documents_processing(tmp_path: Path) -> None:
    db, q = _db_with_docs(tmp_path, 3)
    assert q.pending() == 3
    jobs = q.claim(2)
    assert [j.doc_id for j in jobs] == ["d0", "d1"]
    assert all(j.attempts == 1 for j in jobs)
    assert db.document("d0").status == DocStatus.processing
    assert [j.doc_id for j in q.claim(5)] == ["d2"]
    assert q.claim(5) == []


def test_retry_waits_for_the_backoff(tmp_path: Path) -> None:
    db, q = _db_with_docs(tmp_path, 1)
    (job,) = q.claim(1)
    q.retry(job, "index locked", delay_s=0.3)
    assert db.document("d0").status == DocStatus.queued
    assert q.claim(1) == []
    assert 0 < q.next_ready_in() <= 0.3
    time.sleep(0.35)
    (again,) = q.claim(1)
    assert again.attempts == 2


def test_running_jobs_of_a_dead_worker_are_requeued(tmp_path: Path) -> None:
    db, q = _db_with_docs(tmp_path, 2)
    q.claim(2)
    assert q.claim(2) == []
    assert q.requeue_running() == 2
    assert db.document("d1").status == DocStatus.queued
    assert len(q.claim(2)) == 2


def test_finished_jobs_leave_the_queue(tmp_path: Path) -> None:
    db, q = _db_with_docs(tmp_path, 1)
    (job,) = q.claim(1)
    with db.tx() as c:
        q.finish(c, job)
    assert q.pending() == 0
    assert q.next_ready_in() is None
