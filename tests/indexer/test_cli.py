"""The indexer's subcommands: ingest, search (text and JSON), reindex, models."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from indexer.archive import Archive
from inkdex.cli import main


@pytest.fixture
def filled(tmp_path: Path, make_settings, fakes) -> list[str]:
    """An archive whose documents were transcribed by 'fake-1' (the configured bundle's name)."""
    (tmp_path / "models" / "fake-1").mkdir(parents=True)
    settings = make_settings(tmp_path)
    (tmp_path / "config.yaml").write_text(
        f"data_dir: {tmp_path / 'data'}\nmodel:\n  bundle: {tmp_path / 'models' / 'fake-1'}\n"
        f"  models_dir: {tmp_path / 'models'}\n"
    )
    arch = Archive.open(settings, fakes.FakeRecognizer("fake-1"))
    try:
        ids = [
            arch.add_file(
                fakes.write_page(tmp_path / "a.png", "Kew Gardens@0.8{Garden:0.15}")
            ).doc_id,
            arch.add_file(fakes.write_page(tmp_path / "b.png", "the gardens of Kew")).doc_id,
        ]
        arch.process_pending()
    finally:
        arch.close()
    return ids


def _cfg(tmp_path: Path) -> list[str]:
    return ["--config", str(tmp_path / "config.yaml")]


def test_search_json_follows_the_http_contract(
    tmp_path: Path, filled: list[str], capsys: pytest.CaptureFixture
) -> None:
    assert main(["search", "kew", "--json", *_cfg(tmp_path)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["total"] == 2
    assert {h["doc_id"] for h in out["hits"]} == set(filled)
    hit = out["hits"][0]
    assert set(hit) == {"doc_id", "filename", "score", "snippet", "matches"}
    assert set(hit["matches"][0]) == {"page", "line", "word", "text", "bbox", "confidence"}
    assert len(hit["matches"][0]["bbox"]) == 4


def test_search_text_output_and_paging(
    tmp_path: Path, filled: list[str], capsys: pytest.CaptureFixture
) -> None:
    assert main(["search", "kew", "--limit", "1", "--offset", "1", *_cfg(tmp_path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "2-2 of 2 document(s)"
    assert "[Kew]" in out[1]
    assert out[2].startswith("\tpage 1 line 1 word")


def test_bad_query_exits_2_with_the_reason(
    tmp_path: Path, filled: list[str], capsys: pytest.CaptureFixture
) -> None:
    assert main(["search", "x" * 300, *_cfg(tmp_path)]) == 2
    assert "api.max_query_length" in capsys.readouterr().err


def test_reindex_from_stored_transcripts_needs_no_model(
    tmp_path: Path, filled: list[str], capsys: pytest.CaptureFixture
) -> None:
    assert main(["reindex", *_cfg(tmp_path)]) == 0
    assert capsys.readouterr().out.startswith("g0002-fake-1 is live (model fake-1): 2 document(s)")
    assert main(["search", "gardens", "--json", *_cfg(tmp_path)]) == 0
    assert json.loads(capsys.readouterr().out)["total"] == 2


def test_ingest_prints_ids_and_reports_duplicates_and_unreadable_paths(
    tmp_path: Path, filled: list[str], fakes, capsys: pytest.CaptureFixture
) -> None:
    # the configured bundle folder is empty: the new file stays queued, with a message
    folder = tmp_path / "drop"
    fakes.write_page(folder / "new.png", "fresh page")
    (folder / "a-copy.png").write_bytes((tmp_path / "a.png").read_bytes())
    (folder / ".DS_Store").write_bytes(b"junk")
    code = main(["ingest", str(folder), str(tmp_path / "missing.png"), *_cfg(tmp_path)])
    out, err = capsys.readouterr()
    assert code == 1
    lines = out.splitlines()
    assert f"{filled[0]}\tduplicate\ta-copy.png" in lines
    assert [x for x in lines if x.endswith("\tqueued\tnew.png")]
    assert len(lines) == 2  # .DS_Store skipped
    assert "missing.png" in err and "cannot load the model bundle" in err


def test_models_lists_bundles_and_marks_the_active_one(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    models = tmp_path / "models"
    for name, cer in (("hw-0.1", 0.21), ("hw-0.2", 0.12)):
        (models / name).mkdir(parents=True)
        (models / name / "model.yaml").write_text(
            f"name: hw\nversion: '{name[-3:]}'\ninput: {{height: 48}}\n"
            f"metrics:\n- {{set: hooker-val, decoder: beam, lines: 709, cer: {cer}, wer: 0.4}}\n"
        )
    (tmp_path / "config.yaml").write_text(
        f"model:\n  bundle: {models / 'hw-0.2'}\n  models_dir: {models}\n"
    )
    assert main(["models", *_cfg(tmp_path), "--data-dir", str(tmp_path / "d")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("  hw-0.1\tversion 0.1\theight 48\tCER 21.0% on hooker-val")
    assert out[1].startswith("* hw-0.2")
    # config.yaml leaves the reading to the bundle, which says nothing: the defaults.
    assert out[2] == (
        "the active bundle reads with: decoder beam, beam width 16, alternatives 5, "
        "test-time shifts none, runtime tensorflow"
    )
    assert main(["models", "--json", *_cfg(tmp_path), "--data-dir", str(tmp_path / "d")]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [b["active"] for b in data["bundles"]] == [False, True]


def test_models_says_how_the_active_bundle_reads(tmp_path: Path, capsys) -> None:
    """config.yaml's reading settings win over the bundle's own decoder defaults, and
    the ``auto`` runtime is shown as what it picks: ONNX when the bundle has an export."""
    bundle = tmp_path / "models" / "hw-1"
    bundle.mkdir(parents=True)
    (bundle / "model.yaml").write_text(
        "name: hw\nversion: '1'\ninput: {height: 48}\n"
        "decoder: {decoder: lexicon, beam_width: 32, alternatives: 7}\n"
        "onnx: {file: model.onnx}\n"
    )
    (tmp_path / "config.yaml").write_text(
        f"model:\n  bundle: {bundle}\n  models_dir: {bundle.parent}\n  beam_width: 64\n"
        "  test_time_shifts: [-2, 2]\n"
    )
    args = ["models", "--json", *_cfg(tmp_path), "--data-dir", str(tmp_path / "d")]
    assert main(args) == 0
    reading = json.loads(capsys.readouterr().out)["reading"]
    assert reading == {
        "decoder": "lexicon",
        "beam_width": 64,
        "alternatives": 7,
        "test_time_shifts": [-2, 2],
        "runtime": "onnx",
    }
    (tmp_path / "config.yaml").write_text(
        f"model:\n  bundle: {bundle}\n  models_dir: {bundle.parent}\n  runtime: tensorflow\n"
    )
    assert main(args) == 0
    reading = json.loads(capsys.readouterr().out)["reading"]
    assert (reading["runtime"], reading["beam_width"], reading["test_time_shifts"]) == (
        "tensorflow",
        32,
        [],
    )


def test_search_does_not_import_tensorflow(tmp_path: Path, filled: list[str]) -> None:
    """`inkdex search` stays a light process: no TensorFlow, Keras or OpenCV import."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from inkdex.cli import main\n"
        f"rc = main(['search', 'kew', '--config', {str(tmp_path / 'config.yaml')!r}])\n"
        "heavy = [m for m in ('tensorflow', 'keras', 'cv2') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
        "sys.exit(rc)\n"
    )
    repo = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=repo, check=True
    ).stdout
    assert "HEAVY []" in out
    assert "2 document(s)" in out


class _Bar:
    """Stands in for the terminal progress bar: closing it ends its line."""

    def __init__(self, *args: object) -> None:
        self.total = self.n = 0

    def refresh(self) -> None:
        print("[bar]", end="", file=sys.stderr)

    def close(self) -> None:
        print("[bar closed]", file=sys.stderr)


def test_retranscribe_without_a_loadable_model_fails_clearly_and_keeps_the_index(
    tmp_path: Path, filled: list[str], capsys: pytest.CaptureFixture, monkeypatch
) -> None:
    monkeypatch.setattr("indexer.cli._progress_bar", _Bar)
    # the configured bundle folder holds no model: nothing can be read again
    assert main(["reindex", "--retranscribe", *_cfg(tmp_path)]) == 1
    err = capsys.readouterr().err
    # the bar is closed before the message, which starts a line of its own
    assert err.replace("[bar]", "").startswith("[bar closed]\n"), err
    err = err.split("\n", 1)[1]
    assert err.startswith("inkdex reindex: cannot load the model bundle") and "fake-1" in err, err
    assert err.count(str(tmp_path / "models" / "fake-1")) == 1, err  # the bundle named once
    assert main(["search", "gardens", "--json", *_cfg(tmp_path)]) == 0
    assert json.loads(capsys.readouterr().out)["total"] == 2
