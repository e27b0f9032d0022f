"""Widen a trained CRNN's LSTM layers, or deepen its CNN, without changing what it computes.

Fine-tuning a larger network from a trained smaller one keeps what the small one has
learnt: every weight of the small model is copied to the same place in the large one,
and each added LSTM unit gets small random weights into it and zero weights out of it
(into the next LSTM layer, into its own layer's recurrence and into the logits). The
old units therefore see exactly the inputs they saw before, the new units are ignored
by everything downstream, and the widened model's logits equal the small model's
until training gives the new units' outgoing weights a value.

Keras stores an LSTM's gates side by side (input, forget, cell, output; ``4 x units``
columns), and a bidirectional layer's output is the forward units then the backward
ones; the copies below map old positions to new ones in both.

Residual blocks added to the CNN (`ModelConfig.res_blocks`) need no copying: each
block's last BatchNorm starts at zero scale, so a new block adds zero to its input
and the next layer sees what it saw before.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from recognizer.model import ModelConfig

_GATES = 4
# Scale of the added units' incoming weights relative to Glorot uniform: small, so
# their first activations are mild while their outgoing weights are still learning.
_NEW_SCALE = 0.5


_GROWABLE = ("lstm_units", "res_blocks")


class GrowError(ValueError):
    """The two architectures differ in more than LSTM width and residual blocks, or shrink."""


def check_growable(small: ModelConfig, large: ModelConfig) -> None:
    """Raise GrowError unless `large` is `small` with wider LSTMs and/or more residual blocks."""
    same = small.to_dict() | {k: getattr(large, k) for k in _GROWABLE}
    if same != large.to_dict():
        diff = sorted(k for k, v in large.to_dict().items() if same.get(k) != v)
        raise GrowError(
            f"only {' and '.join(_GROWABLE)} may differ when growing a model; also differ: {diff}"
        )
    for key in _GROWABLE:
        if getattr(large, key) < getattr(small, key):
            raise GrowError(
                f"cannot shrink a model ({key} {getattr(small, key)} -> {getattr(large, key)})"
            )


def _old_rows(old: int, new: int) -> np.ndarray:
    """Positions in a widened bidirectional output of the old forward then backward units."""
    return np.concatenate([np.arange(old), new + np.arange(old)])


def _gate_cols(old: int, new: int) -> np.ndarray:
    """Positions in a widened gate block (4 x new columns) of the old 4 x old columns."""
    return np.concatenate([g * new + np.arange(old) for g in range(_GATES)])


def _glorot(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    limit = _NEW_SCALE * np.sqrt(6.0 / (shape[0] + shape[1]))
    return rng.uniform(-limit, limit, shape).astype(np.float32)


def _widen_direction(
    kernel: np.ndarray,
    recurrent: np.ndarray,
    bias: np.ndarray,
    in_rows: np.ndarray | None,
    in_dim: int,
    new: int,
    rng: np.random.Generator,
) -> list[np.ndarray]:
    """One LSTM direction's (kernel, recurrent kernel, bias) widened to `new` units.

    `in_rows` maps the old input positions to the new ones (None: the input did not
    change); `in_dim` is the new input width.
    """
    old = recurrent.shape[0]
    cols = _gate_cols(old, new)
    rows = np.arange(kernel.shape[0]) if in_rows is None else in_rows
    k = _glorot(rng, (in_dim, _GATES * new))
    k[:, cols] = 0.0  # old units take nothing from inputs that are new
    k[np.ix_(rows, cols)] = kernel
    r = _glorot(rng, (new, _GATES * new))
    r[:, cols] = 0.0  # nor from the new units' previous state
    r[np.ix_(np.arange(old), cols)] = recurrent
    b = np.zeros(_GATES * new, np.float32)
    b[new : 2 * new] = 1.0  # forget gate bias of the new units, as Keras initialises it
    b[cols] = bias
    return [k, r, b]


def grow_weights(
    small: Any, large: Any, small_config: ModelConfig, large_config: ModelConfig, seed: int = 0
) -> None:
    """Copy a trained `small` CRNN into `large` (built from `large_config`), in place.

    Layers whose weights have the same shapes are copied as they are; the
    bidirectional LSTMs and the logits layer are widened, and added residual blocks
    keep their initial weights, as the module docstring says.
    """
    check_growable(small_config, large_config)
    old, new = small_config.lstm_units, large_config.lstm_units
    rng = np.random.default_rng(seed)
    prev_rows: np.ndarray | None = None  # how the previous layer's outputs moved
    small_names = {layer.name for layer in small.layers}
    for layer in large.layers:
        if layer.name not in small_names:
            continue  # an added residual block
        src = small.get_layer(layer.name).get_weights()
        if not src:
            continue
        if layer.name.startswith("bilstm"):
            in_dim = layer.get_weights()[0].shape[0]
            fwd = _widen_direction(*src[:3], prev_rows, in_dim, new, rng)
            bwd = _widen_direction(*src[3:], prev_rows, in_dim, new, rng)
            layer.set_weights(fwd + bwd)
            prev_rows = _old_rows(old, new)
        elif layer.name == "logits":
            kernel, bias = src
            k = np.zeros((2 * new, kernel.shape[1]), np.float32)
            k[prev_rows] = kernel
            layer.set_weights([k, bias])
        else:
            layer.set_weights(src)
