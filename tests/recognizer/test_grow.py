"""Growing a trained CRNN (wider LSTMs, added residual blocks) keeps its outputs and leaves
the new parts trainable."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from recognizer.grow import GrowError, check_growable, grow_weights
from recognizer.model import ModelConfig, build_crnn

SMALL = ModelConfig(
    num_classes=12, height=32, filters=(4, 8, 8, 16), proj_units=16, lstm_units=6, dropout=0.0
)


def _randomised(config: ModelConfig, seed: int):
    """A CRNN whose every weight (BatchNorm statistics too) is random, as if trained."""
    model = build_crnn(config)
    rng = np.random.default_rng(seed)
    weights = []
    for w in model.get_weights():
        r = rng.normal(0.0, 0.5, w.shape).astype(np.float32)
        weights.append(np.abs(r) + 0.5 if w.ndim == 1 and np.all(w == 1.0) else r)
    model.set_weights(weights)
    return model


def test_widened_model_computes_the_same_logits() -> None:
    small = _randomised(SMALL, 1)
    large_cfg = replace(SMALL, lstm_units=10)
    large = build_crnn(large_cfg)
    grow_weights(small, large, SMALL, large_cfg, seed=3)
    x = np.random.default_rng(2).random((3, 32, 70, 1)).astype(np.float32)
    want = small(x, training=False).numpy()
    got = large(x, training=False).numpy()
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_new_units_read_their_inputs_and_write_nothing_yet() -> None:
    small = _randomised(SMALL, 4)
    large_cfg = replace(SMALL, lstm_units=10)
    large = build_crnn(large_cfg)
    grow_weights(small, large, SMALL, large_cfg)
    old, new = 6, 10
    k, r, b = large.get_layer("bilstm2").get_weights()[:3]
    new_cols = np.concatenate([g * new + np.arange(old, new) for g in range(4)])
    assert np.all(k[:, new_cols] != 0)  # incoming weights are random
    assert np.all(r[old:, np.setdiff1d(np.arange(4 * new), new_cols)] == 0)  # no recurrence out
    assert np.all(b[new + old : 2 * new] == 1.0)  # forget gates start open
    # Inputs from the first layer's new units (forward old..new, backward new+old..) feed
    # only new units of the second layer.
    new_inputs = np.concatenate([np.arange(old, new), new + np.arange(old, new)])
    assert np.all(k[np.ix_(new_inputs, np.setdiff1d(np.arange(4 * new), new_cols))] == 0)
    logits = large.get_layer("logits").get_weights()[0]
    assert np.all(logits[new_inputs] == 0)
    assert np.any(logits[np.setdiff1d(np.arange(2 * new), new_inputs)] != 0)


def test_added_residual_blocks_start_as_the_identity_and_can_learn() -> None:
    small = _randomised(replace(SMALL, res_blocks=1), 5)
    small_cfg = replace(SMALL, res_blocks=1)
    large_cfg = replace(SMALL, res_blocks=3, lstm_units=8)
    large = build_crnn(large_cfg)
    grow_weights(small, large, small_cfg, large_cfg, seed=1)
    x = np.random.default_rng(6).random((2, 32, 60, 1)).astype(np.float32)
    want = small(x, training=False).numpy()
    np.testing.assert_allclose(large(x, training=False).numpy(), want, rtol=1e-4, atol=1e-5)
    # The existing block was copied, not re-initialised.
    for a, b in zip(
        small.get_layer("res1_b").get_weights(),
        large.get_layer("res1_b").get_weights(),
        strict=True,
    ):
        np.testing.assert_array_equal(a, b)
    # Once training gives an added block's last BatchNorm a scale, the block counts.
    bn = large.get_layer("res3_b_bn")
    gamma, *rest = bn.get_weights()
    bn.set_weights([np.ones_like(gamma), *rest])
    assert np.abs(large(x, training=False).numpy() - want).max() > 1e-3


def test_only_a_wider_lstm_or_more_blocks_can_be_grown() -> None:
    check_growable(SMALL, SMALL)
    check_growable(SMALL, replace(SMALL, res_blocks=2))
    with pytest.raises(GrowError, match="shrink"):
        check_growable(SMALL, replace(SMALL, lstm_units=4))
    with pytest.raises(GrowError, match="shrink"):
        check_growable(replace(SMALL, res_blocks=2), replace(SMALL, res_blocks=1))
    with pytest.raises(GrowError, match="proj_units"):
        check_growable(SMALL, replace(SMALL, lstm_units=8, proj_units=32))


def test_models_without_residual_blocks_load_as_before() -> None:
    d = SMALL.to_dict()
    del d["res_blocks"]  # bundles written before the setting existed
    assert ModelConfig.from_dict(d).res_blocks == 0
    names = {layer.name for layer in build_crnn(SMALL).layers}
    assert not any(n.startswith("res") for n in names)
    with pytest.raises(ValueError, match="res_blocks"):
        replace(SMALL, res_blocks=-1)
