"""Charset: text <-> CTC class ids, and its bundle file."""

from __future__ import annotations

import string

import pytest

from recognizer.charset import DEFAULT_CHARSET, Charset, CharsetError


def test_default_charset_is_printable_ascii_with_space() -> None:
    assert set(DEFAULT_CHARSET.chars) == set(
        " " + string.ascii_letters + string.digits + string.punctuation
    )
    assert DEFAULT_CHARSET.num_classes == len(DEFAULT_CHARSET.chars) + 1


def test_encode_decode_round_trip_and_blank_is_class_zero() -> None:
    cs = Charset("ab c")
    ids = cs.encode("a cab")
    assert 0 not in ids
    assert ids == [1, 3, 4, 1, 2]
    assert cs.decode(ids) == "a cab"
    assert cs.decode([0, 1, 0, 0, 2]) == "ab"  # blanks vanish, nothing is collapsed


def test_unknown_characters_raise_or_are_skipped() -> None:
    cs = Charset("abc")
    with pytest.raises(CharsetError, match="outside the charset"):
        cs.encode("abz")
    assert cs.encode("abz", errors="skip") == [1, 2]
    assert cs.missing("abzy") == {"z", "y"}


def test_fold_maps_look_alikes_onto_ascii() -> None:
    assert DEFAULT_CHARSET.fold("caf\u00e9 \u201cok\u201d \u2014 it\u2019s") == 'cafe "ok" - it\'s'
    assert DEFAULT_CHARSET.fold("\u00a3") == "\u00a3"  # no ASCII counterpart: left for encode


def test_duplicates_and_control_characters_are_rejected() -> None:
    with pytest.raises(CharsetError, match="duplicate"):
        Charset("aba")
    with pytest.raises(CharsetError, match="control"):
        Charset("a\nb")


def test_save_load_round_trip_keeps_the_space(tmp_path) -> None:
    p = tmp_path / "charset.txt"
    DEFAULT_CHARSET.save(p)
    assert "<space>" in p.read_text(encoding="utf-8")
    assert Charset.load(p) == DEFAULT_CHARSET


def test_load_reports_missing_and_malformed_files(tmp_path) -> None:
    with pytest.raises(CharsetError, match="not found"):
        Charset.load(tmp_path / "nope.txt")
    bad = tmp_path / "bad.txt"
    bad.write_text("a\nbc\n", encoding="utf-8")
    with pytest.raises(CharsetError, match=r"bad.txt:2"):
        Charset.load(bad)
