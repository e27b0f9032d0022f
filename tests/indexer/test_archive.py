"""The archive facade with a fake recognizer: ingest outcomes, search results, deletion."""

from __future__ import annotations

from pathlib import Path

import pytest

from indexer import index
from indexer.archive import (
    Archive,
    DocStatus,
    DocumentNotFound,
    DuplicateDocument,
    ModelUnavailable,
    QueryError,
)


def _indexed_ids(archive: Archive) -> list[str]:
    with index.searcher(index.open_index(archive.live.generation.path)) as s:
        return sorted(d["doc_id"] for d in s.all_stored_fields())


def test_corrupt_file_fails_with_a_reason_while_the_others_index(
    archive: Archive, tmp_path: Path, fakes
) -> None:
    good = [fakes.write_page(tmp_path / f"g{i}.png", f"good page {i}") for i in range(3)]
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    ids = [archive.add_file(p).doc_id for p in [good[0], bad, *good[1:]]]
    assert archive.process_pending() == 4
    docs = {d: archive.get(d) for d in ids}
    failed = docs[ids[1]]
    assert failed.status == DocStatus.failed
    assert failed.error.startswith("load: broken.png")
    assert all(docs[d].status == DocStatus.indexed for d in ids if d != ids[1])
    assert _indexed_ids(archive) == sorted(d for d in ids if d != ids[1])
    copy = archive.failed_dir / f"{failed.doc_id}-broken.png"
    assert copy.read_bytes() == bad.read_bytes()
    assert "cannot be decoded" in copy.with_name(copy.name + ".error.txt").read_text()


def test_unsupported_file_fails_permanently_without_retries(
    tmp_path: Path, make_settings, fakes
) -> None:
    rec = fakes.FakeRecognizer()
    arch = Archive.open(make_settings(tmp_path), recognizer=rec)
    try:
        p = tmp_path / "notes.txt"
        p.write_text("plain text is not an image")
        doc = arch.add_file(p)
        assert arch.process_pending() == 1
        got = arch.get(doc.doc_id)
    finally:
        arch.close()
    assert got.status == DocStatus.failed and "not a supported image" in got.error
    assert got.media_type == "text/plain"
    assert rec.batches == []  # never reached recognition


def test_duplicate_content_is_refused_and_indexed_once(
    archive: Archive, tmp_path: Path, fakes
) -> None:
    a = fakes.write_page(tmp_path / "a.png", "same words")
    b = tmp_path / "copy-of-a.png"
    b.write_bytes(a.read_bytes())
    first = archive.add_file(a)
    with pytest.raises(DuplicateDocument) as err:
        archive.add_file(b)
    assert err.value.existing_id == first.doc_id
    archive.process_pending()
    assert _indexed_ids(archive) == [first.doc_id]
    assert archive.list_documents()[0] == 1


def test_pages_of_several_documents_are_recognised_together(
    tmp_path: Path, make_settings, fakes
) -> None:
    rec = fakes.FakeRecognizer()
    arch = Archive.open(make_settings(tmp_path, worker={"batch_pages": 4}), recognizer=rec)
    try:
        fakes.write_tiff(tmp_path / "three.tif", ["p one", "p two", "p three"])
        arch.add_file(tmp_path / "three.tif")
        for i in range(3):
            arch.add_file(fakes.write_page(tmp_path / f"s{i}.png", f"single {i}"))
        assert arch.process_pending() == 4
    finally:
        arch.close()
    assert rec.batches == [4, 2]  # 4 documents claimed (6 pages), recognised 4 + 2


def test_matches_carry_page_line_word_box_and_confidence(
    archive: Archive, tmp_path: Path, fakes
) -> None:
    fakes.write_tiff(
        tmp_path / "letter.tif", ["Dear Sir", "I send the seeds\nof Rhododendron@0.7 today"]
    )
    doc = archive.add_file(tmp_path / "letter.tif")
    archive.process_pending()
    assert archive.get(doc.doc_id).pages == 2
    result = archive.search("rhododendron")
    assert result.total == 1
    (hit,) = result.hits
    assert hit.doc_id == doc.doc_id and hit.filename == "letter.tif"
    (m,) = hit.matches
    assert (m.page, m.line, m.word, m.text) == (1, 1, 1, "Rhododendron")
    assert m.bbox == (100, 40, 90, 30)
    assert m.confidence == pytest.approx(0.7)
    assert hit.snippet == "of <mark>Rhododendron</mark> today"


def test_a_word_read_only_as_an_alternative_is_found_through_it(
    archive: Archive, tmp_path: Path, fakes
) -> None:
    fakes.write_page(tmp_path / "a.png", "from Hocker@0.55{Hooker:0.4,Hacker:0.03}")
    fakes.write_page(tmp_path / "b.png", "from Hooker@0.95")
    a = archive.add_file(tmp_path / "a.png").doc_id
    b = archive.add_file(tmp_path / "b.png").doc_id
    archive.process_pending()
    result = archive.search("Hooker")
    assert [h.doc_id for h in result.hits] == [b, a]
    alt = result.hits[1].matches[0]
    assert (alt.text, alt.confidence) == ("Hooker", pytest.approx(0.4))
    assert result.hits[1].snippet == "from <mark>Hocker</mark>"
    # below alternative_min_prob (0.05): not indexed, not matched
    assert archive.search("hacker").total == 0
    # min_confidence drops the weak reading and the hit that only had it
    strict = archive.search("hooker", min_confidence=0.5)
    assert [h.doc_id for h in strict.hits] == [b] and strict.total == 1


def test_fuzzy_search_ranks_near_spellings_after_exact(
    archive: Archive, tmp_path: Path, fakes
) -> None:
    near = archive.add_file(fakes.write_page(tmp_path / "n.png", "Rhododendrun seeds")).doc_id
    exact = archive.add_file(fakes.write_page(tmp_path / "e.png", "Rhododendron seeds")).doc_id
    archive.process_pending()
    assert [h.doc_id for h in archive.search("rhododendron").hits] == [exact]
    fuzzy = archive.search("rhododendron", fuzzy=True)
    assert [h.doc_id for h in fuzzy.hits] == [exact, near]
    assert fuzzy.hits[1].matches[0].text == "Rhododendrun"


def test_query_longer_than_the_limit_is_refused(tmp_path: Path, make_settings, fakes) -> None:
    arch = Archive.open(
        make_settings(tmp_path, api={"max_query_length": 20}), recognizer=fakes.FakeRecognizer()
    )
    try:
        arch.search("x" * 20)
        with pytest.raises(QueryError, match="api.max_query_length"):
            arch.search("x" * 21)
        with pytest.raises(QueryError):
            arch.search("")
    finally:
        arch.close()


def test_delete_removes_document_everywhere(archive: Archive, tmp_path: Path, fakes) -> None:
    doc = archive.add_file(fakes.write_page(tmp_path / "a.png", "ephemeral words"))
    archive.process_pending()
    assert archive.transcript(doc.doc_id)[0].text == "ephemeral words"
    original = archive.original_path(doc.doc_id)
    archive.delete(doc.doc_id)
    assert archive.search("ephemeral").total == 0
    assert not original.exists()
    assert not archive.transcripts.path("fake-1", doc.sha256).exists()
    with pytest.raises(DocumentNotFound):
        archive.get(doc.doc_id)
    with pytest.raises(DocumentNotFound):
        archive.delete(doc.doc_id)
    # the same content can be added again afterwards
    assert archive.add_file(tmp_path / "a.png").doc_id == doc.doc_id


def test_transient_recognition_error_is_retried(tmp_path: Path, make_settings, fakes) -> None:
    class Flaky(fakes.FakeRecognizer):
        failures = 1

        def transcribe_pages(self, images):
            if self.failures:
                self.failures -= 1
                raise OSError("device busy")
            return super().transcribe_pages(images)

    arch = Archive.open(make_settings(tmp_path), recognizer=Flaky())
    try:
        doc = arch.add_file(fakes.write_page(tmp_path / "a.png", "retry me"))
        arch.process_pending()
        assert arch.get(doc.doc_id).status == DocStatus.indexed
    finally:
        arch.close()


def test_persistent_recognition_error_fails_after_max_attempts(
    tmp_path: Path, make_settings, fakes
) -> None:
    class Broken(fakes.FakeRecognizer):
        def transcribe_pages(self, images):
            self.batches.append(len(images))
            raise RuntimeError("bad tensor shape")

    rec = Broken()
    arch = Archive.open(make_settings(tmp_path, worker={"max_attempts": 3}), recognizer=rec)
    try:
        doc = arch.add_file(fakes.write_page(tmp_path / "a.png", "never"))
        arch.process_pending()
        got = arch.get(doc.doc_id)
    finally:
        arch.close()
    assert got.status == DocStatus.failed
    assert got.error == "recognise: RuntimeError: bad tensor shape"
    assert len(rec.batches) == 3


def test_missing_model_leaves_documents_queued(tmp_path: Path, make_settings, fakes) -> None:
    settings = make_settings(tmp_path, model={"bundle": str(tmp_path / "no-such-bundle")})
    arch = Archive.open(settings)
    try:
        doc = arch.add_file(fakes.write_page(tmp_path / "a.png", "waiting"))
        bad = tmp_path / "bad.txt"
        bad.write_text("not an image")
        bad_doc = arch.add_file(bad)
        with pytest.raises(ModelUnavailable, match="no-such-bundle"):
            arch.process_pending()
        assert arch.get(doc.doc_id).status == DocStatus.queued
        assert arch.get(bad_doc.doc_id).status == DocStatus.failed
        assert arch.health()["queue"] == 1
    finally:
        arch.close()


def test_listing_health_and_transcript_before_processing(
    archive: Archive, tmp_path: Path, fakes
) -> None:
    ids = [
        archive.add_file(fakes.write_page(tmp_path / f"{i}.png", f"doc {i}")).doc_id
        for i in range(3)
    ]
    assert archive.transcript(ids[0]) is None
    total, docs = archive.list_documents(status=DocStatus.queued, limit=2)
    assert total == 3 and len(docs) == 2
    assert docs[0].doc_id == ids[2]  # newest first
    h = archive.health()
    assert h == {"model": "fake-1", "index_generation": "g0001-fake-1", "documents": 3, "queue": 3}
    archive.process_pending()
    assert archive.list_documents(status=DocStatus.indexed)[0] == 3
    assert archive.health()["queue"] == 0


def test_search_reads_matches_and_snippets_from_the_index_not_the_transcript(
    archive: Archive, tmp_path: Path, fakes
) -> None:
    fakes.write_page(tmp_path / "a.png", "seeds from Hocker@0.55{Hooker:0.4}\nsent to Kew")
    doc = archive.add_file(tmp_path / "a.png")
    archive.process_pending()
    archive.transcripts.path(archive.model_version, doc.sha256).unlink()
    (hit,) = archive.search("hooker kew").hits
    assert [(m.line, m.word, m.text) for m in hit.matches] == [(0, 2, "Hooker"), (1, 2, "Kew")]
    assert hit.snippet == "seeds from <mark>Hocker</mark> … sent to <mark>Kew</mark>"


def test_an_index_without_word_tables_still_gives_matches_from_transcripts(
    tmp_path: Path, make_settings, fakes, monkeypatch
) -> None:
    """Generations made before the index kept word tables stay searchable as before."""
    plain = index.schema

    def old_schema():
        s = plain()
        s.remove(index.WORDS)
        return s

    monkeypatch.setattr(index, "schema", old_schema)
    arch = Archive.open(make_settings(tmp_path), recognizer=fakes.FakeRecognizer())
    try:
        fakes.write_page(tmp_path / "a.png", "seeds from Kew")
        arch.add_file(tmp_path / "a.png")
        arch.process_pending()
        assert index.WORDS not in index.open_index(arch.live.generation.path).schema
        (hit,) = arch.search("kew").hits
        assert [(m.word, m.text) for m in hit.matches] == [(2, "Kew")]
        assert hit.snippet == "seeds from <mark>Kew</mark>"
    finally:
        arch.close()
