"""Handwriting fonts for synthetic training lines: fetch, check, discover, split.

Fonts come from two places: Debian's handwriting font packages and the Google Fonts
families of category "handwriting" (served as `@fontsource/<id>` npm packages). They
are cached outside the repository (``synth.font_cache``). Every font is checked
before use: it must render all letters and digits as real glyphs (not boxes, not
blanks), must have lowercase letters, and must not be on the list of decorative
faces nobody writes like. Fonts that lack some punctuation are kept; the missing
characters are recorded so the synthesizer substitutes them in the text it renders.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import string
import subprocess
import tarfile
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

FONT_SUFFIXES = (".ttf", ".otf", ".woff2", ".woff")
REQUIRED_CHARS = string.ascii_letters + string.digits
OPTIONAL_CHARS = string.punctuation
CHECKS_FILE = "checks.json"
_CHECKS_VERSION = 4

DEBIAN_PACKAGES = (
    "fonts-dkg-handwriting",
    "fonts-breip",
    "fonts-bwht",
    "fonts-femkeklaver",
    "fonts-humor-sans",
    "fonts-klee",
    "fonts-rufscript",
    "fonts-sjfonts",
    "fonts-comic-neue",
    "fonts-dancingscript",
    "fonts-kaushanscript",
    "fonts-kristi",
    "fonts-ecolier-court",
    "fonts-joscelyn",
    "fonts-tomsontalks",
    "fonts-cabinsketch",
    "fonts-tlwg-purisa-otf",
    "fonts-seto",
    "fonts-kiloji",
    "fonts-yusei-magic",
    "fonts-yozvox-yozfont",
)

# Faces that pass the glyph checks but look like no person's handwriting: ornamental
# display scripts, stencil/outline/sketch effects, dingbat-like or extremely wide faces.
# Matched against the family key (file name, lower case, letters and digits only).
REJECTED_FAMILIES = frozenset(
    {
        "cabinsketch",  # double-stroke sketch effect
        "femkeklaver",  # hollow outline letters
        "neonderthaw",  # neon-tube outline
        "joscelyn",  # ornamental swash capitals on every word
        "ballet",  # swash loops larger than the letters
        "fleurdeleah",  # flourished ornamental capitals
        "missfajardose",  # hairline flourishes, barely legible at line size
        "sedgwickavedisplay",  # all-caps display cut
        "nanumgothiccoding",  # a programming typeface
        "eduauvicwantdots",  # dotted tracing letters
    }
)
# Tracing/school variants drawn with guide lines inside every glyph.
_REJECTED_NAME_PARTS = ("guides",)


class FontError(ValueError):
    """A font cannot be fetched or used; the message says which and why."""


@dataclass(frozen=True)
class FontCheck:
    """Outcome of checking one font file: accepted or not, why, and which chars it lacks."""

    accepted: bool
    reason: str
    missing: str = ""


@dataclass(frozen=True)
class FetchReport:
    """What `fetch_fonts` did: files per source, failures, and check results."""

    dest: Path
    debian: int
    google: int
    fetched: int
    failed: tuple[tuple[str, str], ...]
    accepted: int
    accepted_by_source: dict[str, int] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        """A few lines for people: counts per source, rejections by reason, failures."""
        lines = [
            f"fonts in {self.dest}: {self.debian} Debian files, {self.google} Google files "
            f"({self.fetched} newly fetched, {len(self.failed)} failed)",
            f"accepted: {self.accepted} ("
            + ", ".join(f"{k} {v}" for k, v in sorted(self.accepted_by_source.items()))
            + ")",
        ]
        if self.rejected:
            lines.append("rejected:")
            lines += [
                f"  {n:4d}  {reason}"
                for reason, n in sorted(self.rejected.items(), key=lambda kv: -kv[1])
            ]
        for name, why in self.failed[:20]:
            lines.append(f"failed: {name}: {why}")
        if len(self.failed) > 20:
            lines.append(f"... and {len(self.failed) - 20} more failures")
        return "\n".join(lines)


# --------------------------------------------------------------------------- names


_STYLE_TOKENS = re.compile(
    r"(latin|ext|normal|regular|italic|oblique|bold|light|medium|semibold|extrabold|black|"
    r"thin|book|heavy|demi|roman|variablefont|wght|\d+)"
)


# Google's school-script collections: dozens of near-identical national variants each.
# They count as one family for the held-out split, so no variant of a held-out hand is
# trained on.
_SUPERFAMILY_PREFIXES = ("playwrite", "edu")


def face_key(path: Path) -> str:
    """The typeface a font file belongs to, from its file name (weights/styles dropped).

    ``DancingScript-Bold.ttf`` and ``dancing-script-latin-400-normal.woff2`` both give
    ``dancingscript``.
    """
    stem = Path(path).name
    for suf in FONT_SUFFIXES:
        if stem.lower().endswith(suf):
            stem = stem[: -len(suf)]
            break
    parts = re.split(r"[-_ .]+", stem)
    # Drop style tokens only after the first part, so a family named "Black Ops" survives.
    kept = [parts[0]] + [p for p in parts[1:] if not _STYLE_TOKENS.fullmatch(p.lower())]
    key = re.sub(r"[^a-z0-9]", "", "".join(kept).lower())
    # CamelCase files like "ComicNeue-BoldItalic": strip trailing style words glued on.
    key = re.sub(r"(bold|italic|regular|light|oblique)+$", "", key) or key
    return key


def family_key(path: Path) -> str:
    """The family of a font file: its `face_key`, with school-script collections merged."""
    key = face_key(path)
    return next((pre for pre in _SUPERFAMILY_PREFIXES if key.startswith(pre)), key)


def split_fonts(
    fonts: Sequence[Path], heldout_fraction: float = 0.1, seed: int = 0
) -> tuple[list[Path], list[Path]]:
    """Split fonts into (train, held-out) by family, deterministically from file names.

    Families (`family_key`) are ranked by a hash of (seed, family key); the first
    ``round(families * heldout_fraction)`` (at least one when there are two or more
    families and the fraction is positive) are held out, all their files with them.
    """
    if not 0.0 <= heldout_fraction < 1.0:
        raise ValueError(f"heldout_fraction must be in [0, 1), got {heldout_fraction}")
    families = sorted({family_key(p) for p in fonts})

    def rank(key: str) -> str:
        return hashlib.sha256(f"{seed}:{key}".encode()).hexdigest()

    n_held = round(len(families) * heldout_fraction)
    if heldout_fraction > 0 and n_held == 0 and len(families) >= 2:
        n_held = 1
    held = set(sorted(families, key=rank)[:n_held])
    train = [p for p in fonts if family_key(p) not in held]
    heldout = [p for p in fonts if family_key(p) in held]
    return train, heldout


# -------------------------------------------------------------------------- checks


def _cmap_chars(path: Path) -> set[str]:
    from fontTools.ttLib import TTFont

    with TTFont(str(path), lazy=True, fontNumber=0) as tt:
        cmap = tt.getBestCmap() or {}
    return {chr(c) for c in cmap}


def _render(font, ch: str) -> np.ndarray:
    """The glyph of `ch` as a uint8 mask cropped to its ink (empty array when blank)."""
    from PIL import Image, ImageDraw

    left, top, right, bottom = font.getbbox(ch)
    w, h = max(1, right - left), max(1, bottom - top)
    img = Image.new("L", (w + 2, h + 2), 0)
    ImageDraw.Draw(img).text((1 - left, 1 - top), ch, font=font, fill=255)
    a = np.asarray(img)
    ys, xs = np.nonzero(a > 64)
    if len(ys) == 0:
        return np.zeros((0, 0), np.uint8)
    return a[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


def _caps_only(font) -> bool:
    """True when ascender letters are no taller than x-height letters (caps or small caps)."""

    def height(c: str) -> int:
        return -font.getbbox(c, anchor="ls")[1]

    x_height = float(np.median([height(c) for c in "acemnorsuvwxz"]))
    ascender = float(np.median([height(c) for c in "bdhklt"]))
    return ascender < 1.15 * max(x_height, 1.0)


def check_font(path: Path) -> FontCheck:
    """Check that a font can render handwriting-like lines of letters and digits.

    Rejects unreadable files, faces on `REJECTED_FAMILIES`, fonts lacking any letter
    or digit (by cmap or by rendering blank / as the .notdef box), and caps-only faces
    (lowercase letters as tall as their ascender neighbours, i.e. capitals or small caps). Missing punctuation is returned in ``missing``.
    """
    from PIL import ImageFont

    path = Path(path)
    if face_key(path) in REJECTED_FAMILIES or any(
        part in path.name.lower() for part in _REJECTED_NAME_PARTS
    ):
        return FontCheck(False, "decorative face (reject list)")
    try:
        chars = _cmap_chars(path)
        font = ImageFont.truetype(str(path), 48)
    except Exception as exc:  # noqa: BLE001 - any parse failure means unusable
        return FontCheck(False, f"unreadable ({type(exc).__name__})")

    notdef = _render(font, "\U0010fffd")
    missing = [c for c in REQUIRED_CHARS + OPTIONAL_CHARS if c not in chars]
    glyphs: dict[str, np.ndarray] = {}
    for c in REQUIRED_CHARS + OPTIONAL_CHARS:
        if c in missing:
            continue
        g = _render(font, c)
        if g.size == 0 or (
            notdef.size and g.shape == notdef.shape and np.array_equal(g > 96, notdef > 96)
        ):
            missing.append(c)
        else:
            glyphs[c] = g
    missing_required = "".join(c for c in REQUIRED_CHARS if c in missing)
    if missing_required:
        return FontCheck(False, "missing letters or digits", missing_required)
    if _caps_only(font):
        return FontCheck(False, "caps only (no distinct lowercase)")
    missing_opt = "".join(c for c in OPTIONAL_CHARS if c in missing)
    return FontCheck(True, "ok", missing_opt)


# ---------------------------------------------------------------------- discovery


def _font_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(
        p for p in folder.rglob("*") if p.is_file() and p.name.lower().endswith(FONT_SUFFIXES)
    )


_checks_lock = threading.Lock()


def _load_checks(cache_dir: Path) -> dict[str, dict]:
    f = cache_dir / CHECKS_FILE
    try:
        data = json.loads(f.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if data.get("version") != _CHECKS_VERSION:
        return {}
    return data.get("fonts", {})


def _save_checks(cache_dir: Path, checks: dict[str, dict]) -> None:
    cache_dir.mkdir(parents=True, exist_ok=True)
    f = cache_dir / CHECKS_FILE
    tmp = f.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps({"version": _CHECKS_VERSION, "fonts": checks}, indent=1))
    tmp.replace(f)


def check_fonts(cache_dir: Path, extra_dirs: Sequence[Path] = ()) -> dict[Path, FontCheck]:
    """Check every font under `cache_dir` and `extra_dirs`, reusing cached results.

    Results are cached in ``cache_dir/checks.json`` keyed by absolute path, file size
    and modification time, so a second call only stats the files.
    """
    cache_dir = Path(cache_dir).expanduser()
    files: list[Path] = []
    for folder in [cache_dir, *map(Path, extra_dirs)]:
        files += _font_files(Path(folder).expanduser())
    with _checks_lock:
        cached = _load_checks(cache_dir) if cache_dir.is_dir() else {}
        out: dict[Path, FontCheck] = {}
        changed = False
        for p in files:
            st = p.stat()
            stamp = f"{st.st_size}:{int(st.st_mtime)}"
            entry = cached.get(str(p.resolve()))
            if entry is None or entry.get("stamp") != stamp:
                res = check_font(p)
                entry = {"stamp": stamp, **asdict(res)}
                cached[str(p.resolve())] = entry
                changed = True
            out[p] = FontCheck(entry["accepted"], entry["reason"], entry.get("missing", ""))
        if changed and cache_dir.is_dir():
            _save_checks(cache_dir, cached)
    return out


def discover_fonts(cache_dir: Path, extra_dirs: Sequence[Path] = ()) -> list[Path]:
    """Accepted fonts under the font cache and any extra folders, sorted by path."""
    checks = check_fonts(cache_dir, extra_dirs)
    accepted = sorted(p for p, c in checks.items() if c.accepted)
    _register_missing({p: c.missing for p, c in checks.items() if c.accepted})
    if not accepted:
        log.warning(
            "no usable fonts in %s%s; run `inkdex fonts fetch` (or `make fonts`)",
            cache_dir,
            f" or {', '.join(map(str, extra_dirs))}" if extra_dirs else "",
        )
    return accepted


_known_missing: dict[str, str] = {}


def _register_missing(missing: dict[Path, str]) -> None:
    _known_missing.update({str(Path(p).resolve()): m for p, m in missing.items()})


@lru_cache(maxsize=4096)
def missing_chars(path: Path) -> str:
    """Printable ASCII characters this font cannot render (from the check cache when known)."""
    key = str(Path(path).resolve())
    if key in _known_missing:
        return _known_missing[key]
    try:
        chars = _cmap_chars(Path(path))
    except Exception as exc:  # noqa: BLE001 - unreadable fonts fail later with a clear error
        log.debug("cannot read cmap of %s: %s", path, exc)
        return ""
    return "".join(c for c in OPTIONAL_CHARS + REQUIRED_CHARS if c not in chars)


# ---------------------------------------------------------------------- fetching


def _debian_files(packages: Iterable[str]) -> tuple[list[Path], list[str]]:
    """Font files shipped by the installed Debian packages, and the packages missing."""
    files, missing = [], []
    for pkg in packages:
        try:
            out = subprocess.run(
                ["dpkg", "-L", pkg], capture_output=True, text=True, check=True
            ).stdout
        except (OSError, subprocess.CalledProcessError):
            missing.append(pkg)
            continue
        files += [
            Path(line)
            for line in out.splitlines()
            if line.lower().endswith(FONT_SUFFIXES) and Path(line).is_file()
        ]
    return files, missing


def _install_debian(packages: list[str]) -> None:
    if not packages:
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        log.warning(
            "Debian font packages not installed: %s (install them with apt-get as root)",
            " ".join(packages),
        )
        return
    log.info("installing %s", " ".join(packages))
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        subprocess.run(
            ["apt-get", "install", "-y", "--no-install-recommends", *packages],
            check=True,
            env=env,
            capture_output=True,
            text=True,
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        log.warning("apt-get install failed (%s); continuing without those fonts", exc)


def _fetch_debian(dest: Path) -> tuple[int, int]:
    files, missing = _debian_files(DEBIAN_PACKAGES)
    if missing:
        _install_debian(missing)
        files, missing = _debian_files(DEBIAN_PACKAGES)
        for pkg in missing:
            log.warning("skipping Debian package %s (not installed)", pkg)
    # One file per font: packages ship the same face as .otf, .woff and .woff2.
    rank = {".otf": 0, ".ttf": 1, ".woff2": 2, ".woff": 3}
    best: dict[str, Path] = {}
    for f in files:
        stem = f.stem.lower()
        if stem not in best or rank[f.suffix.lower()] < rank[best[stem].suffix.lower()]:
            best[stem] = f
    files = sorted(best.values())
    out = dest / "debian"
    out.mkdir(parents=True, exist_ok=True)
    new = 0
    for f in files:
        target = out / f.name
        if not target.exists() or target.stat().st_size != f.stat().st_size:
            shutil.copy2(f, target)
            new += 1
    return len(files), new


def _npm_pack(spec: str, into: Path, timeout: float = 120) -> Path:
    """`npm pack SPEC` into a folder; returns the tarball path. Raises FontError."""
    npm = shutil.which("npm")
    if npm is None:
        raise FontError("npm not found; install Node.js to fetch Google handwriting fonts")
    into.mkdir(parents=True, exist_ok=True)
    try:
        proc = subprocess.run(
            [npm, "pack", spec, "--pack-destination", str(into), "--loglevel=error"],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as exc:
        raise FontError(f"npm pack {spec} timed out") from exc
    if proc.returncode != 0:
        lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("npm error")]
        if any("E404" in ln for ln in lines):
            raise FontError(f"{spec} is not published on the npm registry (404)")
        err = next((ln for ln in lines if " code " in ln), lines[0] if lines else "unknown error")
        raise FontError(f"npm pack {spec} failed: {err}")
    name = proc.stdout.strip().splitlines()[-1]
    tgz = into / name
    if not tgz.is_file():
        raise FontError(f"npm pack {spec} did not write {tgz}")
    return tgz


def google_handwriting_families(metadata_json: Path) -> list[str]:
    """Ids of Google Fonts families of category handwriting with a latin subset."""
    data = json.loads(Path(metadata_json).read_text(encoding="utf-8"))
    return sorted(
        fid
        for fid, meta in data.items()
        if meta.get("category") == "handwriting" and "latin" in meta.get("subsets", [])
    )


def _extract_google(tgz: Path, fid: str, out: Path) -> Path:
    """Extract one latin woff2 of a family: upright weight nearest 400, else italic."""
    with tarfile.open(tgz, "r:gz") as tar:
        names = tar.getnames()
        pattern = re.compile(rf"package/files/{re.escape(fid)}-latin-(\d+)-(normal|italic)\.woff2$")
        found = [
            (m.group(2) != "normal", abs(int(m.group(1)) - 400), n)
            for n in names
            if (m := pattern.match(n))
        ]
        weights = {0: min(found)[2]} if found else {}
        if not weights:
            raise FontError(f"{tgz.name} has no latin woff2 file")
        member = tar.getmember(weights[0])
        src = tar.extractfile(member)
        if src is None:
            raise FontError(f"{tgz.name}: {member.name} is not a file")
        target = out / Path(member.name).name
        tmp = target.with_suffix(".part")
        tmp.write_bytes(src.read())
        tmp.replace(target)
        return target


def _fetch_google(dest: Path, jobs: int) -> tuple[int, int, list[tuple[str, str]]]:
    tarballs = dest / "tarballs"
    out = dest / "google"
    out.mkdir(parents=True, exist_ok=True)
    failed: list[tuple[str, str]] = []
    try:
        meta_tgz = next(iter(sorted(tarballs.glob("google-font-metadata-*.tgz"))), None)
        if meta_tgz is None:
            meta_tgz = _npm_pack("google-font-metadata", tarballs)
        with tarfile.open(meta_tgz, "r:gz") as tar:
            src = tar.extractfile("package/data/google-fonts-v2.json")
            if src is None:
                raise FontError(f"{meta_tgz.name} lacks data/google-fonts-v2.json")
            meta = dest / "google-fonts-v2.json"
            meta.write_bytes(src.read())
    except (FontError, tarfile.TarError, KeyError, OSError) as exc:
        log.warning("cannot get the Google Fonts list: %s", exc)
        return len(_font_files(out)), 0, [("google-font-metadata", str(exc))]

    families = google_handwriting_families(meta)
    todo = [f for f in families if not list(out.glob(f"{f}-latin-*.woff2"))]
    log.info("%d Google handwriting families, %d to fetch", len(families), len(todo))

    def one(fid: str) -> tuple[str, str | None]:
        try:
            tgz = next(iter(sorted(tarballs.glob(f"fontsource-{fid}-[0-9]*.tgz"))), None)
            if tgz is None:
                tgz = _npm_pack(f"@fontsource/{fid}", tarballs)
            _extract_google(tgz, fid, out)
            return fid, None
        except (FontError, tarfile.TarError, OSError) as exc:
            return fid, str(exc)

    fetched = 0
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        for fid, err in pool.map(one, todo):
            if err is None:
                fetched += 1
            else:
                log.warning("skipping %s: %s", fid, err)
                failed.append((fid, err))
    return len(_font_files(out)), fetched, failed


def fetch_fonts(
    dest: Path, *, debian: bool = True, google: bool = True, jobs: int = 6
) -> FetchReport:
    """Fetch handwriting fonts into `dest` (debian/ and google/), then check them all.

    Already-fetched fonts and cached npm tarballs are reused, so a re-run only fetches
    what is missing. Per-font network failures are logged and reported, never fatal.
    """
    dest = Path(dest).expanduser()
    dest.mkdir(parents=True, exist_ok=True)
    n_deb = n_goo = fetched = 0
    failed: list[tuple[str, str]] = []
    if debian:
        n_deb, new = _fetch_debian(dest)
        fetched += new
    if google:
        n_goo, new, failed = _fetch_google(dest, jobs)
        fetched += new
    checks = check_fonts(dest)
    accepted_by: Counter[str] = Counter()
    rejected: Counter[str] = Counter()
    for p, c in checks.items():
        if c.accepted:
            accepted_by[p.relative_to(dest).parts[0]] += 1
        else:
            rejected[c.reason] += 1
    return FetchReport(
        dest=dest,
        debian=n_deb if debian else len(_font_files(dest / "debian")),
        google=n_goo if google else len(_font_files(dest / "google")),
        fetched=fetched,
        failed=tuple(failed),
        accepted=sum(accepted_by.values()),
        accepted_by_source=dict(accepted_by),
        rejected=dict(rejected),
    )


# --------------------------------------------------------------------- contact sheet

SHEET_TEXT = "Hamburg 1984, quick brown fox jumps; (Wed) 3:45pm $12"


def font_sheet(fonts: Sequence[Path], out: Path, columns: int = 3, line_height: int = 40) -> Path:
    """Write a PNG with one clean line per font beside its file name, to eyeball the set."""
    from PIL import Image, ImageDraw, ImageFont

    if not fonts:
        raise FontError("no fonts to show; run `inkdex fonts fetch` first")
    label_w, sample_w, row_h = 260, 760, line_height + 8
    rows = -(-len(fonts) // columns)
    sheet = Image.new("L", (columns * (label_w + sample_w), rows * row_h), 255)
    draw = ImageDraw.Draw(sheet)
    label_font = ImageFont.load_default(size=13)
    for i, path in enumerate(fonts):
        x, y = (i // rows) * (label_w + sample_w), (i % rows) * row_h
        draw.text((x + 4, y + row_h // 2), path.name[:38], font=label_font, fill=90, anchor="lm")
        cell = Image.new("L", (sample_w, row_h - 1), 255)
        try:
            f = ImageFont.truetype(str(path), line_height * 3 // 4)
            text = "".join(c for c in SHEET_TEXT if c not in missing_chars(path))
            ImageDraw.Draw(cell).text((4, row_h - 12), text, font=f, fill=0, anchor="ls")
        except Exception as exc:  # noqa: BLE001 - the sheet shows the failure instead
            ImageDraw.Draw(cell).text((4, row_h // 2), f"error: {exc}", font=label_font, fill=0)
        sheet.paste(cell, (x + label_w, y))
        draw.line([(x, y + row_h - 1), (x + label_w + sample_w, y + row_h - 1)], fill=220)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out)
    return out


# --------------------------------------------------------------------------- CLI


def run_fonts_cli(args, settings) -> int:
    """`inkdex fonts fetch|list|sheet`: fetch the font set, list accepted fonts, or draw them."""
    import sys

    cache = Path(args.dest or settings.synth.font_cache).expanduser()
    extra = [] if args.action == "fetch" else list(settings.synth.font_dirs)
    if args.action == "fetch":
        report = fetch_fonts(
            cache, debian=not args.no_debian, google=not args.no_google, jobs=args.jobs
        )
        print(report.summary())
        return 0 if report.accepted else 1
    checks = check_fonts(cache, extra)
    if args.action == "list":
        for p, c in sorted(checks.items()):
            if c.accepted or args.all:
                status = "ok" if c.accepted else f"rejected: {c.reason}"
                miss = f"  (missing {c.missing!r})" if c.missing else ""
                print(f"{p}\t{status}{miss}")
        return 0
    fonts = sorted(p for p, c in checks.items() if c.accepted)
    if args.action == "sheet":
        if not fonts:
            print(
                f"inkdex fonts: no accepted fonts in {cache}; run `inkdex fonts fetch`",
                file=sys.stderr,
            )
            return 1
        print(font_sheet(fonts, args.out))
        return 0
    raise AssertionError(args.action)
