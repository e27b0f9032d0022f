"""The Whoosh index: normalisation, tiers (1-best > alternative > fuzzy), query syntax, paging."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path

import pytest

from indexer import index
from indexer.analysis import analyzer, light_stem, tokens


@pytest.mark.parametrize(
    "text",
    ["Letters from Kew, 1851.", "Café déjà-vu naïve", "flies ponies glasses bus", "e.g. it's"],
)
def test_tokens_equal_the_whoosh_analyzer(text: str) -> None:
    assert tokens(text) == tuple(t.text for t in analyzer()(text))


@pytest.mark.parametrize(
    ("word", "stem"),
    [
        ("letters", "letter"),
        ("flies", "fly"),
        ("glasses", "glasse"),
        ("bus", "bus"),
        ("class", "class"),
        ("is", "is"),
        ("shoes", "shoe"),
    ],
)
def test_light_stem_only_strips_plurals(word: str, stem: str) -> None:
    assert light_stem(word) == stem
    assert light_stem(stem) == stem  # idempotent: index and query agree


@pytest.fixture
def ix(tmp_path: Path, fakes):
    ix = index.create_index(tmp_path / "ix")

    def add(doc_id: str, *markups: str, min_prob: float = 0.05) -> None:
        pages = [fakes.transcript(m, "m") for m in markups]
        entry = index.IndexEntry(doc_id, f"{doc_id}.png", datetime.now(UTC), "m", pages)
        with index.writer(ix) as w:
            index.update_document(w, entry, min_prob)

    ix.add = add  # type: ignore[attr-defined]
    return ix


def _ids(ix, q: str, **kw) -> list[str]:
    with index.searcher(ix) as s:
        return [d for d, _ in index.search(s, q, **kw).hits]


def test_one_best_match_ranks_above_alternative_even_when_alternative_is_frequent(ix) -> None:
    # doc "alt" has the word only as a (likely) alternative, many times, in a short text;
    # doc "best" has it once as the 1-best reading in a longer text.
    ix.add("alt", " ".join(["Hocker@0.5{Hooker:0.45}"] * 6))
    ix.add("best", "Dear Hooker@0.6 thanks for the seeds and the letters from Kew today")
    ix.add("none", "nothing to see")
    assert _ids(ix, "hooker") == ["best", "alt"]


def test_alternative_ranking_follows_its_probability(ix) -> None:
    ix.add("likely", "Hocker@0.5{Hooker:0.45}")
    ix.add("unlikely", "Hocker@0.8{Hooker:0.1}")
    assert _ids(ix, "hooker") == ["likely", "unlikely"]


def test_alternatives_below_the_threshold_are_not_indexed(ix) -> None:
    ix.add("weak", "Hocker@0.9{Hooker:0.02}", min_prob=0.05)
    assert _ids(ix, "hooker") == []


def test_fuzzy_finds_near_spellings_below_exact_and_only_when_asked(ix) -> None:
    ix.add("near", "Hookar went home")
    ix.add("exact", "Hooker went home")
    assert _ids(ix, "hooker") == ["exact"]
    assert _ids(ix, "hooker", fuzzy=True) == ["exact", "near"]


def test_fuzzy_distance_grows_with_word_length() -> None:
    assert index.fuzzy_distance("to", 2) == 0
    assert index.fuzzy_distance("kew", 2) == 1
    assert index.fuzzy_distance("botanical", 2) == 2
    assert index.fuzzy_distance("botanical", 1) == 1


def test_phrase_needs_consecutive_one_best_words(ix) -> None:
    ix.add("yes", "the Royal Gardens at Kew")
    ix.add("no", "Gardens of the Royal Society")
    assert _ids(ix, '"royal gardens"') == ["yes"]
    assert sorted(_ids(ix, "royal gardens")) == ["no", "yes"]


def test_boolean_prefix_and_accent_folded_queries(ix) -> None:
    ix.add("a", "botany and Café")
    ix.add("b", "botanical garden")
    ix.add("c", "garden cafe")
    assert sorted(_ids(ix, "botan*")) == ["a", "b"]
    assert sorted(_ids(ix, "garden NOT botanical")) == ["c"]
    assert sorted(_ids(ix, "botany OR garden")) == ["a", "b", "c"]
    assert sorted(_ids(ix, "café")) == ["a", "c"]
    assert sorted(_ids(ix, "gardens")) == ["b", "c"]  # plural folded to the stem


def test_update_replaces_and_remove_deletes(ix) -> None:
    ix.add("d", "first version")
    ix.add("d", "second version")
    assert _ids(ix, "version") == ["d"]
    assert _ids(ix, "first") == []
    with index.writer(ix) as w:
        index.remove_document(w, "d")
    assert _ids(ix, "version") == []
    assert index.doc_ids(ix) == set()


def test_paging_is_consistent_with_the_total(ix) -> None:
    for i in range(7):
        ix.add(f"d{i}", "common " + "word " * i)
    with index.searcher(ix) as s:
        full = index.search(s, "common", limit=7)
        page2 = index.search(s, "common", limit=3, offset=3)
    assert full.total == page2.total == 7
    assert [d for d, _ in page2.hits] == [d for d, _ in full.hits[3:6]]


def test_query_terms_exclude_negated_words(ix) -> None:
    ix.add("a", "apples pears")
    with index.searcher(ix) as s:
        terms = index.search(s, "apple NOT plums", fuzzy=False).terms
    assert terms.exact == {"apple"}
    assert terms.matches("apple") and not terms.matches("plum")


def test_empty_query_is_an_error(ix) -> None:
    with index.searcher(ix) as s, pytest.raises(index.QueryError, match="empty"):
        index.search(s, "   ")


def test_totals_and_pages_agree_across_tiers_and_deletions(ix) -> None:
    """Paging through exact and alternative matches gives every document once, in tier order."""
    for i in range(4):
        ix.add(f"exact{i}", "Hooker " + "x " * i)
        ix.add(f"alt{i}", "Hocker@0.5{Hooker:0.4} " + "y " * i)
        ix.add(f"both{i}", "Hooker Kew " + "z " * i)
    with index.searcher(ix) as s:
        pages = [index.search(s, "hooker", limit=3, offset=o) for o in (0, 3, 6, 9)]
        assert {p.total for p in pages} == {12}
        order = [d for p in pages for d, _ in p.hits]
        assert len(order) == len(set(order)) == 12
        assert all(not d.startswith("alt") for d in order[:8])
        assert all(d.startswith("alt") for d in order[8:])
        both = index.search(s, "hooker kew", limit=2)
        assert both.total == 4 and all(d.startswith("both") for d, _ in both.hits)
    with index.writer(ix) as w:
        index.remove_document(w, "exact0")
        index.remove_document(w, "alt0")
    with index.searcher(ix) as s:
        assert index.search(s, "hooker", limit=2).total == 10


def test_prefix_matches_through_one_best_rank_above_several_alternatives(ix) -> None:
    ix.add("alts", "Hocker@0.3{Hooker:0.35,Hooked:0.3} Hacks@0.3{Hooks:0.6}")
    ix.add("best", "the Hooker letters and many more words here")
    ix.add("not", "Hooker went NOTHING")
    ranked = _ids(ix, "hook*")
    assert set(ranked[:2]) == {"best", "not"} and ranked[2] == "alts"
    assert _ids(ix, "hook* NOT nothing") == ["best", "alts"]


def test_prefix_expansion_keeps_the_most_frequent_terms(ix) -> None:
    ix.add("a", "cart")
    ix.add("b", "carts cart")  # 'cart' (stemmed) in two documents
    ix.add("c", "carbon")
    ix.add("d", "carrot")
    ix.add("e", "carrot")
    with index.searcher(ix) as s:
        capped = index.search(s, "car*", max_expansion=2)
        full = index.search(s, "car*")
    assert sorted(d for d, _ in capped.hits) == ["a", "b", "d", "e"]
    assert full.total == 5


def test_short_posting_lists_kept_inline_search_like_separate_blocks(
    tmp_path: Path, fakes, monkeypatch
) -> None:
    """Term-table (inline) postings answer every query kind like block postings, also
    after segments are merged and documents replaced or removed."""
    words = ["hooker", "kew", "garden", "seed", "letter", "botany", "hocker", "gardon"]
    rng = random.Random(3)

    def build(path: Path, inline: int):
        monkeypatch.setattr(index, "INLINE_POSTINGS", inline)
        ix = index.create_index(path)
        for i in range(40):
            text = " ".join(f"{rng.choice(words)}@0.6{{{rng.choice(words)}:0.3}}" for _ in range(6))
            entry = index.IndexEntry(
                f"d{i % 30}", f"d{i}.png", datetime.now(UTC), "m", [fakes.transcript(text, "m")]
            )
            with index.writer(ix) as w:  # one segment per document: Whoosh merges them
                index.update_document(w, entry, 0.05)
        with index.writer(ix) as w:
            index.remove_document(w, "d3")
        return ix

    state = rng.getstate()
    inline = build(tmp_path / "inline", 16)
    rng.setstate(state)
    blocks = build(tmp_path / "blocks", 1)
    queries = ["hooker", "kew garden", '"kew garden"', "gard*", "seed OR botany NOT kew"]
    for q in [*queries, "hookar"]:
        got = []
        for ix in (inline, blocks):
            with index.searcher(ix) as s:
                r = index.search(s, q, limit=50, fuzzy=q == "hookar")
                got.append((r.total, r.hits))
        assert got[0] == got[1], q
        assert got[0][0] > 0, q
    assert index.doc_ids(inline) == index.doc_ids(blocks) == {f"d{i}" for i in range(30)} - {"d3"}


def test_segment_lexicon_prefix_and_near_terms_equal_a_full_scan() -> None:
    from rapidfuzz.distance import Levenshtein

    rng = random.Random(5)
    letters = "abcdeé"
    terms = sorted(
        {"".join(rng.choices(letters, k=rng.randint(1, 7))) for _ in range(3000)},
        key=lambda t: t.encode("utf-8"),  # the order the index keeps terms in
    )
    lex = index._Lexicon(terms)
    for prefix in ["", "a", "ab", "é", "cé", "dddd", "zz"]:
        assert lex.prefixed(prefix) == [t for t in terms if t.startswith(prefix)]
    for word, d in [("abc", 1), ("abcdé", 2), ("e", 1), ("ééé", 2)]:
        want = {t: Levenshtein.distance(word, t) for t in terms}
        assert lex.near(word, d) == {t: n for t, n in want.items() if n <= d}


def test_large_segments_sharing_one_term_list_expand_like_separate_lists(
    tmp_path: Path, fakes, monkeypatch
) -> None:
    ix = index.create_index(tmp_path / "ix")
    words = ["hooker", "hookar", "hooked", "kew", "kow", "garden", "gardon", "hooks"]
    rng = random.Random(2)
    for seg in range(3):  # three segments, none merged
        w = index.open_writer(ix)
        for i in range(5):
            text = " ".join(rng.choices(words, k=4))
            entry = index.IndexEntry(
                f"s{seg}d{i}", "f.png", datetime.now(UTC), "m", [fakes.transcript(text, "m")]
            )
            index.add_document(w, entry)
        w.commit(merge=False)
    got = []
    for shared in (10**9, 1):
        monkeypatch.setattr(index, "SHARED_LEXICON_DOCS", shared)
        with index.searcher(ix) as s:
            assert len(s.reader().leaf_readers()) == 3
            got.append(
                [
                    index.search(s, q, limit=20, fuzzy=f)
                    for q, f in [("hook*", False), ("gardan", True), ("kew", True)]
                ]
            )
    assert got[0] == got[1]
    assert all(r.total > 0 for r in got[0])


def test_segment_writers_open_together_keep_their_scratch_files_apart(
    tmp_path: Path, fakes
) -> None:
    """Rebuild workers write segments of one index at the same time: one finishing
    (and removing its scratch folder) must not take the other's files away."""
    ix = index.create_index(tmp_path / "ix")
    writers = [index.open_segment_writer(ix) for _ in range(2)]
    for n, w in enumerate(writers):
        page = fakes.transcript(f"kew garden{n}", "m")
        index.add_document(w, index.IndexEntry(f"d{n}", "f.png", datetime.now(UTC), "m", [page]))
    segments = [index.finish_segment(w) for w in writers]
    with index.writer(ix) as w:
        index.add_segments(w, segments)
    assert index.doc_ids(ix) == {"d0", "d1"}
    assert not [p.name for p in (tmp_path / "ix").iterdir() if p.is_dir()]  # no scratch left


def _wide_index(tmp_path: Path, fakes):
    """Three segments (one with deletions) of pages drawn from 40 words sharing a
    prefix and 30 one-letter variants of "garden", with alternative readings, and
    repeated pages (equal scores)."""
    stems = [f"hook{c}{d}" for c in "abcdefgh" for d in "xyzuv"][:40]
    near = sorted({"garden"[:i] + c + "garden"[i + 1 :] for i in range(6) for c in "aeiou"})
    near = [w for w in near if w != "garden"][:30]
    words = [*stems, *near, "garden", "kew", "seed"]
    rng = random.Random(11)
    ix = index.create_index(tmp_path / "ix")
    n = 0
    for _ in range(3):
        w = index.open_writer(ix)
        for _ in range(40):
            text = " ".join(
                f"{rng.choice(words)}@0.6{{{rng.choice(words)}:{rng.choice([0.2, 0.3, 0.9])}}}"
                for _ in range(rng.randint(1, 8))
            )
            for copy in range(1 + (n % 7 == 0)):  # some pages twice: tied scores
                entry = index.IndexEntry(
                    f"d{n}-{copy}", "f.png", datetime.now(UTC), "m", [fakes.transcript(text, "m")]
                )
                index.add_document(w, entry, 0.05)
            n += 1
        w.commit(merge=False)
    with index.writer(ix) as w:
        for i in range(0, n, 9):
            index.remove_document(w, f"d{i}-0")
    return ix


def test_wide_or_arrays_rank_and_count_like_whoosh_matchers(tmp_path: Path, fakes, monkeypatch):
    """Prefix and fuzzy expansions scored and counted with arrays give exactly the
    documents, scores, order and totals of Whoosh's own matchers and counting."""
    ix = _wide_index(tmp_path, fakes)
    cases = [
        ("hook*", False),
        ("hook* NOT kew", False),
        ("hook* OR seed", False),
        ("hook* kew", False),
        ("garden", True),
        ("garden NOT seed", True),
        ("gardan kew", True),
    ]
    pages = [(10, 0), (5, 5), (3, 17), (100, 0), (300, 0)]  # the last reaches alternatives

    def run():
        with index.searcher(ix) as s:
            assert len(s.reader().leaf_readers()) == 3
            assert any(sub.has_deletions() for sub, _ in s.reader().leaf_readers())
            return [
                index.search(s, q, limit=lim, offset=off, fuzzy=f)
                for q, f in cases
                for lim, off in pages
            ]

    with index.searcher(ix) as s:  # the cases do take the array path
        q = index._expand(index.parse(s, "hook*"), s, index.MAX_EXPANSION).normalize()
        assert index._term_terms(q) is not None
        assert index._top_arrays(s, q, 5, index._PostingsCache()) is not None
    arrays = run()
    monkeypatch.setattr(index, "_top_arrays", lambda *a: None)
    monkeypatch.setattr(index, "_docmask", lambda *a: None)
    matchers = run()
    assert [(r.total, r.hits) for r in arrays] == [(r.total, r.hits) for r in matchers]
    assert all(r.total > 10 for r in arrays)


def test_term_frequencies_read_in_one_pass_equal_per_term_lookups(tmp_path: Path, fakes) -> None:
    ix = _wide_index(tmp_path, fakes)
    with index.searcher(ix) as s:
        for sub, _ in s.reader().leaf_readers():
            for field in index.WORD_FIELDS:
                want = {t: sub.doc_frequency(field, t) for t in sub.lexicon(field)}
                assert index._term_freqs(sub, field) == want
                assert len(want) > 20


def test_best_keeps_the_highest_scores_and_the_lowest_numbers_among_ties() -> None:
    import numpy as np

    rng = random.Random(4)
    scores = np.array([rng.choice([0.5, 1.0, 1.5, 2.0]) for _ in range(200)])
    docs = np.arange(200) * 3
    for k in (1, 7, 50, 200, 300):
        got_scores, got_docs = index._best(scores, docs, k)
        want = sorted(
            zip(scores.tolist(), docs.tolist(), strict=True), key=lambda sd: (-sd[0], sd[1])
        )[:k]
        assert list(zip(got_scores.tolist(), got_docs.tolist(), strict=True)) == want


def test_posting_blocks_read_without_values_give_whoosh_ids_weights_and_values(
    tmp_path: Path, fakes
) -> None:
    """A posting block read for its ids and weights alone (scoring, counting) gives
    what unpickling the whole block gives; its positions are still read when asked."""
    import pickle

    ix, _ = _big_segment_index(tmp_path, fakes)
    blocks = skipped = 0
    with index.searcher(ix) as s:
        for sub, _ in s.reader().leaf_readers():
            for field in index.WORD_FIELDS:
                for term in sub.lexicon(field):
                    m = sub.postings(field, term)
                    m = getattr(m, "child", m)  # a segment with deletions
                    if type(m) is not index.W3LeafMatcher:
                        continue  # inline
                    while m.is_active():
                        whole = pickle.loads(index._block_raw(m))
                        m._read_data()
                        assert m._data[:2] == whole[:2]
                        skipped += m._data[2] is index._VALUES_NOT_READ
                        m._read_values()
                        got = m._values
                        m._data, m._values = whole, None  # as Whoosh reads them
                        index._w3_read_values(m)
                        assert got == m._values
                        blocks += 1
                        m._next_block()
    assert blocks > 50
    assert skipped > 20  # the 1-best field's blocks did take the short read


def _big_segment_index(tmp_path: Path, fakes):
    """One segment of more than 5000 pages (Whoosh ORs them with a tree of unions)
    and one small one (its array matcher), of words near "garden" with 1-best and
    alternative readings of varied counts and page lengths (distinct scores)."""
    near = sorted({"garden"[:i] + c + "garden"[i + 1 :] for i in range(6) for c in "aeiou"})
    words = [w for w in near if w != "garden"][:18] + ["garden", "kew"]
    words += ["seed", "seeds", "weed", "reed", "seen"]
    rng = random.Random(5)
    ix = index.create_index(tmp_path / "ix")
    for size in (index._OR_TREE_DOCS + 200, 300):
        w = index.open_writer(ix)
        for n in range(size):
            text = " ".join(
                f"{rng.choice(words)}@0.6{{{rng.choice(words)}:{rng.choice([0.2, 0.3, 0.9])}}}"
                for _ in range(rng.randint(1, 12))
            )
            entry = index.IndexEntry(
                f"p{size}-{n}", "f.png", datetime.now(UTC), "m", [fakes.transcript(text, "m")]
            )
            index.add_document(w, entry, 0.05)
        w.commit(merge=False)
    return ix, words


def test_term_and_or_scores_from_arrays_equal_whoosh_matchers_bit_for_bit(
    tmp_path: Path, fakes
) -> None:
    """One term, or an OR of 2 to 16 terms (boosted, either field): each document's
    score added up from arrays is exactly what Whoosh's OR matcher gives it on a
    large segment (a tree of unions) and a small one (its array matcher)."""
    from whoosh import matching, query

    ix, words = _big_segment_index(tmp_path, fakes)
    rng = random.Random(8)
    cases = [[query.Term(index.TEXT, "garden")], [query.Term(index.ALT, "kew")]]
    for width in (2, 2, 3, 5, 8, 13, 16, 16):
        picked = rng.sample([*words, "absent"], width)
        cases.append(
            [
                query.Term(rng.choice(index.WORD_FIELDS), t, boost=rng.choice([1.0, 0.4]))
                for t in picked
            ]
        )
    kinds = set()
    with index.searcher(ix) as s:
        leaves = s.leaf_searchers()
        assert sorted(sub.doc_count_all() for sub, _ in leaves)[-1] > index._OR_TREE_DOCS
        for terms in cases:
            postings = index._PostingsCache()
            q = terms[0] if len(terms) == 1 else query.Or(terms)
            for seg, (sub_s, _) in enumerate(leaves):
                m = q.matcher(sub_s, sub_s.context())
                kinds.add(type(m))
                want = []
                while m.is_active():
                    want.append((m.id(), m.score()))
                    m.next()
                docs, scores = index._or_scores(sub_s, seg, terms, postings)
                assert list(zip(docs.tolist(), scores.tolist(), strict=True)) == want
                assert len(want) > 10
    assert {matching.UnionMatcher, matching.ArrayUnionMatcher} <= kinds


def test_small_or_tiers_from_arrays_rank_and_count_like_whoosh_collectors(
    tmp_path: Path, fakes, monkeypatch
) -> None:
    """Single words and fuzzy words with few near spellings (Whoosh's optimized
    collector before) give the same hits, scores, order and totals from arrays."""
    ix, _ = _big_segment_index(tmp_path, fakes)
    cases = [("garden", False), ("kew", False), ("garden NOT kew", False), ("seed", True)]
    cases += [("seex", True), ("seed NOT kew", True), ("garden OR kew", False)]
    pages = [(10, 0), (7, 3), (50, 40), (3000, 0)]

    def run():
        with index.searcher(ix) as s:
            return [
                index.search(s, q, limit=lim, offset=off, fuzzy=f)
                for q, f in cases
                for lim, off in pages
            ]

    with index.searcher(ix) as s:  # fuzzy "seed" was on Whoosh's optimized path
        full = index._fuzzify(index.parse(s, "seed"), s, 2, index.MAX_EXPANSION).normalize()
        assert 4 < sum(1 for _ in full.leaves()) <= index.MAX_OPTIMIZED_LEAVES
    arrays = run()
    monkeypatch.setattr(index, "_top_arrays", lambda *a: None)
    matchers = run()
    assert [(r.total, r.hits) for r in arrays] == [(r.total, r.hits) for r in matchers]
    assert all(r.total > 50 for r in arrays)
