"""Canary: unique strings in every answer and file, a unique Telegram user; none of it at rest.

After a whole report, the SQLite file, its WAL, every file under the test's directory and the
captured logs (DEBUG, every logger) must contain none of the canaries (I1, I2).
"""

from __future__ import annotations

import logging
import secrets
from pathlib import Path

import pytest

from bot.logs import SANAD_LOGGER, EventFormatter, RedactingFilter
from handlers.choices import country_name
from tests.handlers import samples
from tests.handlers.conftest import Reporter, begin, running_bot
from tests.handlers.e2e import deployment, open_stored, stored_reports


def _files_under(directory: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in directory.rglob("*") if p.is_file()}


def _forms_of(user_id: int) -> list[bytes]:
    """How a user id could sit in a file: decimal text, or big/little-endian integers."""
    return [
        str(user_id).encode(),
        user_id.to_bytes(8, "big"),
        user_id.to_bytes(8, "little"),
        user_id.to_bytes(6, "big"),
    ]


async def test_no_canary_reaches_the_database_its_wal_any_file_or_the_logs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    tag = secrets.token_hex(6)
    statement = f"canary-statement-{tag}"
    link = f"https://canary-{tag}.example/post"
    artist = f"canary-artist-{tag}"
    author = f"canary-author-{tag}"
    voice_marker = f"canary-voice-{tag}".encode()
    first_name, username = f"CanaryName{tag}", f"canary_user_{tag}"
    user_id = 700_000_000_000 + secrets.randbelow(99_999_999_999)
    texts = [statement, link.removeprefix("https://"), artist, author, first_name, username]

    async with deployment(tmp_path) as deployed, running_bot(submitter=deployed.service) as bot:
        chat = bot.api.open_chat(user_id, first_name, username=username, language_code="fr")
        reporter = Reporter(chat, "fr")
        await begin(reporter)
        await reporter.press("Blackmail or extortion")
        await reporter.press("Grindr or another dating app")
        await reporter.press(country_name("TN", "fr"), translate=False)
        await reporter.press("I don't know")
        await reporter.say(statement, until=lambda m: bool(m.buttons))
        await reporter.say(link, until=lambda m: bool(m.buttons))
        await reporter.press("Done")
        await chat.send_photo(samples.jpeg_with_gps(author=artist))
        await chat.wait_for(lambda m: bool(m.buttons))
        await chat.send_document(samples.pdf_with_author(author=author), f"{tag}.pdf", "x/y")
        await chat.wait_for(lambda m: bool(m.buttons))
        await chat.send_voice(samples.voice_note(voice_marker), 3)
        await chat.wait_for(lambda m: bool(m.buttons))
        await reporter.press("Done")
        await reporter.press("I don't know")
        await reporter.press("Yes, I would like a reply")
        await reporter.press("Yes, without anything that identifies me")
        receipt = await reporter.press("Submit")
        await chat.press_button(receipt.message_id, text=reporter._("I have saved it"))
        await chat.wait_until(lambda: not chat.messages())

        # The canaries did go through: the sealed report holds them.
        [stored] = await stored_reports(deployed.database)
        body = open_stored(stored, deployed.organisation.recovery)
        assert body.answer("incident.description") == statement
        # The voice note went through cleaned: the tags its marker was in are emptied.
        assert body.attachments[-1].data.startswith(b"OggS")
        assert voice_marker not in body.attachments[-1].data
        while_open = _files_under(tmp_path)
    after_close = _files_under(tmp_path)

    assert any(name.endswith("-wal") for name in while_open), "the WAL was looked at"
    needles = [t.encode() for t in texts] + [voice_marker] + _forms_of(user_id)
    for files in (while_open, after_close):
        for name, content in files.items():
            for needle in needles:
                assert needle not in content, f"a canary is in {Path(name).name}"

    # Sanad's own records, raw: event names and counts only.
    own = [r for r in caplog.records if r.name.startswith(SANAD_LOGGER)]
    assert own, "the flow logged its events"
    for record in own:
        raw = f"{record.getMessage()} {record.args!r} {getattr(record, 'sanad_counts', {})!r}"
        for text in [*texts, str(user_id)]:
            assert text not in raw
    # The capture is real: python-telegram-bot logs whole updates at DEBUG, canaries included...
    assert statement in caplog.text
    # ...so every record is checked as the deployment writes it: redacted, then formatted.
    redact, formatter = RedactingFilter(), EventFormatter(json_lines=True)
    written = "\n".join(formatter.format(r) for r in caplog.records if redact.filter(r))
    for text in [*texts, str(user_id)]:
        assert text not in written
