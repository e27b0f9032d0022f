"""The CRNN+CTC network: convolutional features -> 2 bidirectional LSTMs -> per-frame classes.

Written with Keras layers and `keras.ops` only, so the same code trains and serves on
the TensorFlow backend (CPU) and trains on JAX (GPU). Keras is imported inside the
functions so importing this module costs nothing.

Input: ``B x H x W x 1`` float32 lines from `recognizer.lineimage.normalize_line`
(ink 1, background 0), batches padded on the right with 0 to the widest line.
Output: ``B x T x C`` logits with ``T = ceil(W / 4)`` and ``C = len(charset) + 1``
(class 0 is the CTC blank).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

ARCHITECTURES = ("crnn-v1", "crnn-v2")


@dataclass(frozen=True)
class ModelConfig:
    """Architecture hyper-parameters; stored in a bundle's ``model.yaml``."""

    num_classes: int
    height: int = 48
    # Output channels of the four convolution stages: a strided stem, a full 3x3 conv,
    # then two depthwise-separable convs at quarter width.
    filters: tuple[int, int, int, int] = (16, 32, 64, 128)
    proj_units: int = 128
    lstm_units: int = 96
    lstm_layers: int = 2
    dropout: float = 0.2
    # Momentum of the BatchNorm moving statistics used at inference.
    bn_momentum: float = 0.99
    # crnn-v1: full 3x3 conv at half resolution, then 2x2 max-pool.
    # crnn-v2: that conv strided instead (a quarter of the work; faster on CPU).
    arch: str = "crnn-v1"
    # Residual blocks (two separable 3x3 convs each) after the last conv stage, at
    # H/16 x W/4. Each block's last BatchNorm starts at zero scale, so adding blocks to a
    # trained model leaves its outputs unchanged until training moves them.
    res_blocks: int = 0

    def __post_init__(self) -> None:
        if self.height % 8 != 0 or self.height < 16:
            raise ValueError(f"model height must be a multiple of 8 and >= 16, got {self.height}")
        if self.num_classes < 2:
            raise ValueError("num_classes must count the blank and at least one character")
        if self.arch not in ARCHITECTURES:
            raise ValueError(f"unknown architecture {self.arch!r}; known: {ARCHITECTURES}")
        if len(self.filters) != 4:
            raise ValueError(f"filters needs 4 stages, got {self.filters}")
        object.__setattr__(self, "filters", tuple(int(f) for f in self.filters))
        if self.res_blocks < 0:
            raise ValueError(f"res_blocks must be >= 0, got {self.res_blocks}")

    @property
    def downsample(self) -> int:
        """Input columns per output frame."""
        return 4

    @property
    def feature_rows(self) -> int:
        """Rows left after the four halvings of the height ('same' padding rounds up)."""
        rows = self.height
        for _ in range(4):
            rows = math.ceil(rows / 2)
        return rows

    def output_length(self, width: int) -> int:
        """Number of output frames for an input `width` pixels wide."""
        return math.ceil(width / self.downsample)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["filters"] = list(self.filters)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown model settings: {sorted(unknown)}")
        d = dict(d)
        if "filters" in d:
            d["filters"] = tuple(d["filters"])
        return cls(**d)


def build_crnn(config: ModelConfig) -> Any:
    """The CRNN as a functional `keras.Model` mapping images to per-frame logits."""
    import keras
    from keras import layers

    f1, f2, f3, f4 = config.filters

    def bn_relu(x: Any, name: str) -> Any:
        x = layers.BatchNormalization(momentum=config.bn_momentum, name=f"{name}_bn")(x)
        return layers.ReLU(name=f"{name}_relu")(x)

    image = keras.Input(shape=(config.height, None, 1), name="image")  # B x H x W x 1
    # Downsample early so the wide, high-resolution layers stay cheap.
    x = layers.Conv2D(f1, 3, strides=2, padding="same", use_bias=False, name="stem")(image)
    x = bn_relu(x, "stem")  # B x H/2 x W/2 x f1
    if config.arch == "crnn-v2":
        x = layers.Conv2D(f2, 3, strides=2, padding="same", use_bias=False, name="conv2")(x)
        x = bn_relu(x, "conv2")  # B x H/4 x W/4 x f2
    else:
        x = layers.Conv2D(f2, 3, padding="same", use_bias=False, name="conv2")(x)
        x = bn_relu(x, "conv2")
        x = layers.MaxPooling2D((2, 2), padding="same", name="pool2")(x)  # B x H/4 x W/4 x f2
    x = layers.SeparableConv2D(f3, 3, padding="same", use_bias=False, name="conv3")(x)
    x = bn_relu(x, "conv3")
    x = layers.MaxPooling2D((2, 1), padding="same", name="pool3")(x)  # B x H/8 x W/4 x f3
    x = layers.SeparableConv2D(f4, 3, padding="same", use_bias=False, name="conv4")(x)
    x = bn_relu(x, "conv4")
    x = layers.MaxPooling2D((2, 1), padding="same", name="pool4")(x)  # B x H/16 x W/4 x f4
    for i in range(config.res_blocks):
        name = f"res{i + 1}"
        y = layers.SeparableConv2D(f4, 3, padding="same", use_bias=False, name=f"{name}_a")(x)
        y = bn_relu(y, f"{name}_a")
        y = layers.SeparableConv2D(f4, 3, padding="same", use_bias=False, name=f"{name}_b")(y)
        y = layers.BatchNormalization(  # zero scale: the block starts as the identity
            momentum=config.bn_momentum, gamma_initializer="zeros", name=f"{name}_b_bn"
        )(y)
        x = layers.Add(name=f"{name}_add")([x, y])  # B x H/16 x W/4 x f4
        x = layers.ReLU(name=f"{name}_relu")(x)

    # Columns become time steps: B x T x (H/16 * f4).
    x = layers.Permute((2, 1, 3), name="to_time")(x)  # B x T x H/16 x f4
    x = layers.Reshape((-1, config.feature_rows * f4), name="flatten_cols")(x)
    x = layers.Dense(config.proj_units, activation="relu", name="proj")(x)  # B x T x P
    x = layers.Dropout(config.dropout, name="proj_drop")(x)
    for i in range(config.lstm_layers):
        x = layers.Bidirectional(
            layers.LSTM(config.lstm_units, return_sequences=True), name=f"bilstm{i + 1}"
        )(x)  # B x T x 2U
        x = layers.Dropout(config.dropout, name=f"bilstm{i + 1}_drop")(x)
    logits = layers.Dense(config.num_classes, name="logits")(x)  # B x T x C
    return keras.Model(image, logits, name=config.arch)


def build_predictor(crnn: Any) -> Any:
    """Wrap a logits model with a softmax: images -> ``B x T x C`` class probabilities."""
    import keras

    probs = keras.layers.Softmax(axis=-1, name="probs", dtype="float32")(crnn.output)
    return keras.Model(crnn.input, probs, name=f"{crnn.name}_probs")


def ctc_batch_loss(
    labels: Any, label_length: Any, logits: Any, widths: Any, downsample: int
) -> Any:
    """Per-sample CTC loss (``B``) from padded labels, their lengths, logits and image widths."""
    from keras import ops

    frames = ops.cast(ops.ceil(ops.cast(widths, "float32") / downsample), "int32")
    frames = ops.minimum(frames, ops.shape(logits)[1])
    return ops.ctc_loss(
        ops.cast(labels, "int32"),
        logits,
        ops.cast(label_length, "int32"),
        frames,
        mask_index=0,
    )


def make_trainer(crnn: Any, downsample: int) -> Any:
    """A `keras.Model` around `crnn` whose loss is CTC.

    It takes ``x = {"image": B x H x W x 1, "width": B}`` and
    ``y = {"labels": B x L, "label_length": B}``; `fit` then works as usual with any
    optimizer, callbacks and backend.
    """
    import keras
    from keras import ops

    class CTCTrainer(keras.Model):
        def __init__(self, crnn: Any, downsample: int, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.crnn = crnn
            self.downsample = downsample

        def call(self, inputs: Any, training: bool = False) -> Any:
            return self.crnn(inputs["image"], training=training)

        def compute_loss(
            self,
            x: Any = None,
            y: Any = None,
            y_pred: Any = None,
            sample_weight: Any = None,
            training: bool = True,
        ) -> Any:
            loss = ctc_batch_loss(
                y["labels"], y["label_length"], y_pred, x["width"], self.downsample
            )
            if sample_weight is not None:
                loss = loss * ops.cast(sample_weight, loss.dtype)
            total = ops.mean(loss)
            if self.losses:
                total = total + ops.sum(self.losses)
            return total

    return CTCTrainer(crnn, downsample, name="ctc_trainer")
