"""Originals by content, transcripts per model, the documents table."""

from __future__ import annotations

from pathlib import Path

import pytest

from indexer.store import (
    Database,
    OriginalStore,
    StoreError,
    TranscriptStore,
    atomic_write_bytes,
    sniff_media_type,
)
from recognizer.transcript import Line, PageTranscript, Word


def test_original_is_stored_once_under_its_sha256(tmp_path: Path) -> None:
    store = OriginalStore(tmp_path / "originals")
    a = tmp_path / "a.png"
    a.write_bytes(b"\x89PNG\r\n\x1a\n" + b"x" * 100)
    first = store.put(a)
    second = store.put(a)
    assert first == second
    assert first.path == tmp_path / "originals" / first.sha256[:2] / first.sha256
    assert first.path.read_bytes() == a.read_bytes()
    assert first.media_type == "image/png"
    assert first.size == 108
    assert list((tmp_path / "originals" / ".tmp").iterdir()) == []  # no temp file left


def test_unreadable_source_leaves_no_temp_file(tmp_path: Path) -> None:
    store = OriginalStore(tmp_path / "originals")
    with pytest.raises(FileNotFoundError):
        store.put(tmp_path / "missing.png")
    assert list((tmp_path / "originals" / ".tmp").iterdir()) == []


@pytest.mark.parametrize(
    ("head", "media"),
    [
        (b"\xff\xd8\xff\xe0", "image/jpeg"),
        (b"II*\x00", "image/tiff"),
        (b"%PDF-1.7", "application/pdf"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"hello", "application/octet-stream"),
    ],
)
def test_media_type_comes_from_the_content(head: bytes, media: str) -> None:
    assert sniff_media_type(head) == media
    if media != "application/octet-stream":
        assert sniff_media_type(head, "misleading.png") == media  # content wins over name


def test_atomic_write_replaces_whole_file(tmp_path: Path) -> None:
    p = tmp_path / "sub" / "f.json"
    atomic_write_bytes(p, b"one")
    atomic_write_bytes(p, b"two")
    assert p.read_bytes() == b"two"
    assert [x.name for x in p.parent.iterdir()] == ["f.json"]


def _page(version: str) -> PageTranscript:
    w = Word((1, 2, 3, 4), "Hooker", 0.7, (("Hocker", 0.2),))
    return PageTranscript(version, 100, 50, (Line((0, 0, 100, 10), "Hooker", 0.7, (w,)),))


def test_transcripts_round_trip_per_model_version(tmp_path: Path) -> None:
    ts = TranscriptStore(tmp_path / "t")
    pages = [_page("m1"), _page("m1")]
    ts.save("m1", "abc", pages)
    assert ts.load("m1", "abc") == pages
    assert ts.load("m2", "abc") is None
    ts.save("m2", "abc", [_page("m2")])
    ts.delete_all("abc")
    assert ts.load("m1", "abc") is None and ts.load("m2", "abc") is None


def test_corrupt_transcript_raises_store_error(tmp_path: Path) -> None:
    ts = TranscriptStore(tmp_path / "t")
    ts.path("m", "abc").parent.mkdir(parents=True)
    ts.path("m", "abc").write_text("{not json")
    with pytest.raises(StoreError, match="unreadable"):
        ts.load("m", "abc")


def test_database_uses_wal(tmp_path: Path) -> None:
    db = Database(tmp_path / "x.sqlite")
    mode = db.conn().execute("PRAGMA journal_mode").fetchone()[0]
    db.close()
    assert mode == "wal"


def test_a_database_from_before_the_added_columns_is_brought_up_to_date(
    tmp_path: Path,
) -> None:
    import sqlite3

    path = tmp_path / "inkdex.sqlite"
    old = sqlite3.connect(path)
    old.execute(
        "CREATE TABLE reindex_jobs (job_id TEXT PRIMARY KEY, model TEXT NOT NULL, bundle TEXT, "
        "generation TEXT NOT NULL, state TEXT NOT NULL, done INTEGER NOT NULL DEFAULT 0, "
        "total INTEGER NOT NULL DEFAULT 0, error TEXT, started_at TEXT NOT NULL, finished_at TEXT)"
    )
    old.execute(
        "INSERT INTO reindex_jobs VALUES ('reindex-0002', 'm', NULL, 'g0002-m', 'done', 3, 3, "
        "NULL, '2026-01-01T00:00:00+00:00', '2026-01-01T00:01:00+00:00')"
    )
    old.execute(
        "CREATE TABLE documents (doc_id TEXT PRIMARY KEY, filename TEXT NOT NULL, "
        "source_path TEXT, sha256 TEXT NOT NULL UNIQUE, size INTEGER NOT NULL, "
        "media_type TEXT NOT NULL, status TEXT NOT NULL, model_version TEXT, error TEXT, "
        "pages INTEGER, created_at TEXT NOT NULL, updated_at TEXT NOT NULL)"
    )
    old.commit()
    old.close()
    db = Database(path)
    row = db.conn().execute("SELECT job_id, retranscribe FROM reindex_jobs").fetchone()
    assert row == ("reindex-0002", 0)
    columns = {r[1] for r in db.conn().execute("PRAGMA table_info(documents)")}
    assert "reading" in columns
    Database(path)  # opening again changes nothing
