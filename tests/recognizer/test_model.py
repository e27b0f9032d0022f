"""The CRNN: shapes, CTC loss, and that it can learn to read (overfitting a few lines)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from recognizer.charset import Charset
from recognizer.lineimage import normalize_line
from recognizer.model import ModelConfig, build_crnn, build_predictor, ctc_batch_loss, make_trainer

TINY = {
    "filters": (8, 16, 16, 32),
    "proj_units": 32,
    "lstm_units": 32,
    "dropout": 0.0,
    "bn_momentum": 0.8,  # moving statistics catch up within a short overfit
}


def render(text: str, size: int = 24) -> np.ndarray:
    """A clean dark-on-light line in Pillow's built-in font."""
    font = ImageFont.load_default(size=size)
    w = int(font.getlength(text)) + 12
    img = Image.new("L", (w, size + 12), 255)
    ImageDraw.Draw(img).text((6, 4), text, font=font, fill=0)
    return np.asarray(img)


def batch(images: list[np.ndarray]) -> np.ndarray:
    width = max(im.shape[1] for im in images)
    x = np.zeros((len(images), images[0].shape[0], width, 1), np.float32)
    for i, im in enumerate(images):
        x[i, :, : im.shape[1], 0] = im
    return x


def greedy(probs: np.ndarray, frames: int, charset: Charset) -> str:
    best = probs[:frames].argmax(-1)
    keep = np.r_[True, best[1:] != best[:-1]] & (best != 0)
    return charset.decode(best[keep])


@pytest.mark.parametrize(("height", "arch"), [(32, "crnn-v1"), (40, "crnn-v2"), (48, "crnn-v1")])
def test_output_has_one_frame_per_four_columns_and_a_class_per_char(height: int, arch: str) -> None:
    cfg = ModelConfig(num_classes=11, height=height, arch=arch, **TINY)
    model = build_predictor(build_crnn(cfg))
    for width in (37, 64, 203):
        probs = np.asarray(model.predict_on_batch(np.zeros((2, height, width, 1), np.float32)))
        assert probs.shape == (2, math.ceil(width / 4), 11) == (2, cfg.output_length(width), 11)
        assert np.allclose(probs.sum(-1), 1.0, atol=1e-4)


def test_config_round_trips_and_rejects_bad_heights() -> None:
    cfg = ModelConfig(num_classes=96, height=48)
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="multiple of 8"):
        ModelConfig(num_classes=96, height=50)
    with pytest.raises(ValueError, match="unknown"):
        ModelConfig.from_dict({**cfg.to_dict(), "colour": "blue"})
    with pytest.raises(ValueError, match="unknown architecture"):
        ModelConfig(num_classes=96, arch="resnet")


def test_ctc_loss_is_finite_and_ignores_padding_frames() -> None:
    cfg = ModelConfig(num_classes=5, height=32, **TINY)
    crnn = build_crnn(cfg)
    x = np.random.default_rng(0).random((2, 32, 80, 1)).astype(np.float32)
    logits = crnn(x)
    labels = np.array([[1, 2, 3], [4, 0, 0]], np.int32)
    lengths = np.array([3, 1], np.int32)
    widths = np.array([80, 40], np.int32)
    loss = np.asarray(ctc_batch_loss(labels, lengths, logits, widths, 4))
    assert loss.shape == (2,) and np.all(np.isfinite(loss)) and np.all(loss > 0)
    # Changing what lies beyond a sample's width (its padding) does not change its loss.
    logits2 = np.asarray(logits).copy()
    logits2[1, 10:] = 0.0
    loss2 = np.asarray(ctc_batch_loss(labels, lengths, logits2, widths, 4))
    assert loss2[1] == pytest.approx(loss[1], rel=1e-5)


def test_tiny_model_overfits_a_few_lines_until_greedy_reads_them() -> None:
    """End to end: render -> normalise -> CRNN -> CTC -> Adam; the network must learn."""
    import keras

    keras.utils.set_random_seed(1)
    texts = ["hello", "ink 42", "a cat"]
    charset = Charset("".join(sorted(set("".join(texts)))))
    cfg = ModelConfig(num_classes=charset.num_classes, height=32, **TINY)
    images = [normalize_line(render(t), 32) for t in texts]
    x = {
        "image": batch(images),
        "width": np.array([im.shape[1] for im in images], np.int32),
    }
    ids = [charset.encode(t) for t in texts]
    labels = np.zeros((len(texts), max(map(len, ids))), np.int32)
    for i, row in enumerate(ids):
        labels[i, : len(row)] = row
    y = {"labels": labels, "label_length": np.array([len(r) for r in ids], np.int32)}

    crnn = build_crnn(cfg)
    trainer = make_trainer(crnn, cfg.downsample)
    trainer.compile(optimizer=keras.optimizers.Adam(3e-3))
    predictor = build_predictor(crnn)
    read: list[str] = []
    for _ in range(10):
        trainer.fit(x, y, batch_size=len(texts), epochs=30, verbose=0)
        probs = np.asarray(predictor.predict_on_batch(x["image"]))
        read = [
            greedy(p, cfg.output_length(w), charset) for p, w in zip(probs, x["width"], strict=True)
        ]
        if read == texts:
            break
    assert read == texts
