"""End to end with the bundled model: a real handwritten page uploaded over HTTP is read,
indexed, found by a word the model read on it, and the word's box is drawn on the page.

Skips (saying why) when the model bundle or the shared real-handwriting pages are absent.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from api.main import create_app
from api.render import HIGHLIGHT_OUTLINE
from inkdex.settings import load_settings

REPO = Path(__file__).resolve().parents[2]
BUNDLE = load_settings(REPO / "config.yaml").model.bundle
PAGES = REPO.parent / "shared" / "data" / "hooker-pages"


@pytest.fixture
def real_client(tmp_path: Path):
    if not (BUNDLE / "model.yaml").is_file():
        pytest.skip(f"{BUNDLE} not present (the trained bundle; `make train` builds it)")
    if not PAGES.is_dir():
        pytest.skip(f"{PAGES} not present (real-handwriting sets live beside the repo, not in it)")
    settings = load_settings(
        None,
        {
            "data_dir": str(tmp_path / "data"),
            "model": {"bundle": str(BUNDLE), "models_dir": str(BUNDLE.parent)},
            "inbox": {"enabled": False},
        },
    )
    with TestClient(create_app(settings)) as c:
        yield c


@pytest.mark.slow
def test_real_page_is_read_indexed_found_and_highlighted(real_client: TestClient) -> None:
    import time

    page = sorted(PAGES.glob("*.jpg"))[0]
    r = real_client.post("/documents", files={"file": (page.name, page.read_bytes())})
    assert r.status_code == 202
    doc_id = r.json()["doc_id"]
    deadline = time.monotonic() + 300
    while (doc := real_client.get(f"/documents/{doc_id}").json())["status"] not in (
        "indexed",
        "failed",
    ):
        assert time.monotonic() < deadline, "the page was not read within 5 minutes"
        time.sleep(0.5)
    assert doc["status"] == "indexed", doc["error"]
    assert doc["model_version"] == BUNDLE.name
    words = [
        w
        for line in doc["transcript"]["pages"][0]["lines"]
        for w in line["words"]
        if re.fullmatch(r"[A-Za-z]{4,}", w["text"])
    ]
    assert words, "the model read no word of four letters or more on a letter page"
    word = max(words, key=lambda w: w["confidence"])

    hits = real_client.get("/search", params={"q": word["text"]}).json()
    assert doc_id in {h["doc_id"] for h in hits["hits"]}

    img = real_client.get(f"/documents/{doc_id}/image", params={"highlight": word["text"]})
    assert img.status_code == 200
    rgb = np.asarray(Image.open(io.BytesIO(img.content)).convert("RGB")).astype(int)
    page_w = doc["transcript"]["pages"][0]["width"]
    scale = rgb.shape[1] / page_w
    x, y, w, h = (round(v * scale) for v in word["bbox"])
    region = rgb[y : y + h, x : x + w]
    outline = (np.abs(region - np.array(HIGHLIGHT_OUTLINE)).sum(axis=2) < 90).sum()
    assert outline > w + h
