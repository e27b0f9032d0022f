"""A bundle's network as ONNX, for reading lines without TensorFlow.

`inkdex export BUNDLE` writes ``model.onnx`` beside the Keras weights: the same
network with the softmax on top, batch and width left open. The export is checked
against the Keras network on random lines before it is kept, and ``model.yaml``
records the SHA-256 of the weights it was made from, so a bundle whose weights were
replaced afterwards is refused instead of read with the old network.

With ``model.runtime`` ``auto`` (the default) or ``onnx`` the recognizer runs this
file with ONNX Runtime: the process then never imports TensorFlow, which was most of a
cold start on a CPU (`bench/ingest_speed.py`). Training, evaluation of training runs and
the export itself stay Keras on TensorFlow; ``model.runtime: tensorflow`` reads with it
too.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from recognizer.bundle import Bundle, BundleError, load_bundle, update_meta

log = logging.getLogger(__name__)

ONNX_FILE = "model.onnx"
RUNTIMES = ("auto", "onnx", "tensorflow")
# Largest difference of any output probability between the export and the Keras
# network on the check lines; float32 round-off is about 1e-6.
MAX_DIFF = 1e-4
# (lines, width) of the random check batches: one short single line, a typical batch.
_CHECK_SHAPES = ((1, 64), (5, 384), (3, 1000))


class ExportError(RuntimeError):
    """The network cannot be exported, or the export does not match it."""


def weights_digest(bundle: Bundle) -> str:
    """SHA-256 of the bundle's weights file."""
    h = hashlib.sha256()
    with open(bundle.weights_path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def export_onnx(bundle_dir: Path) -> dict[str, Any]:
    """Write ``model.onnx`` into the bundle, check it, record it in ``model.yaml``.

    Returns the record (file, weights_sha256, max_diff, opset). Raises `ExportError`
    when the converter fails or the export reads differently from the network.
    """
    try:
        import tensorflow as tf
    except ImportError as exc:  # e.g. a machine that trains on the JAX backend
        raise ExportError(f"exporting needs TensorFlow: {exc}") from exc

    from recognizer.model import build_predictor

    logging.getLogger("tf2onnx").setLevel(logging.WARNING)
    bundle = load_bundle(Path(bundle_dir))
    predictor = build_predictor(bundle.build_model())
    spec = tf.TensorSpec([None, bundle.height, None, 1], tf.float32, name="lines")
    out = bundle.path / ONNX_FILE
    tmp = out.with_name(out.name + ".tmp")
    try:
        predictor.export(str(tmp), format="onnx", input_signature=[spec], verbose=False)
        diff = _check(tmp, predictor, bundle.height)
        if not diff <= MAX_DIFF:
            raise ExportError(
                f"the ONNX export reads differently from the network (largest probability "
                f"difference {diff:.2g}, allowed {MAX_DIFF:g}); it was not kept"
            )
        os.replace(tmp, out)
    except ExportError:
        raise
    except Exception as exc:  # the converter raises a zoo of types
        raise ExportError(f"cannot export {bundle.path} to ONNX: {exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)
    import onnx

    record = {
        "file": ONNX_FILE,
        "weights_sha256": weights_digest(bundle),
        "max_diff": float(f"{diff:.3g}"),
        "opset": int(max(o.version for o in onnx.load(str(out)).opset_import)),
    }
    update_meta(bundle.path, {"onnx": record})
    return record


def _check(path: Path, predictor: Any, height: int) -> float:
    """Largest |export - network| over random check batches."""
    run = _session(path, threads=1)
    rng = np.random.default_rng(0)
    worst = 0.0
    for n, width in _CHECK_SHAPES:
        x = rng.random((n, height, width, 1), dtype=np.float32)
        want = np.asarray(predictor(x, training=False))
        got = run(x)
        if got.shape != want.shape:
            raise ExportError(f"the ONNX export gives shape {got.shape}, the network {want.shape}")
        worst = max(worst, float(np.abs(got - want).max()))
    return worst


def _session(path: Path, threads: int = 0) -> Callable[[np.ndarray], np.ndarray]:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads  # 0: ONNX Runtime's choice (the cores)
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3  # errors only
    session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name

    def run(x: np.ndarray) -> np.ndarray:
        return session.run(None, {name: x})[0]

    return run


def load_onnx(bundle: Bundle) -> Callable[[np.ndarray], np.ndarray]:
    """``images (B x H x W x 1) -> probs (B x T x C)`` from the bundle's ONNX export.

    Raises `BundleError` when the bundle has no export, its weights changed since, or
    ONNX Runtime is not installed.
    """
    record = bundle.meta.get("onnx") or {}
    path = bundle.path / ONNX_FILE
    hint = f"`inkdex export {bundle.path}` writes it, or set model.runtime to tensorflow"
    if not path.is_file() or not record:
        raise BundleError(f"bundle {bundle.path} has no ONNX export ({ONNX_FILE}): {hint}")
    if record.get("weights_sha256") != weights_digest(bundle):
        raise BundleError(
            f"the ONNX export of {bundle.path} was made from other weights than "
            f"{bundle.weights_path.name}: {hint}"
        )
    try:
        return _session(path)
    except ImportError as exc:
        raise BundleError(f"cannot load {path}: ONNX Runtime is not installed ({exc})") from exc
    except Exception as exc:  # onnxruntime raises its own exception types
        raise BundleError(f"cannot load {path}: {exc}") from exc


def run_export_cli(args: Any, settings: Any) -> int:
    """`inkdex export BUNDLE`."""
    try:
        record = export_onnx(Path(args.bundle))
    except (ExportError, BundleError) as exc:
        log.error("%s", exc)
        return 1
    print(
        f"wrote {Path(args.bundle) / record['file']} (opset {record['opset']}; largest "
        f"difference from the network on the check lines {record['max_diff']:.2g})"
    )
    return 0
