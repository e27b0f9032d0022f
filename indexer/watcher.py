"""The watched inbox: files dropped into ``inbox/`` (subfolders too) are ingested.

File-system event handlers only note candidate paths. A stabiliser loop takes a
file once its size and mtime have not changed for ``inbox.stable_s`` seconds and it
can be opened, so a file still being copied is never read half-written. A scan at
start catches files dropped while the service was down, and a rescan every
``inbox.rescan_s`` catches events that were lost. Temporary, partial and hidden
files are ignored. An error on one file is logged and never stops the watcher.

Inbox files are left where they are: inkdex remembers each by (path, size, mtime)
(see `Archive`), so a file is ingested once, and a file that changes later is
ingested again as new content (a duplicate of content already stored is recognised
by its SHA-256 and not indexed twice).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.polling import PollingObserver

from inkdex.settings import InboxSettings

log = logging.getLogger(__name__)

IGNORED_SUFFIXES = (".part", ".partial", ".tmp", ".temp", ".crdownload", ".download", ".swp")


def is_ignored(rel: Path) -> bool:
    """Hidden files and folders, Office lock files and download/partial files are skipped."""
    if any(part.startswith(".") for part in rel.parts):
        return True
    name = rel.name
    return name.startswith("~$") or name.endswith("~") or name.lower().endswith(IGNORED_SUFFIXES)


@dataclass
class _Candidate:
    size: int
    mtime_ns: int
    since: float  # monotonic time the (size, mtime) pair was first seen


class _Handler(FileSystemEventHandler):
    def __init__(self, note: Callable[[str], None]) -> None:
        self._note = note

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.is_directory:
            if event.event_type in ("created", "moved"):
                self._note(os.fsdecode(getattr(event, "dest_path", "") or event.src_path))
            return
        if event.event_type in ("created", "modified", "closed"):
            self._note(os.fsdecode(event.src_path))
        elif event.event_type == "moved":
            self._note(os.fsdecode(event.dest_path))


class InboxWatcher:
    """Watches `inbox` and calls `on_file(path)` for each complete, new-looking file.

    `is_known(path, stat)` lets the caller skip files it has already taken, so the
    periodic rescan stays cheap.
    """

    def __init__(
        self,
        inbox: Path,
        settings: InboxSettings,
        on_file: Callable[[Path], None],
        is_known: Callable[[Path, os.stat_result], bool] = lambda p, st: False,
    ) -> None:
        self.inbox = inbox
        self.settings = settings
        self.on_file = on_file
        self.is_known = is_known
        self._candidates: dict[str, _Candidate | None] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._observer: Observer | PollingObserver | None = None

    # --- lifecycle -------------------------------------------------------------------

    def start(self) -> None:
        self.inbox.mkdir(parents=True, exist_ok=True)
        self._stop.clear()
        if self.settings.polling:
            observer = PollingObserver(timeout=self.settings.poll_interval_s)
        else:
            observer = Observer()
        observer.schedule(_Handler(self._note), str(self.inbox), recursive=True)
        try:
            observer.start()
        except OSError as exc:  # e.g. inotify watch limit reached
            log.warning("file events unavailable for %s (%s); polling instead", self.inbox, exc)
            observer = PollingObserver(timeout=self.settings.poll_interval_s)
            observer.schedule(_Handler(self._note), str(self.inbox), recursive=True)
            observer.start()
        self._observer = observer
        self._thread = threading.Thread(target=self._run, name="inkdex-inbox", daemon=True)
        self._thread.start()
        log.info("watching %s", self.inbox)

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join()
            self._observer = None
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    # --- candidates ------------------------------------------------------------------

    def _note(self, path: str) -> None:
        with self._lock:
            self._candidates.setdefault(path, None)
        self._wake.set()

    def scan(self) -> int:
        """Note every file under the inbox not yet taken; returns how many were noted."""
        n = 0
        for root, dirs, files in os.walk(self.inbox):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            for name in files:
                path = Path(root, name)
                try:
                    if is_ignored(path.relative_to(self.inbox)):
                        continue
                    if self.is_known(path, path.stat()):
                        continue
                except OSError:
                    continue
                self._note(str(path))
                n += 1
        return n

    def _run(self) -> None:
        next_scan = 0.0
        tick = max(0.05, min(0.5, self.settings.stable_s / 2))
        while not self._stop.is_set():
            now = time.monotonic()
            if now >= next_scan:
                try:
                    self.scan()
                except Exception:
                    log.exception("inbox scan failed")
                next_scan = now + self.settings.rescan_s
            try:
                self._settle()
            except Exception:
                log.exception("inbox check failed")
            with self._lock:
                busy = bool(self._candidates)
            self._wake.wait(tick if busy else min(self.settings.rescan_s, 5.0))
            self._wake.clear()

    def _settle(self) -> None:
        """Hand over candidates whose size and mtime have been stable for ``stable_s``."""
        with self._lock:
            paths = list(self._candidates)
        now = time.monotonic()
        for p in paths:
            if self._stop.is_set():
                return
            path = Path(p)
            try:
                rel = path.relative_to(self.inbox)
            except ValueError:
                self._drop(p)
                continue
            if is_ignored(rel):
                self._drop(p)
                continue
            try:
                st = path.stat()
            except OSError:  # gone (moved away or deleted)
                self._drop(p)
                continue
            if not path.is_file():
                self._drop(p)
                if path.is_dir():  # a folder moved in: its files produce no events
                    self._scan_dir(path)
                continue
            with self._lock:
                prev = self._candidates.get(p)
                if prev is None or (prev.size, prev.mtime_ns) != (st.st_size, st.st_mtime_ns):
                    self._candidates[p] = _Candidate(st.st_size, st.st_mtime_ns, now)
                    continue
            if now - prev.since < self.settings.stable_s or not _can_open(path):
                continue
            self._drop(p)
            try:
                self.on_file(path)
            except Exception:
                log.exception("could not ingest %s", path)

    def _scan_dir(self, folder: Path) -> None:
        for root, dirs, files in os.walk(folder):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            for name in files:
                self._note(str(Path(root, name)))

    def _drop(self, p: str) -> None:
        with self._lock:
            self._candidates.pop(p, None)


def _can_open(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            f.read(1)
        return True
    except OSError:
        return False
