"""End to end with the bundled model: a page dropped in the inbox is found by a word on it."""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from indexer.archive import Archive, DocStatus
from inkdex.settings import load_settings

REPO = Path(__file__).resolve().parents[2]
BUNDLE = load_settings(REPO / "config.yaml").model.bundle

LINES = (("Dear", "Joseph", "Hooker"), ("the", "seeds", "arrived", "today"))


def _page() -> tuple[np.ndarray, dict[str, tuple[int, int, int, int]]]:
    """Two lines of large dark words on light paper, with each word's box."""
    img = np.full((420, 1400), 235, np.uint8)
    font, scale, thick = cv2.FONT_HERSHEY_SIMPLEX, 2.2, 5
    boxes = {}
    for li, words in enumerate(LINES):
        x, base = 60, 150 + li * 160
        for w in words:
            (tw, th), b = cv2.getTextSize(w, font, scale, thick)
            cv2.putText(img, w, (x, base), font, scale, 20, thick, cv2.LINE_AA)
            boxes[w] = (x, base - th, tw, th + b)
            x += tw + 70
    return img, boxes


def _centre_inside(box: tuple[int, int, int, int], truth: tuple[int, int, int, int]) -> bool:
    cx, cy = box[0] + box[2] / 2, box[1] + box[3] / 2
    x, y, w, h = truth
    m = 0.25 * h
    return x - m <= cx <= x + w + m and y - m <= cy <= y + h + m


def test_dropped_page_is_found_with_the_box_of_the_word(tmp_path: Path, make_settings) -> None:
    if not (BUNDLE / "model.yaml").is_file():
        pytest.skip(f"{BUNDLE} is not present (no trained bundle in this checkout)")
    settings = make_settings(tmp_path, model={"bundle": str(BUNDLE)})
    arch = Archive.open(settings)
    arch.start()
    try:
        img, boxes = _page()
        ok, png = cv2.imencode(".png", img)
        assert ok
        part = arch.inbox_dir / "letter.png.part"
        part.write_bytes(png.tobytes())
        part.rename(arch.inbox_dir / "letter.png")
        deadline = time.monotonic() + 300
        docs: list = []
        while time.monotonic() < deadline:
            docs = arch.list_documents()[1]
            if docs and docs[0].status in (DocStatus.indexed, DocStatus.failed):
                break
            time.sleep(0.2)
        assert docs and docs[0].status == DocStatus.indexed, docs
        doc = docs[0]
        assert doc.model_version == BUNDLE.name
        result = arch.search("seeds", fuzzy=True)
        assert result.hits and result.hits[0].doc_id == doc.doc_id
        match = result.hits[0].matches[0]
        assert match.page == 0
        assert _centre_inside(match.bbox, boxes["seeds"]), (match, boxes["seeds"])
    finally:
        arch.close()


def test_the_ingest_worker_loads_the_model_with_every_model_setting(
    tmp_path: Path, make_settings
) -> None:
    """The worker's recognizer honours the word list, spelling correction and capital prior."""
    repo = load_settings(REPO / "config.yaml").model
    if not (repo.bundle / "model.yaml").is_file() or repo.lexicon is None:
        pytest.skip("no trained bundle")
    if not repo.lexicon.is_file():
        pytest.skip("no word list (make test writes models/lexicon-en.txt)")
    from indexer.pipeline import LazyRecognizer

    settings = make_settings(
        tmp_path,
        model={
            "bundle": str(repo.bundle),
            "decoder": "lexicon",
            "lexicon": str(repo.lexicon),
            "alternatives": 3,
            "spell_correction": True,
            "capital_prior": [-1.0, -2.0],
            "lm_weight": 0.5,
            "lm_bonus": 1.0,
            "line_pass": "decoder",
        },
    )
    rec = LazyRecognizer(repo.bundle, settings).get()
    assert (rec.decoder, rec.alternatives) == ("lexicon", 3)
    assert rec.speller is not None
    assert rec.lexicon.capital_logp == (-1.0, -2.0)
    assert (rec.fusion.weight, rec.fusion.bonus, rec.line_pass) == (0.5, 1.0, "decoder")


def test_the_shipped_bundle_reads_with_its_language_model() -> None:
    """The default bundle carries a character language model, and it changes readings."""
    repo = load_settings(REPO / "config.yaml").model
    if not (repo.bundle / "model.yaml").is_file():
        pytest.skip("no trained bundle")
    from recognizer.recognize import Recognizer
    from recognizer.synthpage import PageSynth

    rec = Recognizer.load(repo.bundle, decoder="beam")
    assert rec.fusion is not None and rec.fusion.weight > 0
    plain = Recognizer.load(repo.bundle, decoder="beam", lm_weight=0)
    assert plain.fusion is None
    page = PageSynth(seed=11, kinds=("letter",)).sample(0)
    (fused,) = rec.transcribe_pages([page.image])
    (alone,) = plain.transcribe_pages([page.image])
    assert [ln.text for ln in fused.lines] != [ln.text for ln in alone.lines], (
        "the language model never changed a reading"
    )
    truth = [w.text.lower() for line in page.lines for w in line.words]
    read = {w.text.lower() for line in fused.lines for w in line.words}
    assert sum(w in read for w in truth) >= 0.5 * len(truth)


def test_reindex_retranscribe_applies_changed_reading_settings(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """`inkdex reindex --retranscribe` re-reads the archive with the same bundle's new settings;
    a plain `inkdex reindex` keeps the stored transcripts."""
    if not (BUNDLE / "model.yaml").is_file():
        pytest.skip(f"{BUNDLE} is not present (no trained bundle in this checkout)")
    from inkdex.cli import main

    img, _ = _page()
    page = tmp_path / "letter.png"
    cv2.imwrite(str(page), img)
    config = tmp_path / "config.yaml"

    def configure(decoder: str) -> list[str]:
        config.write_text(
            f"data_dir: {tmp_path / 'data'}\n"
            f"model:\n  bundle: {BUNDLE}\n  decoder: {decoder}\n  beam_width: 8\n"
        )
        return ["--config", str(config)]

    assert main(["ingest", str(page), *configure("beam")]) == 0
    settings = load_settings(config)
    arch = Archive.open(settings)
    try:
        (doc,) = arch.list_documents()[1]
        stored = arch.transcripts.path(BUNDLE.name, doc.sha256)
    finally:
        arch.close()
    written = stored.stat().st_mtime_ns

    assert main(["reindex", *configure("greedy")]) == 0
    assert stored.stat().st_mtime_ns == written  # rebuilt from the stored transcript
    settings = load_settings(config)
    arch = Archive.open(settings)
    try:
        assert arch.read_otherwise() == 1  # read by the beam decoder, greedy now
    finally:
        arch.close()
    assert main(["reindex", "--retranscribe", *configure("greedy")]) == 0
    assert "is live" in capsys.readouterr().out
    assert stored.stat().st_mtime_ns > written

    arch = Archive.open(settings)
    try:
        assert arch.reindex_progress()["retranscribe"] is True
        assert arch.read_otherwise() == 0
        words = [w for ln in arch.transcript(doc.doc_id)[0].lines for w in ln.words]
        assert words and all(len(w.alternatives) == 1 for w in words)  # greedy: no alternatives
        hits = arch.search("seeds", fuzzy=True).hits
        assert hits and hits[0].doc_id == doc.doc_id
    finally:
        arch.close()
