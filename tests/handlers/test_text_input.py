"""Text hygiene: hostile Unicode is removed with a notice or refused, length is bounded."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from handlers.i18n import Refused
from handlers.text_input import (
    MAX_LINK_CHARS,
    CleanText,
    clean_text,
    extract_links,
    is_acceptable_link,
)

LIMIT = 200


def test_plain_arabic_text_is_kept_unchanged_without_notice() -> None:
    result = clean_text("تم نشر صوري على فيسبوك", max_chars=LIMIT)
    assert result == CleanText("تم نشر صوري على فيسبوك")


def test_text_is_normalised_to_nfc() -> None:
    decomposed = "cafe\u0301"
    result = clean_text(decomposed, max_chars=LIMIT)
    assert isinstance(result, CleanText)
    assert result.text == "café"
    assert unicodedata.is_normalized("NFC", result.text)


@pytest.mark.parametrize("override", ["\u202d", "\u202e"])
def test_bidi_override_is_refused_not_silently_removed(override: str) -> None:
    result = clean_text(f"account {override}nigol", max_chars=LIMIT)
    assert isinstance(result, Refused)
    assert "reverse the direction" in result.notice.message


@pytest.mark.parametrize(
    "hidden",
    [
        "\u202a",
        "\u202b",
        "\u202c",
        "\u2066",
        "\u2067",
        "\u2068",
        "\u2069",
        "\u200b",
        "\u200c",
        "\u200d",
        "\u2060",
        "\ufeff",
        "\u200e",
        "\u200f",
        "\u061c",
        "\x00",
        "\x1b",
        "\x7f",
        "\x85",
        "\ue000",
        "\U000e0041",
    ],
)
def test_invisible_and_control_characters_are_removed_with_a_notice(hidden: str) -> None:
    result = clean_text(f"he{hidden}llo", max_chars=LIMIT)
    assert isinstance(result, CleanText)
    assert result.text == "hello"
    assert result.notice is not None
    assert "invisible characters" in result.notice.message


def test_lone_surrogate_is_removed_so_text_can_be_encoded() -> None:
    result = clean_text("ab\ud800cd", max_chars=LIMIT)
    assert isinstance(result, CleanText)
    result.text.encode("utf-8")
    assert result.text == "abcd"


def test_newlines_and_tabs_survive_and_carriage_returns_become_newlines() -> None:
    result = clean_text("one\r\ntwo\rthree\tfour", max_chars=LIMIT)
    assert result == CleanText("one\ntwo\nthree\tfour")


def test_text_over_the_limit_is_refused_with_the_limit_stated() -> None:
    result = clean_text("x" * (LIMIT + 1), max_chars=LIMIT)
    assert isinstance(result, Refused)
    assert result.notice.params == {"limit": LIMIT, "length": LIMIT + 1}


def test_text_exactly_at_the_limit_is_kept() -> None:
    assert clean_text("x" * LIMIT, max_chars=LIMIT) == CleanText("x" * LIMIT)


def test_text_made_only_of_invisible_characters_is_refused() -> None:
    assert isinstance(clean_text("\u200b\u200b \u2060", max_chars=LIMIT), Refused)


def test_emoji_newer_than_the_unicode_tables_are_kept() -> None:
    # U+1FAE8 (shaking face, Unicode 15) is unassigned to Python 3.11's unicodedata.
    result = clean_text("\U0001fae8", max_chars=LIMIT)
    assert result == CleanText("\U0001fae8")


@given(st.text(max_size=300))
def test_any_text_is_either_refused_or_clean_and_bounded(raw: str) -> None:
    result = clean_text(raw, max_chars=LIMIT)
    if isinstance(result, CleanText):
        assert len(result.text) <= LIMIT
        assert unicodedata.is_normalized("NFC", result.text)
        assert not any(
            unicodedata.category(ch) in {"Cf", "Cs", "Co"}
            or (unicodedata.category(ch) == "Cc" and ch not in "\n\t")
            for ch in result.text
        )


def test_links_keep_http_and_https_and_refuse_other_schemes() -> None:
    links = extract_links(
        "https://facebook.com/p/1 http://example.org/a javascript:alert(1) "
        "file:///etc/passwd tg://resolve?domain=x"
    )
    assert links.valid == ("https://facebook.com/p/1", "http://example.org/a")
    assert links.refused == 3


def test_bare_domain_is_read_as_https_and_trailing_punctuation_dropped() -> None:
    links = extract_links("see instagram.com/someone.")
    assert links.valid == ("https://instagram.com/someone",)


def test_link_with_credentials_or_bad_port_or_too_long_is_refused() -> None:
    assert not is_acceptable_link("https://user:pw@example.org/")
    assert not is_acceptable_link("https://example.org:99999/")
    assert not is_acceptable_link("https://example.org/" + "a" * MAX_LINK_CHARS)
    assert not is_acceptable_link("https:///no-host")
