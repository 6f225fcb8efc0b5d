"""At DEBUG level, ``sanad run``'s log still holds no content, no token and no Telegram id.

``[logging] level = "debug"`` is where a careless project leaks: python-telegram-bot logs whole
updates at DEBUG, httpx logs every request URL (with the bot token in it), exceptions quote
values. The bot runs here as ``sanad run`` in a subprocess against the local Bot API server, and
a whole conversation goes through it: a caseworker enrols, a reporter files a report with unique
strings in every typed answer, the sealed file is forwarded, the caseworker replies, and the
reporter reads the reply with ``/status``. Everything the process wrote to stderr (and stdout)
is then searched for each unique string, the receipt, the case reference, the bot token and
every Telegram user and chat id involved.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from pathlib import Path

import pytest

from bot.bot_identity import load_or_create_bot_key
from bot.local_api import LocalBotApi, UserChat
from bot.services.caseworkers import approve
from crypto import encode_enrolment_code, parse_confirmation_code, read_sealed_file
from crypto.keys import CaseworkerKeys, OrganisationKeys
from storage.engine import open_database
from tests.handlers.conftest import Reporter, answer_to_narrative, begin
from tests.support.processes import sanad_run
from tests.webhook.configuration import config_toml

pytestmark = pytest.mark.slow

TOKEN_ENV = "SANAD_TEST_BOT_TOKEN"
STEP_TIMEOUT = 20.0
_RECEIPT = re.compile(r"\d{4}(?: \d{4}){6}")
_CONFIRMATION = re.compile(r"^Confirmation code: (\d{4} \d{4})$", re.MULTILINE)


def long_id() -> int:
    """A Telegram-sized id unlikely to occur in a log by chance."""
    return 6_000_000_000 + secrets.randbelow(10**9)


async def enrol(
    chat: UserChat, org: OrganisationKeys, database_url: str, state_dir: Path, label: str
) -> None:
    """``/enroll CODE`` through the bot, then the admin's approval with the organisation key and
    the confirmation code the bot showed in that chat (I9: only that chat is bound)."""
    keys = CaseworkerKeys.generate()
    await chat.send_command("enroll", encode_enrolment_code(label, keys.public))
    answer = await chat.wait_for(lambda m: "Fingerprint:" in (m.text or ""), timeout=STEP_TIMEOUT)
    shown = _CONFIRMATION.search(answer.text or "")
    assert shown is not None, "the /enroll answer shows a confirmation code"
    database = open_database(database_url)
    try:
        await approve(
            database,
            who=label,
            confirmation=parse_confirmation_code(shown.group(1)),
            signing_key=org.signing,
            org_public=org.signing.public_key,
            bot_public=load_or_create_bot_key(state_dir).public_key,
            today=dt.datetime.now(dt.UTC).date(),
        )
    finally:
        await database.close()


async def file_report(reporter: Reporter, statement: str, link: str) -> str:
    """The guided report with a statement and a link; returns the receipt shown."""
    await begin(reporter)
    await answer_to_narrative(reporter)
    await reporter.say(statement, until=lambda m: bool(m.buttons))
    await reporter.say(link, until=lambda m: bool(m.buttons))
    await reporter.press("Done")
    await reporter.press("Skip")
    await reporter.press("I reported it and they removed it")
    await reporter.press("Yes, I would like a reply")
    await reporter.press("No")
    receipt_message = await reporter.press("Submit")
    found = _RECEIPT.search(receipt_message.text or "")
    assert found is not None
    await reporter.chat.press_button(receipt_message.message_id, text="I have saved it")
    return found.group(0)


async def test_debug_log_of_a_whole_conversation_holds_no_content_token_or_telegram_id(
    tmp_path: Path,
) -> None:
    canaries = {name: f"{name}-{secrets.token_hex(8)}" for name in ("statement", "link", "reply")}
    statement = f"They threatened to publish my photos. {canaries['statement']}"
    link = f"https://www.instagram.com/p/{canaries['link']}"
    reply_text = f"We received your report and wrote to the platform. {canaries['reply']}"
    reporter_id, caseworker_id = long_id(), long_id()
    label = f"cw{secrets.token_hex(3)}"
    org = OrganisationKeys.generate()
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'state' / 'sanad.sqlite3'}"
    log = tmp_path / "bot.log"

    async with LocalBotApi.running() as api:
        token = api.add_bot()
        config = tmp_path / "config.toml"
        config.write_text(
            config_toml(
                api_url=api.url,
                folder=tmp_path,
                org=org,
                token_env=TOKEN_ENV,
                tables={
                    "logging": {"level": "debug"},
                    # A whole report is about twenty updates: above the default of 20 a minute.
                    "limits": {"max_messages_per_minute": 300},
                },
            )
        )
        async with sanad_run(config, log, {TOKEN_ENV: token}):
            desk = api.open_chat(caseworker_id, "Caseworker", language_code="en")
            await enrol(desk, org, database_url, tmp_path / "state", label)

            chat = api.open_chat(reporter_id, "Reporter", language_code="en")
            reporter = Reporter(chat, "en")
            receipt = await file_report(reporter, statement, link)
            await chat.wait_until(lambda: not chat.messages(), timeout=STEP_TIMEOUT)

            delivered = await desk.wait_for(
                lambda m: m.document is not None, timeout=STEP_TIMEOUT, since=0
            )
            case = read_sealed_file(desk.download(delivered), org.signing.public_key).case_reference
            await desk.send_command("reply", f"{case} {reply_text}")
            await desk.wait_for(
                lambda m: f"to {case} is sealed and stored" in (m.text or ""), timeout=STEP_TIMEOUT
            )

            await chat.send_command("status")
            await chat.wait_for(lambda m: "receipt" in (m.text or ""), timeout=STEP_TIMEOUT)
            await chat.send_text(receipt)
            shown = await chat.wait_for(
                lambda m: canaries["reply"] in (m.text or ""), timeout=STEP_TIMEOUT
            )
            await chat.press_button(shown.message_id, text="Erase this conversation")
            await chat.wait_until(lambda: not chat.messages(), timeout=STEP_TIMEOUT)

    text = log.read_text(encoding="utf-8", errors="replace")
    # The log was written, by this conversation: its events are there, as names and counts.
    for expected in ("report_stored", "database.ready"):
        assert expected in text
    secrets_in_play = {
        **canaries,
        "receipt": receipt,
        "receipt digits": receipt.replace(" ", ""),
        "case reference": case,
        "bot token": token,
        "bot token secret": token.partition(":")[2],
        "reporter id": str(reporter_id),
        "caseworker chat id": str(caseworker_id),
        "caseworker label": label,
    }
    leaked = [name for name, value in secrets_in_play.items() if value in text]
    assert leaked == [], f"the DEBUG log holds: {', '.join(leaked)}"
