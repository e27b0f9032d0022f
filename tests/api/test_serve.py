"""`inkdex serve` runs the API with its background parts and stops cleanly on SIGTERM."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from indexer.archive import Archive
from inkdex.settings import load_settings


def test_serve_answers_then_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = tmp_path / "data"
    proc = subprocess.Popen(
        [sys.executable, "-m", "inkdex.cli", "serve", "--data-dir", str(data), "--port", str(port)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stdout.read()
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "serve did not answer within 60 s"
                time.sleep(0.2)
        assert r.status_code == 200 and r.json()["status"] == "ok"
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    # uvicorn shuts down, then re-raises the signal: exit 0 or "killed by SIGTERM" are clean.
    assert proc.returncode in (0, -signal.SIGTERM), out
    assert "Application shutdown complete" in out
    assert "inkdex stopped" in out
    assert "Traceback" not in out
    # The worker lock was released: another process can run the worker on this data dir.
    archive = Archive.open(
        load_settings(None, {"data_dir": str(data), "inbox": {"enabled": False}})
    )
    try:
        archive.start()
    finally:
        archive.close()
