"""CTC decoding: a probability matrix -> text, N-best readings and per-word alternatives.

Input is the network's softmax output for one line, ``probs``: T x C (frames x
classes, class 0 = the CTC blank, class i = ``charset.chars[i - 1]``). Everything
here is NumPy; the decoders work in log space, the exact word probabilities in the
probability domain rescaled frame by frame.

Decoders:
- `greedy`: best path (argmax per frame, collapse repeats, drop blanks).
- `beam_search`: CTC prefix beam search; N-best labellings.
- `lexicon_beam_search`: prefix beam search whose letters must spell words of a
  `Lexicon` (case-insensitive); digits, punctuation and spaces pass freely between
  words (in the spirit of Scheidl's word beam search).
- `read_line`: decodes a line and splits it into `WordReading`s with a confidence
  and alternative spellings for each word, which the indexer stores.

Both beam decoders take an optional `Fusion` (`recognizer.charlm`): a character
language model whose score is added to every extension of a reading ("shallow
fusion"), in the context of the line's text before the frames being read.

Probabilities: `Decoded.prob` of the beam decoders is the raw probability of the
labelling, P(text | line) summed over its alignments (within the beam, so a lower
bound), not normalised over the returned beams. For `greedy` it is the probability
of the single best path.

Frames: `Decoded.frames[i]` is the output frame at which character i was emitted.
A beam's characters carry the frame where the probability of having emitted the
character there outweighs that of having emitted it earlier, which for CTC's
peaky outputs is the first frame of the character's spike (the same frame greedy
reports).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np

from recognizer.bundle import LINE_PASSES
from recognizer.charlm import Fusion
from recognizer.lexicon import Lexicon, LexiconError

__all__ = [
    "DecodeError",
    "Decoded",
    "Lexicon",
    "LexiconError",
    "LineReading",
    "WordReading",
    "beam_search",
    "greedy",
    "lexicon_beam_search",
    "read_line",
    "read_lines",
    "sequence_prob",
    "word_key",
]

DecoderName = Literal["greedy", "beam", "lexicon"]
LinePass = Literal["decoder", "greedy"]

NEG_INF = -math.inf
# Characters below this probability in a frame are not tried as extensions there.
PRUNE_PROB = 1e-3
# Beams this far (natural log) below the frame's best are dropped: they cannot matter.
BEAM_PRUNE_LOGP = math.log(1e-6)
# Readings pooled per word to normalise its alternatives' probabilities.
WORD_POOL = 8
# Word alternatives below this posterior are dropped (the best reading is always kept).
MIN_ALTERNATIVE_PROB = 0.01
# Stripped from both ends of a reading to compare alternatives (`word_key`).
_OUTER_PUNCTUATION = "".join(chr(c) for c in range(33, 127) if not chr(c).isalnum())
# A word read with at least this probability on its span is not searched for
# alternatives: together they could hold no more than 1 - SURE_WORD_PROB.
SURE_WORD_PROB = 0.98


class CharsetLike(Protocol):
    """What the decoders need of `recognizer.charset.Charset`."""

    @property
    def chars(self) -> str: ...


class DecodeError(ValueError):
    """The probability matrix does not fit the charset, or a decoder option is wrong."""


@dataclass(frozen=True)
class Decoded:
    """One reading of a line: text, probability, and the frame of each character."""

    text: str
    prob: float
    frames: tuple[int, ...]


@dataclass(frozen=True)
class WordReading:
    """One word of a line reading.

    `frame_start`/`frame_end` (inclusive) are output frames: the first and last
    character's emission frames, widened by half the word's character pitch but not
    past the neighbouring spaces. `alternatives` are ``(text, posterior)`` pairs,
    best first; the first one is always `text` with its `confidence`.
    """

    text: str
    confidence: float
    frame_start: int
    frame_end: int
    alternatives: tuple[tuple[str, float], ...]


@dataclass(frozen=True)
class LineReading:
    """A decoded line split into words. `confidence` is the mean of the word confidences."""

    text: str
    confidence: float
    words: tuple[WordReading, ...]


# -- input checks -------------------------------------------------------------------------------


def _check_probs(probs: np.ndarray, charset: CharsetLike) -> np.ndarray:
    """Validate a T x C probability matrix against the charset; return it as float64."""
    a = np.asarray(probs)
    if a.ndim != 2:
        raise DecodeError(f"expected a T x C probability matrix, got shape {a.shape}")
    n_classes = len(charset.chars) + 1
    if a.shape[1] != n_classes:
        raise DecodeError(
            f"the probability matrix has {a.shape[1]} classes but the charset has "
            f"{n_classes} (its {n_classes - 1} characters plus the blank); "
            "is the bundle's charset.txt the one the model was trained with?"
        )
    a = a.astype(np.float64, copy=False)
    if a.size and (not np.all(np.isfinite(a)) or a.min() < 0):
        raise DecodeError("probabilities must be finite and non-negative (softmax outputs)")
    if a.size and np.abs(a.sum(axis=1) - 1.0).max() > 1e-3:
        raise DecodeError(
            "each frame's probabilities must sum to 1 (softmax outputs, not logits or log-probs)"
        )
    return a


def _log_probs(probs: np.ndarray, charset: CharsetLike) -> np.ndarray:
    """Validate a T x C probability matrix against the charset and return its log (float64)."""
    with np.errstate(divide="ignore"):
        return np.log(_check_probs(probs, charset))


def _lse(a: float, b: float) -> float:
    """log(exp(a) + exp(b)) for Python floats."""
    if a < b:
        a, b = b, a
    if b == NEG_INF:
        return a
    return a + math.log1p(math.exp(b - a))


# -- greedy -------------------------------------------------------------------------------------


def greedy(probs: np.ndarray, charset: CharsetLike) -> Decoded:
    """Best-path decoding: argmax per frame, repeats collapsed, blanks removed.

    `prob` is the probability of that one path.
    """
    return _best_path(_check_probs(probs, charset), charset.chars)


def _best_path(p: np.ndarray, chars: str) -> Decoded:
    """`greedy` on a probability matrix that has been checked already."""
    if p.shape[0] == 0:
        return Decoded("", 1.0, ())
    best = p.argmax(axis=1)
    with np.errstate(divide="ignore"):
        path_logp = float(np.log(p[np.arange(p.shape[0]), best]).sum())
    new = np.empty(best.shape, dtype=bool)
    new[0] = True
    new[1:] = best[1:] != best[:-1]
    frames = np.flatnonzero(new & (best != 0))
    text = "".join(chars[c - 1] for c in best[frames])
    return Decoded(text, math.exp(path_logp), tuple(int(f) for f in frames))


# -- prefix beam search -------------------------------------------------------------------------


class _LexiconRule:
    """Adapts a Lexicon to the beam engine: a beam's state is the word being read."""

    def __init__(self, lexicon: Lexicon, chars: str) -> None:
        self.lexicon = lexicon
        self.chars = chars
        free = np.full(len(chars) + 1, NEG_INF)
        free[[k for k, ch in enumerate(chars, start=1) if not ch.isalpha()]] = 0.0
        self.free = free  # 0 for characters that may stand between words, -inf for letters

    def transitions(self, state: str) -> tuple[np.ndarray, float]:
        return self.lexicon.transitions(state, self.chars)

    def child(self, state: str, c: int) -> str:
        return state + self.chars[c - 1].lower()


@dataclass
class _Final:
    node: int  # id of the beam's prefix in the engine's prefix tree
    state: str | None
    frames: tuple[int, ...]
    logp: float  # acoustic: log P(prefix | frames)
    lm: float  # accumulated lexicon prior


def _prefix_beam(
    lp: np.ndarray,
    beam_width: int,
    rule: _LexiconRule | None,
    fusion: Fusion | None = None,
    before: str = "",
    chars: str = "",
) -> tuple[list[_Final], list[int], list[int]]:
    """CTC prefix beam search over log-probabilities `lp` (T x C).

    Beams are vectors (K beams); per frame, every beam is extended by every class
    whose probability passes `PRUNE_PROB`, in one K x C' array operation. A prefix
    is an integer node in a tree of (parent, class) pairs, so beams are compared
    in O(1). With a `rule`, a beam is a (prefix, word state) pair and extensions
    are either "continue the word" (kind 0) or "a free character between words"
    (kind 1). With a `fusion`, every extension also scores the character language
    model's term, in the context of the line's text `before` the frames plus the
    beam's prefix (`chars` names the classes). Returns the final beams and the
    prefix tree (parents, classes).
    """
    if beam_width < 1:
        raise DecodeError(f"beam_width must be >= 1, got {beam_width}")
    n_frames, n_classes = lp.shape
    prune = math.log(PRUNE_PROB)
    # Prefix tree: node 0 is the empty prefix.
    tree_parent: list[int] = [-1]
    tree_class: list[int] = [0]
    tree_index: dict[tuple[int, int], int] = {}
    # Per-beam data; `last` = last class of the prefix, n_classes for the empty prefix.
    nodes: list[int] = [0]
    states: list[str | None] = ["" if rule else None]
    frames: list[tuple[int, ...]] = [()]
    parents: list[tuple[object, int, int] | None] = [None]  # (parent key, class, kind)
    pb = np.array([0.0])
    pnb = np.array([NEG_INF])
    last = np.array([n_classes])
    lm = np.array([0.0])
    contexts: list[str] = [fusion.context(before)] if fusion else [""]
    lp_pad = np.concatenate([lp, np.full((n_frames, 1), NEG_INF)], axis=1)
    # Without a rule or a language model, a class outside a frame's top beam_width + 1
    # cannot beat the beam_width extensions of the same beam by better classes, so it
    # is never tried.
    cap = beam_width + 1 if rule is None else n_classes

    # Candidate classes per frame: likely enough, and (without a rule) among the top `cap`.
    body = lp[:, 1:]
    if cap < body.shape[1]:
        top_cls = np.sort(np.argpartition(-body, cap - 1, axis=1)[:, :cap], axis=1)
        likely = np.take_along_axis(body, top_cls, axis=1) > prune
        cands = [top_cls[t][likely[t]] + 1 for t in range(n_frames)]
    else:
        cands = [np.flatnonzero(body[t] > prune) + 1 for t in range(n_frames)]

    for t in range(n_frames):
        y = lp_pad[t]
        cand = cands[t]
        n_cand = cand.size
        total = np.logaddexp(pb, pnb)
        stay_pb = total + y[0]
        stay_pnb = pnb + y[last]
        if n_cand == 0:  # no character is likely here: every beam just stays
            pb, pnb = stay_pb, stay_pnb
            continue
        k = len(nodes)
        keys = list(zip(nodes, states, strict=True)) if rule else nodes
        index_of = {key: i for i, key in enumerate(keys)}
        new_frames = list(frames)

        # Extensions of every beam by every candidate class: acoustic K x C' and, per
        # kind, the prior after extending (-inf where the rule forbids it).
        acoustic = np.where(last[:, None] == cand[None, :], pb[:, None], total[:, None])
        acoustic += y[cand][None, :]
        base = lm[:, None]
        if fusion:
            base = base + np.stack([fusion.row(ctx, chars)[cand] for ctx in contexts])
        if rule is None:
            priors: list[np.ndarray] = [np.broadcast_to(base, (k, n_cand))]
        else:
            tables = [rule.transitions(s) for s in states]  # type: ignore[arg-type]
            child = np.stack([tb[0] for tb in tables])[:, cand]
            leave = np.array([tb[1] for tb in tables])
            priors = [base + child, base + leave[:, None] + rule.free[cand][None, :]]
        scores = [acoustic + prior for prior in priors]

        # A beam whose parent is also a beam takes in the parent's extension.
        cand_l = cand.tolist()
        cand_pos = {c: p for p, c in enumerate(cand_l)}
        pnb_list = stay_pnb.tolist()
        merged = False
        for j in range(k):
            ref = parents[j]
            if ref is None:
                continue
            i = index_of.get(ref[0])  # type: ignore[arg-type]
            pos = cand_pos.get(ref[1])
            if i is None or pos is None:
                continue
            sc = scores[ref[2]]
            if sc[i, pos] == NEG_INF:
                continue
            v = float(acoustic[i, pos])
            if v > pnb_list[j]:
                new_frames[j] = frames[i] + (t,)
            pnb_list[j] = _lse(pnb_list[j], v)
            sc[i, pos] = NEG_INF
            merged = True
        if merged:
            stay_pnb = np.array(pnb_list)

        # Keep the best beam_width of the stays and the extensions.
        flat = np.concatenate([np.logaddexp(stay_pb, stay_pnb) + lm, *(s.ravel() for s in scores)])
        if flat.size > beam_width:
            top = np.argpartition(-flat, beam_width - 1)[:beam_width]
            top = top[np.argsort(-flat[top])]
        else:
            top = np.argsort(-flat)
        if flat[top[0]] == NEG_INF:  # every extension was forbidden and nothing survives
            return [], tree_parent, tree_class
        top = top[flat[top] > flat[top[0]] + BEAM_PRUNE_LOGP]
        stay = top < k
        rem = np.where(stay, 0, top - k)
        kind = rem // (k * n_cand)
        rem = rem % (k * n_cand)
        src = np.where(stay, top, rem // n_cand)
        pos = rem % n_cand
        ext_c = cand[pos]
        n_pb = np.where(stay, stay_pb[src], NEG_INF)
        n_pnb = np.where(stay, stay_pnb[src], acoustic[src, pos])
        n_last = np.where(stay, last[src], ext_c)
        if rule is None:
            ext_lm = priors[0][src, pos]
        else:
            ext_lm = np.where(kind == 0, priors[0][src, pos], priors[1][src, pos])
        n_lm = np.where(stay, lm[src], ext_lm)

        o_nodes: list[int] = []
        o_states: list[str | None] = []
        o_frames: list[tuple[int, ...]] = []
        o_parents: list[tuple[object, int, int] | None] = []
        o_contexts: list[str] = []
        for is_stay, i, c, kd in zip(
            stay.tolist(), src.tolist(), ext_c.tolist(), kind.tolist(), strict=True
        ):
            if is_stay:
                o_nodes.append(nodes[i])
                o_states.append(states[i])
                o_frames.append(new_frames[i])
                o_parents.append(parents[i])
                o_contexts.append(contexts[i])
                continue
            parent_node = nodes[i]
            node = tree_index.get((parent_node, c), -1)
            if node < 0:
                node = len(tree_parent)
                tree_index[(parent_node, c)] = node
                tree_parent.append(parent_node)
                tree_class.append(c)
            o_nodes.append(node)
            if rule is None:
                o_states.append(None)
            else:
                o_states.append(rule.child(states[i], c) if kd == 0 else "")  # type: ignore[arg-type]
            o_frames.append(frames[i] + (t,))
            o_parents.append((keys[i], c, kd))
            o_contexts.append(fusion.next_context(contexts[i], chars[c - 1]) if fusion else "")
        if rule is not None:
            # Two routes can reach one (prefix, state) beam; add them up.
            o_keys = list(zip(o_nodes, o_states, strict=True))
            if len(set(o_keys)) < len(o_keys):
                first: dict[object, int] = {}
                keep: list[int] = []
                for r, key in enumerate(o_keys):
                    f = first.get(key)
                    if f is None:
                        first[key] = r
                        keep.append(r)
                    else:
                        n_pb[f] = np.logaddexp(n_pb[f], n_pb[r])
                        n_pnb[f] = np.logaddexp(n_pnb[f], n_pnb[r])
                n_pb, n_pnb, n_last, n_lm = n_pb[keep], n_pnb[keep], n_last[keep], n_lm[keep]
                o_nodes = [o_nodes[r] for r in keep]
                o_states = [o_states[r] for r in keep]
                o_frames = [o_frames[r] for r in keep]
                o_parents = [o_parents[r] for r in keep]
                o_contexts = [o_contexts[r] for r in keep]
        nodes, states, frames, parents = o_nodes, o_states, o_frames, o_parents
        contexts = o_contexts
        pb, pnb, last, lm = n_pb, n_pnb, n_last, n_lm

    total = np.logaddexp(pb, pnb)
    finals = [
        _Final(n, s, f, float(total[i]), float(lm[i]))
        for i, (n, s, f) in enumerate(zip(nodes, states, frames, strict=True))
    ]
    return finals, tree_parent, tree_class


def _text(node: int, tree_parent: list[int], tree_class: list[int], chars: str) -> str:
    out: list[str] = []
    while node > 0:
        out.append(chars[tree_class[node] - 1])
        node = tree_parent[node]
    return "".join(reversed(out))


def beam_search(
    probs: np.ndarray,
    charset: CharsetLike,
    beam_width: int = 16,
    top_n: int = 5,
    fusion: Fusion | None = None,
    before: str = "",
) -> list[Decoded]:
    """N-best CTC prefix beam search, most probable first.

    Each `Decoded.prob` is the labelling's raw probability (summed over its
    alignments), not renormalised over the returned list. With a `fusion`, beams are
    ranked by that probability plus the character language model's score, read after
    the line's text `before` these frames.
    """
    lp = _log_probs(probs, charset)
    if lp.shape[0] == 0:
        return [Decoded("", 1.0, ())]
    chars = charset.chars
    finals, parent, cls = _prefix_beam(lp, beam_width, None, fusion, before, chars)
    if not finals:  # unreachable for softmax rows, kept so callers can index [0]
        return [Decoded("", 0.0, ())]
    finals.sort(key=lambda f: f.logp + f.lm, reverse=True)
    return [
        Decoded(_text(f.node, parent, cls, chars), math.exp(f.logp), f.frames)
        for f in finals[: max(1, top_n)]
    ]


def lexicon_beam_search(
    probs: np.ndarray,
    charset: CharsetLike,
    lexicon: Lexicon,
    beam_width: int = 16,
    top_n: int = 5,
    fusion: Fusion | None = None,
    before: str = "",
) -> list[Decoded]:
    """N-best prefix beam search whose words (letter runs) are words of `lexicon`.

    Matching ignores case; other characters (digits, punctuation, space) may stand
    between words freely. Readings are ranked by acoustic log probability plus the
    lexicon's frequency prior (if it has one) and the `fusion`'s score (if given);
    `prob` is the acoustic probability. If no beam ends on a whole word, falls back
    to `beam_search`.
    """
    lp = _log_probs(probs, charset)
    if lp.shape[0] == 0:
        return [Decoded("", 1.0, ())]
    rule = _LexiconRule(lexicon, charset.chars)
    chars = charset.chars
    finals, parent, cls = _prefix_beam(lp, beam_width, rule, fusion, before, chars)
    merged: dict[str, tuple[float, float, tuple[int, ...], float]] = {}
    for f in finals:
        leave = rule.transitions(f.state)[1]  # type: ignore[arg-type]
        if leave == NEG_INF:
            continue  # ends inside a word
        text = _text(f.node, parent, cls, chars)
        score = f.logp + f.lm + leave
        prev = merged.get(text)
        if prev is None:
            merged[text] = (score, f.logp, f.frames, score)
        else:
            frames = f.frames if score > prev[3] else prev[2]
            merged[text] = (
                _lse(prev[0], score),
                _lse(prev[1], f.logp),
                frames,
                max(score, prev[3]),
            )
    if not merged:
        return beam_search(probs, charset, beam_width, top_n, fusion, before)
    ranked = sorted(merged.items(), key=lambda kv: kv[1][0], reverse=True)
    return [Decoded(t, math.exp(v[1]), v[2]) for t, v in ranked[: max(1, top_n)]]


# -- exact labelling probability ----------------------------------------------------------------


def sequence_prob(probs: np.ndarray, charset: CharsetLike, text: str) -> float:
    """P(text | probs) by the CTC forward algorithm (exact, all alignments).

    Characters outside the charset make the probability 0.
    """
    p = _check_probs(probs, charset)
    return math.exp(float(_sequences_logp([p], charset.chars, [text])[0]))


def _sequences_logp(spans: Sequence[np.ndarray], chars: str, texts: Sequence[str]) -> np.ndarray:
    """log P(texts[i] | spans[i]) for many probability matrices at once (CTC forward).

    `spans` are ``T_i x C`` probability matrices (not logs). All texts go through one
    forward pass: at frame t only the spans longer than t are updated, so a batch of
    lines' words costs one loop over the longest word's frames rather than a loop per
    word. The forward variables are kept in the probability domain, rescaled to sum 1
    at each frame, with the scales summed in log space.
    """
    out = np.full(len(spans), NEG_INF)
    index = {ch: k for k, ch in enumerate(chars, start=1)}
    rows: list[int] = []
    labels: list[list[int]] = []
    for i, (span, text) in enumerate(zip(spans, texts, strict=True)):
        try:
            lab = [index[ch] for ch in text]
        except KeyError:
            continue  # a character the model cannot write: probability 0
        if span.shape[0] == 0:
            out[i] = 0.0 if not lab else NEG_INF
            continue
        rows.append(i)
        labels.append(lab)
    if not rows:
        return out
    # Longest spans first: the spans still running at frame t are a prefix of the rows.
    n_frames = np.array([spans[i].shape[0] for i in rows])
    order = np.argsort(-n_frames, kind="stable")
    rows = [rows[j] for j in order]
    labels = [labels[j] for j in order]
    n_frames = n_frames[order]
    m = len(rows)
    n_labels = np.array([len(lab) for lab in labels])
    size = 2 * int(n_labels.max()) + 1
    ext = np.zeros((m, size), dtype=np.int64)
    for j, lab in enumerate(labels):
        ext[j, 1 : 2 * len(lab) : 2] = lab
    # A skip over a blank is allowed into a character that differs from the one two back.
    skip = np.zeros((m, size))
    skip[:, 3::2] = ext[:, 3::2] != ext[:, 1:-2:2]
    flat = np.concatenate([spans[i] for i in rows])
    first_row = np.concatenate([[0], np.cumsum(n_frames)[:-1]])
    alpha = flat[first_row[:, None], ext]
    alpha[:, 2:] = 0.0  # a path starts with the blank or the first character
    alpha[n_labels == 0, 1:] = 0.0
    logscale = np.zeros(m)
    running = np.searchsorted(-n_frames, -np.arange(int(n_frames[0])), side="left")
    _rescale(alpha, logscale)
    for t in range(1, int(n_frames[0])):
        k = int(running[t])  # spans with more than t frames
        a = alpha[:k]
        step = a.copy()
        step[:, 1:] += a[:, :-1]
        step[:, 2:] += a[:, :-2] * skip[:k, 2:]
        step *= flat[(first_row[:k] + t)[:, None], ext[:k]]
        alpha[:k] = step
        _rescale(alpha[:k], logscale[:k])
    last = np.arange(m)
    end = alpha[last, 2 * n_labels] + np.where(
        n_labels > 0, alpha[last, np.maximum(2 * n_labels - 1, 0)], 0.0
    )
    with np.errstate(divide="ignore"):
        out[rows] = logscale + np.log(end)
    return out


def _rescale(alpha: np.ndarray, logscale: np.ndarray) -> None:
    """Scale the rows of `alpha` to sum 1 in place, adding their log scales to `logscale`."""
    total = alpha.sum(axis=1)
    dead = total <= 0.0
    if dead.any():  # nothing can be read here: the probability is 0 from now on
        total[dead] = 1.0
        logscale[dead] = NEG_INF
    alpha /= total[:, None]
    logscale += np.log(total)


# -- words --------------------------------------------------------------------------------------


def _decode(
    probs: np.ndarray,
    charset: CharsetLike,
    decoder: str,
    beam_width: int,
    top_n: int,
    lexicon: Lexicon | None,
    fusion: Fusion | None = None,
    before: str = "",
) -> list[Decoded]:
    if decoder == "greedy":
        return [greedy(probs, charset)]
    if decoder == "beam":
        return beam_search(probs, charset, beam_width, top_n, fusion, before)
    if decoder == "lexicon":
        if lexicon is None:
            raise DecodeError("the lexicon decoder needs a lexicon (set model.lexicon)")
        return lexicon_beam_search(probs, charset, lexicon, beam_width, top_n, fusion, before)
    raise DecodeError(f"unknown decoder {decoder!r}; use greedy, beam or lexicon")


def read_line(
    probs: np.ndarray,
    charset: CharsetLike,
    decoder: DecoderName = "beam",
    beam_width: int = 16,
    alternatives: int = 5,
    lexicon: Lexicon | None = None,
    *,
    min_alternative_prob: float = MIN_ALTERNATIVE_PROB,
    sure_prob: float = SURE_WORD_PROB,
    line_pass: LinePass = "greedy",
    fusion: Fusion | None = None,
) -> LineReading:
    """Decode a line and read each word with a confidence and alternative spellings.

    A first pass finds the words: the line's best path (`line_pass="greedy"`, the
    default) or the decoder's best reading of the whole line (`line_pass="decoder"`)
    is split at spaces. Each word is then read again on its own frame span (from the
    space before it to the frame before the space after it, with spaces counted as
    blank there):
    - beam / lexicon: the span's N-best readings (`WORD_POOL` of them or `alternatives`
      if more, found with a beam at least that wide, lexicon-bound for the lexicon
      decoder) plus the first pass's word are normalised to posteriors. After a
      greedy first pass the word becomes the span's best reading by the decoder's
      ranking (with the lexicon's prior); after a decoder pass it stays. Its
      posterior is its confidence, and up to `alternatives` readings of at least
      `min_alternative_prob` are kept, the word first. The greedy first pass reads
      the Hooker validation lines as well as a whole-line beam in about half the time
      (`bench/line_pass.py`), because the beam then runs once over each word rather
      than over the line and again over each word.
      A word whose own probability on the span is at least `sure_prob` skips that
      search (its alternatives could share at most 1 - `sure_prob`): its confidence
      is that probability and it is its only alternative.
    - greedy: the confidence is the exact CTC probability of the word on its span
      and the only alternative is the word itself (fast path, no search).
    Line confidence is the mean of the word confidences (for a line read as empty,
    the probability of the empty reading).
    """
    return read_lines(
        [probs],
        charset,
        decoder,
        beam_width,
        alternatives,
        lexicon,
        min_alternative_prob=min_alternative_prob,
        sure_prob=sure_prob,
        line_pass=line_pass,
        fusion=fusion,
    )[0]


def read_lines(
    probs: Sequence[np.ndarray],
    charset: CharsetLike,
    decoder: DecoderName = "beam",
    beam_width: int = 16,
    alternatives: int = 5,
    lexicon: Lexicon | None = None,
    *,
    min_alternative_prob: float = MIN_ALTERNATIVE_PROB,
    sure_prob: float = SURE_WORD_PROB,
    line_pass: LinePass = "greedy",
    fusion: Fusion | None = None,
) -> list[LineReading]:
    """`read_line` for several lines (a batch of crops, the lines of a page).

    The result is the same as reading each line alone; the exact probabilities of
    all the lines' words are computed in one vectorised pass, which is most of
    greedy decoding's cost when done word by word.
    """
    if line_pass not in LINE_PASSES:
        raise DecodeError(f"unknown line pass {line_pass!r}; use decoder or greedy")
    two_pass = line_pass == "greedy" and decoder != "greedy"
    firsts = [
        _first_pass(p, charset, decoder, beam_width, lexicon, two_pass, fusion) for p in probs
    ]
    texts = [f.best.text[a:b] for f in firsts for a, b in f.spans]
    spans = [s for f in firsts for s in f.word_spans]
    confs = np.exp(_sequences_logp(spans, charset.chars, texts)).tolist()
    out = []
    k = 0
    for f in firsts:
        n = len(f.spans)
        out.append(
            _second_pass(
                f,
                confs[k : k + n],
                charset,
                decoder,
                beam_width,
                alternatives,
                lexicon,
                min_alternative_prob,
                sure_prob,
                pick_best=two_pass,
                fusion=fusion,
            )
        )
        k += n
    return out


@dataclass(frozen=True)
class _FirstPass:
    """A line's first reading, split into words with each word's frame span."""

    best: Decoded
    spans: list[tuple[int, int]]  # character ranges of the words in best.text
    bounds: list[tuple[int, int]]  # first and last frame of each word's span
    word_spans: list[np.ndarray]  # each span's probabilities, spaces moved to the blank


def _first_pass(
    probs: np.ndarray,
    charset: CharsetLike,
    decoder: str,
    beam_width: int,
    lexicon: Lexicon | None,
    greedy_pass: bool,
    fusion: Fusion | None = None,
) -> _FirstPass:
    p = _check_probs(probs, charset)
    if greedy_pass or decoder == "greedy":
        best = _best_path(p, charset.chars)
    else:
        best = _decode(p, charset, decoder, beam_width, 1, lexicon, fusion)[0]
    text = best.text
    spans = _word_spans(text)
    space = charset.chars.find(" ") + 1  # 0 when the charset has no space
    n_frames = p.shape[0]
    bounds: list[tuple[int, int]] = []
    word_spans: list[np.ndarray] = []
    for a, b in spans:
        lo = best.frames[a - 1] if a > 0 else 0
        hi = best.frames[b] - 1 if b < len(text) else n_frames - 1
        hi = max(hi, lo)
        span = p[lo : hi + 1].copy()
        if space:
            span[:, 0] += span[:, space]
            span[:, space] = 0.0
        bounds.append((lo, hi))
        word_spans.append(span)
    return _FirstPass(best, spans, bounds, word_spans)


def _second_pass(
    first: _FirstPass,
    confs: Sequence[float],
    charset: CharsetLike,
    decoder: str,
    beam_width: int,
    alternatives: int,
    lexicon: Lexicon | None,
    min_alternative_prob: float,
    sure_prob: float,
    pick_best: bool,
    fusion: Fusion | None = None,
) -> LineReading:
    """The line's words with confidences (`confs`: each word's probability on its span)."""
    best = first.best
    text = best.text
    if not first.spans:
        return LineReading(text, best.prob, ())
    pitch = _char_pitch(text, best.frames)
    words: list[WordReading] = []
    pieces: list[str] = []
    done = 0
    for (a, b), (lo, hi), span, conf in zip(
        first.spans, first.bounds, first.word_spans, confs, strict=True
    ):
        word = text[a:b]
        alts: tuple[tuple[str, float], ...] = ((word, conf),)
        if decoder != "greedy" and conf < sure_prob:
            word, conf, alts = _word_alternatives(
                span,
                charset,
                word,
                conf,
                decoder,
                beam_width,
                lexicon,
                alternatives,
                min_alternative_prob,
                pick_best=pick_best,
                fusion=fusion,
                before="".join(pieces) + text[done:a],
            )
        pieces += [text[done:a], word]
        done = b
        first_frame, final = best.frames[a], best.frames[b - 1]
        half = pitch / 2
        start = max(lo + (1 if a > 0 else 0), int(round(first_frame - half)))
        end = min(hi, int(round(final + half)))
        words.append(WordReading(word, conf, min(start, first_frame), max(end, final), alts))
    confidence = sum(w.confidence for w in words) / len(words)
    return LineReading("".join(pieces) + text[done:], confidence, tuple(words))


def _word_spans(text: str) -> list[tuple[int, int]]:
    """Character ranges [a, b) of the space-separated words of `text`."""
    spans = []
    a = None
    for i, ch in enumerate(text):
        if ch == " ":
            if a is not None:
                spans.append((a, i))
                a = None
        elif a is None:
            a = i
    if a is not None:
        spans.append((a, len(text)))
    return spans


def _char_pitch(text: str, frames: Sequence[int]) -> float:
    """Median frame distance between neighbouring characters of the same word (2 if unknown)."""
    gaps = [
        frames[i + 1] - frames[i]
        for i in range(len(text) - 1)
        if text[i] != " " and text[i + 1] != " "
    ]
    return float(np.median(gaps)) if gaps else 2.0


def _word_alternatives(
    span: np.ndarray,
    charset: CharsetLike,
    word: str,
    word_prob: float,
    decoder: str,
    beam_width: int,
    lexicon: Lexicon | None,
    alternatives: int,
    min_prob: float,
    pick_best: bool = False,
    fusion: Fusion | None = None,
    before: str = "",
) -> tuple[str, float, tuple[tuple[str, float], ...]]:
    """The word, its posterior and its alternatives on a word's frame span.

    `word_prob` is P(word | span), which the caller has already computed.

    With `pick_best`, the word is the span's best reading by the decoder's own ranking
    (for the lexicon decoder that includes the frequency prior) unless the span reads
    as nothing; otherwise it is `word`.
    """
    n = max(WORD_POOL, alternatives)
    pool = _decode(span, charset, decoder, max(beam_width, n), n, lexicon, fusion, before)
    if pick_best and pool and pool[0].text:
        word = pool[0].text
    probs = {d.text: d.prob for d in pool}
    probs.setdefault(word, word_prob)  # a word pool[0] replaced is in the pool already
    # What ranked the pool weighs in on the posteriors too, so that they agree with the
    # decoder's choice: the language model and, for the lexicon decoder, the word list's
    # frequency prior (a reading outside the list counts as its rarest word). Without
    # the prior a word chosen for its frequency could carry less posterior than an
    # alternative the ink favours, and the confidence and the index's weights would
    # contradict the reading. In log space, shifted so that the likeliest weighs 1.
    use_prior = decoder == "lexicon" and lexicon is not None and lexicon.prior_weight > 0
    if fusion is not None or use_prior:
        chars = charset.chars
        logw = {}
        for t, v in probs.items():
            w = math.log(v) if v > 0 else NEG_INF
            if w > NEG_INF and fusion is not None:
                w += fusion.score(before, t, chars)
            if w > NEG_INF and use_prior:
                w += lexicon.log_prior(word_key(t))  # type: ignore[union-attr]
            logw[t] = w
        top = max(logw.values())
        if top > NEG_INF:
            probs = {t: math.exp(w - top) for t, w in logw.items()}
    total = sum(probs.values())
    if total <= 0:
        return word, 0.0, ((word, 0.0),)
    posterior = {t: v / total for t, v in probs.items()}
    conf = posterior[word]
    # Readings that differ only in case or in punctuation around the letters (`where`,
    # `Where`, `-where`, `where.`) are one word to a searcher: they are merged, under
    # the likeliest spelling with their summed posterior, so the alternatives hold
    # distinct words; the word's own variants add nothing to it and are left out.
    merged: dict[str, tuple[str, float]] = {}
    own = word_key(word)
    for t, q in posterior.items():
        key = word_key(t)
        if not key or key == own:
            continue
        best, total_q = merged.get(key, (t, 0.0))
        merged[key] = (best if posterior[best] >= q else t, total_q + q)
    others = sorted(
        ((t, q) for t, q in merged.values() if q >= min_prob),
        key=lambda tq: tq[1],
        reverse=True,
    )
    keep = max(1, alternatives)
    return word, conf, ((word, conf), *others[: keep - 1])


def word_key(text: str) -> str:
    """What a reading of a word is for search: case-folded, outer punctuation stripped."""
    return text.strip(_OUTER_PUNCTUATION).casefold()
