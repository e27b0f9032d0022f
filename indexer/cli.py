"""Subcommands owned by the indexer: `ingest`, `search`, `reindex`, `models`.

Handlers import the archive lazily so `inkdex --help` stays fast; nothing on the
search path imports TensorFlow.
"""

from __future__ import annotations

import argparse
import html
import json
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from inkdex.cli import add_command
from inkdex.settings import Settings

_MARK = re.compile(r"<mark>(.*?)</mark>")


def _files(paths: list[str]) -> Iterator[tuple[Path, str | None]]:
    """Every file named or under a folder named (hidden and partial files skipped);
    yields (path, None) or (path, error)."""
    from indexer.watcher import is_ignored

    for raw in paths:
        p = Path(raw)
        if p.is_file():
            yield p, None
        elif p.is_dir():
            for f in sorted(p.rglob("*")):
                if f.is_file() and not is_ignored(f.relative_to(p)):
                    yield f, None
        else:
            yield p, "no such file or folder"


class _CannotOpen(Exception):
    pass


def _open(settings: Settings, command: str) -> Any:
    """The archive, or a one-line message on stderr when the data dir is unusable."""
    import sqlite3

    from indexer.archive import Archive

    try:
        return Archive.open(settings)
    except (OSError, sqlite3.Error) as exc:
        print(
            f"inkdex {command}: cannot open the archive in {settings.data_dir}: {exc}",
            file=sys.stderr,
        )
        raise _CannotOpen from exc


def _progress_bar(total: int, desc: str, unit: str) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, disable=None, leave=False)


def _ingest(args: argparse.Namespace, settings: Settings) -> int:
    from indexer.archive import (
        ArchiveBusy,
        DocStatus,
        DuplicateDocument,
        ModelUnavailable,
    )

    status = 0
    try:
        archive = _open(settings, "ingest")
    except _CannotOpen:
        return 1
    try:
        added: list[str] = []
        for path, problem in _files(args.paths):
            if problem is None:
                try:
                    doc = archive.add_file(
                        path, filename=path.name, source_path=str(path.resolve())
                    )
                    added.append(doc.doc_id)
                    continue
                except DuplicateDocument as dup:
                    print(f"{dup.existing_id}\tduplicate\t{path.name}", flush=True)
                    continue
                except OSError as exc:
                    problem = exc.strerror or str(exc)
            print(f"inkdex ingest: cannot read {path}: {problem}", file=sys.stderr)
            status = 1
        if added:
            bar = _progress_bar(archive.queue.pending(), "ingest", "doc")
            try:
                archive.process_pending(progress=bar.update)
            except ArchiveBusy:
                print(
                    "inkdex ingest: the running service is processing the queue; waiting for it",
                    file=sys.stderr,
                )
                _wait_for(archive, added)
            except ModelUnavailable as exc:
                print(f"inkdex ingest: {exc}; the files stay queued", file=sys.stderr)
                status = 1
            finally:
                bar.close()
        for doc_id in added:
            doc = archive.get(doc_id)
            line = f"{doc.doc_id}\t{doc.status}\t{doc.filename}"
            if doc.error:
                line += f"\t{doc.error}"
            print(line)
            if doc.status == DocStatus.failed:
                status = 1
    finally:
        archive.close()
    return status


def _wait_for(archive: Any, doc_ids: list[str]) -> None:
    from indexer.archive import DocStatus

    final = {DocStatus.indexed, DocStatus.failed}
    while any(archive.get(d).status not in final for d in doc_ids):
        time.sleep(0.5)


def _hit_dict(hit: Any) -> dict[str, Any]:
    return {
        "doc_id": hit.doc_id,
        "filename": hit.filename,
        "score": round(hit.score, 6),
        "snippet": hit.snippet,
        "matches": [
            {
                "page": m.page,
                "line": m.line,
                "word": m.word,
                "text": m.text,
                "bbox": list(m.bbox),
                "confidence": round(m.confidence, 6),
            }
            for m in hit.matches
        ],
    }


def _plain(snippet: str) -> str:
    return html.unescape(_MARK.sub(r"[\1]", snippet))


def _search(args: argparse.Namespace, settings: Settings) -> int:
    from indexer.archive import QueryError

    limit = args.limit if args.limit is not None else settings.index.default_limit
    try:
        archive = _open(settings, "search")
    except _CannotOpen:
        return 1
    try:
        result = archive.search(
            args.query,
            limit=limit,
            offset=args.offset,
            fuzzy=args.fuzzy,
            min_confidence=args.min_confidence,
        )
    except QueryError as exc:
        print(f"inkdex search: {exc}", file=sys.stderr)
        return 2
    finally:
        archive.close()
    if args.json:
        out = {"total": result.total, "hits": [_hit_dict(h) for h in result.hits]}
        print(json.dumps(out, ensure_ascii=False))
        return 0
    shown = f"{args.offset + 1}-{args.offset + len(result.hits)} of " if result.hits else ""
    print(f"{shown}{result.total} document(s)")
    for h in result.hits:
        print(f"{h.score:.3f}\t{h.doc_id}\t{h.filename}\t{_plain(h.snippet)}")
        for m in h.matches[:5]:
            x, y, w, hh = m.bbox
            print(
                f"\tpage {m.page + 1} line {m.line + 1} word {m.word + 1}: {m.text!r} "
                f"at x={x} y={y} w={w} h={hh} ({m.confidence:.0%})"
            )
        if len(h.matches) > 5:
            print(f"\t... {len(h.matches) - 5} more")
    return 0


def _reindex(args: argparse.Namespace, settings: Settings) -> int:
    from indexer.archive import ArchiveBusy, ModelUnavailable, RebuildError

    bundle: Path | None = None
    if args.model:
        bundle = Path(args.model)
        if not bundle.is_dir() and (settings.model.models_dir / args.model).is_dir():
            bundle = settings.model.models_dir / args.model
        if not bundle.is_dir():
            print(f"inkdex reindex: model bundle not found: {args.model}", file=sys.stderr)
            return 2
    try:
        archive = _open(settings, "reindex")
    except _CannotOpen:
        return 1
    bar = _progress_bar(0, "reindex", "doc")

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    t0 = time.perf_counter()
    try:
        result = archive.reindex(bundle, progress, retranscribe=args.retranscribe)
    except ArchiveBusy:
        bar.close()  # clears the bar's line before the message (closing twice is harmless)
        print(
            "inkdex reindex: the service is running on this data dir; "
            "ask it instead (POST /admin/reindex) or stop it first",
            file=sys.stderr,
        )
        return 1
    except (RebuildError, ModelUnavailable) as exc:
        bar.close()
        print(f"inkdex reindex: {exc}", file=sys.stderr)
        return 1
    finally:
        bar.close()
        archive.close()
    secs = time.perf_counter() - t0
    print(
        f"{result['generation']} is live (model {result['model']}): "
        f"{result['total']} document(s) in {secs:.1f}s"
    )
    if bundle is not None and bundle.resolve() != settings.model.bundle.resolve():
        print(
            f"note: config model.bundle still names {settings.model.bundle.name}; the service "
            f"rebuilds with it at its next start unless you set model.bundle to {bundle}",
            file=sys.stderr,
        )
    return 0


def _models(args: argparse.Namespace, settings: Settings) -> int:
    import yaml

    root = settings.model.models_dir
    active = settings.model.bundle.resolve()
    rows = []
    active_meta: dict[str, Any] = {}
    if root.is_dir():
        for d in sorted(p for p in root.iterdir() if (p / "model.yaml").is_file()):
            try:
                meta = yaml.safe_load((d / "model.yaml").read_text(encoding="utf-8")) or {}
            except (OSError, yaml.YAMLError) as exc:
                meta = {"error": str(exc)}
            metrics = [m for m in meta.get("metrics") or [] if isinstance(m, dict)]
            if d.resolve() == active:
                active_meta = meta
            rows.append(
                {
                    "bundle": d.name,
                    "path": str(d),
                    "active": d.resolve() == active,
                    "version": meta.get("version"),
                    "height": (meta.get("input") or {}).get("height"),
                    "cer": [
                        {k: m.get(k) for k in ("set", "decoder", "lines", "cer", "wer")}
                        for m in metrics
                    ],
                    "error": meta.get("error"),
                }
            )
    reading = _reading(settings.model, active_meta)
    if args.json:
        out = {"models_dir": str(root), "active": str(active), "reading": reading, "bundles": rows}
        print(json.dumps(out))
        return 0
    if not rows:
        print(f"no model bundles under {root}")
    for r in rows:
        mark = "*" if r["active"] else " "
        cer = ", ".join(
            f"CER {m['cer']:.1%} on {m['set']} ({m['decoder']})"
            for m in r["cer"]
            if isinstance(m.get("cer"), int | float)
        )
        print(
            f"{mark} {r['bundle']}\tversion {r['version'] or '?'}\theight {r['height'] or '?'}"
            f"\t{cer or 'CER not measured'}" + (f"\t({r['error']})" if r["error"] else "")
        )
    if any(r["active"] for r in rows):
        shifts = reading["test_time_shifts"] or "none"
        print(
            f"the active bundle reads with: decoder {reading['decoder']}, beam width "
            f"{reading['beam_width']}, alternatives {reading['alternatives']}, test-time "
            f"shifts {shifts}, runtime {reading['runtime']}"
        )
    if not settings.model.bundle.is_dir():
        print(f"active bundle {settings.model.bundle} is missing", file=sys.stderr)
    return 0


def _reading(model: Any, meta: dict[str, Any]) -> dict[str, Any]:
    """How lines are read: config.yaml's ``model`` settings, the bundle's own defaults
    (``decoder`` in its model.yaml) where config leaves them unset; ``auto`` runtime
    resolved to what it picks (ONNX when the bundle has an export)."""
    from recognizer.bundle import DecoderDefaults

    try:  # as `load_bundle` reads them; a malformed section is the loader's to report
        own = DecoderDefaults(**(meta.get("decoder") or {}))
    except TypeError:
        own = DecoderDefaults()
    runtime = model.runtime
    if runtime == "auto":
        runtime = "onnx" if meta.get("onnx") else "tensorflow"
    return {
        "decoder": own.decoder if model.decoder is None else model.decoder,
        "beam_width": own.beam_width if model.beam_width is None else model.beam_width,
        "alternatives": own.alternatives if model.alternatives is None else model.alternatives,
        "test_time_shifts": list(model.test_time_shifts),
        "runtime": runtime,
    }


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(
        sub,
        "ingest",
        _ingest,
        "ingest files or folders synchronously; prints doc_id, status, filename[, error]",
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="files or folders (recursive)")
    p = add_command(sub, "search", _search, "search the archive")
    p.add_argument("query", help='words, "phrases", AND/OR/NOT, prefix*')
    p.add_argument("--limit", type=int, help="hits to show (default index.default_limit)")
    p.add_argument("--offset", type=int, default=0, help="hits to skip")
    p.add_argument("--fuzzy", action="store_true", help="also match near spellings")
    p.add_argument(
        "--min-confidence", type=float, default=0.0, help="ignore words read less surely"
    )
    p.add_argument("--json", action="store_true", help="print the HTTP API's JSON")
    p = add_command(
        sub,
        "reindex",
        _reindex,
        "rebuild the index into a new generation and switch to it",
    )
    p.add_argument(
        "--model",
        metavar="BUNDLE",
        help="re-transcribe every original with this bundle (folder or name under models_dir)",
    )
    p.add_argument(
        "--retranscribe",
        action="store_true",
        help="read every original again, also with the model that made its transcript "
        "(after changing the decoder settings or a bundle in place)",
    )
    p = add_command(sub, "models", _models, "list model bundles and show the active one")
    p.add_argument("--json", action="store_true", help="machine-readable output")
