"""Synthetic text: deterministic per generator, printable ASCII, varied."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from recognizer.text import PRINTABLE, TextSource, to_ascii


@pytest.fixture(scope="module")
def source() -> TextSource:
    return TextSource(0)


def _lines(src: TextSource, n: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return [src.line(rng) for _ in range(n)]


def test_same_generator_state_gives_same_lines(source: TextSource) -> None:
    assert _lines(source, 50, seed=7) == _lines(source, 50, seed=7)
    assert _lines(source, 50, seed=7) != _lines(source, 50, seed=8)


def test_lines_are_printable_ascii_within_length(source: TextSource) -> None:
    for line in _lines(source, 3000):
        assert line, "empty line"
        assert set(line) <= PRINTABLE, line
        assert len(line) <= source.max_chars
        assert line == line.strip() and "  " not in line


def test_lines_cover_words_numbers_caps_and_lengths(source: TextSource) -> None:
    lines = _lines(source, 3000)
    n = len(lines)
    assert sum(" " not in s for s in lines) / n > 0.05  # single words / tokens
    assert sum(len(s) >= 40 for s in lines) / n > 0.15  # long lines
    assert sum(bool(re.search(r"\d", s)) for s in lines) / n > 0.15
    assert sum(bool(re.search(r"\b[A-Z][a-z]+", s)) for s in lines) / n > 0.3
    assert sum(bool(re.search(r"\b[A-Z]{3,}\b", s)) for s in lines) / n > 0.02
    assert sum(bool(re.search(r"[.,;:!?]", s)) for s in lines) / n > 0.2
    assert len(set(lines)) > 0.9 * n


def test_without_fortunes_lines_come_from_words(tmp_path: Path) -> None:
    src = TextSource(0, fortunes_dir=tmp_path / "absent")
    lines = _lines(src, 200)
    assert all(lines) and all(set(s) <= PRINTABLE for s in lines)


def test_max_chars_is_respected_and_validated() -> None:
    src = TextSource(0, max_chars=12)
    assert max(len(s) for s in _lines(src, 500)) <= 12
    with pytest.raises(ValueError, match="max_chars"):
        TextSource(0, max_chars=3)


@pytest.mark.parametrize(
    ("raw", "ascii_"),
    [
        ("\u201cCaf\u00e9\u201d \u2013 na\u00efve\u2026", '"Cafe" - naive...'),
        ("it\u2019s  \u00a0 \u00dcber\tStra\u00dfe", "it's Uber Strasse"),
        ("\u20ac5 or \u00a33", "EUR 5 or GBP 3"),
        ("\u65e5\u672c abc", "abc"),
    ],
)
def test_to_ascii_maps_typography_and_drops_the_rest(raw: str, ascii_: str) -> None:
    assert to_ascii(raw) == ascii_


def test_wordnet_texts_are_the_glosses_and_examples_of_each_synset(tmp_path) -> None:
    from recognizer.text import wordnet_texts

    (tmp_path / "data.noun").write_text(
        "  1 This software and database is being provided to you, the LICENSEE\n"
        '00001740 03 n 01 entity 0 003 ~ 00001930 n 0000 | that which is perceived; "an entity"\n'
        '02121808 05 n 02 cat 0 | feline mammal usually having thick soft fur; "the caf\xe9 cat"\n'
        "00002000 03 n 01 nothing 0 000 no gloss here\n",
        encoding="latin-1",
    )
    assert wordnet_texts(tmp_path) == (
        "that which is perceived",
        "an entity",
        "feline mammal usually having thick soft fur",
        "the cafe cat",
    )
    assert wordnet_texts(tmp_path / "absent") == ()


def test_only_the_fortunes_packages_files_are_read(tmp_path: Path, caplog) -> None:
    """Another fortunes package in the same folder changes neither text nor language model."""
    from recognizer.text import fortune_texts

    folder = tmp_path / "fortunes"
    folder.mkdir()
    (folder / "wisdom").write_text("A penny saved is a penny earned.\n%\nLook before you leap.\n")
    (folder / "wisdom.dat").write_bytes(b"\x00\x01binary index")
    (folder / "anarchism").write_text("Property is theft, said someone once.\n")
    with caplog.at_level("WARNING", logger="recognizer.text"):
        texts = fortune_texts(folder)
    assert texts == ("A penny saved is a penny earned.", "Look before you leap.")
    assert "fortunes files missing" in caplog.text and "zippy" in caplog.text
