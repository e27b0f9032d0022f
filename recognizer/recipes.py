"""Training recipes: the settings that define a training run, apart from data paths.

`default` is the recipe of the shipped model; a bundle's ``model.yaml`` records the
recipe it was trained with. Kept free of heavy imports so the CLI can list recipes fast.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from recognizer.charset import Charset
from recognizer.model import ModelConfig


@dataclass(frozen=True)
class Recipe:
    """Everything that defines a training run apart from data paths. Stored in the bundle."""

    name: str
    height: int = 48
    epochs: int = 16
    steps_per_epoch: int = 250
    batch_size: int = 32
    learning_rate: float = 1.5e-3
    warmup_steps: int = 300
    min_lr_fraction: float = 0.05
    clipnorm: float = 5.0
    synth_weight: float = 1.0
    synth_augment: float = 1.0
    # Neighbouring synthetic samples sharing one rendering (differently warped): rendering
    # is the costliest part of a step on CPU.
    synth_reuse: int = 2
    real_augment: float = 1.0
    heldout_font_fraction: float = 0.1
    val_synth_lines: int = 256
    # Distortion of the held-out-font validation lines; separate from synth_augment so
    # that runs trained with milder distortions are chosen on the same lines.
    val_synth_augment: float = 1.0
    val_real_lines: int = 400
    max_width_per_height: float = 40.0
    patience: int = 6
    seed: int = 0
    # The character language model built into the bundle at the end of a run
    # (`recognizer.charlm`): order (0: none), the fewest sightings an n-gram of 3+
    # characters needs to be kept, and the decoder's weight, bonus per character and
    # line pass. Chosen on the Hooker validation lines with the lexicon decoder
    # (models/README.md): with inkdex-hw-0.12 at beam width 16, CER 23.0% -> 21.5%, WER
    # 42.9% -> 40.1%. A whole-line first pass ("decoder") reads a little better still
    # but is slower and moves word boxes off the best path's, so it is not the default.
    charlm_order: int = 6
    charlm_min_count: int = 2
    lm_weight: float = 0.2
    lm_bonus: float = 2.0
    line_pass: str = "greedy"
    # Write the network as ONNX into the bundle at the end of a run (`recognizer.export`),
    # which `model.runtime` auto/onnx reads without TensorFlow.
    export_onnx: bool = True
    model: dict[str, Any] = field(default_factory=dict)

    def model_config(self, charset: Charset) -> ModelConfig:
        return ModelConfig(num_classes=charset.num_classes, height=self.height, **self.model)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# `default` is the recipe of the shipped model: sized to finish in about an hour on two
# CPU cores; on a GPU raise --epochs/--steps-per-epoch for a better model.
RECIPES: dict[str, Recipe] = {
    "default": Recipe(name="default"),
    # A few seconds per epoch; for smoke tests of the pipeline, not for use.
    "tiny": Recipe(
        name="tiny",
        height=32,
        epochs=2,
        steps_per_epoch=4,
        batch_size=4,
        warmup_steps=2,
        val_synth_lines=8,
        val_real_lines=8,
        charlm_order=3,
        export_onnx=False,
        model={"filters": (8, 8, 16, 16), "proj_units": 16, "lstm_units": 16, "dropout": 0.0},
    ),
}
