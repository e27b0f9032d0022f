"""The reading fingerprint: it follows what changes readings and nothing else."""

from __future__ import annotations

from pathlib import Path

from indexer.reading import fingerprint
from inkdex.settings import ModelSettings


def _bundle(tmp_path: Path) -> Path:
    b = tmp_path / "inkdex-hw-1.0"
    b.mkdir()
    (b / "model.weights.h5").write_bytes(b"weights")
    (b / "charset.txt").write_text("abc\n")
    (b / "model.yaml").write_text(
        "decoder:\n  decoder: beam\n  beam_width: 16\nmetrics:\n- set: x\n  cer: 0.2\n"
    )
    return b


def test_reading_settings_and_bundle_files_change_the_fingerprint(tmp_path: Path) -> None:
    b = _bundle(tmp_path)
    lexicon = tmp_path / "words.txt"
    lexicon.write_text("the\t10\n")
    base = ModelSettings(bundle=b, lexicon=lexicon)
    fp = fingerprint(base, b)
    assert fp == fingerprint(ModelSettings(bundle=b, lexicon=lexicon), b)
    assert len(fp) == 16

    for changed in (
        {"decoder": "greedy"},
        {"beam_width": 8},
        {"alternatives": 3},
        {"lm_weight": 0.0},
        {"capital_prior": (-1.0, -2.0)},
    ):
        other = base.model_copy(update=changed)
        assert fingerprint(other, b) != fp, changed
    # batching and where bundles live do not change what is read
    assert fingerprint(base.model_copy(update={"batch_size": 8}), b) == fp
    assert fingerprint(base.model_copy(update={"decode_processes": 2}), b) == fp
    assert fingerprint(base.model_copy(update={"models_dir": tmp_path / "x"}), b) == fp

    lexicon.write_text("the\t10\nof\t5\n")
    assert fingerprint(base, b) != fp
    lexicon.write_text("the\t10\n")
    assert fingerprint(base, b) == fp

    meta = (b / "model.yaml").read_text()
    (b / "model.yaml").write_text(meta.replace("cer: 0.2", "cer: 0.1"))  # measured figures
    assert fingerprint(base, b) == fp
    (b / "model.yaml").write_text(meta.replace("beam_width: 16", "beam_width: 32"))
    assert fingerprint(base, b) != fp
    (b / "model.yaml").write_text(meta)

    (b / "charlm.npz").write_bytes(b"a language model")  # added in place
    assert fingerprint(base, b) != fp
    (b / "charlm.npz").unlink()
    (b / "model.weights.h5").write_bytes(b"retrained")
    assert fingerprint(base, b) != fp


def test_a_missing_bundle_still_has_a_fingerprint(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    assert fingerprint(ModelSettings(bundle=missing), missing) == fingerprint(
        ModelSettings(bundle=missing), missing
    )
