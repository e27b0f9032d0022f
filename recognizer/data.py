"""Labelled line and word images: loaders for the formats handwriting sets come in.

- `load_tsv`: ``image_path<TAB>text`` per line (inkdex's own format, and the sets in
  the shared data folder), paths relative to the file's folder.
- `load_iam_lines` / `load_iam_words`: the IAM Handwriting Database's
  ``ascii/lines.txt`` and ``ascii/words.txt``.
- `load_label_folder`: a folder of ``id_label.png`` files.

Every loader returns `LabeledLine`s in file order and raises `DataError` naming the
file and line of anything it cannot parse. Images are not opened here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp"})

# IAM: fields before the transcription (which is everything after them).
_IAM_LINE_FIELDS = 8  # id, result, graylevel, components, x, y, w, h
_IAM_WORD_FIELDS = 8  # id, result, graylevel, x, y, w, h, tag


class DataError(ValueError):
    """A labels file or folder cannot be read; the message says where and why."""


@dataclass(frozen=True)
class LabeledLine:
    """An image of a text line (or word) and its transcription."""

    path: Path
    text: str


def _read_text(path: Path, what: str) -> str:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{what} not found: {path}")
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{what} {path} is not UTF-8: {exc}") from None


def load_tsv(path: Path | str) -> list[LabeledLine]:
    """Read ``image_path<TAB>text`` lines (UTF-8, no header, blank lines skipped).

    Image paths are resolved against the TSV's folder; the text is everything
    after the first tab, as written (it may be empty, it may hold further tabs).
    """
    path = Path(path)
    raw = _read_text(path, "labels file")
    out: list[LabeledLine] = []
    for n, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        name, sep, text = line.partition("\t")
        if not sep:
            raise DataError(
                f"{path}:{n}: expected 'image_path<TAB>text', found no tab in {line[:80]!r}"
            )
        if not name.strip():
            raise DataError(f"{path}:{n}: the image path before the tab is empty")
        out.append(LabeledLine((path.parent / name.strip()).resolve(), text))
    return out


def _unescape(text: str) -> str:
    """Decode the XML entities a transcription may carry (``&quot;`` for a double quote)."""
    return text.replace("&quot;", '"').replace("&apos;", "'").replace("&amp;", "&")


def _iam_image(image_root: Path, item_id: str, suffix: str) -> Path:
    """``a01-000u-00`` -> ``image_root/a01/a01-000u/a01-000u-00.png`` (the IAM folder layout)."""
    parts = item_id.split("-")
    if len(parts) < 3 or not all(parts):
        raise ValueError(f"IAM id {item_id!r} is not of the form 'a01-000u-00'")
    return image_root / parts[0] / f"{parts[0]}-{parts[1]}" / f"{item_id}{suffix}"


def _load_iam(
    path: Path, image_root: Path, n_fields: int, skip_err: bool, suffix: str, what: str
) -> list[LabeledLine]:
    raw = _read_text(path, what)
    image_root = Path(image_root)
    out: list[LabeledLine] = []
    skipped = 0
    for n, line in enumerate(raw.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split(" ")
        if len(fields) <= n_fields:
            raise DataError(
                f"{path}:{n}: expected {n_fields + 1} space-separated fields "
                f"(id, result, ..., transcription), got {len(fields)}: {line[:80]!r}"
            )
        item_id, result = fields[0], fields[1]
        if result not in ("ok", "err"):
            raise DataError(
                f"{path}:{n}: second field should be the segmentation result 'ok' or 'err', "
                f"got {result!r} (is this the right file for this loader?)"
            )
        if skip_err and result == "err":
            skipped += 1
            continue
        text = _unescape(" ".join(fields[n_fields:]).replace("|", " "))
        try:
            image = _iam_image(image_root, item_id, suffix)
        except ValueError as exc:
            raise DataError(f"{path}:{n}: {exc}") from None
        out.append(LabeledLine(image, text))
    if skipped:
        log.info("%s: skipped %d rows marked 'err'", path, skipped)
    return out


def load_iam_lines(
    lines_txt: Path | str, image_root: Path | str, skip_err: bool = False, suffix: str = ".png"
) -> list[LabeledLine]:
    """Read IAM's ``lines.txt``; images under `image_root` (IAM's ``lines/`` folder).

    A row is ``a01-000u-00 ok 154 19 408 746 1661 89 A|MOVE|to|stop|Mr.|Gaitskell|from``:
    id, segmentation result, graylevel, number of components, x, y, w, h, then the
    transcription with ``|`` for spaces (XML entities such as ``&quot;`` decoded).
    `skip_err` drops rows whose segmentation IAM marks ``err``.
    """
    return _load_iam(
        Path(lines_txt), Path(image_root), _IAM_LINE_FIELDS, skip_err, suffix, "IAM lines file"
    )


def load_iam_words(
    words_txt: Path | str, image_root: Path | str, skip_err: bool = False, suffix: str = ".png"
) -> list[LabeledLine]:
    """Read IAM's ``words.txt``; images under `image_root` (IAM's ``words/`` folder).

    A row is ``a01-000u-00-00 ok 154 408 768 27 51 AT A``: id, segmentation result,
    graylevel, x, y, w, h, grammatical tag, then the transcription.
    """
    return _load_iam(
        Path(words_txt), Path(image_root), _IAM_WORD_FIELDS, skip_err, suffix, "IAM words file"
    )


def load_label_folder(folder: Path | str) -> list[LabeledLine]:
    """Images named ``id_label.ext`` in `folder` (not recursive), sorted by file name.

    The label is the file stem after the first ``_`` and may hold further ``_``.
    Files that are not images are ignored; an image without ``_`` is an error.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"label folder not found: {folder}")
    out: list[LabeledLine] = []
    for path in sorted(folder.iterdir()):
        if not path.is_file() or path.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        _, sep, label = path.stem.partition("_")
        if not sep or not label:
            raise DataError(f"{path}: expected a file name of the form 'id_label{path.suffix}'")
        out.append(LabeledLine(path.resolve(), label))
    if not out:
        raise DataError(f"no labelled images (id_label.png) in {folder}")
    return out
