"""Rebuilds: search keeps answering, the switch is atomic, new models re-transcribe, resume."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from indexer import index, rebuild
from indexer.archive import Archive, DocStatus
from indexer.highlight import WordTable
from indexer.rebuild import read_pages


def wait_until(pred: Callable[[], bool], timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


def _fill(arch: Archive, tmp_path: Path, fakes, n: int, word: str = "common") -> list[str]:
    ids = []
    for i in range(n):
        p = fakes.write_page(tmp_path / "src" / f"{word}{i}.png", f"{word} page{i}")
        ids.append(arch.add_file(p).doc_id)
    arch.process_pending()
    return ids


def _bundle(tmp_path: Path, name: str) -> Path:
    d = tmp_path / "models" / name
    d.mkdir(parents=True)
    return d


def test_searches_never_fail_or_come_back_empty_during_a_rebuild(
    tmp_path: Path, make_settings, fakes
) -> None:
    v2 = fakes.FakeRecognizer("fake-2", delay_s=0.02)
    arch = Archive.open(
        make_settings(tmp_path), fakes.FakeRecognizer(), recognizer_factory=lambda b: v2
    )
    try:
        _fill(arch, tmp_path, fakes, 30)
        before = arch.health()["index_generation"]
        totals: list[int] = []
        errors: list[BaseException] = []
        stop = threading.Event()

        def searcher() -> None:
            while not stop.is_set():
                try:
                    totals.append(arch.search("common").total)
                except BaseException as exc:  # recorded, the test fails below
                    errors.append(exc)

        t = threading.Thread(target=searcher)
        t.start()
        job = arch.start_reindex(_bundle(tmp_path, "fake-2"))
        wait_until(lambda: arch.reindex_progress()["state"] == "done")
        time.sleep(0.1)
        stop.set()
        t.join()
        assert errors == []
        assert len(totals) > 10
        assert set(totals) == {30}
        after = arch.health()
        assert after["index_generation"] != before
        assert after["model"] == "fake-2"
        assert arch.reindex_progress()["job_id"] == job
        assert sum(v2.batches) == 30
        # matches now come from the new model's transcripts
        (hit, *_) = arch.search("page7").hits
        assert arch.get(hit.doc_id).model_version == "fake-2"
        assert arch.transcript(hit.doc_id)[0].model_version == "fake-2"
    finally:
        arch.close()


def test_rebuild_with_the_same_model_reuses_transcripts(
    tmp_path: Path, make_settings, fakes
) -> None:
    rec = fakes.FakeRecognizer()
    arch = Archive.open(make_settings(tmp_path), rec)
    try:
        _fill(arch, tmp_path, fakes, 5)
        calls = len(rec.batches)
        progress = arch.reindex()
        assert progress["state"] == "done" and progress["total"] == 5
        assert len(rec.batches) == calls  # nothing recognised again
        assert arch.health()["index_generation"] == "g0002-fake-1"
        assert arch.search("common").total == 5
    finally:
        arch.close()
    # the generation before the live one is kept, older ones are removed
    arch = Archive.open(make_settings(tmp_path), rec)
    try:
        arch.reindex()
        names = [g.name for g in arch.generations.all()]
        assert names == ["g0002-fake-1", "g0003-fake-1"]
    finally:
        arch.close()


def test_documents_added_or_deleted_during_a_rebuild_are_caught_up(
    tmp_path: Path, make_settings, fakes
) -> None:
    v2 = fakes.FakeRecognizer("fake-2", delay_s=0.03)
    arch = Archive.open(
        make_settings(tmp_path), fakes.FakeRecognizer(), recognizer_factory=lambda b: v2
    )
    arch.start()
    try:
        ids = _fill(arch, tmp_path, fakes, 20)
        arch.start_reindex(_bundle(tmp_path, "fake-2"))
        wait_until(lambda: arch.reindex_progress()["done"] > 0)
        late = arch.add_file(fakes.write_page(tmp_path / "late.png", "latecomer words")).doc_id
        arch.delete(ids[-1])  # most likely not yet copied into the new generation
        arch.delete(ids[0])  # most likely already copied
        wait_until(lambda: arch.reindex_progress()["state"] == "done")
        wait_until(lambda: arch.get(late).status == DocStatus.indexed)
        assert arch.health()["model"] == "fake-2"
        assert arch.search("latecomer").total == 1
        assert arch.search("common").total == 18
        live = index.doc_ids(index.open_index(arch.live.generation.path))
        assert live == (set(ids[1:-1]) | {late})
    finally:
        arch.close()


def test_interrupted_rebuild_resumes_without_redoing_work(
    tmp_path: Path, make_settings, fakes
) -> None:
    settings = make_settings(tmp_path, worker={"batch_pages": 2})
    v2 = fakes.FakeRecognizer("fake-2", delay_s=0.05)
    bundle = _bundle(tmp_path, "fake-2")
    arch = Archive.open(settings, fakes.FakeRecognizer(), recognizer_factory=lambda b: v2)
    try:
        _fill(arch, tmp_path, fakes, 16)
        arch.start()
        arch.start_reindex(bundle)
        wait_until(lambda: sum(v2.batches) >= 6)
    finally:
        arch.close()  # stops the rebuild half-way
    first_run = sum(v2.batches)
    assert 6 <= first_run < 16
    state = Archive.open(settings, fakes.FakeRecognizer())
    try:
        assert state.reindex_progress()["state"] == "interrupted"
        assert state.health()["model"] == "fake-1"  # the old generation is still live
    finally:
        state.close()
    arch = Archive.open(settings, fakes.FakeRecognizer(), recognizer_factory=lambda b: v2)
    arch.start()  # resumes it
    try:
        wait_until(lambda: arch.reindex_progress()["state"] == "done")
        assert arch.health()["model"] == "fake-2"
        assert arch.search("common").total == 16
    finally:
        arch.close()
    assert sum(v2.batches) == 16  # every page recognised once across both runs


def test_start_rebuilds_when_the_active_model_changed(tmp_path: Path, make_settings, fakes) -> None:
    settings = make_settings(tmp_path)
    arch = Archive.open(settings, fakes.FakeRecognizer("fake-1"))
    _fill(arch, tmp_path, fakes, 4)
    arch.close()
    v2 = fakes.FakeRecognizer("fake-2")
    arch = Archive.open(settings, v2)
    try:
        assert arch.health()["model"] == "fake-1"
        arch.start()
        wait_until(lambda: arch.health()["model"] == "fake-2")
        assert arch.search("common").total == 4
        assert sum(v2.batches) == 4
    finally:
        arch.close()


def test_a_lost_index_is_rebuilt_at_start(tmp_path: Path, make_settings, fakes) -> None:
    """The index is derived data: with its folder gone, start() rebuilds it from transcripts."""
    import shutil

    settings = make_settings(tmp_path)
    rec = fakes.FakeRecognizer()
    arch = Archive.open(settings, rec)
    _fill(arch, tmp_path, fakes, 3)
    arch.close()
    shutil.rmtree(settings.data_dir / "index")
    arch = Archive.open(settings, rec)
    try:
        assert arch.search("common").total == 0
        arch.start()
        wait_until(lambda: arch.search("common").total == 3)
        assert sum(rec.batches) == 3  # from the stored transcripts, nothing recognised again
    finally:
        arch.close()


def test_an_unreadable_transcript_is_transcribed_again_by_a_rebuild(
    tmp_path: Path, make_settings, fakes
) -> None:
    rec = fakes.FakeRecognizer()
    arch = Archive.open(make_settings(tmp_path), rec)
    try:
        ids = _fill(arch, tmp_path, fakes, 3)
        doc = arch.get(ids[1])
        path = arch.transcripts.path(arch.model_version, doc.sha256)
        path.write_text('{"pages": [{"lines": "not a list"}]}')
        calls = len(rec.batches)
        assert arch.reindex()["state"] == "done"
        assert len(rec.batches) == calls + 1  # only that document, once
        assert [h.doc_id for h in arch.search("page1").hits] == [doc.doc_id]
        assert arch.transcripts.load(arch.model_version, doc.sha256) is not None
    finally:
        arch.close()


def test_the_rebuild_reader_gives_the_same_words_as_the_stored_json(
    tmp_path: Path, make_settings, fakes
) -> None:
    arch = Archive.open(make_settings(tmp_path), fakes.FakeRecognizer())
    try:
        fakes.write_page(tmp_path / "a.png", "Dear Hocker@0.55{Hooker:0.4,Hacker:0.03}\n\nsent it")
        doc = arch.add_file(tmp_path / "a.png")
        arch.process_pending()
        path = arch.transcripts.path(arch.model_version, doc.sha256)
        stored = arch.transcripts.load_json(arch.model_version, doc.sha256)
        fast = read_pages(path)
        assert WordTable.of(fast, 0.0) == WordTable.of(stored, 0.0)
        assert read_pages(tmp_path / "missing.json") is None
    finally:
        arch.close()


def test_worker_processes_index_stored_transcripts_and_leave_the_rest_here(
    tmp_path: Path, make_settings, fakes, monkeypatch
) -> None:
    """A rebuild in worker processes gives the same archive: documents with an
    unreadable transcript are transcribed again in the rebuilding process."""
    monkeypatch.setattr(rebuild, "MIN_PARALLEL_DOCS", 2)
    rec = fakes.FakeRecognizer()
    settings = make_settings(tmp_path, index={"rebuild_processes": 2})
    arch = Archive.open(settings, rec)
    try:
        ids = _fill(arch, tmp_path, fakes, 7)
        broken = arch.get(ids[3])
        arch.transcripts.path(arch.model_version, broken.sha256).write_text("{")
        calls = len(rec.batches)
        assert arch.reindex()["state"] == "done"
        assert len(rec.batches) == calls + 1  # only the broken one, here
        ix = index.open_index(arch.live.generation.path)
        assert len(ix._segments()) >= 2  # one per worker at least
        assert index.doc_ids(ix) == set(ids)
        assert arch.search("common").total == 7
        (hit,) = arch.search("page3").hits
        assert hit.doc_id == broken.doc_id and hit.snippet == "common <mark>page3</mark>"
    finally:
        arch.close()


class _Rereading:
    """The same model read with other settings: 'common' now comes out as 'altered'."""

    def __init__(self, fakes, delay_s: float = 0.0) -> None:
        self.inner = fakes.FakeRecognizer("fake-1", delay_s)
        self.version = "fake-1"
        self.fakes = fakes

    @property
    def batches(self) -> list[int]:
        return self.inner.batches

    def transcribe_pages(self, images):
        self.inner.transcribe_pages(images)  # counts the batch, sleeps
        return [
            self.fakes.transcript(
                self.fakes.read_markup(img).replace("common", "altered"), "fake-1"
            )
            for img in images
        ]


def _filled(tmp_path: Path, settings, fakes, n: int) -> list[str]:
    """Ids of `n` documents indexed by 'fake-1' in an archive that is closed again."""
    arch = Archive.open(settings, fakes.FakeRecognizer())
    try:
        return _fill(arch, tmp_path, fakes, n)
    finally:
        arch.close()


def test_retranscribing_reads_every_original_again_with_the_same_model(
    tmp_path: Path, make_settings, fakes
) -> None:
    settings = make_settings(tmp_path)
    ids = _filled(tmp_path, settings, fakes, 5)
    rec = _Rereading(fakes)
    arch = Archive.open(settings, rec)
    try:
        assert arch.reindex()["state"] == "done"  # a plain rebuild keeps the transcripts
        assert rec.batches == [] and arch.search("common").total == 5
        progress = arch.reindex(retranscribe=True)
        assert progress["state"] == "done" and progress["retranscribe"] is True
        assert sum(rec.batches) == 5
        assert arch.search("common").total == 0
        assert arch.search("altered").total == 5
        doc = arch.get(ids[2])
        assert doc.model_version == "fake-1"
        assert arch.transcript(doc.doc_id)[0].lines[0].words[0].text == "altered"
        arch.reindex()  # from the new transcripts: nothing read again
        assert sum(rec.batches) == 5 and arch.search("altered").total == 5
    finally:
        arch.close()


def test_an_interrupted_retranscription_resumes_without_reading_a_page_twice(
    tmp_path: Path, make_settings, fakes
) -> None:
    _filled(tmp_path, make_settings(tmp_path, worker={"batch_pages": 2}), fakes, 16)
    settings = make_settings(tmp_path, worker={"batch_pages": 2}, model={"beam_width": 7})
    rec = _Rereading(fakes, delay_s=0.05)
    arch = Archive.open(settings, rec)
    assert arch.read_otherwise() == 16
    try:
        arch.start()
        arch.start_reindex(retranscribe=True)
        wait_until(lambda: sum(rec.batches) >= 6)
    finally:
        arch.close()  # stops the rebuild half-way
    assert 6 <= sum(rec.batches) < 16
    arch = Archive.open(settings, rec)
    try:
        progress = arch.reindex_progress()
        assert progress["state"] == "interrupted" and progress["retranscribe"] is True
        arch.start()  # resumes it, still re-transcribing
        wait_until(lambda: arch.reindex_progress()["state"] == "done")
        assert arch.search("altered").total == 16
        assert arch.search("common").total == 0
        assert arch.read_otherwise() == 0  # those read before the stop are recorded too
    finally:
        arch.close()
    assert sum(rec.batches) == 16  # every page read once across both runs


def test_a_document_whose_original_cannot_be_read_again_keeps_its_transcript(
    tmp_path: Path, make_settings, fakes
) -> None:
    settings = make_settings(tmp_path)
    ids = _filled(tmp_path, settings, fakes, 3)
    arch = Archive.open(settings, _Rereading(fakes))
    try:
        broken = arch.get(ids[0])
        arch.originals.path(broken.sha256).write_bytes(b"not an image any more")
        assert arch.reindex(retranscribe=True)["state"] == "done"
        assert arch.get(broken.doc_id).status == DocStatus.indexed
        assert [h.doc_id for h in arch.search("common").hits] == [broken.doc_id]
        assert arch.search("altered").total == 2
    finally:
        arch.close()


def test_documents_read_with_other_settings_are_counted_until_read_again(
    tmp_path: Path, make_settings, fakes, caplog
) -> None:
    _filled(tmp_path, make_settings(tmp_path), fakes, 4)
    same = Archive.open(make_settings(tmp_path), fakes.FakeRecognizer())
    assert same.read_otherwise() == 0
    same.close()
    changed = make_settings(tmp_path, model={"decoder": "greedy"}, worker={"enabled": False})
    arch = Archive.open(changed, fakes.FakeRecognizer())
    try:
        with caplog.at_level("WARNING", logger="indexer.archive"):
            arch.start()
        assert "4 indexed document(s) were read with other reading settings" in caplog.text
        assert "--retranscribe" in caplog.text
        assert arch.read_otherwise() == 4
        late = arch.add_file(fakes.write_page(tmp_path / "late.png", "late page"))
        arch.process_pending()  # read with today's settings
        arch.reindex()  # from the stored transcripts: nothing is read again
        assert arch.read_otherwise() == 4
        arch.delete(late.doc_id)
        arch.reindex(retranscribe=True)
        assert arch.read_otherwise() == 0
    finally:
        arch.close()
