"""CTC decoders on hand-built probability matrices (class 0 = blank)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from recognizer.charset import DEFAULT_CHARSET, Charset
from recognizer.decode import (
    DecodeError,
    Lexicon,
    _sequences_logp,
    beam_search,
    greedy,
    lexicon_beam_search,
    read_line,
    sequence_prob,
    word_key,
)

AB = Charset("ab")


def probs_from(frames: list[dict[str, float]], charset: Charset = DEFAULT_CHARSET) -> np.ndarray:
    """One row per frame; each dict gives character probabilities, the rest goes to the blank."""
    out = np.zeros((len(frames), len(charset.chars) + 1))
    for t, frame in enumerate(frames):
        for ch, p in frame.items():
            out[t, charset.chars.index(ch) + 1] = p
        out[t, 0] = 1.0 - sum(frame.values())
    return out


def spell(text: str, p: float = 0.95, gap: int = 1) -> list[dict[str, float]]:
    """Frames that write `text` one character per frame with `gap` blank frames between."""
    frames: list[dict[str, float]] = [{}]
    for ch in text:
        frames.append({ch: p})
        frames.extend({} for _ in range(gap))
    return frames


def brute_force(probs: np.ndarray, charset: Charset) -> dict[str, float]:
    """P(labelling) for every labelling, summing over all T^C paths (tiny matrices only)."""
    n_frames, n_classes = probs.shape
    out: dict[str, float] = {}
    for path in itertools.product(range(n_classes), repeat=n_frames):
        p = math.prod(probs[t, c] for t, c in enumerate(path))
        collapsed = [c for i, c in enumerate(path) if c != 0 and (i == 0 or path[i - 1] != c)]
        text = charset.decode(collapsed)
        out[text] = out.get(text, 0.0) + p
    return out


# -- greedy --------------------------------------------------------------------------------------


def test_greedy_collapses_repeats_and_drops_blanks() -> None:
    probs = probs_from(
        [{"a": 0.9}, {"a": 0.9}, {}, {"a": 0.9}, {"b": 0.8}, {"b": 0.7}, {}], charset=AB
    )
    d = greedy(probs, AB)
    assert d.text == "aab"
    assert d.frames == (0, 3, 4)
    assert d.prob == pytest.approx(0.9 * 0.9 * 1.0 * 0.9 * 0.8 * 0.7 * 1.0)


def test_greedy_reads_nothing_from_all_blank_frames() -> None:
    d = greedy(probs_from([{}, {}, {}], AB), AB)
    assert (d.text, d.frames) == ("", ())


# -- beam search ----------------------------------------------------------------------------------


def test_beam_probabilities_sum_over_paths_on_a_two_frame_matrix() -> None:
    """P('a') = aa + a_ + _a = .36 + .24 + .24; P('') = .16."""
    probs = np.array([[0.4, 0.6, 0.0], [0.4, 0.6, 0.0]])
    nbest = beam_search(probs, AB, beam_width=8, top_n=5)
    assert [d.text for d in nbest] == ["a", ""]
    assert nbest[0].prob == pytest.approx(0.84)
    assert nbest[1].prob == pytest.approx(0.16)


def test_beam_beats_greedy_when_the_best_path_is_not_the_best_labelling() -> None:
    """Blank wins every frame (path '' = .36) but the paths of 'a' add up to .64."""
    probs = np.array([[0.6, 0.4, 0.0], [0.6, 0.4, 0.0]])
    assert greedy(probs, AB).text == ""
    best = beam_search(probs, AB)[0]
    assert best.text == "a"
    assert best.prob == pytest.approx(0.64)


def test_wide_beam_matches_brute_force_on_every_labelling() -> None:
    rng = np.random.default_rng(3)
    probs = rng.dirichlet(np.ones(3), size=4)
    exact = brute_force(probs, AB)
    nbest = beam_search(probs, AB, beam_width=64, top_n=100)
    assert {d.text for d in nbest} == set(exact)
    for d in nbest:
        assert d.prob == pytest.approx(exact[d.text])
    assert [d.prob for d in nbest] == sorted((d.prob for d in nbest), reverse=True)


def test_narrow_beam_keeps_the_n_best_in_order() -> None:
    """ab = .5 * .55, aa = .5 * .35, bb = .3 * .55, b = .3 * .1 + .2 * .55, a = .12, ..."""
    probs = probs_from([{"a": 0.5, "b": 0.3}, {}, {"b": 0.55, "a": 0.35}], AB)
    nbest = beam_search(probs, AB, beam_width=4, top_n=3)
    assert [d.text for d in nbest] == ["ab", "aa", "bb"]
    assert [d.prob for d in nbest] == pytest.approx([0.275, 0.175, 0.165])


def test_sequence_prob_matches_brute_force() -> None:
    rng = np.random.default_rng(7)
    probs = rng.dirichlet(np.ones(3), size=5)
    exact = brute_force(probs, AB)
    for text in ("", "a", "ab", "aa", "bab", "abab"):
        assert sequence_prob(probs, AB, text) == pytest.approx(exact.get(text, 0.0))


def test_word_probabilities_in_one_pass_match_each_word_alone() -> None:
    """Spans of different lengths, texts of different lengths (one empty, one unwritable)."""
    rng = np.random.default_rng(11)
    spans = [rng.dirichlet(np.ones(3), size=n) for n in (5, 1, 4, 3, 0, 2)]
    texts = ["ab", "a", "", "bab", "", "ac"]
    got = _sequences_logp(spans, AB.chars, texts)
    for span, text, logp in zip(spans[:4], texts, got, strict=False):
        exact = brute_force(span, AB).get(text, 0.0)
        assert math.exp(logp) == pytest.approx(exact)
    assert got[4] == 0.0  # nothing read on no frames: certain
    assert got[5] == -math.inf  # "c" is not in the charset


def log_forward(probs: np.ndarray, labels: list[int]) -> float:
    """Textbook CTC forward in log space (reference for long spans)."""
    ext = [0]
    for c in labels:
        ext += [c, 0]
    lp = np.log(probs)
    alpha = np.full(len(ext), -np.inf)
    alpha[0] = lp[0, 0]
    alpha[1] = lp[0, ext[1]]
    for t in range(1, len(lp)):
        prev = alpha.copy()
        for s in range(len(ext)):
            a = prev[s]
            if s >= 1:
                a = np.logaddexp(a, prev[s - 1])
            if s >= 2 and ext[s] != 0 and ext[s] != ext[s - 2]:
                a = np.logaddexp(a, prev[s - 2])
            alpha[s] = a + lp[t, ext[s]]
    return float(np.logaddexp(alpha[-1], alpha[-2]))


def test_word_probability_is_exact_where_a_plain_product_underflows() -> None:
    rng = np.random.default_rng(3)
    probs = rng.dirichlet(np.full(3, 0.3), size=600)  # P("aba") is far below 1e-308
    got = _sequences_logp([probs], AB.chars, ["aba"])[0]
    ref = log_forward(probs, [1, 2, 1])
    assert ref < math.log(1e-308)
    assert got == pytest.approx(ref, rel=1e-9)


def test_beam_reports_the_frame_where_each_character_starts() -> None:
    frames = [{}, {}, {"h": 0.9}, {"h": 0.9}, {}, {}, {"i": 0.6}, {"i": 0.95}, {}]
    d = beam_search(probs_from(frames), DEFAULT_CHARSET)[0]
    assert d.text == "hi"
    assert d.frames == (2, 6)


def test_doubled_letters_need_a_blank_between_them() -> None:
    probs = probs_from([{"l": 0.9}, {"l": 0.9}, {}, {"l": 0.9}])
    assert beam_search(probs, DEFAULT_CHARSET)[0].text == "ll"
    assert greedy(probs, DEFAULT_CHARSET).text == "ll"


# -- lexicon --------------------------------------------------------------------------------------


def test_lexicon_picks_a_dictionary_word_over_a_likelier_non_word() -> None:
    frames = spell("hello")
    frames[3] = {"a": 0.55, "e": 0.4}  # 'hallo' reads better, but is not a word
    probs = probs_from(frames)
    assert beam_search(probs, DEFAULT_CHARSET)[0].text == "hallo"
    best = lexicon_beam_search(probs, DEFAULT_CHARSET, Lexicon.from_words(["hello", "help"]))[0]
    assert best.text == "hello"
    assert best.prob == pytest.approx(sequence_prob(probs, DEFAULT_CHARSET, "hello"), rel=1e-6)


def test_lexicon_lets_digits_punctuation_and_spaces_pass_between_words() -> None:
    probs = probs_from(spell("see 42, then"))
    lex = Lexicon.from_words(["see", "then"])
    assert lexicon_beam_search(probs, DEFAULT_CHARSET, lex)[0].text == "see 42, then"


def test_lexicon_matching_ignores_case_and_keeps_the_written_case() -> None:
    probs = probs_from(spell("The Cat"))
    lex = Lexicon.from_words(["the", "CAT"])
    assert lexicon_beam_search(probs, DEFAULT_CHARSET, lex)[0].text == "The Cat"


def test_capital_prior_reads_ambiguous_capitals_lower_case_and_keeps_clear_ones() -> None:
    # "c" or "C", "w" or "W": the ink is ambiguous, the capital slightly more likely.
    frames = [{}, {"C": 0.5, "c": 0.4}, {}, {"a": 0.95}, {}, {"t": 0.95}, {}, {" ": 0.95}, {}]
    frames += [{"W": 0.5, "w": 0.4}, {}, {"A": 0.5, "a": 0.45}, {}, {"s": 0.95}, {}]
    probs = probs_from(frames)
    words = ["cat", "was"]
    plain = Lexicon.from_words(words, capital_logp=(0.0, 0.0))
    assert lexicon_beam_search(probs, DEFAULT_CHARSET, plain)[0].text == "Cat WAs"
    cased = Lexicon.from_words(words, capital_logp=(-1.0, -2.0))
    assert lexicon_beam_search(probs, DEFAULT_CHARSET, cased)[0].text == "cat was"
    # A capital the ink shows clearly stays, at the start of a word and inside one.
    frames[1] = {"C": 0.9, "c": 0.05}
    frames[11] = {"A": 0.93, "a": 0.02}
    # (the W stays ambiguous, so lower case)
    assert lexicon_beam_search(probs_from(frames), DEFAULT_CHARSET, cased)[0].text == "Cat wAs"
    from recognizer.lexicon import LexiconError

    with pytest.raises(LexiconError, match="log-probabilities"):
        Lexicon.from_words(words, capital_logp=(0.5, 0.0))


def test_lexicon_apostrophe_can_be_inside_a_word_or_a_quote_around_one() -> None:
    lex = Lexicon.from_words(["don't", "go", "don"])
    for text in ("don't go", "'go'", "don' go"):
        assert lexicon_beam_search(probs_from(spell(text)), DEFAULT_CHARSET, lex)[0].text == text


def test_lexicon_word_frequencies_break_an_acoustic_tie() -> None:
    frames = spell("cat")
    frames[3] = {"a": 0.45, "o": 0.45}
    probs = probs_from(frames)
    frequent_cot = Lexicon.from_words([("cat", 1), ("cot", 50)])
    frequent_cat = Lexicon.from_words([("cat", 50), ("cot", 1)])
    assert lexicon_beam_search(probs, DEFAULT_CHARSET, frequent_cot)[0].text == "cot"
    assert lexicon_beam_search(probs, DEFAULT_CHARSET, frequent_cat)[0].text == "cat"


def test_lexicon_falls_back_to_plain_beam_when_no_word_fits() -> None:
    probs = probs_from(spell("xyz", p=1.0, gap=0))  # no blank anywhere: no reading fits
    assert lexicon_beam_search(probs, DEFAULT_CHARSET, Lexicon.from_words(["abc"]))[0].text == "xyz"


def test_lexicon_from_file_reads_words_and_counts(tmp_path) -> None:
    f = tmp_path / "words.txt"
    f.write_text("the\t100\nHouse 5\n\nthe 1\n", encoding="utf-8")
    lex = Lexicon.from_file(f)
    assert len(lex) == 2
    assert "house" in lex and "The" in lex and "hous" not in lex
    assert lex.prior_weight > 0  # counts given: the prior is on


def test_lexicon_without_counts_has_no_prior() -> None:
    assert Lexicon.from_words(["a", "b"]).prior_weight == 0.0


@pytest.mark.parametrize(
    ("content", "message"),
    [("the 1 2\n", ":1:"), ("ok\nthe many\n", ":2: count 'many'"), ("\n\n", "no words")],
)
def test_lexicon_file_errors_name_the_line(tmp_path, content: str, message: str) -> None:
    from recognizer.lexicon import LexiconError

    f = tmp_path / "words.txt"
    f.write_text(content, encoding="utf-8")
    with pytest.raises(LexiconError, match=message):
        Lexicon.from_file(f)


# -- words ----------------------------------------------------------------------------------------


def test_read_line_splits_words_with_frame_spans_in_order() -> None:
    probs = probs_from(spell("ab cd ef", p=1.0, gap=2))
    line = read_line(probs, DEFAULT_CHARSET)
    assert line.text == "ab cd ef"
    assert [w.text for w in line.words] == ["ab", "cd", "ef"]
    for w in line.words:
        assert 0 <= w.frame_start <= w.frame_end < probs.shape[0]
    for left, right in itertools.pairwise(line.words):
        assert left.frame_end < right.frame_start
    # 'c' is written at frame 10 and 'd' at 13 (1 blank, then 3 frames per character).
    assert line.words[1].frame_start <= 10 and line.words[1].frame_end >= 13
    assert all(w.confidence == pytest.approx(1.0, abs=1e-6) for w in line.words)


@pytest.mark.parametrize("beam_width", [1, 16])
def test_read_line_gives_alternatives_with_posteriors_best_first(beam_width: int) -> None:
    frames = spell("on cat", p=1.0)
    frames[9] = {"a": 0.7, "u": 0.3}  # the 'a' of cat
    line = read_line(probs_from(frames), DEFAULT_CHARSET, beam_width=beam_width, alternatives=5)
    cat = line.words[1]
    assert cat.text == "cat"
    assert cat.alternatives[0] == ("cat", cat.confidence)
    assert cat.confidence == pytest.approx(0.7, abs=0.01)
    alts = dict(cat.alternatives)
    assert alts["cut"] == pytest.approx(0.3, abs=0.01)
    assert line.confidence == pytest.approx((line.words[0].confidence + cat.confidence) / 2)


def test_read_line_drops_unlikely_alternatives_and_caps_their_number() -> None:
    frames = spell("cat")
    frames[3] = {"a": 0.90, "u": 0.05, "o": 0.04}
    word = read_line(probs_from(frames), DEFAULT_CHARSET, alternatives=2).words[0]
    assert [t for t, _ in word.alternatives] == ["cat", "cut"]
    word = read_line(
        probs_from(frames), DEFAULT_CHARSET, alternatives=5, min_alternative_prob=0.045
    ).words[0]
    assert [t for t, _ in word.alternatives] == ["cat", "cut"]


def test_alternatives_that_differ_only_in_case_or_outer_punctuation_are_one_word() -> None:
    frames = spell("cat", p=1.0)
    frames[1] = {"c": 0.8, "C": 0.2}
    frames[3] = {"a": 0.6, "u": 0.4}
    frames[6] = {".": 0.25}  # a possible full stop after the word
    word = read_line(probs_from(frames), DEFAULT_CHARSET, alternatives=5).words[0]
    assert word.text == "cat"
    # cat .36, cut .24, Cat .09, Cut .06, and each of them with a full stop: `cut`,
    # `Cut`, `cut.` and `Cut.` are one reading (.4 in all); `Cat`, `cat.` and `Cat.` are
    # the word itself.
    assert [t for t, _ in word.alternatives] == ["cat", "cut"]
    assert word.alternatives[1][1] == pytest.approx(0.4, abs=0.01)
    assert word.confidence == pytest.approx(0.36, abs=0.01)
    assert word_key("-Where.") == "where" and word_key("can't") == "can't"


def test_lexicon_word_posteriors_weigh_the_frequency_prior_that_chose_the_word() -> None:
    """The ink leans to 'cot' (.6 against .4), but 'cat' is 50 times as frequent: the
    decoder reads 'cat', and the posteriors follow its ranking rather than the ink's."""
    frames = spell("cat", p=1.0)
    frames[3] = {"a": 0.4, "o": 0.6}
    lex = Lexicon.from_words([("cat", 50), ("cot", 1)], prior_weight=0.5)
    word = read_line(probs_from(frames), DEFAULT_CHARSET, decoder="lexicon", lexicon=lex).words[0]
    assert word.text == "cat"
    # .4 * sqrt(50/51) against .6 * sqrt(1/51)
    cat = 0.4 * math.sqrt(50)
    assert dict(word.alternatives) == pytest.approx(
        {"cat": cat / (cat + 0.6), "cot": 0.6 / (cat + 0.6)}, abs=0.01
    )
    assert word.confidence > 0.8
    # Without a prior the ink decides both the word and the posteriors.
    flat = Lexicon.from_words(["cat", "cot"])
    word = read_line(probs_from(frames), DEFAULT_CHARSET, decoder="lexicon", lexicon=flat).words[0]
    assert word.text == "cot"
    assert dict(word.alternatives) == pytest.approx({"cot": 0.6, "cat": 0.4}, abs=0.01)


def test_lexicon_log_prior_counts_an_unlisted_word_as_the_rarest_listed_one() -> None:
    lex = Lexicon.from_words([("cat", 3), ("cot", 1)], prior_weight=0.5)
    assert lex.log_prior("cat") == pytest.approx(0.5 * math.log(0.75))
    assert lex.log_prior("dog") == pytest.approx(0.5 * math.log(0.25))
    assert Lexicon.from_words(["cat"]).log_prior("dog") == 0.0  # no counts: no prior


def test_read_line_skips_the_alternatives_search_for_a_sure_word() -> None:
    frames = spell("cat", p=1.0)
    frames[3] = {"a": 0.99, "u": 0.01}
    sure = read_line(probs_from(frames), DEFAULT_CHARSET, sure_prob=0.98).words[0]
    assert sure.alternatives == (("cat", sure.confidence),)
    assert sure.confidence == pytest.approx(0.99, abs=1e-6)
    searched = read_line(probs_from(frames), DEFAULT_CHARSET, sure_prob=1.0).words[0]
    assert [t for t, _ in searched.alternatives] == ["cat", "cut"]


def test_read_line_rereads_each_word_with_the_beam_after_a_greedy_first_pass() -> None:
    """The best path of the last word is 'b'; its span's best labelling is 'ba' (.64 vs .36)."""
    probs = probs_from([*spell("on b", p=1.0), {"a": 0.4}, {"a": 0.4}])
    assert read_line(probs, DEFAULT_CHARSET, decoder="greedy").text == "on b"
    line = read_line(probs, DEFAULT_CHARSET, decoder="beam")
    assert line.text == "on ba"
    assert [w.text for w in line.words] == ["on", "ba"]
    assert line.words[1].confidence == pytest.approx(0.64, abs=0.01)
    assert read_line(probs, DEFAULT_CHARSET, decoder="beam", line_pass="decoder").text == "on ba"


def test_read_line_with_lexicon_replaces_a_non_word_of_the_first_pass() -> None:
    frames = spell("on cat", p=1.0)
    frames[9] = {"x": 0.6, "a": 0.4}  # the best path reads 'cxt'
    probs = probs_from(frames)
    lex = Lexicon.from_words(["on", "cat"])
    for line_pass in ("greedy", "decoder"):
        line = read_line(
            probs, DEFAULT_CHARSET, decoder="lexicon", lexicon=lex, line_pass=line_pass
        )
        assert line.text == "on cat"
        assert line.words[1].alternatives[0] == ("cat", line.words[1].confidence)


def test_an_unknown_line_pass_is_refused() -> None:
    with pytest.raises(DecodeError, match="line pass"):
        read_line(probs_from(spell("a")), DEFAULT_CHARSET, line_pass="both")  # type: ignore[arg-type]


def test_read_line_greedy_gives_the_word_probability_and_no_alternatives() -> None:
    frames = spell("to be")
    frames[3] = {"o": 0.8}  # 'o' of 'to': 0.2 blank
    line = read_line(probs_from(frames), DEFAULT_CHARSET, decoder="greedy")
    to = line.words[0]
    assert to.alternatives == (("to", to.confidence),)
    assert to.confidence == pytest.approx(0.95 * 0.8, abs=1e-6)


def test_read_line_with_lexicon_offers_only_words() -> None:
    frames = spell("a cat")
    frames[7] = {"a": 0.5, "u": 0.3, "x": 0.2}  # the 'a' of cat
    lex = Lexicon.from_words(["a", "cat", "cut"])
    word = read_line(probs_from(frames), DEFAULT_CHARSET, decoder="lexicon", lexicon=lex).words[1]
    assert {t for t, _ in word.alternatives} == {"cat", "cut"}


def test_read_line_of_a_blank_line_has_no_words() -> None:
    line = read_line(probs_from([{}, {}, {}]), DEFAULT_CHARSET)
    assert (line.text, line.words) == ("", ())
    assert line.confidence == pytest.approx(1.0)


# -- errors ---------------------------------------------------------------------------------------


def test_a_matrix_of_the_wrong_width_is_refused_with_the_counts() -> None:
    with pytest.raises(DecodeError, match="3 classes but the charset has 96"):
        beam_search(np.full((4, 3), 1 / 3), DEFAULT_CHARSET)


@pytest.mark.parametrize(
    "probs",
    [
        np.zeros(3),
        np.array([[0.5, -0.5, 1.0]]),
        np.array([[np.nan, 0.5, 0.5]]),
        np.array([[2.0, 1.0, 0.5]]),  # logits, not probabilities
        np.zeros((2, 3)),
    ],
)
def test_bad_matrices_are_refused(probs: np.ndarray) -> None:
    with pytest.raises(DecodeError):
        greedy(probs, AB)


def test_lexicon_decoder_without_a_lexicon_is_refused() -> None:
    with pytest.raises(DecodeError, match="lexicon"):
        read_line(probs_from(spell("a")), DEFAULT_CHARSET, decoder="lexicon")


def test_unknown_decoder_is_refused() -> None:
    with pytest.raises(DecodeError, match="unknown decoder"):
        read_line(probs_from(spell("a")), DEFAULT_CHARSET, decoder="viterbi")  # type: ignore[arg-type]


def test_an_empty_matrix_reads_as_empty() -> None:
    empty = np.zeros((0, 3))
    assert greedy(empty, AB).text == ""
    assert beam_search(empty, AB)[0].text == ""
