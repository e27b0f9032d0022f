"""Font checks, family keys, the held-out split, discovery caching and fetching."""

from __future__ import annotations

import io
import json
import string
import tarfile
from pathlib import Path

import pytest
from PIL import ImageFont

from recognizer import fonts as F
from recognizer.fonts import (
    check_font,
    discover_fonts,
    face_key,
    family_key,
    fetch_fonts,
    missing_chars,
    split_fonts,
)


def _bundled_font_bytes() -> bytes:
    """Pillow's bundled scalable font (Aileron), present wherever Pillow is."""
    return ImageFont.load_default(size=20).path.getvalue()


@pytest.fixture
def font(tmp_path: Path) -> Path:
    p = tmp_path / "Aileron-Regular.ttf"
    p.write_bytes(_bundled_font_bytes())
    return p


def _subset(src: Path, dest: Path, drop: str) -> Path:
    """A copy of `src` without the characters in `drop`."""
    from fontTools import subset

    keep = [ord(c) for c in string.printable if c not in drop]
    opts = subset.Options()
    opts.notdef_outline = True
    tt = subset.load_font(str(src), opts)
    sub = subset.Subsetter(opts)
    sub.populate(unicodes=keep)
    sub.subset(tt)
    subset.save_font(tt, str(dest), opts)
    return dest


def test_complete_font_is_accepted(font: Path) -> None:
    res = check_font(font)
    assert res.accepted and res.reason == "ok" and res.missing == ""


def test_font_without_digits_is_rejected_naming_them(font: Path, tmp_path: Path) -> None:
    nodigits = _subset(font, tmp_path / "nodigits.ttf", string.digits)
    res = check_font(nodigits)
    assert not res.accepted
    assert res.reason == "missing letters or digits"
    assert res.missing == string.digits


def test_font_missing_some_punctuation_is_kept_with_missing_chars(
    font: Path, tmp_path: Path
) -> None:
    p = _subset(font, tmp_path / "nobraces.ttf", "{}|~")
    res = check_font(p)
    assert res.accepted
    assert set(res.missing) == set("{}|~")
    assert set(missing_chars(p)) == set("{}|~")


def test_caps_only_font_is_rejected(font: Path, tmp_path: Path) -> None:
    """Lowercase code points drawn with the capitals: labels would not match the ink."""
    from fontTools.ttLib import TTFont

    tt = TTFont(str(font))
    for table in tt["cmap"].tables:
        for c in string.ascii_lowercase:
            if ord(c.upper()) in table.cmap:
                table.cmap[ord(c)] = table.cmap[ord(c.upper())]
    caps = tmp_path / "caps.ttf"
    tt.save(str(caps))
    res = check_font(caps)
    assert not res.accepted and res.reason.startswith("caps only")


def test_reject_list_and_unreadable_files(font: Path, tmp_path: Path) -> None:
    listed = tmp_path / "CabinSketch-Regular.ttf"
    listed.write_bytes(font.read_bytes())
    guides = tmp_path / "playwrite-de-guides-latin-400-normal.woff2"
    guides.write_bytes(font.read_bytes())
    junk = tmp_path / "junk.ttf"
    junk.write_bytes(b"not a font at all")
    assert check_font(listed).reason == "decorative face (reject list)"
    assert check_font(guides).reason == "decorative face (reject list)"
    res = check_font(junk)
    assert not res.accepted and res.reason.startswith("unreadable")


@pytest.mark.parametrize(
    ("name", "face", "family"),
    [
        ("DancingScript-Bold.otf", "dancingscript", "dancingscript"),
        ("dancing-script-latin-400-normal.woff2", "dancingscript", "dancingscript"),
        ("ComicNeue-BoldItalic.otf", "comicneue", "comicneue"),
        ("dkgBI.ttf", "dkgbi", "dkgbi"),
        ("playwrite-de-grund-latin-400-normal.woff2", "playwritedegrund", "playwrite"),
        ("edu-sa-hand-latin-400-normal.woff2", "edusahand", "edu"),
    ],
)
def test_family_keys_ignore_weight_style_and_source(name: str, face: str, family: str) -> None:
    assert face_key(Path(name)) == face
    assert family_key(Path(name)) == family


def _names(n: int) -> list[Path]:
    out = []
    for i in range(n):
        out.append(Path(f"/f/hand{i}-latin-400-normal.woff2"))
        out.append(Path(f"/f/Hand{i}-Bold.ttf"))
    return out


def test_split_is_deterministic_by_family_and_order_free() -> None:
    fonts = _names(40)
    train, held = split_fonts(fonts, 0.1, seed=0)
    assert split_fonts(list(reversed(fonts)), 0.1, seed=0)[1] == sorted(
        held, key=list(reversed(fonts)).index
    )
    assert len({family_key(p) for p in held}) == 4
    assert {family_key(p) for p in train}.isdisjoint({family_key(p) for p in held})
    assert len(train) + len(held) == len(fonts)
    assert split_fonts(fonts, 0.1, seed=1)[1] != held


def test_split_edge_cases() -> None:
    assert split_fonts([], 0.1) == ([], [])
    assert split_fonts(_names(3), 0.0)[1] == []
    assert len(split_fonts(_names(3), 0.1)[1]) == 2  # at least one family (two files)
    with pytest.raises(ValueError, match="heldout_fraction"):
        split_fonts(_names(3), 1.0)


def test_discover_returns_accepted_fonts_and_caches_checks(
    font: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    (cache / "google").mkdir(parents=True)
    good = cache / "google" / font.name
    good.write_bytes(font.read_bytes())
    (cache / "google" / "broken.woff2").write_bytes(b"junk")
    extra = tmp_path / "extra"
    extra.mkdir()
    other = extra / "Other-Regular.ttf"
    other.write_bytes(font.read_bytes())

    assert discover_fonts(cache, [extra]) == sorted([good, other])
    checks = json.loads((cache / F.CHECKS_FILE).read_text())
    assert len(checks["fonts"]) == 3

    def fail(path: Path) -> F.FontCheck:
        raise AssertionError(f"re-checked {path}")

    monkeypatch.setattr(F, "check_font", fail)
    assert discover_fonts(cache, [extra]) == sorted([good, other])


def test_discover_in_empty_cache_returns_nothing(tmp_path: Path) -> None:
    assert discover_fonts(tmp_path / "missing") == []


def _tgz(path: Path, files: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_fetch_google_extracts_regular_latin_and_reports_failures(
    font: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Handwriting families with latin are fetched; one failing download is reported."""
    meta = {
        "hand-a": {"category": "handwriting", "subsets": ["latin"]},
        "hand-b": {"category": "handwriting", "subsets": ["latin", "latin-ext"]},
        "serif-c": {"category": "serif", "subsets": ["latin"]},
        "hand-d": {"category": "handwriting", "subsets": ["japanese"]},
    }
    src = tmp_path / "src"
    src.mkdir()
    _tgz(
        src / "google-font-metadata-1.0.0.tgz",
        {"package/data/google-fonts-v2.json": json.dumps(meta).encode()},
    )
    _tgz(
        src / "fontsource-hand-a-5.0.0.tgz",
        {
            "package/files/hand-a-latin-700-normal.woff2": font.read_bytes(),
            "package/files/hand-a-latin-400-normal.woff2": font.read_bytes(),
            "package/files/hand-a-latin-400-italic.woff2": font.read_bytes(),
        },
    )
    calls: list[str] = []

    def fake_pack(spec: str, into: Path, timeout: float = 120) -> Path:
        calls.append(spec)
        name = {
            "google-font-metadata": "google-font-metadata-1.0.0.tgz",
            "@fontsource/hand-a": "fontsource-hand-a-5.0.0.tgz",
        }.get(spec)
        if name is None:
            raise F.FontError(f"{spec} is not published on the npm registry (404)")
        into.mkdir(parents=True, exist_ok=True)
        (into / name).write_bytes((src / name).read_bytes())
        return into / name

    monkeypatch.setattr(F, "_npm_pack", fake_pack)
    dest = tmp_path / "fonts"
    report = fetch_fonts(dest, debian=False)
    assert sorted(p.name for p in (dest / "google").iterdir()) == ["hand-a-latin-400-normal.woff2"]
    assert report.google == 1 and report.accepted == 1
    assert [name for name, _ in report.failed] == ["hand-b"]
    assert "fetched" in report.summary()

    calls.clear()
    again = fetch_fonts(dest, debian=False)  # cached tarballs and fonts are reused
    assert calls == ["@fontsource/hand-b"]
    assert again.fetched == 0 and again.accepted == 1
