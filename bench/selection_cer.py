"""The training runs' selection figure for any bundle, and held-out synthetic CER per font.

Greedy CER on the held-out-font synthetic lines and on the Hooker val sample exactly as
`inkdex train` builds them for validation (same font split, seeds and sample), and their
mean, which is what checkpoints and bundles are chosen on. `A+B` averages the weights of
bundles of one architecture (a "model soup"). `--per-font` lists the synthetic CER of each
held-out font on `--synth-lines` lines. `--synth-augment S` renders the held-out lines with
distortions at strength S instead of the recipe's full strength (0: clean renderings), which
shows how much of the synthetic error is the distortions rather than the fonts.
`--decoder D` also reads the held-out synthetic lines with decoder D (greedy, beam or
lexicon) and the rest of config.yaml's reading settings (beam width, word list, the
bundle's language model), as the product reads lines; the selection figure stays greedy.

    .venv/bin/python bench/selection_cer.py BUNDLE [BUNDLE | A+B ...] [--per-font] [--synth-lines 256] [--synth-augment 1.0] [--decoder lexicon]

Needs the font cache (`make fonts`) and ../shared/data/hooker-lines (skipped without them).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from inkdex.settings import load_settings  # noqa: E402

HOOKER_VAL = REPO.parent / "shared" / "data" / "hooker-lines" / "val.tsv"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("bundles", nargs="+", help="bundle folders; A+B averages their weights")
    ap.add_argument("--per-font", action="store_true", help="synthetic CER of each held-out font")
    ap.add_argument("--synth-lines", type=int, help="held-out synthetic lines (default: 256)")
    ap.add_argument(
        "--synth-augment",
        type=float,
        help="distortion strength of the held-out lines (default: the recipe's, 1.0)",
    )
    ap.add_argument(
        "--decoder",
        choices=["greedy", "beam", "lexicon"],
        help="also read the held-out synthetic lines with this decoder (config's settings)",
    )
    args = ap.parse_args()
    if not HOOKER_VAL.is_file():
        print(f"skipped: {HOOKER_VAL} not present")
        return 0

    from rapidfuzz.distance import Levenshtein

    from recognizer import train as tr
    from recognizer.bundle import load_bundle
    from recognizer.model import build_predictor

    settings = load_settings(REPO / "config.yaml")
    recipe = tr.RECIPES["default"]
    if args.synth_augment is not None:
        recipe = dataclasses.replace(recipe, val_synth_augment=args.synth_augment)
    options = tr.TrainOptions(
        recipe=recipe, font_dirs=(settings.synth.font_cache, *settings.synth.font_dirs)
    )
    try:
        _, held = tr.training_fonts(options, recipe)
    except tr.TrainError as exc:
        print(f"skipped: {exc}")
        return 0
    first = load_bundle(Path(args.bundles[0].split("+")[0]))
    charset, ds = first.charset, first.config.downsample
    synth, real = tr.validation_sets(
        recipe, charset, ds, held, HOOKER_VAL, synth_lines=args.synth_lines
    )
    print(f"{len(synth.texts)} held-out synthetic lines, {len(real.texts)} Hooker val lines")

    for spec in args.bundles:
        models = [load_bundle(Path(p)).build_model() for p in spec.split("+")]
        model = models[0]
        if len(models) > 1:
            weights = [m.get_weights() for m in models]
            model.set_weights([np.mean(ws, axis=0) for ws in zip(*weights, strict=True)])
        predictor = build_predictor(model)
        ms = tr.evaluate_set(predictor, synth, charset, ds)
        mr = tr.evaluate_set(predictor, real, charset, ds)
        cs, cr = ms["cer"], mr["cer"]
        print(
            f"{spec}: synthetic {cs:.4f} (WER {ms['wer']:.4f})  "
            f"Hooker val {cr:.4f} (WER {mr['wer']:.4f})  mean {(cs + cr) / 2:.4f}"
        )
        if args.decoder and len(models) == 1:
            cer, wer = decoded_cer(settings, Path(spec), args.decoder, synth)
            print(f"  synthetic read with the {args.decoder} decoder: {cer:.4f} (WER {wer:.4f})")
        if args.per_font:
            hyps = tr.predict_texts(predictor, synth.images, charset, ds)
            errors: dict[str, int] = defaultdict(int)
            chars: dict[str, int] = defaultdict(int)
            for ref, hyp, font in zip(synth.texts, hyps, synth.fonts, strict=True):
                errors[font] += Levenshtein.distance(ref, hyp)
                chars[font] += len(ref)
            total = sum(errors.values()) or 1
            for font in sorted(chars, key=lambda f: -errors[f] / chars[f]):
                print(
                    f"  {errors[font] / chars[font]:6.1%}  {chars[font]:6d} chars  "
                    f"{errors[font] / total:5.1%} of the errors  {font}"
                )
    return 0


def decoded_cer(settings, bundle: Path, decoder: str, val) -> tuple[float, float]:
    """CER and WER of `val`'s normalised lines read by `decoder` with config's settings."""
    from recognizer import train as tr
    from recognizer.decode import read_lines
    from recognizer.recognize import load_recognizer

    rec = load_recognizer(settings.model.model_copy(update={"decoder": decoder}), bundle)
    # The probabilities as the product computes them (test-time shifts included).
    probs = tr.predict_probs(rec._predict, val.images, rec.downsample)
    hyps = [r.text for r in read_lines(probs, rec.bundle.charset, **rec.read_options())]
    return tr.char_error_rate(val.texts, hyps), tr.word_error_rate(val.texts, hyps)


if __name__ == "__main__":
    sys.exit(main())
