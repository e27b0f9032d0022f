"""Page -> text blocks -> lines -> words, by classic image processing.

The page is binarised (darkness measured against the local paper: a faint page and
pale writing away from darker ink are found, while the blur around strokes, writing
showing through from the back and faint ruled lines are not), long rules and box
outlines are removed, and the connected components are measured. Drawings are set
apart from the writing: frames, circles and other loops round an empty space larger
than the letters nearby, and lone straight slanted strokes (arrows). The writing is
smoothed much more along than across the lines; the crest of each ridge, where there
is writing, becomes a line seed, pieces of one line separated by a wide space are
linked again when level with each other, and no line is joined across the side of a
frame or a circle. Every ink pixel then goes to its nearest
seed, except that a component mostly in one line goes there whole (a descender that
dips toward the next line stays with its word; two lines touching through a loop are
split where they meet). A line is split where a gutter runs between blocks set side by
side. Words are cut at the gaps in a line's x-height band that are wide for that line's
writing. Lines are grouped into blocks (paragraphs, whiteboard clusters, columns) and
put in reading order with a recursive XY cut. Everything is NumPy/OpenCV.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import cv2
import numpy as np

from recognizer.preprocess import PreparedPage, prepare_page
from recognizer.transcript import BBox

log = logging.getLogger(__name__)

#: Pages are segmented with their text about this many pixels high (median component).
WORK_TEXT_HEIGHT = 22.0
#: ... but never with a longer side than this (speed) nor shorter than this.
WORK_MAX_SIDE = 1600


@dataclass(frozen=True)
class LineBox:
    """One text line: its box, its word boxes in reading order, and its block number."""

    bbox: BBox
    words: tuple[BBox, ...]
    block: int


def segment_page(image: np.ndarray) -> list[LineBox]:
    """Lines and words of a page photo or scan (BGR or gray uint8), in reading order.

    Boxes are (x, y, w, h) in pixels of `image`: the page is normalised, rectified and
    deskewed for segmentation and the boxes are mapped back.
    """
    prepared = prepare_page(image)
    return [to_original(line, prepared) for line in segment_lines(prepared.gray)]


def to_original(line: LineBox, prepared: PreparedPage) -> LineBox:
    """A `LineBox` found on `prepared.gray`, in original image coordinates."""
    return LineBox(
        prepared.box_to_original(line.bbox),
        tuple(prepared.box_to_original(w) for w in line.words),
        line.block,
    )


def _ink_threshold(gray: np.ndarray, top: float = 200.0) -> float:
    t, _ = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    # The background is flat after normalising; Otsu only needs bounds for empty pages
    # (threshold drifts into paper noise) and for very heavy ink.
    return float(np.clip(t, 110, top))


def binarize(gray: np.ndarray) -> np.ndarray:
    """Ink mask (uint8 0/1) of a normalised page (dark ink on flat white), plain threshold.

    Hysteresis: a stroke is ink when it is below the Otsu threshold and somewhere also
    clearly darker than it, so blotches of paper texture that only just pass the
    threshold are not taken for writing. Good enough to measure the writing size;
    `binarize_page` is the segmentation's own.
    """
    t = _ink_threshold(gray, top=_faint_top(gray))
    ink = (gray < t).astype(np.uint8)
    if not ink.any():
        return ink
    core = float(np.percentile(gray[ink > 0], 5))
    strong_t = t - 0.4 * max(0.0, t - core)
    n, labels = cv2.connectedComponents(ink, connectivity=8)
    strong = np.bincount(labels[gray < strong_t], minlength=n) > 0
    strong[0] = False
    return strong[labels].astype(np.uint8)


#: Binarisation, in text heights (th) of the page or as fractions of stroke darkness.
SMOOTH_SIGMA = 1.0  # pixels: noise smoothing before anything else
BACKGROUND_KERNEL = 0.5  # th: the local paper level is a closing this wide
NOISE_K, STRONG_K = 4.0, 8.0  # noise spreads: any ink / a stroke's core
FAINT_NOISE_K = 4.0  # a faint page's ink threshold stays this many noise spreads off paper
HALO_NEAR, HALO_FAR = 0.12, 0.3  # th: radius of the local stroke maximum
HALO = 0.5  # a stroke's edge is where it is half as dark as the stroke nearby
FAINT_SPACE = 1.0  # th: faint writing counts this far from the page's ink
FAINT_SOURCE = 0.8  # ... ink that is this dark (of the darkest strokes) keeps it away
FAINT_MIN, FAINT_CORE = 0.2, 0.6  # faint writing: of the darkest strokes' darkness
RULE_FILL = 0.35  # a rule: thin straight ink along this share of 15 th


def binarize_page(gray: np.ndarray, th: float) -> np.ndarray:
    """Ink mask (uint8 0/1) of a normalised page whose writing is about `th` pixels high.

    Darkness is measured against the local paper (a closing of the lightly smoothed
    page), so shading and blotches do not count. Two kinds of ink:

    - the page's own: darker than its ink threshold (Otsu, raised on a faint page as
      far as its paper noise allows), trimmed at half the darkness of the stroke right
      there, so the blur around a stroke does not fatten it and close word gaps;
    - faint writing away from that ink (a light marker, a pale block), at half the
      darkness of its own strokes, when it is not too faint for the page: writing from
      the back of the sheet showing through stays out, so do faint ruled lines.
    """
    k = max(5, int(round(BACKGROUND_KERNEL * th))) | 1
    g = cv2.GaussianBlur(gray, (0, 0), SMOOTH_SIGMA)
    close = cv2.morphologyEx(g, cv2.MORPH_CLOSE, np.ones((k, k), np.uint8))
    d = cv2.subtract(close, g)
    level, spread = _noise(g[::2, ::2], close[::2, ::2], d[::2, ::2], block=8)
    above = d > level + NOISE_K * spread
    if not above.any():
        return np.zeros(gray.shape, np.uint8)
    t = _ink_threshold(gray, top=_faint_top(gray))
    dark = gray < t
    own = dark & above & (d >= _scaled(_local_max(d, HALO_NEAR * th), HALO))
    # Statistics on every other pixel both ways: plenty, and a quarter of the work.
    darkest = float(np.percentile(d[::2, ::2][above[::2, ::2]], 90))
    own_s = own[::2, ::2]
    if own_s.any():
        core = float(np.percentile(gray[::2, ::2][own_s], 5))
        strong_px = gray < t - 0.4 * max(0.0, t - core)
    else:
        strong_px = np.zeros_like(own)
    source = (own & (d > FAINT_SOURCE * darkest)).astype(np.uint8)
    near = _local_max(source, FAINT_SPACE * th) > 0
    faint = above & ~near & (d > FAINT_MIN * darkest)
    faint &= d >= _scaled(_local_max(d, HALO_FAR * th), HALO)
    ink = own | faint
    strong_px |= faint & (d > max(level + STRONG_K * spread, FAINT_CORE * darkest))
    rules = _rule_mask(above, th)
    if rules is not None:
        # On ruled lines only ink darker than the page's plain ink threshold counts (not
        # raised for a faint page: its rules are as faint as its writing); a dark rule
        # is then removed with the other long straight strokes.
        ruled = gray < min(t, _ink_threshold(gray))
        ink = np.where(rules, ruled, ink)
        strong_px &= ~rules | ruled
    n, labels = cv2.connectedComponents(ink.astype(np.uint8), connectivity=8)
    strong = np.bincount(labels[strong_px], minlength=n) > 0
    strong[0] = False
    return np.take(strong.astype(np.uint8), labels)


def _scaled(a: np.ndarray, f: float) -> np.ndarray:
    return cv2.convertScaleAbs(a, alpha=f)


def _faint_top(gray: np.ndarray) -> float:
    """Highest ink threshold the page allows: 200, or more on a faint but quiet page."""
    paper, noise = _paper_noise(gray[::2, ::2], block=8)
    return max(200.0, paper - FAINT_NOISE_K * noise)


def _local_max(a: np.ndarray, radius: float) -> np.ndarray:
    r = max(1, int(round(radius)))
    return cv2.dilate(a, np.ones((2 * r + 1, 2 * r + 1), np.uint8))


def _paper_noise(g: np.ndarray, block: int = 16) -> tuple[float, float]:
    """Paper level and noise of a page: its quietest blocks that are not washed out."""
    h, w = g.shape
    bh, bw = h // block, w // block
    if bh < 2 or bw < 2:
        return 255.0, 15.0
    gf = g[: bh * block, : bw * block].astype(np.float32)
    mean = cv2.resize(gf, (bw, bh), interpolation=cv2.INTER_AREA)
    sq = cv2.resize(gf * gf, (bw, bh), interpolation=cv2.INTER_AREA)
    std = np.sqrt(np.maximum(0.0, sq - mean * mean))
    sel = mean < 250
    if sel.sum() < max(8, 0.05 * sel.size):
        # Paper washed out to white nearly everywhere: nothing to measure, no change.
        return 255.0, 15.0
    quiet = std[sel] <= np.percentile(std[sel], 25)
    return float(np.median(mean[sel][quiet])), max(1.0, float(np.percentile(std[sel], 25)))


def _noise(g: np.ndarray, close: np.ndarray, d: np.ndarray, block: int = 16) -> tuple[float, float]:
    """Level and spread of darkness `d` on plain paper: quiet blocks, not washed out, no ink."""
    h, w = d.shape
    bh, bw = h // block, w // block
    if bh < 2 or bw < 2:
        return 0.0, 2.0
    crop = (slice(0, bh * block), slice(0, bw * block))
    df = d[crop].astype(np.float32)
    mean = cv2.resize(df, (bw, bh), interpolation=cv2.INTER_AREA)
    sq = cv2.resize(df * df, (bw, bh), interpolation=cv2.INTER_AREA)
    std = np.sqrt(np.maximum(0.0, sq - mean * mean))
    paper = cv2.resize(close[crop].astype(np.float32), (bw, bh), interpolation=cv2.INTER_AREA)
    dark = (g[crop] < _ink_threshold(g)).astype(np.float32)
    inked = cv2.resize(dark, (bw, bh), interpolation=cv2.INTER_AREA) > 0
    sel = (paper < 250) & ~inked
    if sel.sum() < 8:
        return 0.0, 2.0
    return float(np.percentile(mean[sel], 25)), max(1.0, float(np.percentile(std[sel], 25)))


def _rule_mask(ink: np.ndarray, th: float) -> np.ndarray | None:
    """Where ruled lines and margins run: thin straight strokes along much of 15 heights.

    A pixel is on a thin horizontal stroke when there is no ink a few pixels above and
    below it; a rule is a row where much of a long window is such strokes, even if the
    rule fades in places or writing crosses it. The same goes for columns.
    """
    length = int(15 * th)
    h, w = ink.shape
    if length < 2:
        return None
    reach = max(3, int(round(0.2 * th)))
    u = ink.astype(np.uint8)
    out = None
    for horizontal in (True, False):
        if length >= (w if horizontal else h):
            continue
        ends = np.zeros((2 * reach + 1, 1) if horizontal else (1, 2 * reach + 1), np.uint8)
        ends.flat[0] = ends.flat[-1] = 1
        thin = cv2.bitwise_and(u, 1 - cv2.dilate(u, ends))
        window = (length, 1) if horizontal else (1, length)
        count = cv2.boxFilter(thin, cv2.CV_16U, window, normalize=False)
        rows = (count > RULE_FILL * length).astype(np.uint8)
        if not rows.any():
            continue
        across = (1, 2 * reach + 1) if horizontal else (2 * reach + 1, 1)
        mask = cv2.dilate(rows, np.ones(across[::-1], np.uint8)) > 0
        out = mask if out is None else out | mask
    return out


def remove_rules(ink: np.ndarray, text_height: float | None = None) -> np.ndarray:
    """Ink without long straight horizontal and vertical strokes (ruled paper, box outlines).

    A stroke counts as a rule when it runs straight (within a pixel or two) for 15 text
    heights, or for a fifth of the page when the text height is not known yet.
    """
    h, w = ink.shape
    out = ink.copy()
    for axis in (0, 1):
        span = w if axis == 0 else h
        length = int(max(15 * text_height, 0.2 * span) if text_height else 0.2 * span)
        if length >= span or length < 10:
            continue
        along = (1, length) if axis == 0 else (length, 1)
        across = (3, 1) if axis == 0 else (1, 3)
        # Thicken across first so a rule that drifts by a pixel still reads as straight.
        thick = cv2.dilate(ink, np.ones(across, np.uint8))
        rules = cv2.morphologyEx(thick, cv2.MORPH_OPEN, np.ones(along, np.uint8))
        if rules.any():
            out[cv2.dilate(rules, np.ones((3, 3), np.uint8)) > 0] = 0
    return out


def remove_strokes(ink: np.ndarray, text_height: float) -> np.ndarray:
    """Ink without long straight strokes at any angle (arrows, box edges, underlines).

    Handwriting has no straight stroke as long as four text heights; a drawing has many.
    """
    min_len = max(20, int(4 * text_height))
    segs = cv2.HoughLinesP(
        ink, 1, np.pi / 180, threshold=min_len, minLineLength=min_len, maxLineGap=2
    )
    if segs is None:
        return ink
    out = ink.copy()
    mask = np.zeros_like(ink)
    width = max(3, int(round(0.25 * text_height)) + 2)
    for x0, y0, x1, y1 in segs[:, 0]:
        cv2.line(mask, (int(x0), int(y0)), (int(x1), int(y1)), 1, width)
    out[mask > 0] = 0
    return out


@dataclass(frozen=True)
class _Components:
    labels: np.ndarray  # H x W int32, 0 = background
    x: np.ndarray
    y: np.ndarray
    w: np.ndarray
    h: np.ndarray
    area: np.ndarray


def _components(ink: np.ndarray) -> _Components:
    n, labels, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    s = stats[1:]
    return _Components(
        labels,
        s[:, cv2.CC_STAT_LEFT],
        s[:, cv2.CC_STAT_TOP],
        s[:, cv2.CC_STAT_WIDTH],
        s[:, cv2.CC_STAT_HEIGHT],
        s[:, cv2.CC_STAT_AREA],
    )


def text_height(ink: np.ndarray) -> float:
    """Median height of the page's ink components that are not specks (0 if no ink)."""
    cc = _components(ink)
    keep = (cc.area >= 6) & (cc.h >= 3)
    if not keep.any():
        return 0.0
    # Drawings (a circle round a paragraph, a frame) are no writing: far taller than the
    # typical component, they would win an area-weighted median on their own.
    m0 = float(np.median(cc.h[keep]))
    keep &= (cc.h <= 6 * m0) & (cc.w <= 30 * m0)
    hs = cc.h[keep]
    # Weight by area so i-dots and commas do not drag the scale down.
    order = np.argsort(hs)
    cum = np.cumsum(cc.area[keep][order])
    return float(hs[order][np.searchsorted(cum, cum[-1] / 2)])


def segment_lines(gray: np.ndarray) -> list[LineBox]:
    """Lines and words of a normalised page (dark ink on white), in `gray` coordinates."""
    if gray.ndim != 2 or gray.size == 0:
        raise ValueError(f"expected a non-empty 2-D grayscale page, got shape {gray.shape}")
    H, W = gray.shape
    # The writing size, measured on a reduced copy (plenty for a median height).
    f0 = min(1.0, 1000 / max(H, W))
    probe = gray if f0 == 1.0 else _resize(gray, f0)
    th = text_height(remove_rules(binarize(probe))) / f0
    if th <= 0:
        return []
    # Again on ink binarised for that size (`binarize_page` needs the size): faint
    # writing breaks up under the plain threshold, and the pieces would make it look
    # small; blur around strokes would make it look large.
    th = text_height(remove_rules(binarize_page(probe, th * f0))) / f0 or th
    f = min(1.0, WORK_TEXT_HEIGHT / th, WORK_MAX_SIDE / max(H, W))
    if f < 0.95:
        work = _resize(gray, f)
        th *= f
    else:
        f, work = 1.0, gray
    ink = binarize_page(work, th)
    lines = _segment_ink(ink, th)
    if f != 1.0:
        lines = [_scale_line(line, 1.0 / f, W, H) for line in lines]
    return lines


def _resize(gray: np.ndarray, f: float) -> np.ndarray:
    H, W = gray.shape[:2]
    return cv2.resize(gray, (max(1, round(W * f)), max(1, round(H * f))), cv2.INTER_AREA)


def _scale_line(line: LineBox, s: float, W: int, H: int) -> LineBox:
    def sc(b: BBox) -> BBox:
        x0, y0 = int(np.floor(b[0] * s)), int(np.floor(b[1] * s))
        x1 = min(W, int(np.ceil((b[0] + b[2]) * s)))
        y1 = min(H, int(np.ceil((b[1] + b[3]) * s)))
        return (x0, y0, x1 - x0, y1 - y0)

    return LineBox(sc(line.bbox), tuple(sc(w) for w in line.words), line.block)


def _local_heights(cx: np.ndarray, cy: np.ndarray, h: np.ndarray, k: int = 12) -> np.ndarray:
    """For each component, the median height of its k nearest neighbours (itself included)."""
    n = len(cx)
    if n <= k:
        return np.full(n, float(np.median(h)) if n else 0.0)
    out = np.empty(n, np.float64)
    pts = np.stack([cx, cy], 1).astype(np.float32)
    step = 2048
    for i in range(0, n, step):
        d = ((pts[i : i + step, None, :] - pts[None, :, :]) ** 2).sum(-1)
        idx = np.argpartition(d, k, axis=1)[:, :k]
        out[i : i + step] = np.median(h[idx], axis=1)
    return out


#: A loop drawn round an empty space this many times the height of the writing around it
#: (and of the page's writing) is a drawing.
RING_HOLE = 1.5


def _rings(cc: _Components, th: float) -> np.ndarray:
    """Which components are loops drawn round a large empty space (a circle, a box, a
    cloud): no letter encloses a hole much larger than the letters around it, so a big
    "O" in a heading among letters as big as itself stays writing."""
    out = np.zeros(len(cc.x), bool)
    cand = np.nonzero((cc.w > RING_HOLE * th) & (cc.h > RING_HOLE * th))[0]
    if len(cand) == 0:
        return out
    letters = np.nonzero((cc.area >= 6) & (cc.h >= 3))[0]
    cx = cc.x + cc.w / 2
    cy = cc.y + cc.h / 2
    for i in cand:
        x, y, w, h = int(cc.x[i]), int(cc.y[i]), int(cc.w[i]), int(cc.h[i])
        others = letters[letters != i]
        near = others[np.argsort((cx[others] - cx[i]) ** 2 + (cy[others] - cy[i]) ** 2)[:8]]
        hole = RING_HOLE * max(th, float(np.median(cc.h[near])) if len(near) else th)
        if w <= hole or h <= hole:
            continue
        inside = (cc.labels[y : y + h, x : x + w] != i + 1).astype(np.uint8)
        _, _, stats, _ = cv2.connectedComponentsWithStats(inside, connectivity=4)
        s = stats[1:]
        enclosed = (
            (s[:, cv2.CC_STAT_LEFT] > 0)
            & (s[:, cv2.CC_STAT_TOP] > 0)
            & (s[:, cv2.CC_STAT_LEFT] + s[:, cv2.CC_STAT_WIDTH] < w)
            & (s[:, cv2.CC_STAT_TOP] + s[:, cv2.CC_STAT_HEIGHT] < h)
            & (s[:, cv2.CC_STAT_WIDTH] >= hole)
            & (s[:, cv2.CC_STAT_HEIGHT] >= hole)
        )
        out[i] = bool(enclosed.any())
    return out


#: A drawn straight stroke (an arrow, a line to a note): longer than this many heights of
#: the writing around it, and its ink within STROKE_WIDTH text heights of a straight line.
STROKE_LENGTH, STROKE_WIDTH = 2.5, 0.12


def _straight_strokes(cc: _Components, th: float) -> np.ndarray:
    """Which components are lone straight strokes far longer than the letters around them
    (an arrow between blocks, a line drawn to a note), not running along the writing.

    A letter's long stem has letters of its word next to it, and a dash or an underline
    runs level with the line; an arrow crosses open space at a slant.
    """
    out = np.zeros(len(cc.x), bool)
    cand = np.nonzero(np.hypot(cc.w, cc.h) > STROKE_LENGTH * th)[0]
    if len(cand) == 0:
        return out
    letters = np.nonzero((cc.area >= 6) & (cc.h >= 3))[0]
    cx = cc.x + cc.w / 2
    cy = cc.y + cc.h / 2
    r = max(1, int(round(0.5 * th)))
    for i in cand:
        x, y, w, h = int(cc.x[i]), int(cc.y[i]), int(cc.w[i]), int(cc.h[i])
        others = letters[letters != i]
        near = others[np.argsort((cx[others] - cx[i]) ** 2 + (cy[others] - cy[i]) ** 2)[:8]]
        length_min = STROKE_LENGTH * max(th, float(np.median(cc.h[near])) if len(near) else th)
        if np.hypot(w, h) <= length_min:
            continue
        ys, xs = np.nonzero(cc.labels[y : y + h, x : x + w] == i + 1)
        pts = np.stack([xs, ys], 1).astype(np.float64)
        pts -= pts.mean(0)
        _, axes = np.linalg.eigh(pts.T @ pts / len(pts))
        along, across = pts @ axes[:, 1], np.abs(pts @ axes[:, 0])
        if float(np.ptp(along)) <= length_min or abs(float(axes[1, 1])) < 0.2:
            continue  # short, or level (about 12 degrees or less): a dash, an underline
        length = float(np.ptp(along))
        middle = np.abs(along - (along.min() + 0.5 * length)) <= 0.3 * length
        if float(np.percentile(across[middle], 90)) >= STROKE_WIDTH * th:
            continue  # curved or branching (the ends may be an arrowhead): a letter
        # Alone: little other ink within half a text height of it.
        win = cc.labels[max(0, y - r) : y + h + r, max(0, x - r) : x + w + r]
        own = (win == i + 1).astype(np.uint8)
        zone = cv2.dilate(own, np.ones((2 * r + 1, 2 * r + 1), np.uint8)) > 0
        out[i] = int(((win > 0) & (win != i + 1) & zone).sum()) <= 0.5 * int(own.sum())
    return out


def _segment_ink(ink: np.ndarray, th: float) -> list[LineBox]:
    H, W = ink.shape
    raw = ink
    ink = remove_rules(ink, th)
    cc = _components(ink)
    large = np.maximum(cc.w, cc.h) > 4 * th
    if large.any():
        # Straight strokes this long are drawings; only large components can hold one.
        keep_large = np.concatenate([[False], large])
        big = keep_large[cc.labels].astype(np.uint8)
        cleaned = remove_strokes(big, th)
        if (cleaned != big).any():
            ink = np.where(big > 0, cleaned, ink).astype(np.uint8)
            cc = _components(ink)
    if len(cc.x) == 0:
        return []
    speck = (cc.area < max(4.0, 0.01 * th * th)) | ((cc.h < 0.2 * th) & (cc.w < 0.2 * th))
    fill = cc.area / np.maximum(1, cc.w * cc.h)
    # Frames, arrows and scribbles: large and hollow; board edges and rules: long bars.
    hollow = (np.maximum(cc.h, cc.w) > 6 * th) & (fill < 0.08)
    hollow |= _rings(cc, th)
    hollow |= _straight_strokes(cc, th)
    blob = (cc.h > 8 * th) & (cc.w > 8 * th)
    bar = (
        ((cc.h > 4 * th) & (cc.w * 3 < cc.h))
        | ((cc.h > 1.8 * th) & (cc.w < 0.2 * cc.h))
        | ((cc.w > 6 * th) & (cc.h < 0.3 * th))
    )
    # Scanner edges, board frames, shadows at the border of the picture.
    edge = ((cc.x <= 1) | (cc.y <= 1) | (cc.x + cc.w >= W - 1) | (cc.y + cc.h >= H - 1)) & (
        np.maximum(cc.w, cc.h) > 2 * th
    )
    valid = ~(speck | hollow | blob | bar | edge)
    # Drawings crossing the writing: their pixels close to a line still count for it.
    drawing = (hollow | blob) & ~(bar | edge)
    if not valid.any():
        return []
    keep_cc = np.concatenate([[False], valid])
    body = keep_cc[cc.labels]
    # Drawings count half towards the ridges: writing they touch still forms its line,
    # and a line of nothing but drawing is dropped below.
    keep_draw = np.concatenate([[False], drawing])
    drawn = keep_draw[cc.labels]
    # Writing size around every pixel: each component paints its height over its box.
    sizes = np.zeros((H, W), np.float32)
    for i in np.nonzero(valid & (cc.h >= 0.3 * th))[0]:
        x, y, w, h = int(cc.x[i]), int(cc.y[i]), int(cc.w[i]), int(cc.h[i])
        np.maximum(sizes[y : y + h, x : x + w], h, out=sizes[y : y + h, x : x + w])
    # Rules, frames, circles and long straight strokes: no line runs across one of them.
    # (A lone bar may be a long descender, or a letter's stem broken off.)
    keep_bar = np.concatenate([[False], hollow | blob | edge])
    barrier = ((raw > 0) & (ink == 0)) | keep_bar[cc.labels]
    seed_lbl, nseed, d = _ridge_seeds(
        body.astype(np.float32) + 0.5 * drawn,
        th,
        sizes,
        body.astype(np.uint8),
        barrier.astype(np.uint8),
    )
    if nseed <= 1:
        return []
    # Seeds, nearest-seed map and distances at the reduced scale of the ridges (they are
    # smooth), then brought back to full size.
    small_body = body.astype(np.uint8)
    if d > 1:
        small_body = cv2.resize(
            small_body, (seed_lbl.shape[1], seed_lbl.shape[0]), interpolation=cv2.INTER_AREA
        )
    k = int(th / d) | 1
    # Crests run on past the ends of a line; keep them where there is writing.
    near_ink = cv2.dilate(
        (small_body > 0).astype(np.uint8),
        cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)),
    )
    seed_lbl = np.where(near_ink > 0, seed_lbl, 0).astype(np.int32)
    seeds = (seed_lbl > 0).astype(np.uint8)
    if not seeds.any():
        return []
    # Nearest seed for every pixel (Voronoi over the seeds) and the distance to it.
    dist, vor = cv2.distanceTransformWithLabels(
        1 - seeds, cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_CCOMP
    )
    lut = np.zeros(int(vor.max()) + 1, np.int32)
    sy, sx = np.nonzero(seeds)
    lut[vor[sy, sx]] = seed_lbl[sy, sx]
    near = lut[vor]
    if d > 1:
        near = cv2.resize(near, (W, H), interpolation=cv2.INTER_NEAREST)
        dist = cv2.resize(dist * d, (W, H), interpolation=cv2.INTER_LINEAR)

    # Ink pixels of valid components and drawings, with their component and nearest seed.
    py, px = np.nonzero(body | (drawn & (dist < 0.5 * th)))
    pc = cc.labels[py, px]
    ps = near[py, px]
    # Whole-component assignment when one line holds most of a component.
    ncc = len(cc.x) + 1
    key = pc.astype(np.int64) * nseed + ps
    uniq, counts = np.unique(key, return_counts=True)
    ucc, useed = uniq // nseed, uniq % nseed
    total = np.bincount(pc, minlength=ncc)
    best_share = np.zeros(ncc)
    best_seed = np.zeros(ncc, np.int64)
    order = np.argsort(counts, kind="stable")
    best_share[ucc[order]] = counts[order] / np.maximum(1, total[ucc[order]])
    best_seed[ucc[order]] = useed[order]
    whole = best_share[pc] >= 0.7
    ps = np.where(whole, best_seed[pc], ps)
    # Pixels of components split between lines that lie far from any line (a circle or
    # an arrow drawn through the writing) belong to none.
    far = ~whole & (dist[py, px] > 0.8 * th)
    # Marks nowhere near a line (stray specks, remains of a frame) belong to none.
    closest = np.full(ncc, np.inf)
    np.minimum.at(closest, pc, dist[py, px])
    far |= closest[pc] > 0.8 * th
    ps = np.where(far, 0, ps)

    lines = _collect_lines(px, py, pc, ps, nseed, cc, th, valid, body)
    blocks = _blocks(lines, th)
    return _reading_order(lines, blocks)


#: Smoothing of the ink that turns each text line into one ridge, in text heights.
RIDGE_SIGMA_X = 1.5
RIDGE_SIGMA_Y = 0.35
#: A crest must reach this fraction of the brightest crest within a few text heights.
RIDGE_LOCAL = 0.3
#: A space in the writing wider than this many text heights cuts a crest in two.
RIDGE_REACH = 2.0
#: A drawing separates lines where it runs this steeply: half a text height up or down
#: within a sideways drift of 0.15 text heights each way (about 60 degrees or more).
BARRIER_RISE, BARRIER_DRIFT = 0.5, 0.15


def _ridge_seeds(
    ink: np.ndarray,
    th: float,
    sizes: np.ndarray | None = None,
    writing: np.ndarray | None = None,
    barrier: np.ndarray | None = None,
) -> tuple[np.ndarray, int, int]:
    """Line seeds: the ridges of the ink smoothed much more along than across the lines.

    Smoothed that way, each text line becomes a long bright ridge whose crest follows
    the line's middle through slant and wobble; loops reaching into the next line barely
    move it. Crests are the pixels that are the maximum of their column within a third
    of a text height, and bright enough to be writing, not stray marks; given the
    `writing` mask, only near writing (a space over RIDGE_REACH text heights wide cuts
    them), and given the `barrier` mask of drawings, not across a steep drawn stroke
    away from the writing. Returns the seed labels at a reduced scale, their count, and
    the reduction factor.
    """
    # The smoothing is wide, so it can run on a reduced copy (4 to 8 pixels per height).
    d = max(1, int(th // 6))
    if d > 1:
        ink = cv2.resize(
            ink.astype(np.float32),
            (max(1, ink.shape[1] // d), max(1, ink.shape[0] // d)),
            interpolation=cv2.INTER_AREA,
        )
        th = th / d
    blur = cv2.GaussianBlur(
        ink.astype(np.float32), (0, 0), sigmaX=RIDGE_SIGMA_X * th, sigmaY=RIDGE_SIGMA_Y * th
    )
    r = max(1, int(round(0.3 * th)))
    peak = cv2.dilate(blur, np.ones((2 * r + 1, 1), np.uint8))
    strong = float(np.percentile(blur[blur > 0], 99)) if (blur > 0).any() else 0.0
    # Bright enough for writing, and for the writing around it (so the faint bridge
    # between two columns or blocks is no crest).
    k = int(round(4 * th)) | 1
    local = cv2.dilate(blur, np.ones((max(3, k // 4) | 1, k), np.uint8))
    ridge = (blur >= peak) & (blur > 0.1 * strong) & (blur > RIDGE_LOCAL * local)
    small = None if writing is None else _shrink(writing, ridge.shape) > 0
    if small is not None:
        # Crests run on past the ends of a line, and those of two blocks side by side
        # meet in the space between them: keep crests only near writing (half a text
        # height up or down, RIDGE_REACH / 2 sideways). Pieces of one line separated by
        # a wider space are joined again below, when level and close.
        ridge &= _near(small, 0.5 * RIDGE_REACH * th, 0.5 * th)
    crossing = None if barrier is None else _crossing_strokes(_shrink(barrier, ridge.shape) > 0, th)
    if crossing is not None and small is not None:
        # A crest is cut where it crosses a frame or a circle away from the writing.
        ridge &= ~(
            _near(crossing, 0.15 * th, 0.15 * th, True) & ~_near(small, 0.25 * th, 0.25 * th, True)
        )
    ridge = cv2.dilate(ridge.astype(np.uint8), np.ones((3, 3), np.uint8))
    n, lbl, stats, _ = cv2.connectedComponentsWithStats(ridge, connectivity=8)
    short = stats[:, cv2.CC_STAT_WIDTH] < 0.6 * th
    short[0] = False
    if short.any():
        lbl[short[lbl]] = 0
        n, lbl = cv2.connectedComponents((lbl > 0).astype(np.uint8), connectivity=8)
    if n <= 1:
        return lbl, n, d
    size = np.full(n, th)
    if sizes is not None:
        if d > 1:
            sizes = cv2.resize(sizes, (lbl.shape[1], lbl.shape[0]), interpolation=cv2.INTER_NEAREST)
            sizes = sizes / d
        ys, xs = np.nonzero((lbl > 0) & (sizes > 0))
        ls = lbl[ys, xs]
        cnt = np.bincount(ls, minlength=n)
        mean = np.bincount(ls, sizes[ys, xs], minlength=n) / np.maximum(1, cnt)
        size = np.where(cnt > 0, mean, th)
    lbl, n = _link_seeds(lbl, n, size, crossing, small)
    return lbl, n, d


def _shrink(mask: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """A uint8 mask brought to `shape` (rows, cols); any covered pixel stays on."""
    m = mask.astype(np.uint8)
    if m.shape == shape:
        return m
    return cv2.resize(m, (shape[1], shape[0]), interpolation=cv2.INTER_AREA)


def _near(mask: np.ndarray, rx: float, ry: float, box: bool = False) -> np.ndarray:
    """Pixels within `rx` sideways and `ry` up or down of `mask` (an ellipse, or a box)."""
    kx, ky = 2 * max(1, round(rx)) + 1, 2 * max(1, round(ry)) + 1
    shape = cv2.MORPH_RECT if box else cv2.MORPH_ELLIPSE
    kernel = cv2.getStructuringElement(shape, (kx, ky))
    return cv2.dilate(mask.astype(np.uint8), kernel) > 0


def _crossing_strokes(drawing: np.ndarray, th: float) -> np.ndarray | None:
    """The parts of drawn strokes steep enough to cross a text line (frame sides, the
    sides of a circle), not rules or underlines running along it. None when there are none.

    A stroke is steep where it rises BARRIER_RISE text heights within a sideways drift of
    BARRIER_DRIFT text heights each way.
    """
    if not drawing.any():
        return None
    rw = max(1, int(round(BARRIER_DRIFT * th)))
    rl = max(1, int(round(0.5 * BARRIER_RISE * th)))
    wide = cv2.dilate(drawing.astype(np.uint8), np.ones((1, 2 * rw + 1), np.uint8))
    steep = cv2.morphologyEx(wide, cv2.MORPH_OPEN, np.ones((2 * rl + 1, 1), np.uint8))
    return steep > 0 if steep.any() else None


#: Pieces of one line further apart than this many text heights stay separate lines.
LINK_GAP = 2.5
#: ... or when one's writing is smaller than this share of the other's (a word in capitals,
#: or all ascenders, beside one in small letters is still one line).
LINK_SIZE_RATIO = 0.33
#: ... but up to this many, when writing runs between them at their height with no space
#: as wide as BRIDGE_SPACE writing heights (the crest broke over a struck-out word, a blot).
BRIDGE_GAP, BRIDGE_SPACE = 6.0, 1.0


def _link_seeds(
    seed_lbl: np.ndarray,
    nseed: int,
    size: np.ndarray,
    barrier: np.ndarray | None = None,
    writing: np.ndarray | None = None,
) -> tuple[np.ndarray, int]:
    """Join line pieces separated by a wide word gap: level with each other and close.

    Each piece links to its nearest right neighbour whose left end lies at the height
    of its own right end, when that neighbour's nearest left piece is it in turn, and no
    steep drawn stroke (`barrier`: the side of a frame or a circle) lies between them.
    Given the `writing` mask, pieces further apart are linked too when writing fills the
    space between them at their height.
    """
    sy, sx = np.nonzero(seed_lbl)
    sl = seed_lbl[sy, sx]
    n = nseed
    x0 = np.full(n, np.iinfo(np.int32).max, np.int64)
    x1 = np.zeros(n, np.int64)
    np.minimum.at(x0, sl, sx)
    np.maximum.at(x1, sl, sx)
    # Band centre at each end (within one text height of it).
    reach = size[sl]
    left = sx <= x0[sl] + reach
    right = sx >= x1[sl] - reach
    yl = np.bincount(sl[left], sy[left], n) / np.maximum(1, np.bincount(sl[left], minlength=n))
    yr = np.bincount(sl[right], sy[right], n) / np.maximum(1, np.bincount(sl[right], minlength=n))
    ids = np.arange(1, n)
    if len(ids) < 2:
        return seed_lbl, nseed
    a, b = ids[:, None], ids[None, :]
    hmin = np.minimum(size[a], size[b])
    hmax = np.maximum(size[a], size[b])
    gap = x0[b] - x1[a]
    dy = np.abs(yr[a] - yl[b])
    ok = (
        (a != b)
        & (gap > -0.5 * hmin)
        & (gap < LINK_GAP * hmin)
        & (dy < 0.6 * hmin)
        & (hmin > LINK_SIZE_RATIO * hmax)
        & (x1[b] > x1[a])
    )
    if writing is not None:
        # Further apart, when writing runs all the way between them at their height
        # (the crest broke over a struck-out word or a blot, not over a space).
        far = (
            (a != b)
            & (gap >= LINK_GAP * hmin)
            & (gap < BRIDGE_GAP * hmin)
            & (dy < 0.6 * hmin)
            & (hmin > LINK_SIZE_RATIO * hmax)
        )
        H, W = writing.shape
        for i, j in zip(*np.nonzero(far), strict=True):
            ai, bj = ids[i], ids[j]
            gx0, gx1 = int(x1[ai]) + 1, int(x0[bj])
            h = 0.5 * float(hmin[i, j])
            ya, yb = float(yr[ai]), float(yl[bj])
            gy0 = max(0, int(min(ya, yb) - h))
            gy1 = min(H, int(max(ya, yb) + h) + 1)
            if gy1 <= gy0 or gx1 <= gx0:
                continue
            cols = writing[gy0:gy1, gx0:gx1].any(axis=0)
            edges = np.diff(np.concatenate([[1], cols.astype(np.int8), [1]]))
            runs = np.nonzero(edges == 1)[0] - np.nonzero(edges == -1)[0]
            if len(runs) == 0 or runs.max() < BRIDGE_SPACE * hmin[i, j]:
                ok[i, j] = True
    if barrier is not None and ok.any():
        # No link across a frame or a circle: any of it between the two ends, at their height.
        integ = cv2.integral(barrier.astype(np.uint8))
        H, W = barrier.shape
        for i, j in zip(*np.nonzero(ok), strict=True):
            ai, bj = ids[i], ids[j]
            gx0, gx1 = int(x1[ai]) + 1, int(x0[bj])
            if gx1 <= gx0:
                continue
            h = 0.5 * float(hmin[i, j])
            ya, yb = float(yr[ai]), float(yl[bj])
            gy0 = max(0, int(min(ya, yb) - h))
            gy1 = min(H, int(max(ya, yb) + h) + 1)
            gx0, gx1 = max(0, gx0), min(W, gx1)
            if gy1 > gy0 and gx1 > gx0:
                total = integ[gy1, gx1] - integ[gy0, gx1] - integ[gy1, gx0] + integ[gy0, gx0]
                if total > 0:
                    ok[i, j] = False
    cost = np.where(ok, np.maximum(gap, 0) + 3 * dy, np.inf)
    best_right = np.argmin(cost, axis=1)
    best_left = np.argmin(cost, axis=0)
    parent = np.arange(n)

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for k in range(len(ids)):
        j = best_right[k]
        if np.isfinite(cost[k, j]) and best_left[j] == k:
            parent[find(int(ids[j]))] = find(int(ids[k]))
    roots = np.array([find(i) for i in range(n)])
    _, relabel = np.unique(roots, return_inverse=True)
    return relabel[seed_lbl].astype(np.int32), int(relabel.max()) + 1


@dataclass
class _Line:
    x0: int
    y0: int
    x1: int
    y1: int
    height: float  # typical component height (writing size)
    words: list[BBox]

    @property
    def box(self) -> BBox:
        return (self.x0, self.y0, self.x1 - self.x0, self.y1 - self.y0)


def _collect_lines(
    px: np.ndarray,
    py: np.ndarray,
    pc: np.ndarray,
    ps: np.ndarray,
    nseed: int,
    cc: _Components,
    th: float,
    valid: np.ndarray,
    writing: np.ndarray,
) -> list[_Line]:
    order = np.argsort(ps, kind="stable")
    px, py, pc, ps = px[order], py[order], pc[order], ps[order]
    bounds = np.searchsorted(ps, np.arange(nseed + 1))
    lines: list[_Line] = []
    for s in range(1, nseed):
        a, b = bounds[s], bounds[s + 1]
        if b - a < 3:
            continue
        lx, ly, lc = px[a:b], py[a:b], pc[a:b]
        comps = np.unique(lc) - 1
        if not valid[comps].any():
            continue  # a stretch of drawing with no writing of its own
        if b - a < 0.35 * th * th:
            continue  # less ink than one letter: a smudge or texture
        # Drawing pixels (a circle or a frame round the writing) count only within the
        # writing's own extent: they must not stretch the line beyond it.
        own = valid[lc - 1]
        m = 0.3 * th
        keep = own | (
            (lx >= lx[own].min() - m)
            & (lx <= lx[own].max() + m)
            & (ly >= ly[own].min() - m)
            & (ly <= ly[own].max() + m)
        )
        if not keep.all():
            lx, ly, lc = lx[keep], ly[keep], lc[keep]
            comps = np.unique(lc) - 1
        hs = cc.h[comps[valid[comps]]]
        big = hs[hs >= 0.3 * th]
        if len(big) == 0:
            continue  # only dots and commas: nothing to read
        size = float(np.median(big))
        for part in _split_wide_gaps(lx, ly, size, writing):
            px_, py_, pc_ = lx[part], ly[part], lc[part]
            x0, x1 = int(px_.min()), int(px_.max()) + 1
            y0, y1 = int(py_.min()), int(py_.max()) + 1
            if (x1 - x0) < 0.5 * th and (y1 - y0) < 0.5 * th:
                continue
            words = _words(px_, py_, pc_, x0, x1, size)
            lines.append(_Line(x0, y0, x1, y1, size, words))
    return lines


#: A gap wider than this many writing heights inside a line separates two columns.
COLUMN_GAP = 4.0


#: ... or wider than this, with a gutter above and below it (blocks side by side).
GUTTER_GAP = 2.5
#: Neighbouring lines are looked for this many line heights above and below.
GUTTER_LOOK = 4.0


def _split_wide_gaps(
    lx: np.ndarray, ly: np.ndarray, size: float, writing: np.ndarray
) -> list[np.ndarray]:
    """Pixel masks of the parts of a line between column-wide gaps (usually just one).

    A gap splits the line when it is very wide for its writing, or when it is wide and
    the page is empty of writing above and below it while there is writing beside it
    there: a gutter between blocks set side by side, as on a whiteboard. A wide space
    inside a paragraph has the lines above or below running through it.
    """
    x0 = int(lx.min())
    cols = np.bincount(lx - x0) > 0
    edges = np.diff(np.concatenate([[1], cols.astype(np.int8), [1]]))
    starts, ends = np.nonzero(edges == -1)[0], np.nonzero(edges == 1)[0]
    gaps = [(a, b) for a, b in zip(starts, ends, strict=True) if 0 < a and b < len(cols)]
    widths = np.array([b - a for a, b in gaps], np.float64)
    spaces = widths[widths > 0.25 * size]
    # Wide for this writing and far wider than its word spaces.
    typical = float(np.median(spaces)) if len(spaces) >= 3 else 0.0
    y0, y1 = int(ly.min()), int(ly.max()) + 1
    x1 = int(lx.max()) + 1
    # The gutter must run through the neighbouring lines above and below (up to a few
    # line heights away): down to the far side of the nearest writing each way.
    h = y1 - y0
    look = int(GUTTER_LOOK * h)
    start = max(0, y0 - look)
    above = np.nonzero(writing[start:y0, x0:x1].any(axis=1))[0]
    below = np.nonzero(writing[y1 : y1 + look, x0:x1].any(axis=1))[0]
    beside = len(above) > 0 or len(below) > 0
    top = max(0, start + int(above[-1]) - h) if len(above) else y0
    bottom = y1 + int(below[0]) + h if len(below) else y1
    cuts = []
    for a, b in gaps:
        w = b - a
        q = max(1, int(0.1 * w))
        gx0, gx1 = x0 + a + q, x0 + b - q
        if w > COLUMN_GAP * size and w > 2.5 * typical:
            # Unless the lines both above and below run through it: a wide space inside
            # a paragraph (the end of a sentence, a gap left in a letter).
            if not (writing[top:y0, gx0:gx1].any() and writing[y1:bottom, gx0:gx1].any()):
                cuts.append((a + b) / 2 + x0)
        elif w > GUTTER_GAP * size and w > 2.0 * typical and beside:
            if not writing[top:bottom, gx0:gx1].any():
                cuts.append((a + b) / 2 + x0)
    if not cuts:
        return [np.ones(len(lx), bool)]
    part = np.searchsorted(np.array(cuts), lx)
    return [part == k for k in range(len(cuts) + 1)]


def _words(
    lx: np.ndarray, ly: np.ndarray, lc: np.ndarray, x0: int, x1: int, size: float
) -> list[BBox]:
    """Cut a line into words at the column gaps that are wide for its writing.

    Gaps are measured in the line's middle band (its x-height zone, following the line
    where it drifts up or down), where slanted ascenders and long entry strokes do not
    bridge the space between words. A gap that one connected stroke runs over (a word
    written in one go, a long crossbar) is no word space. The rest split in two classes
    by width, within bounds set by the x-height. Each component then goes whole to the
    word holding its middle, unless it really runs across a cut (touching words), when
    its pixels are split at the cut.
    """
    mid, xh = _middle_band(lx, ly)
    cols = np.bincount(lx[mid] - x0, minlength=x1 - x0) > 0
    # Runs of empty columns strictly inside the line.
    edges = np.diff(np.concatenate([[1], cols.astype(np.int8), [1]]))
    starts = np.nonzero(edges == -1)[0]
    ends = np.nonzero(edges == 1)[0]
    gaps = [(s, e) for s, e in zip(starts, ends, strict=True) if s > 0 and e < len(cols)]
    n = int(lc.max()) + 1
    if gaps:
        # A gap that one component spans (by a few pixels on both sides) is no space.
        c_lo, c_hi = _ranges(lc, lx - x0)
        se = np.array(gaps)
        spanned = ((c_lo[None, :] < se[:, :1] - 3) & (c_hi[None, :] >= se[:, 1:] + 3)).any(1)
        gaps = [g for g, sp in zip(gaps, spanned, strict=True) if not sp]
    thr = _gap_threshold(np.array([e - s for s, e in gaps], np.float64), xh)
    cuts = np.array([x0 + (s + e) / 2 for s, e in gaps if e - s >= thr])
    if len(cuts) == 0:
        return [_box(lx, ly)]
    # The word of each component: where the middle of its middle-band ink lies.
    cnt = np.bincount(lc[mid], minlength=n)
    cx = np.bincount(lc[mid], lx[mid].astype(np.float64), minlength=n) / np.maximum(1, cnt)
    allcnt = np.bincount(lc, minlength=n)
    cx_all = np.bincount(lc, lx.astype(np.float64), minlength=n) / np.maximum(1, allcnt)
    cx = np.where(cnt > 0, cx, cx_all)
    comp_word = np.searchsorted(cuts, cx)
    pix_word = comp_word[lc]
    # Components that run well across a cut are split at it.
    lo = np.full(n, np.inf)
    hi = np.full(n, -np.inf)
    ids, lo_m, hi_m = _ranges(lc[mid], lx[mid], with_ids=True)
    lo[ids], hi[ids] = lo_m, hi_m
    across = np.zeros(n, bool)
    for c in cuts:
        across |= (lo < c - 0.3 * size) & (hi > c + 0.3 * size)
    split = across[lc]
    pix_word = np.where(split, np.searchsorted(cuts, lx), pix_word)
    words = []
    for k in range(len(cuts) + 1):
        sel = pix_word == k
        if sel.any():
            words.append(_box(lx[sel], ly[sel]))
    words.sort(key=lambda b: b[0])
    return words


def _ranges(
    labels: np.ndarray, values: np.ndarray, with_ids: bool = False
) -> tuple[np.ndarray, ...]:
    """Min and max of `values` per distinct label (in label order; with the labels)."""
    order = np.argsort(labels, kind="stable")
    lab, val = labels[order], values[order]
    starts = np.concatenate([[0], np.nonzero(np.diff(lab))[0] + 1])
    lo, hi = np.minimum.reduceat(val, starts), np.maximum.reduceat(val, starts)
    return (lab[starts], lo, hi) if with_ids else (lo, hi)


#: The middle band follows the line's drift over windows this many x-heights wide.
BAND_WINDOW = 8


def _middle_band(lx: np.ndarray, ly: np.ndarray) -> tuple[np.ndarray, float]:
    """Which pixels of a line lie in its x-height zone, and the zone's height.

    The zone is as high as the middle half of the line's ink rows; its position
    follows the mean ink row of windows along the line, so a line that climbs or sags
    keeps its letters' bodies inside it.
    """
    y_lo, y_hi = np.percentile(ly, [25, 75])
    xh = max(2.0, float(y_hi - y_lo))
    win = max(8, int(BAND_WINDOW * xh))
    b = (lx - lx.min()) // win
    nb = int(b.max()) + 1
    if nb > 1:
        cnt = np.bincount(b, minlength=nb)
        whole = float(ly.mean())
        centre = np.where(
            cnt > 0, np.bincount(b, ly.astype(np.float64), minlength=nb) / np.maximum(cnt, 1), whole
        )
        yy = ly - (centre[b] - whole)
    else:
        yy = ly
    mid = (yy >= y_lo) & (yy <= y_hi)
    if mid.sum() < 3:
        mid = np.ones(len(lx), bool)
    return mid, xh


def _box(xs: np.ndarray, ys: np.ndarray) -> BBox:
    x0, y0 = int(xs.min()), int(ys.min())
    return (x0, y0, int(xs.max()) + 1 - x0, int(ys.max()) + 1 - y0)


#: Word-gap threshold bounds and default, in x-heights of the line.
GAP_MIN, GAP_MAX, GAP_DEFAULT = 0.6, 1.1, 1.0


def _gap_threshold(gaps: np.ndarray, xh: float) -> float:
    """Smallest gap that separates words: between-letter and between-word gaps split in two."""
    lo, hi = GAP_MIN * xh, GAP_MAX * xh
    default = GAP_DEFAULT * xh
    if len(gaps) < 2:
        return default
    g = np.sort(gaps)
    # Only trust a clear two-class split; otherwise all gaps are alike.
    if g[-1] < 2.0 * max(g[0], 1.0):
        return default if g[0] < default else float(g[0])
    # 1-D two-class split (Otsu on the gap widths), from cumulative sums.
    n = len(g)
    i = np.arange(1, n)
    c = np.cumsum(g)
    m_a = c[:-1] / i
    m_b = (c[-1] - c[:-1]) / (n - i)
    between = i * (n - i) * (m_a - m_b) ** 2
    k = int(np.argmax(between)) + 1
    return float(np.clip((g[k - 1] + g[k]) / 2, lo, hi))


def _blocks(lines: list[_Line], th: float) -> list[int]:
    """Block number per line: lines stacked closely, overlapping sideways, similar size."""
    n = len(lines)
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(n):
        a = lines[i]
        for j in range(i + 1, n):
            b = lines[j]
            size = max(a.height, b.height)
            if min(a.height, b.height) < 0.5 * size:
                continue
            overlap = min(a.x1, b.x1) - max(a.x0, b.x0)
            if overlap < 0.2 * min(a.x1 - a.x0, b.x1 - b.x0):
                continue
            vgap = max(a.y0, b.y0) - min(a.y1, b.y1)
            if vgap < 2.0 * size:
                parent[find(i)] = find(j)
    roots = [find(i) for i in range(n)]
    ids = {r: k for k, r in enumerate(dict.fromkeys(roots))}
    return [ids[r] for r in roots]


def _reading_order(lines: list[_Line], blocks: list[int]) -> list[LineBox]:
    """Blocks by recursive XY cut (top-to-bottom, then left-to-right); lines by y."""
    groups: dict[int, list[_Line]] = {}
    for line, b in zip(lines, blocks, strict=True):
        groups.setdefault(b, []).append(line)
    boxes = {
        b: (min(x.x0 for x in g), min(x.y0 for x in g), max(x.x1 for x in g), max(x.y1 for x in g))
        for b, g in groups.items()
    }
    ordered = _xy_cut(list(groups), boxes)
    out: list[LineBox] = []
    for k, b in enumerate(ordered):
        for line in sorted(groups[b], key=lambda x: ((x.y0 + x.y1) / 2, x.x0)):
            out.append(LineBox(line.box, tuple(line.words), k))
    return out


def _xy_cut(ids: list[int], boxes: dict[int, tuple[int, int, int, int]]) -> list[int]:
    if len(ids) <= 1:
        return ids
    for axis in (1, 0):  # horizontal cut (rows) first, then vertical (columns)
        lo, hi = (1, 3) if axis == 1 else (0, 2)
        spans = sorted((boxes[i][lo], boxes[i][hi], i) for i in ids)
        groups: list[list[int]] = [[spans[0][2]]]
        reach = spans[0][1]
        for a, b, i in spans[1:]:
            if a >= reach:
                groups.append([i])
            else:
                groups[-1].append(i)
            reach = max(reach, b)
        if len(groups) > 1:
            return [i for g in groups for i in _xy_cut(g, boxes)]
    # No clean cut: top-to-bottom by the top edge.
    return sorted(ids, key=lambda i: (boxes[i][1], boxes[i][0]))
