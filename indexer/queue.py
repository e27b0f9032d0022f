"""The durable ingest queue: one row per document waiting to be (re)processed, in SQLite.

A job is ``queued`` until a worker claims it (``running``); it is deleted when the
document reaches a final status. A job found ``running`` at start belonged to a
worker that died: `requeue_running` puts it back. Retries wait in ``queued`` with a
``not_before`` time (exponential backoff).
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass

from indexer.store import Database, DocStatus, iso, now

QUEUED = "queued"
RUNNING = "running"


@dataclass(frozen=True)
class Job:
    job_id: int
    doc_id: str
    attempts: int  # including the current one


class JobQueue:
    def __init__(self, db: Database) -> None:
        self.db = db

    def enqueue(self, c: sqlite3.Connection, doc_id: str) -> None:
        """Queue `doc_id` (inside the caller's transaction); a queued document is not doubled."""
        c.execute(
            "INSERT INTO jobs (doc_id, state, attempts, not_before, updated_at) "
            "VALUES (?, ?, 0, 0, ?) ON CONFLICT (doc_id) DO NOTHING",
            (doc_id, QUEUED, time.time()),
        )

    def claim(self, limit: int) -> list[Job]:
        """Take up to `limit` ready jobs (oldest first) and mark their documents processing."""
        t = time.time()
        with self.db.tx() as c:
            rows = c.execute(
                "SELECT job_id, doc_id, attempts FROM jobs "
                "WHERE state = ? AND not_before <= ? ORDER BY job_id LIMIT ?",
                (QUEUED, t, limit),
            ).fetchall()
            for job_id, doc_id, _ in rows:
                c.execute(
                    "UPDATE jobs SET state = ?, attempts = attempts + 1, updated_at = ? "
                    "WHERE job_id = ?",
                    (RUNNING, t, job_id),
                )
                c.execute(
                    "UPDATE documents SET status = ?, updated_at = ? WHERE doc_id = ?",
                    (DocStatus.processing.value, iso(now()), doc_id),
                )
        return [Job(job_id, doc_id, attempts + 1) for job_id, doc_id, attempts in rows]

    def finish(self, c: sqlite3.Connection, job: Job) -> None:
        """The document reached a final status (inside the caller's transaction)."""
        c.execute("DELETE FROM jobs WHERE job_id = ?", (job.job_id,))

    def retry(self, job: Job, error: str, delay_s: float) -> None:
        """Put the job back, ready again in `delay_s` seconds; the document shows queued."""
        with self.db.tx() as c:
            c.execute(
                "UPDATE jobs SET state = ?, not_before = ?, error = ?, updated_at = ? "
                "WHERE job_id = ?",
                (QUEUED, time.time() + delay_s, error, time.time(), job.job_id),
            )
            c.execute(
                "UPDATE documents SET status = ?, updated_at = ? WHERE doc_id = ?",
                (DocStatus.queued.value, iso(now()), job.doc_id),
            )

    def release(self, jobs: list[Job]) -> None:
        """Give claimed jobs back untouched (not counted as an attempt), e.g. at shutdown."""
        with self.db.tx() as c:
            for job in jobs:
                c.execute(
                    "UPDATE jobs SET state = ?, attempts = MAX(attempts - 1, 0) WHERE job_id = ?",
                    (QUEUED, job.job_id),
                )
                c.execute(
                    "UPDATE documents SET status = ? WHERE doc_id = ? AND status = ?",
                    (DocStatus.queued.value, job.doc_id, DocStatus.processing.value),
                )

    def requeue_running(self) -> int:
        """Re-queue jobs a dead worker left running; returns how many."""
        with self.db.tx() as c:
            rows = c.execute("SELECT doc_id FROM jobs WHERE state = ?", (RUNNING,)).fetchall()
            c.execute(
                "UPDATE jobs SET state = ?, not_before = 0 WHERE state = ?", (QUEUED, RUNNING)
            )
            for (doc_id,) in rows:
                c.execute(
                    "UPDATE documents SET status = ? WHERE doc_id = ?",
                    (DocStatus.queued.value, doc_id),
                )
        return len(rows)

    def pending(self) -> int:
        """Jobs not finished yet (queued or running)."""
        return self.db.conn().execute("SELECT COUNT(*) FROM jobs").fetchone()[0]

    def next_ready_in(self) -> float | None:
        """Seconds until the earliest queued job is ready (0 when one is), None when none is queued."""
        row = (
            self.db.conn()
            .execute("SELECT MIN(not_before) FROM jobs WHERE state = ?", (QUEUED,))
            .fetchone()
        )
        if row is None or row[0] is None:
            return None
        return max(0.0, row[0] - time.time())
