"""The watched inbox: complete files only, catch-up at start, ignored names, no re-ingest."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from indexer.archive import Archive, DocStatus
from indexer.watcher import is_ignored


def wait_until(pred: Callable[[], bool], timeout: float = 15.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


def _indexed(arch: Archive) -> int:
    return arch.list_documents(status=DocStatus.indexed)[0]


@pytest.mark.parametrize(
    ("name", "ignored"),
    [
        ("a.png", False),
        ("sub/dir/a.png", False),
        (".a.png", True),
        (".hidden/a.png", True),
        ("a.png.part", True),
        ("a.png.crdownload", True),
        ("a.tmp", True),
        ("~$report.docx", True),
        ("a.png~", True),
    ],
)
def test_temporary_and_hidden_files_are_ignored(name: str, ignored: bool) -> None:
    assert is_ignored(Path(name)) is ignored


@pytest.mark.parametrize("polling", [False, True])
def test_file_written_slowly_is_taken_once_complete(
    tmp_path: Path, make_settings, fakes, polling: bool
) -> None:
    settings = make_settings(tmp_path, inbox={"polling": polling, "stable_s": 0.6})
    arch = Archive.open(settings, recognizer=fakes.FakeRecognizer())
    arch.start()
    try:
        png = tmp_path / "whole.png"
        fakes.write_page(png, "slowly arriving letter")
        data = png.read_bytes()
        target = arch.inbox_dir / "scans" / "letter.png"
        target.parent.mkdir()
        with open(target, "wb") as f:
            for i in range(0, len(data), max(1, len(data) // 6)):
                f.write(data[i : i + max(1, len(data) // 6)])
                f.flush()
                time.sleep(0.25)  # shorter than stable_s, longer in total
                assert arch.list_documents()[0] == 0, "taken before it was complete"
        wait_until(lambda: _indexed(arch) == 1)
        (doc,) = arch.list_documents()[1]
        assert doc.sha256 == hashlib.sha256(data).hexdigest()
        assert doc.source_path == "scans/letter.png" and doc.filename == "letter.png"
        assert arch.search("arriving").total == 1
    finally:
        arch.close()


def test_files_dropped_while_down_are_ingested_at_start(
    tmp_path: Path, make_settings, fakes
) -> None:
    settings = make_settings(tmp_path)
    Archive.open(settings, recognizer=fakes.FakeRecognizer()).close()
    inbox = settings.data_dir / "inbox"
    for i in range(3):
        fakes.write_page(inbox / f"n{i}.png", f"offline note {i}")
    fakes.write_page(inbox / "partial.png.part", "not yet")
    fakes.write_page(inbox / ".hidden.png", "secret")
    arch = Archive.open(settings, recognizer=fakes.FakeRecognizer())
    arch.start()
    try:
        wait_until(lambda: _indexed(arch) == 3)
        time.sleep(0.5)
        assert arch.list_documents()[0] == 3
        assert arch.search("offline").total == 3
        # the partial file is renamed to its final name: now it is taken
        (inbox / "partial.png.part").rename(inbox / "partial.png")
        wait_until(lambda: _indexed(arch) == 4)
    finally:
        arch.close()


def test_inbox_files_are_not_ingested_again(tmp_path: Path, make_settings, fakes) -> None:
    settings = make_settings(tmp_path)
    inbox = settings.data_dir / "inbox"
    fakes.write_page(inbox / "a.png", "first content")
    fakes.write_page(inbox / "copy.png", "first content")  # same bytes, another name
    rec = fakes.FakeRecognizer()
    arch = Archive.open(settings, recognizer=rec)
    arch.start()
    try:
        wait_until(lambda: _indexed(arch) == 1)
        time.sleep(0.5)
    finally:
        arch.close()
    assert sum(rec.batches) == 1
    # restart: nothing new, nothing recognised again
    arch = Archive.open(settings, recognizer=rec)
    arch.start()
    try:
        time.sleep(1.5)  # covers the start scan and a rescan
        assert arch.list_documents()[0] == 1
        assert sum(rec.batches) == 1
        # a file that changes is new content: ingested as a new document
        time.sleep(0.01)
        fakes.write_page(inbox / "a.png", "second content")
        wait_until(lambda: _indexed(arch) == 2)
        assert arch.search("second").total == 1
    finally:
        arch.close()
    assert (inbox / "a.png").exists()  # inbox files are left in place
