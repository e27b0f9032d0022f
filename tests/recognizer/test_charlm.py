"""The character n-gram language model, its fusion into the beam decoders, and its bundle file."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import yaml

from recognizer import charlm, decode
from recognizer.bundle import CHARLM_FILE, BundleError, load_bundle, save_bundle
from recognizer.charlm import CharLM, CharLMError, Fusion
from recognizer.charset import Charset
from recognizer.lexicon import Lexicon

TEXTS = ["the cat sat on the mat", "then the other one", "the hat", "that is the thing"] * 5
CHARS = "abcdefghijklmnopqrstuvwxyz "


class _CS:
    chars = CHARS


def _probs(rows: list[dict[str, float]]) -> np.ndarray:
    """T x C probabilities; each row's unnamed mass goes to the blank."""
    p = np.zeros((len(rows), len(CHARS) + 1))
    for t, row in enumerate(rows):
        for ch, v in row.items():
            p[t, CHARS.index(ch) + 1] = v
        p[t, 0] = 1.0 - sum(row.values())
    return p


# "t", then "b" a little likelier than "h" to the ink, then "e": "tbe" or "the".
AMBIGUOUS = _probs(
    [{"t": 0.95}, {}, {"b": 0.5, "h": 0.45}, {}, {"e": 0.95}, {}],
)


@pytest.fixture(scope="module")
def lm() -> CharLM:
    return CharLM.build(TEXTS, order=4, min_count=1)


def test_distributions_are_normalised_and_follow_the_text(lm) -> None:
    for context in ["", "th", "the ", "zzz", "q"]:
        p = np.exp(lm.logprobs(lm.context(context), CHARS))
        assert p.sum() == pytest.approx(1.0)
        assert np.all(p > 0), "every character keeps some probability"
    after_th = lm.logprobs(lm.context("th"), CHARS)
    assert CHARS[int(np.argmax(after_th))] in "ae"
    assert after_th[CHARS.index("e")] > after_th[CHARS.index("b")]
    # The line start: "t" begins most lines of the text.
    start = lm.logprobs(lm.context(""), CHARS)
    assert CHARS[int(np.argmax(start))] == "t"


def test_an_unseen_context_backs_off_to_its_shorter_ones(lm) -> None:
    # "xqh" never occurs; "h" alone does, so what follows is what follows "h".
    assert np.allclose(lm.logprobs("xqh", CHARS), lm.logprobs(lm.context("x") + "qh", CHARS))
    assert CHARS[int(np.argmax(lm.logprobs("xqh", CHARS)))] in "ae"


def test_characters_left_out_of_the_classes_are_set_aside() -> None:
    # Each n-gram counts for its last character's class; one whose last character is not
    # among the classes (here "é", "t" and the space) counts for none of them.
    model = CharLM.build(["thé été", "the tea", "tête à tête"] * 3, order=3, min_count=1)
    for chars in ["abcdefghijklmnopqrstuvwxyz é", "aeh", "éhà"]:
        for n, (keys, _) in model._grams.items():
            want = [chars.index(g[-1]) if g[-1] in chars else len(chars) for g in keys.tolist()]
            assert model._classes(n, chars).tolist() == want
        p = np.exp(model.logprobs(model.context("th"), chars))
        assert p.sum() == pytest.approx(1.0)
    after_th = model.logprobs(model.context("th"), "aeh")
    assert "aeh"[int(np.argmax(after_th))] == "e"


def test_save_and_load_give_the_same_model(lm, tmp_path) -> None:
    path = tmp_path / "lm.npz"
    lm.save(path)
    back = CharLM.load(path)
    assert back.order == lm.order and len(back) == len(lm)
    for context in ["", "th", "at ", "zz"]:
        assert np.allclose(back.logprobs(context, CHARS), lm.logprobs(context, CHARS))


def test_pruning_drops_rare_long_ngrams_only() -> None:
    full = CharLM.build(TEXTS + ["xylophone"], order=4, min_count=1)
    pruned = CharLM.build(TEXTS + ["xylophone"], order=4, min_count=2)
    assert len(pruned) < len(full)
    # Single characters and pairs are all kept: "x" and "xy" still have counts.
    assert pruned.logprobs(pruned.context("x"), CHARS)[CHARS.index("y")] > math.log(0.5)


@pytest.mark.parametrize(
    ("texts", "order", "min_count", "message"),
    [
        ([], 3, 1, "no text"),
        (["  "], 3, 1, "no text"),
        (["ab"], 0, 1, "order"),
        (["ab"], 3, 0, "min_count"),
    ],
)
def test_bad_build_arguments_are_refused(texts, order, min_count, message) -> None:
    with pytest.raises(CharLMError, match=message):
        CharLM.build(texts, order, min_count)


def test_load_reports_a_missing_or_foreign_file(tmp_path) -> None:
    with pytest.raises(CharLMError, match="not found"):
        CharLM.load(tmp_path / "none.npz")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip file")
    with pytest.raises(CharLMError, match="cannot read"):
        CharLM.load(bad)
    other = tmp_path / "other.npz"
    np.savez(other, meta=np.array([99, 3]))
    with pytest.raises(CharLMError, match="format 99"):
        CharLM.load(other)


def test_fusion_scores_add_up_per_character(lm) -> None:
    f = Fusion(lm, 0.5, 1.0)
    expected = 0.0
    context = f.context("the ")
    for ch in "cat":
        expected += 0.5 * lm.logprobs(context, CHARS)[CHARS.index(ch)] + 1.0
        context = f.next_context(context, ch)
    assert f.score("the ", "cat", CHARS) == pytest.approx(expected)
    assert f.row(f.context(""), CHARS)[0] == 0.0, "the blank scores nothing"
    with pytest.raises(CharLMError, match=">= 0"):
        Fusion(lm, -0.1, 0.0)


def test_the_language_model_turns_an_ambiguous_reading_into_a_word(lm) -> None:
    assert decode.greedy(AMBIGUOUS, _CS).text == "tbe"
    assert decode.beam_search(AMBIGUOUS, _CS, 8, 1)[0].text == "tbe"
    best = decode.beam_search(AMBIGUOUS, _CS, 8, 2, Fusion(lm, 1.0, 0.0))
    assert best[0].text == "the"
    # prob stays the ink's own probability of the reading
    assert best[0].prob == pytest.approx(decode.sequence_prob(AMBIGUOUS, _CS, "the"), rel=1e-6)


def test_a_weightless_model_changes_nothing(lm) -> None:
    rng = np.random.default_rng(5)
    p = rng.dirichlet(np.ones(len(CHARS) + 1) * 0.3, size=30)
    plain = decode.beam_search(p, _CS, 8, 5)
    fused = decode.beam_search(p, _CS, 8, 5, Fusion(lm, 0.0, 0.0))
    assert [d.text for d in fused] == [d.text for d in plain]
    assert [d.prob for d in fused] == pytest.approx([d.prob for d in plain])


def test_the_context_before_the_frames_is_taken_into_account(lm) -> None:
    # "h" or "b" alone after "t": after a line that ends in "t", "h" is likelier.
    frames = _probs([{"b": 0.5, "h": 0.45}, {}])
    f = Fusion(lm, 1.0, 0.0)
    assert decode.beam_search(frames, _CS, 8, 1, f, before="t")[0].text == "h"


def test_the_lexicon_decoder_fuses_the_model_too(lm) -> None:
    lexicon = Lexicon.from_words(["tbe", "the"])
    assert decode.lexicon_beam_search(AMBIGUOUS, _CS, lexicon, 8, 1)[0].text == "tbe"
    fused = decode.lexicon_beam_search(AMBIGUOUS, _CS, lexicon, 8, 1, Fusion(lm, 1.0, 0.0))
    assert fused[0].text == "the"


@pytest.mark.parametrize("line_pass", ["greedy", "decoder"])
def test_read_line_words_and_alternatives_weigh_the_model(lm, line_pass) -> None:
    # "the" + space + ambiguous "cat"/"cot": the model prefers "cat" after "the ".
    rows = [{"t": 0.95}, {}, {"b": 0.5, "h": 0.45}, {}, {"e": 0.95}, {}, {" ": 0.95}, {}]
    rows += [{"c": 0.95}, {}, {"o": 0.5, "a": 0.45}, {}, {"t": 0.95}, {}]
    p = _probs(rows)
    plain = decode.read_line(p, _CS, "beam", 8, 3, line_pass=line_pass)
    fusion = Fusion(lm, 0.3, 0.5)
    fused = decode.read_line(p, _CS, "beam", 8, 3, line_pass=line_pass, fusion=fusion)
    assert plain.text == "tbe cot"
    assert fused.text == "the cat"
    cat = fused.words[1]
    assert cat.text == "cat" and cat.alternatives[0][0] == "cat"
    assert "cot" in [t for t, _ in cat.alternatives], "the ink's reading stays findable"
    assert sum(q for _, q in cat.alternatives) <= 1.0 + 1e-9


# -- bundles ------------------------------------------------------------------------------------


@pytest.fixture
def bundle(tmp_path) -> Path:
    import keras

    from recognizer.model import ModelConfig, build_crnn

    keras.utils.set_random_seed(1)
    cs = Charset("abc ")
    cfg = ModelConfig(
        num_classes=cs.num_classes,
        height=32,
        filters=(8, 8, 16, 16),
        proj_units=16,
        lstm_units=16,
        dropout=0.0,
    )
    return save_bundle(tmp_path / "lm-0.1", build_crnn(cfg), cs, cfg, name="lm", version="0.1")


def test_add_to_bundle_writes_the_model_and_the_decoder_defaults(bundle, monkeypatch) -> None:
    monkeypatch.setattr("recognizer.text.fortune_texts", lambda *a: tuple(TEXTS))
    monkeypatch.setattr("recognizer.text.wordnet_texts", lambda *a: ("a small domestic cat",))
    charlm.add_to_bundle(bundle, order=3, min_count=1, weight=0.4, bonus=0.5, line_pass="greedy")
    b = load_bundle(bundle)
    assert b.charlm_path == bundle / CHARLM_FILE
    assert (b.decoder.lm_weight, b.decoder.lm_bonus, b.decoder.line_pass) == (0.4, 0.5, "greedy")
    assert b.meta["language_model"]["order"] == 3
    assert b.meta["language_model"]["source"] == (
        f"{len(TEXTS)} prose passages of Debian's fortunes and "
        "1 glosses and examples of WordNet 3.0 (wordnet-base)"
    )
    card = (bundle / "MODEL_CARD.md").read_text()
    assert "character language model at weight 0.4" in card and "3-gram" in card

    from recognizer.recognize import Recognizer, RecognizerError

    rec = Recognizer.load(bundle)
    assert rec.fusion is not None and rec.fusion.weight == 0.4 and rec.line_pass == "greedy"
    assert Recognizer.load(bundle, lm_weight=0).fusion is None
    assert Recognizer.load(bundle, lm_weight=1.5, lm_bonus=0.0).fusion.weight == 1.5
    with pytest.raises(RecognizerError, match="line pass"):
        Recognizer.load(bundle, line_pass="sideways")
    (bundle / CHARLM_FILE).unlink()
    with pytest.raises(BundleError, match="charlm.npz is missing"):
        load_bundle(bundle)


def test_a_bundle_without_a_model_refuses_a_weight(bundle) -> None:
    from recognizer.recognize import Recognizer, RecognizerError

    assert Recognizer.load(bundle).fusion is None
    with pytest.raises(RecognizerError, match="no character language model"):
        Recognizer.load(bundle, lm_weight=0.3)


def test_add_to_bundle_without_text_says_how_to_get_it(bundle, monkeypatch) -> None:
    monkeypatch.setattr("recognizer.text.fortune_texts", lambda *a: ())
    monkeypatch.setattr("recognizer.text.wordnet_texts", lambda *a: ())
    with pytest.raises(CharLMError, match="make text"):
        charlm.add_to_bundle(bundle)
    assert load_bundle(bundle).charlm_path is None


def test_add_to_bundle_with_one_source_says_which(bundle, monkeypatch) -> None:
    monkeypatch.setattr("recognizer.text.fortune_texts", lambda *a: ())
    monkeypatch.setattr("recognizer.text.wordnet_texts", lambda *a: tuple(TEXTS))
    charlm.add_to_bundle(bundle, order=3, min_count=1)
    source = load_bundle(bundle).meta["language_model"]["source"]
    assert source == f"{len(TEXTS)} glosses and examples of WordNet 3.0 (wordnet-base)"


def test_unknown_line_pass_in_model_yaml_is_a_bundle_error(bundle) -> None:
    meta = yaml.safe_load((bundle / "model.yaml").read_text())
    meta["decoder"]["line_pass"] = "x"
    (bundle / "model.yaml").write_text(yaml.safe_dump(meta))
    with pytest.raises(BundleError, match="line_pass"):
        load_bundle(bundle)


def test_charlm_command_builds_into_the_bundle(bundle, monkeypatch, capsys) -> None:
    from inkdex.cli import main

    monkeypatch.setattr("recognizer.text.fortune_texts", lambda *a: tuple(TEXTS))
    monkeypatch.setattr("recognizer.text.wordnet_texts", lambda *a: ())
    assert main(["charlm", str(bundle), "--order", "3", "--min-count", "1"]) == 0
    assert "3-gram model" in capsys.readouterr().out
    assert load_bundle(bundle).decoder.lm_weight == charlm.DEFAULT_WEIGHT
    assert main(["charlm", str(bundle), "--weight", "-1"]) == 1
    assert ">= 0" in capsys.readouterr().out
