"""Entity parsing as Telegram does it: offsets in UTF-16, limits after parsing, exact refusals."""

from __future__ import annotations

import logging

import pytest
from telegram.error import BadRequest

from bot.local_api import LocalBotApi
from bot.local_api.errors import ApiError
from bot.local_api.formatting import parse_text

from .conftest import application, polling


def _parse(text: str, mode: str | None) -> tuple[str, list[dict[str, object]]]:
    return parse_text(text, mode, None, limit=4096, empty="message text is empty",
                      too_long="message is too long")


def test_entity_offsets_count_utf16_units() -> None:
    text, entities = _parse("🙂 <b>مرحبا</b>", "HTML")
    assert text == "🙂 مرحبا"
    assert entities == [{"type": "bold", "offset": 3, "length": 5}]  # the emoji is 2 units


def test_html_pre_with_code_language_is_one_pre_entity() -> None:
    _, entities = _parse('<pre><code class="language-python">x = 1</code></pre>', "HTML")
    assert entities == [{"type": "pre", "offset": 0, "length": 5, "language": "python"}]


@pytest.mark.parametrize(("markup", "mode", "reason"), [
    ("a <x>b</x>", "HTML", 'Unsupported start tag "x" at byte offset 2'),
    ("<b>open", "HTML", 'Can\'t find end tag corresponding to start tag "b"'),
    ("*open", "MarkdownV2", "Can't find end of Bold entity at byte offset 0"),
    ("x_y", "MarkdownV2", "Can't find end of Italic entity at byte offset 1"),
    ("1+1", "MarkdownV2", "Character '+' is reserved and must be escaped with the preceding '\\'"),
    ("`code", "Markdown", "Can't find end of Code entity at byte offset 0"),
])
def test_malformed_markup_is_refused_with_telegram_reason(
    markup: str, mode: str, reason: str
) -> None:
    with pytest.raises(ApiError) as caught:
        _parse(markup, mode)
    assert caught.value.description == f"Bad Request: can't parse entities: {reason}"


def test_legacy_markdown_leaves_v2_reserved_characters_alone() -> None:
    assert _parse("*Done.* 1+1=2", "Markdown") == (
        "Done. 1+1=2", [{"type": "bold", "offset": 0, "length": 5}])


def test_surrounding_whitespace_is_trimmed_and_entities_follow() -> None:
    assert _parse("  <i>hi</i>  ", "HTML") == ("hi", [{"type": "italic", "offset": 0, "length": 2}])


def test_unknown_parse_mode_is_refused() -> None:
    with pytest.raises(ApiError, match="unsupported parse_mode"):
        _parse("x", "BBCode")


async def test_server_logs_carry_neither_token_nor_content(
    api: LocalBotApi, token: str, caplog: pytest.LogCaptureFixture
) -> None:
    canary = "canary-7f3a-report-text"
    caplog.set_level(logging.DEBUG)
    app = application(api, token)
    chat = api.open_chat(6001, "Amal")
    async with polling(app):
        await chat.send_text(canary)
        await app.bot.send_message(chat.chat_id, canary)
        with pytest.raises(BadRequest):  # an error path is quiet too
            await app.bot.send_message(424242, canary)
    ours = [r for r in caplog.records if r.name.startswith(("bot.local_api", "tornado"))]
    assert ours  # the server did log its requests
    logged = "\n".join(r.getMessage() for r in ours)
    assert token not in logged
    assert canary not in logged
