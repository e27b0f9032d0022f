"""Optional spelling correction: unlisted words become the nearest listed word."""

from __future__ import annotations

import pytest

from recognizer.lexicon import Lexicon
from recognizer.spelling import SpellCorrector


@pytest.fixture(scope="module")
def speller() -> SpellCorrector:
    words = [("house", 50), ("horse", 10), ("garden", 20), ("gardener", 5), ("would", 80)]
    words += [("botanical", 3), ("the", 1000), ("cat", 30)]
    return SpellCorrector(Lexicon.from_words(words))


@pytest.mark.parametrize(
    ("read", "fixed"),
    [
        ("hause", "house"),
        ("wonld", "would"),
        ("Hause,", "House,"),  # case and punctuation kept
        ("GARDFN", "GARDEN"),
        ("(botonicol)", "(botanical)"),  # 2 edits for a long word
        ("hoase", "house"),  # house and horse are both 1 edit away: the more frequent wins
    ],
)
def test_an_unlisted_word_becomes_the_nearest_listed_word(speller, read, fixed) -> None:
    c = speller.correct(read)
    assert c.text == fixed and c.changed


@pytest.mark.parametrize(
    "read",
    [
        "garden",  # listed
        "Garden.",  # listed, with case and punctuation
        "hxuxe",  # a short word 2 edits from 'house': too far
        "ca",  # too short to correct
        "12th",  # digits are kept as written
        "x-y-z",
        "zzzzzzzz",  # nothing near
    ],
)
def test_listed_short_far_and_digit_words_are_kept(speller, read) -> None:
    c = speller.correct(read)
    assert c.text == read and not c.changed


def test_max_distance_is_checked() -> None:
    with pytest.raises(ValueError, match="max_distance"):
        SpellCorrector(Lexicon.from_words(["a"]), max_distance=0)
