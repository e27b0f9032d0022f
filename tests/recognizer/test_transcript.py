"""PageTranscript JSON round-trip is lossless."""

from __future__ import annotations

import json

from recognizer.transcript import Line, PageTranscript, Word


def _sample() -> PageTranscript:
    w1 = Word((10, 20, 30, 15), "hello", 0.9312345678901234, (("hello", 0.93), ("hallo", 0.05)))
    w2 = Word((45, 21, 40, 14), "wörld", 0.51, ())
    line = Line((10, 20, 75, 16), "hello wörld", 0.7, (w1, w2))
    return PageTranscript("inkdex-hw-0.1", 640, 480, (line, Line((0, 50, 10, 10), "", 0.0, ())))


def test_json_round_trip_is_lossless() -> None:
    t = _sample()
    assert PageTranscript.from_json(t.to_json()) == t
    assert PageTranscript.from_json(t.to_json()).to_json() == t.to_json()


def test_json_shape_follows_contract() -> None:
    d = json.loads(_sample().to_json())
    assert set(d) == {"model_version", "width", "height", "lines"}
    word = d["lines"][0]["words"][0]
    assert word["bbox"] == [10, 20, 30, 15]
    assert word["alternatives"][1] == ["hallo", 0.05]


def test_page_text_joins_lines() -> None:
    assert _sample().text == "hello wörld\n"
