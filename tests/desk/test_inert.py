"""What the caseworker-side commands print from a file cannot drive a terminal (desk.inert)."""

from __future__ import annotations

import pytest

from desk.inert import inert, inert_lines

BIDI_CONTROLS = [
    *(chr(c) for c in range(0x202A, 0x202F)),  # embeddings and overrides, RLO included
    *(chr(c) for c in range(0x2066, 0x206A)),  # isolates
    "\u200e",  # LRM
    "\u200f",  # RLM
    "\u061c",  # Arabic letter mark
]
CONTROLS = [chr(c) for c in (*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0))]


@pytest.mark.parametrize("character", CONTROLS + BIDI_CONTROLS + ["\u2028", "\u2029"])
def test_inert_removes_every_control_and_direction_character(character: str) -> None:
    assert inert(f"a{character}b") == "ab"


def test_inert_removes_an_escape_sequence_introducer_but_keeps_visible_text() -> None:
    # The visible rest of a sequence is harmless once ESC (or the one-byte CSI, U+009B) is gone.
    assert inert("\x1b]0;title\x07\x1b[2Jok\x9b1m") == "]0;title[2Jok1m"


def test_inert_keeps_arabic_french_and_emoji_text_as_it_is() -> None:
    text = "حساب مزيف نشر صوري — déjà signalé 👀 K7Q-4M2P"
    assert inert(text) == text


def test_inert_lines_keeps_the_lines_of_an_answer_each_inert() -> None:
    assert inert_lines("first\x1b[A\r\nsecond\u202e\nthird") == ["first[A", "second", "third"]
    assert inert_lines("") == [""]


def test_inert_lines_splits_on_line_separators_rather_than_printing_them() -> None:
    assert inert_lines("one\u2028two\x85three") == ["one", "two", "three"]
