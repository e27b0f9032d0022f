"""CER/WER metrics, `evaluate` over line images, and the `inkdex eval` command."""

from __future__ import annotations

import json
import sys
import types
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest

from inkdex.cli import main
from recognizer.data import LabeledLine
from recognizer.evaluate import (
    EvalError,
    cer,
    evaluate,
    report_from_texts,
    score_line,
    wer,
)

# -- metrics ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ref", "hyp", "expected"),
    [
        ("kitten", "sitting", 3 / 6),  # 2 substitutions + 1 insertion
        ("hello", "hello", 0.0),
        ("abc", "", 1.0),
        ("ab", "abcd", 1.0),  # insertions can push CER to 1 and beyond
        ("a  b ", "a b", 0.0),  # whitespace runs are normalised
        ("", "", 0.0),
        ("", "x", 1.0),
    ],
)
def test_cer_known_values(ref: str, hyp: str, expected: float) -> None:
    assert cer(ref, hyp) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("ref", "hyp", "expected"),
    [
        ("the cat sat", "the cat sat", 0.0),
        ("the cat sat", "the bat sat", 1 / 3),
        ("the cat sat", "the cat", 1 / 3),
        ("the cat", "a the cat sat", 2 / 2),
        ("one two", "onetwo", 2 / 2),
    ],
)
def test_wer_known_values(ref: str, hyp: str, expected: float) -> None:
    assert wer(ref, hyp) == pytest.approx(expected)


def test_set_rates_are_total_edits_over_total_length_not_a_mean_of_lines() -> None:
    report = report_from_texts(["a", "abcdefghij"], ["b", "abcdefghij"])
    assert report.cer == pytest.approx(1 / 11)  # the mean of line CERs would be 0.5
    assert report.wer == pytest.approx(1 / 2)
    assert [line.cer for line in report.lines] == [1.0, 0.0]


def test_line_score_counts_edits_and_lengths() -> None:
    s = score_line("hello world", "helo world", path="x.png", confidence=0.5)
    assert (s.char_edits, s.ref_chars, s.word_edits, s.ref_words) == (1, 11, 1, 2)
    assert s.to_dict()["cer"] == pytest.approx(1 / 11, abs=1e-4)


# -- evaluate with a stand-in recognizer -----------------------------------------------------------


@dataclass(frozen=True)
class _Reading:
    text: str
    confidence: float


class FakeRecognizer:
    """Reads a line image by its width: 'hello' when wider than 50 px, else 'hi'."""

    version = "fake-0.1"
    decoder = "beam"

    def __init__(self) -> None:
        self.batches: list[int] = []

    def recognize_lines(self, crops):
        self.batches.append(len(crops))
        for c in crops:
            assert c.dtype == np.uint8 and c.ndim == 2  # grayscale, as the recognizer expects
        return [_Reading("hello" if c.shape[1] > 50 else "hi", 0.9) for c in crops]


def _line_image(path: Path, width: int) -> Path:
    img = np.full((32, width, 3), 255, np.uint8)
    cv2.line(img, (4, 16), (width - 4, 16), (0, 0, 0), 2)
    cv2.imwrite(str(path), img)
    return path


@pytest.fixture()
def labelled(tmp_path: Path) -> list[LabeledLine]:
    return [
        LabeledLine(_line_image(tmp_path / "a.png", 80), "hello"),
        LabeledLine(_line_image(tmp_path / "b.png", 40), "hi"),
        LabeledLine(_line_image(tmp_path / "c.png", 80), "help"),
    ]


def test_evaluate_scores_every_line_in_batches(labelled: list[LabeledLine]) -> None:
    rec = FakeRecognizer()
    report = evaluate(rec, labelled, batch_size=2)
    assert rec.batches == [2, 1]
    assert [x.hyp for x in report.lines] == ["hello", "hi", "hello"]
    assert report.char_edits == 2  # help -> hello: 1 substitution + 1 insertion
    assert report.cer == pytest.approx(2 / 11)
    assert report.wer == pytest.approx(1 / 3)
    assert (report.model, report.decoder) == ("fake-0.1", "beam")
    d = report.to_dict(per_line=True)
    assert d["lines"] == 3 and d["per_line"][2]["hyp"] == "hello"
    assert d["seconds"] >= 0


def test_evaluate_names_an_unreadable_image(tmp_path: Path) -> None:
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a png")
    with pytest.raises(EvalError, match=r"bad\.png: not a readable image"):
        evaluate(FakeRecognizer(), [LabeledLine(bad, "x")])
    with pytest.raises(EvalError, match="file not found"):
        evaluate(FakeRecognizer(), [LabeledLine(tmp_path / "gone.png", "x")])


def test_evaluate_refuses_an_empty_set() -> None:
    with pytest.raises(EvalError, match="no labelled lines"):
        evaluate(FakeRecognizer(), [])


# -- inkdex eval -----------------------------------------------------------------------------------


@pytest.fixture()
def fake_recognize_module(monkeypatch: pytest.MonkeyPatch) -> dict:
    """Stands in for recognizer.recognize; records how Recognizer.load was called."""
    calls: dict = {}

    class Recognizer:
        @classmethod
        def load(cls, bundle_dir, **kwargs):
            calls["bundle"] = Path(bundle_dir)
            calls.update(kwargs)
            rec = FakeRecognizer()
            rec.decoder = kwargs["decoder"]
            return rec

    def load_recognizer(model_settings, bundle=None):
        m = model_settings
        calls["spell_correction"] = m.spell_correction
        return Recognizer.load(
            bundle,
            decoder=m.decoder,
            beam_width=m.beam_width,
            alternatives=m.alternatives,
            lexicon=m.lexicon,
            batch_size=m.batch_size,
        )

    module = types.ModuleType("recognizer.recognize")
    module.Recognizer = Recognizer  # type: ignore[attr-defined]
    module.load_recognizer = load_recognizer  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "recognizer.recognize", module)
    return calls


def _tsv(tmp_path: Path, labelled: list[LabeledLine]) -> Path:
    f = tmp_path / "labels.tsv"
    f.write_text("".join(f"{x.path.name}\t{x.text}\n" for x in labelled), encoding="utf-8")
    return f


def test_eval_command_prints_cer_and_wer_as_json(
    tmp_path: Path, labelled, fake_recognize_module, capsys
) -> None:
    bundle = tmp_path / "models" / "inkdex-hw-9"
    bundle.mkdir(parents=True)
    rc = main(
        ["eval", "--labels", str(_tsv(tmp_path, labelled)), "--model", str(bundle)]
        + ["--decoder", "greedy", "--limit", "2", "--json"]
    )
    out = capsys.readouterr().out
    assert rc == 0
    assert len(out.strip().splitlines()) == 1  # --json: one compact line
    d = json.loads(out)
    assert {"cer", "wer", "lines", "decoder", "model", "seconds"} <= set(d)
    assert (d["cer"], d["wer"], d["lines"], d["decoder"]) == (0.0, 0.0, 2, "greedy")
    assert "per_line" not in d
    assert fake_recognize_module["bundle"] == bundle
    assert fake_recognize_module["decoder"] == "greedy"


def test_eval_command_reports_lines_when_asked(
    tmp_path: Path, labelled, fake_recognize_module, capsys
) -> None:
    rc = main(["eval", "--labels", str(_tsv(tmp_path, labelled)), "--report-lines"])
    d = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert [x["ref"] for x in d["per_line"]] == ["hello", "hi", "help"]
    assert d["per_line"][2]["cer"] == 0.5


def test_eval_command_reads_a_label_folder(tmp_path: Path, fake_recognize_module, capsys) -> None:
    folder = tmp_path / "words"
    folder.mkdir()
    _line_image(folder / "001_hello.png", 80)
    _line_image(folder / "002_ho.png", 40)
    assert main(["eval", "--folder", str(folder), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["lines"] == 2 and d["cer"] == pytest.approx(1 / 7, abs=1e-4)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "exactly one of --labels"),
        (["--labels", "x.tsv", "--folder", "d"], "exactly one of --labels"),
        (["--iam-lines", "lines.txt"], "need --images"),
        (["--labels", "missing.tsv"], "labels file not found"),
        (["--labels", "{tsv}", "--decoder", "lexicon"], "needs a word list"),
        (["--labels", "{tsv}", "--limit", "0"], "--limit must be >= 1"),
    ],
)
def test_eval_command_errors_are_clear_and_exit_2(
    tmp_path: Path, labelled, fake_recognize_module, capsys, argv, message
) -> None:
    tsv = str(_tsv(tmp_path, labelled))
    config = tmp_path / "config.yaml"
    config.write_text("model:\n  lexicon: null\n", encoding="utf-8")  # no word list configured
    rc = main(["eval", "--config", str(config), *[a.replace("{tsv}", tsv) for a in argv]])
    assert rc == 2
    assert message in capsys.readouterr().err
