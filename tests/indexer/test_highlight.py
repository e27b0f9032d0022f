"""Match finding and snippets: the index's word table agrees with the transcript."""

from __future__ import annotations

import random
import re

import pytest

from indexer.highlight import QueryTerms, WordTable, find_matches, snippet
from recognizer.transcript import Line, PageTranscript, Word

VOCAB = ["Hooker", "hooks", "Kew", "garden", "gardens", "café", "it's", "e.g.", "—", "seeds"]


def _page(rng: random.Random, n_lines: int) -> PageTranscript:
    lines = []
    for li in range(n_lines):
        words = []
        for wi in range(rng.randint(0, 6)):
            alts = tuple(
                (rng.choice(VOCAB), round(rng.uniform(0.0, 0.5), 3))
                for _ in range(rng.randint(0, 3))
            )
            box = (wi * 50, li * 40, 45, 30)
            words.append(Word(box, rng.choice(VOCAB), round(rng.uniform(0.2, 1.0), 3), alts))
        text = " ".join(w.text for w in words) or rng.choice(["", "  ", "a drawing"])
        lines.append(Line((0, li * 40, 400, 30), text, 0.9, tuple(words)))
    return PageTranscript("m", 400, 40 * n_lines, tuple(lines))


QUERIES = [
    QueryTerms(frozenset({"hooker"})),
    QueryTerms(frozenset({"garden", "kew"})),
    QueryTerms(frozenset({"it", "e.g"})),
    QueryTerms(prefixes=("hook",)),
    QueryTerms(patterns=(re.compile("g.*n"),)),
    QueryTerms(frozenset({"seed"}), fuzzy=(("seed", 1),)),
    QueryTerms(frozenset({"absent"})),
]


@pytest.mark.parametrize("seed", range(25))
def test_word_table_finds_the_same_matches_and_snippet_as_the_transcript(seed: int) -> None:
    rng = random.Random(seed)
    pages = [_page(rng, rng.randint(1, 5)) for _ in range(rng.randint(1, 2))]
    min_prob = rng.choice([0.0, 0.05, 0.2])
    table = WordTable.from_bytes(WordTable.of(pages, min_prob).to_bytes())
    assert table is not None
    for terms in QUERIES:
        for min_conf in (0.0, 0.5):
            want = find_matches(pages, terms, min_conf, min_prob)
            got = table.find_matches(terms, min_conf, min_prob)
            assert got == want, (terms, min_conf)
            assert table.snippet(got) == snippet(pages, want)


def test_word_table_of_json_pages_equals_that_of_transcripts() -> None:
    pages = [_page(random.Random(1), 4)]
    assert WordTable.of(pages, 0.05) == WordTable.of([p.to_dict() for p in pages], 0.05)


def test_word_table_leaves_out_alternatives_below_the_threshold() -> None:
    word = Word((1, 2, 3, 4), "Hocker", 0.9, (("Hooker", 0.04), ("Hacker", 0.06)))
    page = PageTranscript("m", 10, 10, (Line((0, 0, 10, 10), "Hocker", 0.9, (word,)),))
    table = WordTable.of([page], 0.05)
    assert table.find_matches(QueryTerms(frozenset({"hooker"}))) == []
    [m] = table.find_matches(QueryTerms(frozenset({"hacker"})))
    assert (m.text, m.confidence, m.bbox) == ("Hacker", 0.06, (1, 2, 3, 4))


def test_unknown_word_table_data_reads_as_none() -> None:
    assert WordTable.from_bytes(b"not a table") is None
    assert WordTable.from_bytes(WordTable.of([]).to_bytes()[:-3]) is None
