"""HTTP benchmark: search latency with 1, 8 and 32 concurrent clients, and uploads per second.

Builds a 10k-page archive from synthetic transcripts (random English words with
recognizer-like alternative readings, see `bench/index_speed.py`), serves it with the
real app under uvicorn in its own process (as `inkdex serve` does; the ingest worker
and inbox off so nothing else runs), and drives `GET /search?q=WORD&limit=10` from
N concurrent keep-alive clients in this process, timing each request end to end.
Then it serves an empty archive and times `POST /documents` of distinct PNG pages
(upload, type and size checks, copy into the originals store, queueing; recognition
is not part of it) with 8 concurrent clients.

Client and server share this machine's cores, so the latencies include the load
generator's own CPU use and whatever else runs. Prints p50/p99/max milliseconds,
requests per second, and the server's CPU milliseconds per request (from /proc; it
does not depend on other load, and bounds what one server process can answer).

    .venv/bin/python bench/http_search.py [--pages 10000] [--requests 400]
        [--clients 1,8,32] [--uploads 200] [--workdir DIR] [--keep]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def _settings(data: Path):
    from inkdex.settings import load_settings

    cfg = data.parent / "config.yaml"
    cfg.write_text("{}\n")
    return load_settings(
        cfg,
        {
            "data_dir": str(data),
            "log_level": "WARNING",
            "worker": {"enabled": False},
            "inbox": {"enabled": False},
        },
    )


def serve(data: Path, port: int) -> None:
    """Run the app on `data` (the server process of the benchmark)."""
    import uvicorn
    from index_speed import _NoRecognizer

    from api.main import create_app
    from indexer.archive import Archive

    settings = _settings(data)
    archive = Archive.open(settings, recognizer=_NoRecognizer())
    try:
        uvicorn.run(
            create_app(settings, archive),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            access_log=False,
        )
    finally:
        archive.close()


def build(root: Path, pages: int, seed: int) -> Path:
    from index_speed import _NoRecognizer, make_archive

    from indexer.archive import Archive

    t = time.perf_counter()
    data = make_archive(root, pages, 120, seed)
    archive = Archive.open(_settings(data), recognizer=_NoRecognizer())
    try:
        archive.reindex()
    finally:
        archive.close()
    print(f"built a {pages}-page archive in {time.perf_counter() - t:.0f}s")
    return data


class Server:
    """The benchmark server in a child process, stopped with SIGTERM."""

    def __init__(self, data: Path) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "serve", str(data), str(self.port)],
            cwd=ROOT,
        )

    def wait_ready(self, timeout_s: float = 120.0) -> None:
        import httpx

        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("the benchmark server exited")
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError("the benchmark server did not come up")

    def cpu_seconds(self) -> float | None:
        """CPU time the server process has used so far (Linux /proc), or None."""
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(p / 100 * (len(xs) - 1)))]


async def drive(url: str, clients: int, jobs: list, make_request) -> tuple[list[float], float]:
    """Run `jobs` through `clients` concurrent keep-alive connections; latencies in ms."""
    import httpx

    queue: asyncio.Queue = asyncio.Queue()
    for j in jobs:
        queue.put_nowait(j)
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:

        async def worker() -> None:
            while True:
                try:
                    job = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                t = time.perf_counter()
                r = await make_request(client, job)
                latencies.append((time.perf_counter() - t) * 1000)
                if r.status_code >= 400 and r.status_code != 409:
                    raise RuntimeError(f"{r.status_code}: {r.text[:200]}")

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        wall = time.perf_counter() - started
    return latencies, wall


def bench_search(data: Path, levels: list[int], n_requests: int, seed: int) -> None:
    from index_speed import vocabulary

    rng = random.Random(seed)
    words = [w for w in vocabulary(20_000)[100:] if len(w) >= 3]
    server = Server(data)
    try:
        server.wait_ready()

        async def search(client, q):
            return await client.get("/search", params={"q": q, "limit": 10})

        warm = rng.sample(words, 50)
        asyncio.run(drive(server.url, 4, warm, search))
        print(f"\nGET /search, one word of a 20k-word vocabulary, limit 10, {n_requests} requests")
        print(
            f"{'clients':>8s} {'p50 ms':>8s} {'p99 ms':>8s} {'max ms':>8s} {'req/s':>8s}"
            f" {'server CPU ms/req':>18s}"
        )
        for clients in levels:
            queries = [rng.choice(words) for _ in range(n_requests)]
            cpu0 = server.cpu_seconds()
            lat, wall = asyncio.run(drive(server.url, clients, queries, search))
            cpu1 = server.cpu_seconds()
            cpu = f"{(cpu1 - cpu0) * 1000 / len(lat):18.1f}" if cpu0 is not None else ""
            print(
                f"{clients:8d} {pct(lat, 50):8.1f} {pct(lat, 99):8.1f} {max(lat):8.1f}"
                f" {len(lat) / wall:8.0f} {cpu}"
            )
    finally:
        server.stop()


def page_png(i: int) -> bytes:
    """A distinct ~40 KB grayscale page (noise keeps every file's hash different)."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(i)
    img = np.full((400, 800), 250, np.uint8)
    img[rng.integers(0, 400, 3000), rng.integers(0, 800, 3000)] = 20
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "PNG")
    return buf.getvalue()


def bench_uploads(root: Path, n: int, clients: int) -> None:
    data = root / "uploads" / "data"
    data.mkdir(parents=True)
    files = [page_png(i) for i in range(n)]
    server = Server(data)
    try:
        server.wait_ready()

        async def upload(client, i):
            return await client.post(
                "/documents", files={"file": (f"page{i:05d}.png", files[i], "image/png")}
            )

        lat, wall = asyncio.run(drive(server.url, clients, list(range(n)), upload))
        size = sum(len(f) for f in files) / n / 1000
        print(f"\nPOST /documents, {n} distinct PNG pages of ~{size:.0f} kB, {clients} clients")
        print(
            f"{n / wall:.0f} uploads/s; latency p50 {pct(lat, 50):.1f} ms, "
            f"p99 {pct(lat, 99):.1f} ms, max {max(lat):.1f} ms"
        )
    finally:
        server.stop()


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "serve":
        serve(Path(sys.argv[2]), int(sys.argv[3]))
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=10_000, help="pages in the search archive")
    ap.add_argument("--requests", type=int, default=400, help="searches per concurrency level")
    ap.add_argument("--clients", default="1,8,32", help="concurrency levels")
    ap.add_argument("--uploads", type=int, default=200, help="uploads to time (0 = skip)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workdir", type=Path, help="where to build (default: a temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep the built archive")
    ap.add_argument("--reuse", type=Path, help="data dir of an archive built earlier (--keep)")
    args = ap.parse_args()
    base = Path(tempfile.mkdtemp(prefix="inkdex-http-", dir=args.workdir))
    print(f"working under {base}; {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
    try:
        data = args.reuse or build(base / "search", args.pages, args.seed)
        levels = [int(x) for x in args.clients.split(",")]
        bench_search(data, levels, args.requests, args.seed)
        if args.uploads:
            bench_uploads(base, args.uploads, 8)
    finally:
        if args.keep:
            print(f"kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
