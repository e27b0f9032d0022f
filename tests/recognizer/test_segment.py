"""Line and word segmentation on small synthetic pages with known boxes."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from recognizer.page_eval import iou, match_boxes
from recognizer.preprocess import rotate
from recognizer.segment import LineBox, remove_rules, segment_lines, segment_page

FONT = cv2.FONT_HERSHEY_SIMPLEX


def _write(page: np.ndarray, words: list[str], x: int, y: int, scale: float = 1.2) -> list:
    """Write words left to right at baseline y; returns their ink boxes."""
    boxes = []
    for w in words:
        (tw, th), _ = cv2.getTextSize(w, FONT, scale, 3)
        layer = np.zeros_like(page)
        cv2.putText(layer, w, (x, y), FONT, scale, 255, 3)
        ys, xs = np.nonzero(layer)
        boxes.append((int(xs.min()), int(ys.min()), int(np.ptp(xs)) + 1, int(np.ptp(ys)) + 1))
        page[layer > 0] = 0
        x += tw + int(28 * scale)
    return boxes


def _union(boxes: list) -> tuple[int, int, int, int]:
    x0 = min(b[0] for b in boxes)
    y0 = min(b[1] for b in boxes)
    x1 = max(b[0] + b[2] for b in boxes)
    y1 = max(b[1] + b[3] for b in boxes)
    return (x0, y0, x1 - x0, y1 - y0)


def _page() -> tuple[np.ndarray, list, list]:
    page = np.full((520, 900), 255, np.uint8)
    lines, words = [], []
    texts = [
        ["meeting", "notes", "for", "Monday"],
        ["review", "the", "budget", "draft"],
        ["call", "Alice", "about", "plans"],
        ["ship", "it", "by", "Friday"],
    ]
    for i, t in enumerate(texts):
        b = _write(page, t, 60, 90 + 100 * i)
        words += b
        lines.append(_union(b))
    return page, lines, words


def test_lines_and_words_are_found_in_reading_order() -> None:
    page, lines, words = _page()
    found = segment_lines(page)
    assert len(found) == 4
    for truth, got in zip(lines, found, strict=True):
        assert iou(truth, got.bbox) > 0.8
    got_words = [w for line in found for w in line.words]
    assert len(match_boxes(words, got_words, 0.7)) == len(words)
    assert all(isinstance(x, LineBox) for x in found)


def test_words_follow_their_line_left_to_right() -> None:
    page, _, _ = _page()
    for line in segment_lines(page):
        xs = [w[0] for w in line.words]
        assert xs == sorted(xs)
        lx, ly, lw, lh = line.bbox
        for x, y, w, h in line.words:
            assert lx <= x and x + w <= lx + lw and ly <= y and y + h <= ly + lh


def test_two_columns_are_two_blocks_left_first() -> None:
    page = np.full((400, 1300), 255, np.uint8)
    left = [_union(_write(page, ["left", "side", "text"], 40, 100 + 70 * i)) for i in range(3)]
    right = [_union(_write(page, ["right", "column", "here"], 800, 130 + 70 * i)) for i in range(3)]
    found = segment_lines(page)
    assert len(found) == 6
    assert [f.block for f in found[:3]] == [found[0].block] * 3
    assert found[3].block != found[0].block
    for truth, got in zip(left + right, found, strict=True):
        assert iou(truth, got.bbox) > 0.7


def test_skewed_page_boxes_come_back_in_original_coordinates() -> None:
    page, lines, _ = _page()
    tilted, to_tilted = rotate(page, 4.0)
    found = segment_page(tilted)
    assert len(found) == 4
    for truth, got in zip(lines, found, strict=True):
        # The true line box, carried onto the tilted picture.
        x, y, w, h = truth
        pts = np.array([[[x, y], [x + w, y], [x + w, y + h], [x, y + h]]], np.float64)
        fwd = np.linalg.inv(to_tilted)
        q = cv2.perspectiveTransform(pts, fwd)[0]
        tb = (q[:, 0].min(), q[:, 1].min(), np.ptp(q[:, 0]), np.ptp(q[:, 1]))
        assert iou(tuple(int(v) for v in tb), got.bbox) > 0.6


def test_ruled_lines_are_not_text() -> None:
    page, lines, _ = _page()
    for y in range(40, 520, 50):
        cv2.line(page, (0, y), (899, y), 120, 2)
    cleaned = remove_rules((page < 128).astype(np.uint8), 25)
    assert cleaned[40, 450] == 0 and cleaned[440, 5] == 0
    found = segment_lines(page)
    assert len(match_boxes(lines, [f.bbox for f in found], 0.6)) == 4


def test_a_box_drawn_around_the_text_is_ignored() -> None:
    page, lines, _ = _page()
    cv2.rectangle(page, (30, 40), (800, 460), 0, 4)
    found = segment_lines(page)
    assert len(found) == 4
    assert len(match_boxes(lines, [f.bbox for f in found], 0.7)) == 4


def test_touching_lines_are_split() -> None:
    page, lines, _ = _page()
    # A long descender from line 1 into line 2.
    cv2.line(page, (200, 95), (205, 165), 0, 3)
    found = segment_lines(page)
    assert len(found) == 4
    assert len(match_boxes(lines, [f.bbox for f in found], 0.6)) == 4


@pytest.mark.parametrize("shape", [(50, 50), (300, 400)])
def test_blank_page_has_no_lines(shape: tuple[int, int]) -> None:
    assert segment_lines(np.full(shape, 255, np.uint8)) == []
    noisy = np.full(shape, 255, np.uint8)
    noisy[np.random.default_rng(0).random(shape) < 0.001] = 0
    assert segment_lines(noisy) == []


def test_segment_lines_rejects_colour_input() -> None:
    with pytest.raises(ValueError, match="2-D"):
        segment_lines(np.zeros((10, 10, 3), np.uint8))


def _write_gray(page: np.ndarray, words: list[str], x: int, y: int, level: int) -> list:
    """Like `_write`, in ink of the given gray level."""
    layer = np.full_like(page, 255)
    boxes = _write(layer, words, x, y)
    page[layer == 0] = level
    return boxes


def _with_noise(page: np.ndarray, sigma: float) -> np.ndarray:
    noise = np.random.default_rng(0).normal(0, sigma, page.shape)
    return np.clip(page.astype(np.float32) + noise, 0, 255).astype(np.uint8)


TEXTS = [
    ["meeting", "notes", "for", "Monday"],
    ["review", "the", "budget", "draft"],
    ["call", "Alice", "about", "plans"],
    ["ship", "it", "by", "Friday"],
]


def test_faint_writing_on_a_noisy_page_is_found() -> None:
    """Pale pencil on grey paper: lighter than any fixed ink threshold, yet all there."""
    page = np.full((520, 900), 248, np.uint8)
    lines = [_union(_write_gray(page, t, 60, 90 + 100 * i, 205)) for i, t in enumerate(TEXTS)]
    page = _with_noise(cv2.GaussianBlur(page, (0, 0), 1.0), 4)
    found = segment_lines(page)
    assert len(found) == 4
    assert len(match_boxes(lines, [f.bbox for f in found], 0.6)) == 4


def test_writing_showing_through_from_the_back_is_not_text() -> None:
    page = np.full((520, 900), 250, np.uint8)
    back = np.full((520, 900), 255, np.uint8)
    for i, t in enumerate(TEXTS):
        _write(back, t[::-1], 80, 140 + 100 * i)
    back = cv2.GaussianBlur(back[:, ::-1], (0, 0), 2.0)
    # The back's writing, mirrored and blurred, at a fifth of the front's darkness.
    page = (page - 0.2 * (255 - back.astype(np.float32))).astype(np.uint8)
    lines = [_union(_write_gray(page, t, 60, 90 + 100 * i, 30)) for i, t in enumerate(TEXTS)]
    found = segment_lines(page)
    assert len(found) == 4
    assert len(match_boxes(lines, [f.bbox for f in found], 0.6)) == 4


def test_faint_ruled_lines_join_no_words() -> None:
    page = np.full((520, 900), 250, np.uint8)
    for y in range(40, 520, 50):
        cv2.line(page, (0, y), (899, y), 215, 2)
    words, lines = [], []
    for i, t in enumerate(TEXTS):
        b = _write_gray(page, t, 60, 90 + 100 * i, 30)
        words += b
        lines.append(_union(b))
    found = segment_lines(_with_noise(page, 3))
    assert len(found) == 4
    assert len(match_boxes(lines, [f.bbox for f in found], 0.6)) == 4
    got = [w for f in found for w in f.words]
    assert len(match_boxes(words, got, 0.6)) == len(words)


def test_blocks_side_by_side_with_a_narrow_gutter_are_not_joined() -> None:
    """Two blocks a few letter heights apart (a whiteboard): eight lines, not four."""
    page = np.full((520, 1100), 255, np.uint8)
    left = [_union(_write(page, t[:2], 40, 90 + 100 * i)) for i, t in enumerate(TEXTS)]
    right_x = max(b[0] + b[2] for b in left) + 90
    right = [_union(_write(page, t[2:], right_x, 90 + 100 * i)) for i, t in enumerate(TEXTS)]
    found = segment_lines(page)
    assert len(found) == 8
    assert len(match_boxes(left + right, [f.bbox for f in found], 0.7)) == 8


def test_a_wide_space_inside_a_paragraph_does_not_split_its_line() -> None:
    page = np.full((520, 1100), 255, np.uint8)
    lines = []
    for i, t in enumerate(TEXTS):
        b = _write(page, t[:2], 40, 90 + 100 * i)
        # One line with a wide space; the lines around it run through that space.
        gap = 75 if i == 1 else 30
        b += _write(page, t[2:], b[-1][0] + b[-1][2] + gap, 90 + 100 * i)
        lines.append(_union(b))
    found = segment_lines(page)
    assert len(found) == 4
    assert len(match_boxes(lines, [f.bbox for f in found], 0.7)) == 4


@pytest.mark.parametrize("gap", [50, 70])
def test_blocks_in_frames_side_by_side_are_not_joined(gap: int) -> None:
    """Two framed blocks a couple of letter heights apart (a whiteboard): the frame
    sides between them separate the lines, so eight lines, not four."""
    page = np.full((560, 1100), 255, np.uint8)
    left = [_union(_write(page, t[:2], 60, 110 + 100 * i)) for i, t in enumerate(TEXTS)]
    left_x1 = max(b[0] + b[2] for b in left)
    right = [_union(_write(page, t[2:], left_x1 + gap, 110 + 100 * i)) for i, t in enumerate(TEXTS)]
    mid = left_x1 + gap // 2
    cv2.rectangle(page, (30, 40), (mid - 6, 520), 0, 3)
    cv2.rectangle(page, (mid + 6, 40), (1070, 520), 0, 3)
    found = segment_lines(page)
    assert len(found) == 8
    assert len(match_boxes(left + right, [f.bbox for f in found], 0.7)) == 8


def test_a_small_circle_drawn_beside_the_text_is_no_line() -> None:
    """A sketch of a circle a few letters across: its top and bottom arcs are no lines."""
    page, lines, _ = _page()
    cv2.circle(page, (800, 250), 55, 0, 3)
    found = segment_lines(page)
    assert len(found) == 4
    assert len(match_boxes(lines, [f.bbox for f in found], 0.7)) == 4


@pytest.mark.parametrize("tail, head", [((720, 150), (800, 210)), ((720, 260), (790, 190))])
def test_a_short_arrow_drawn_beside_the_text_is_no_line(tail: tuple, head: tuple) -> None:
    """An arrow three letters long in open space (pointing to a note): a drawing."""
    page, lines, _ = _page()
    cv2.arrowedLine(page, tail, head, 0, 3, tipLength=0.1)
    found = segment_lines(page)
    assert len(found) == 4
    assert len(match_boxes(lines, [f.bbox for f in found], 0.7)) == 4


def _line_pixels(writing: np.ndarray, y: int, xs: list[int], size: int = 10) -> tuple:
    """Letter-sized blocks of ink at `xs` on row `y` of `writing`; their pixel coordinates."""
    for x in xs:
        writing[y : y + size, x : x + size] = 1
    ly, lx = np.nonzero(writing[y : y + size])
    return lx, ly + y


@pytest.mark.parametrize("neighbours", [True, False])
def test_a_very_wide_space_is_a_column_gap_only_where_the_lines_around_leave_it_open(
    neighbours: bool,
) -> None:
    """A space over COLUMN_GAP letters wide splits a line in two columns, unless the lines
    above and below run through it (a sentence ending mid-line in a dense letter)."""
    from recognizer.segment import _split_wide_gaps

    writing = np.zeros((120, 400), np.uint8)
    letters = [20, 34, 48, 62, 76, 90, 104]
    xs = letters + [x + 160 for x in letters]  # a space of 70 pixels: 7 letters wide
    if neighbours:
        _line_pixels(writing, 20, list(range(20, 280, 14)))
        _line_pixels(writing, 80, list(range(20, 280, 14)))
    lx, ly = _line_pixels(writing, 50, xs)
    parts = _split_wide_gaps(lx, ly, 10.0, writing)
    assert len(parts) == (1 if neighbours else 2)


def test_pieces_of_a_line_in_capitals_and_in_small_letters_are_linked() -> None:
    """Words in capitals, a wide space, then small letters level with them: one line
    (the sizes of the two pieces differ by more than half)."""
    page = np.full((300, 1000), 255, np.uint8)
    b = _write(page, ["HOLD", "BIG"], 40, 150, 1.4)
    b += _write(page, ["on", "a", "canoe"], b[-1][0] + b[-1][2] + 90, 150, 0.8)
    found = segment_lines(page)
    assert len(found) == 1
    assert iou(_union(b), found[0].bbox) > 0.8


@pytest.mark.parametrize("filled", [True, False])
def test_line_pieces_far_apart_are_linked_only_when_writing_fills_the_space_between(
    filled: bool,
) -> None:
    """Two crest pieces level with each other and four writing heights apart: one line
    when writing runs between them (the crest broke over a struck-out word), two when
    the space between them is empty."""
    from recognizer.segment import _link_seeds

    seeds = np.zeros((40, 120), np.int32)
    seeds[20, 5:40] = 1
    seeds[20, 80:115] = 2
    writing = np.zeros_like(seeds, dtype=np.uint8)
    writing[16:25, 5:40] = 1
    writing[16:25, 80:115] = 1
    if filled:
        writing[17:24, 40:80:6] = 1  # strokes every 6 pixels: no space a height wide
    size = np.array([10.0, 10.0, 10.0])
    linked, n = _link_seeds(seeds, 3, size, None, writing)
    assert (linked[20, 10] == linked[20, 100]) == filled
    assert n == (2 if filled else 3)
