"""Loaders of labelled line images: TSV, IAM lines.txt / words.txt, id_label folders."""

from __future__ import annotations

from pathlib import Path

import pytest

from recognizer.data import (
    DataError,
    LabeledLine,
    load_iam_lines,
    load_iam_words,
    load_label_folder,
    load_tsv,
)

# The head of IAM's ascii/lines.txt, as distributed (header comments included).
IAM_LINES = """\
#--- lines.txt ---------------------------------------------------------------#
#
# iam database line information
#
# format: a01-000u-00 ok 154 19 408 746 1663 91 A|MOVE|to|stop|Mr.|Gaitskell|from
#
#     a01-000u-00  -> line id for form a01-000u
#     ok              -> result of word segmentation
#                            ok: line is correctly segmented
#                            er: segmentation of line has one or more errors
#
#     154             -> graylevel to binarize the line
#     19              -> number of components for this line
#     408 746 1663 91 -> bounding box around this line in x,y,w,h format
#
#     A|MOVE|to|stop|Mr.|Gaitskell|from -> transcription for this line. word tokens are separated by the character |
#
a01-000u-00 ok 154 19 408 746 1661 89 A|MOVE|to|stop|Mr.|Gaitskell|from
a01-000u-01 ok 156 19 395 932 1850 105 nominating|any|more|Labour|life|Peers
a01-000u-02 err 157 16 408 1106 1838 105 is|to|be|made|at|a|meeting|of|Labour
a01-007-04 ok 175 22 341 1418 1722 108 1957|-|&quot;|is|12|feet|long
"""

IAM_WORDS = """\
#--- words.txt ---------------------------------------------------------------#
#
# format: a01-000u-00-00 ok 154 1 408 768 27 51 AT A
#
a01-000u-00-00 ok 154 408 768 27 51 AT A
a01-000u-00-01 ok 154 507 766 213 48 NN MOVE
a01-000u-00-02 err 154 796 764 70 50 TO to
a01-000u-01-03 ok 156 1101 924 58 82 CD 1957
"""


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# -- TSV -------------------------------------------------------------------------------------------


def test_tsv_resolves_paths_against_its_own_folder(tmp_path: Path) -> None:
    sub = tmp_path / "set"
    sub.mkdir()
    f = _write(sub / "labels.tsv", "img/a.png\tHello world\n\nb.png\tsecond  line \n")
    lines = load_tsv(f)
    assert lines == [
        LabeledLine((sub / "img/a.png").resolve(), "Hello world"),
        LabeledLine((sub / "b.png").resolve(), "second  line "),
    ]


def test_tsv_keeps_tabs_after_the_first_in_the_text_and_tolerates_crlf(tmp_path: Path) -> None:
    f = tmp_path / "labels.tsv"
    f.write_bytes(b"a.png\tone\ttwo\r\nb.png\t\r\n")
    assert [x.text for x in load_tsv(f)] == ["one\ttwo", ""]


def test_tsv_line_without_a_tab_is_an_error_naming_the_line(tmp_path: Path) -> None:
    f = _write(tmp_path / "labels.tsv", "a.png\tok\nb.png just spaces\n")
    with pytest.raises(DataError, match=r"labels\.tsv:2: expected 'image_path<TAB>text'"):
        load_tsv(f)


def test_tsv_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="labels file not found"):
        load_tsv(tmp_path / "nope.tsv")


def test_tsv_real_eval_set_loads() -> None:
    p = Path(__file__).resolve().parents[2].parent / "shared" / "eval" / "real-lines" / "labels.tsv"
    if not p.exists():
        pytest.skip(f"{p} not present (real-handwriting sets live beside the repo, not in it)")
    lines = load_tsv(p)
    assert len(lines) == 7
    assert all(x.path.is_file() and x.text for x in lines)


# -- IAM -------------------------------------------------------------------------------------------


def test_iam_lines_take_the_transcription_from_the_last_field(tmp_path: Path) -> None:
    """The classic trap: the box (x y w h) and component count are numbers too."""
    f = _write(tmp_path / "lines.txt", IAM_LINES)
    lines = load_iam_lines(f, tmp_path / "lines")
    assert [x.text for x in lines] == [
        "A MOVE to stop Mr. Gaitskell from",
        "nominating any more Labour life Peers",
        "is to be made at a meeting of Labour",
        '1957 - " is 12 feet long',
    ]
    assert lines[0].path == tmp_path / "lines" / "a01" / "a01-000u" / "a01-000u-00.png"
    assert lines[3].path == tmp_path / "lines" / "a01" / "a01-007" / "a01-007-04.png"


def test_iam_lines_can_skip_rows_marked_err(tmp_path: Path) -> None:
    f = _write(tmp_path / "lines.txt", IAM_LINES)
    texts = [x.text for x in load_iam_lines(f, tmp_path, skip_err=True)]
    assert "is to be made at a meeting of Labour" not in texts
    assert len(texts) == 3


def test_iam_words_use_their_own_columns(tmp_path: Path) -> None:
    """words.txt has no component count but a grammatical tag before the text."""
    f = _write(tmp_path / "words.txt", IAM_WORDS)
    words = load_iam_words(f, tmp_path / "words")
    assert [x.text for x in words] == ["A", "MOVE", "to", "1957"]
    assert words[0].path == tmp_path / "words" / "a01" / "a01-000u" / "a01-000u-00-00.png"
    assert len(load_iam_words(f, tmp_path, skip_err=True)) == 3


def test_iam_text_is_everything_after_the_eighth_field(tmp_path: Path) -> None:
    f = _write(tmp_path / "lines.txt", "a01-000u-05 ok 154 19 408 746 1661 89 two|words and more\n")
    assert load_iam_lines(f, tmp_path)[0].text == "two words and more"


def test_iam_row_without_a_transcription_is_refused(tmp_path: Path) -> None:
    f = _write(tmp_path / "lines.txt", "a01-000u-00 ok 154 19 408 746 1661 89\n")
    with pytest.raises(DataError, match=r"lines\.txt:1: expected 9 space-separated fields"):
        load_iam_lines(f, tmp_path)


def test_iam_row_with_a_bad_result_field_is_refused(tmp_path: Path) -> None:
    f = _write(tmp_path / "lines.txt", "#\na01-000u-00 154 19 408 746 1661 89 10 A|MOVE\n")
    with pytest.raises(DataError, match=r":2: second field should be the segmentation result"):
        load_iam_lines(f, tmp_path)


def test_iam_row_with_a_malformed_id_is_refused(tmp_path: Path) -> None:
    f = _write(tmp_path / "lines.txt", "a01000u00 ok 154 19 408 746 1661 89 A\n")
    with pytest.raises(DataError, match=r":1: IAM id 'a01000u00'"):
        load_iam_lines(f, tmp_path)


# -- label folder ----------------------------------------------------------------------------------


def test_label_folder_takes_the_label_after_the_first_underscore(tmp_path: Path) -> None:
    for name in ("002_New_York.png", "001_hello.jpg", "notes.txt", "003_it's.PNG"):
        (tmp_path / name).write_bytes(b"")
    lines = load_label_folder(tmp_path)
    assert [(x.path.name, x.text) for x in lines] == [
        ("001_hello.jpg", "hello"),
        ("002_New_York.png", "New_York"),
        ("003_it's.PNG", "it's"),
    ]


def test_label_folder_image_without_a_label_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "001_a.png").write_bytes(b"")
    (tmp_path / "scan.png").write_bytes(b"")
    with pytest.raises(DataError, match=r"scan\.png: expected a file name of the form"):
        load_label_folder(tmp_path)


def test_label_folder_must_exist_and_hold_images(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not found"):
        load_label_folder(tmp_path / "missing")
    with pytest.raises(DataError, match="no labelled images"):
        load_label_folder(tmp_path)
