"""A worker process killed with SIGKILL mid-ingest: after a restart every file is indexed once."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from indexer import index
from indexer.archive import Archive, DocStatus

REPO = Path(__file__).resolve().parents[2]

# A small ingest runner: the same steps as `inkdex ingest`, with the fake recognizer.
RUNNER = """
import importlib.util, sys
from pathlib import Path
from indexer.archive import Archive, DuplicateDocument
from inkdex.settings import load_settings

fakes_path, config, data_dir, delay, *files = sys.argv[1:]
spec = importlib.util.spec_from_file_location("fakes", fakes_path)
fakes = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fakes)
settings = load_settings(config, {"data_dir": data_dir, "worker": {"batch_pages": 3}})
arch = Archive.open(settings, recognizer=fakes.FakeRecognizer(delay_s=float(delay)))
for f in files:
    try:
        arch.add_file(Path(f))
    except DuplicateDocument:
        pass
print("added", flush=True)
arch.process_pending()
arch.close()
"""


def _run(args: list[str]) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-c", RUNNER, *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _indexed(db: Path) -> int:
    try:
        with sqlite3.connect(db, timeout=30) as c:
            q = "SELECT COUNT(*) FROM documents WHERE status = 'indexed'"
            return c.execute(q).fetchone()[0]
    except sqlite3.OperationalError:  # the runner has not created the tables yet
        return 0


def test_sigkill_in_the_middle_of_an_ingest_loses_and_doubles_nothing(
    tmp_path: Path, make_settings, fakes
) -> None:
    settings = make_settings(tmp_path)
    config = str(tmp_path / "config.yaml")
    files = [
        str(fakes.write_page(tmp_path / "src" / f"f{i:02d}.png", f"word{i} shared"))
        for i in range(20)
    ]
    fakes_path = str(Path(__file__).with_name("fakes.py"))
    args = [fakes_path, config, str(settings.data_dir)]

    proc = _run([*args, "0.08", *files])
    db = settings.data_dir / "inkdex.sqlite"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (db.exists() and _indexed(db) >= 4):
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert 4 <= _indexed(db) < 20  # killed half-way

    proc = _run([*args, "0", *files])
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err

    arch = Archive.open(settings, recognizer=fakes.FakeRecognizer())
    try:
        total, docs = arch.list_documents(limit=100)
        assert total == 20
        assert {d.status for d in docs} == {DocStatus.indexed}
        ix = index.open_index(arch.live.generation.path)
        with ix.searcher() as s:
            stored = [f["doc_id"] for f in s.all_stored_fields()]
        assert sorted(stored) == sorted(d.doc_id for d in docs)  # each exactly once
        assert arch.search("shared", limit=100).total == 20
        for i in (0, 7, 19):
            assert arch.search(f"word{i}").total == 1
        assert arch.health()["queue"] == 0
    finally:
        arch.close()
