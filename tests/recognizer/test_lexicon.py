"""The English word list the lexicon decoder reads: building, writing, the CLI."""

from __future__ import annotations

import re
from argparse import Namespace
from types import SimpleNamespace

from recognizer.lexicon import Lexicon, english_words, run_lexicon_cli, write_word_list


def test_english_words_are_plain_words_most_frequent_first() -> None:
    words = english_words(500)
    assert 400 < len(words) <= 500
    assert words[0][0] == "the"
    assert all(re.fullmatch(r"[a-z]+('[a-z]+)?", w) for w, _ in words)
    counts = [c for _, c in words]
    assert min(counts) >= 1 and counts[0] == max(counts)
    assert "don't" in dict(words)


def test_a_written_word_list_reads_back_with_its_frequency_prior(tmp_path) -> None:
    path = tmp_path / "sub" / "words.txt"
    assert write_word_list(path, [("the", 5.0e7), ("cat", 12345.0), ("o'clock", 3)]) == 3
    assert path.read_text(encoding="utf-8").splitlines()[1] == "cat\t12345"
    lexicon = Lexicon.from_file(path)
    assert len(lexicon) == 3 and "O'Clock" in lexicon
    assert lexicon.prior_weight > 0
    assert [p.name for p in path.parent.iterdir()] == ["words.txt"]  # no temporary file left


def test_the_lexicon_command_writes_once_and_rebuilds_with_force(tmp_path, capsys) -> None:
    out = tmp_path / "lexicon-en.txt"
    settings = SimpleNamespace(model=SimpleNamespace(lexicon=out))
    assert run_lexicon_cli(Namespace(out=None, words=300, force=False), settings) == 0
    first = out.read_text(encoding="utf-8")
    assert len(first.splitlines()) > 250
    out.write_text("edited\t1\n", encoding="utf-8")
    assert run_lexicon_cli(Namespace(out=None, words=300, force=False), settings) == 0
    assert "exists" in capsys.readouterr().out
    assert out.read_text(encoding="utf-8") == "edited\t1\n"  # a user's edits are kept
    assert run_lexicon_cli(Namespace(out=None, words=300, force=True), settings) == 0
    assert out.read_text(encoding="utf-8") == first


def test_the_lexicon_command_needs_somewhere_to_write(capsys) -> None:
    settings = SimpleNamespace(model=SimpleNamespace(lexicon=None))
    assert run_lexicon_cli(Namespace(out=None, words=10, force=False), settings) == 2
    assert "--out" in capsys.readouterr().out
