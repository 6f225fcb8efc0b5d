"""/enroll, /cases and /close through a real PTB Application, over HTTP, against bot/local_api.

The enrolment code comes from ``sanad caseworker init`` run as a subprocess, exactly as a
caseworker makes it on their own machine; the bot's answer must carry the same fingerprint that
command printed and a confirmation code for this chat, and the message that carried the code
must be gone from the chat.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.local_api import ChatMessage, LocalBotApi, UserChat
from bot.local_api.ptb import application_builder, polling
from bot.services import caseworkers as service
from bot.services.caseworkers import TelegramDesk
from crypto import encode_enrolment_code, verify_enrolment_claim
from crypto.certificates import today_utc
from crypto.keys import ORG_SIGNING_PREFIX, CaseworkerKeys, OrganisationKeys
from handlers.caseworker_commands import (
    ENROLL_PER_MINUTE,
    CaseworkerDesk,
    EnrolmentLimit,
    install_caseworker_commands,
)
from handlers.i18n import LANGUAGES, translator
from storage.engine import Database, open_database
from storage.migrate import upgrade_database
from storage.models import Caseworker, CaseworkerStatus, EnrolmentClaim, Report, ReportStatus
from tests.storage.helpers import store_opaque_report

from .conftest import BOT_KEY, TODAY
from .test_admin_cli import Deployment, deployment

__all__ = ["deployment"]  # a fixture

PASSPHRASE = "a long caseworker passphrase"


@dataclass(frozen=True)
class InitOutput:
    code: str
    fingerprint: str


@pytest.fixture(scope="module")
def caseworker_init(tmp_path_factory: pytest.TempPathFactory) -> InitOutput:
    """``sanad caseworker init`` as a caseworker runs it (real Argon2id settings)."""
    key = tmp_path_factory.mktemp("laptop") / "amal.key"
    script = shutil.which("sanad", path=str(Path(sys.executable).parent))
    command = [script] if script else [sys.executable, "-m", "bot.cli"]
    # Any organisation key will do: the enrolment code does not depend on it.
    org = OrganisationKeys.generate().signing.public_key.to_text(ORG_SIGNING_PREFIX)
    result = subprocess.run(
        [*command, "caseworker", "init", "--key", str(key), "--name", "Amal", "--org", org],
        env={**os.environ, "SANAD_PASSPHRASE": PASSPHRASE},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    code = re.search(r"^Enrolment code: (\S+)$", result.stdout, re.MULTILINE)
    fingerprint = re.search(r"^Fingerprint: ([\d ]+)$", result.stdout, re.MULTILINE)
    assert code is not None
    assert fingerprint is not None
    return InitOutput(code.group(1), fingerprint.group(1).strip())


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    db = open_database(f"sqlite:///{tmp_path / 'sanad.sqlite3'}")
    await upgrade_database(db)
    try:
        yield db
    finally:
        await db.close()


@pytest.fixture
def org() -> OrganisationKeys:
    return OrganisationKeys.generate()


@pytest.fixture
async def api() -> AsyncIterator[LocalBotApi]:
    async with LocalBotApi.running() as server:
        yield server


@asynccontextmanager
async def serving(api: LocalBotApi, desk: CaseworkerDesk) -> AsyncIterator[None]:
    """A PTB application with the caseworker commands of ``desk``, polling the local server."""
    application = application_builder(api, api.add_bot()).concurrent_updates(8).build()
    install_caseworker_commands(application, desk)
    async with polling(application):
        yield


@pytest.fixture
async def bot(api: LocalBotApi, database: Database, org: OrganisationKeys) -> AsyncIterator[None]:
    """The caseworker commands on :data:`BOT_KEY` and ``database``, on :data:`TODAY`."""
    desk = TelegramDesk(
        database, org.signing.public_key, bot_key=BOT_KEY, floor=lambda: 0, today=lambda: TODAY
    )
    async with serving(api, desk):
        yield


def _texts(chat: UserChat) -> list[str]:
    return [m.text or "" for m in chat.messages()]


def _confirmation_code(text: str) -> str:
    found = re.search(r"^Confirmation code: (\d{4} \d{4})$", text, re.MULTILINE)
    assert found is not None, text
    return found.group(1)


async def _approve_amal(
    database: Database, org: OrganisationKeys, enrolled: ChatMessage
) -> service.Approval:
    """``sanad admin approve Amal --confirm`` with the code the bot's answer ``enrolled`` shows."""
    return await service.approve(
        database,
        who="Amal",
        confirmation=_confirmation_code(enrolled.text or "").replace(" ", ""),
        signing_key=org.signing,
        org_public=org.signing.public_key,
        bot_public=BOT_KEY.public_key,
        today=TODAY,
    )


@pytest.mark.usefixtures("bot")
async def test_enroll_answers_the_init_fingerprint_deletes_the_code_and_stores_pending(
    api: LocalBotApi, database: Database, caseworker_init: InitOutput
) -> None:
    chat = api.open_chat(4242, "Amal")
    sent = await chat.send_command("enroll", caseworker_init.code)

    answer = await chat.wait_for(lambda m: "Fingerprint:" in (m.text or ""))

    assert f"Fingerprint: {caseworker_init.fingerprint}" in (answer.text or "")
    code = _confirmation_code(answer.text or "")
    assert "read both" in (answer.text or "")
    await chat.wait_until(lambda: sent.message_id not in {m.message_id for m in chat.messages()})
    assert not any(caseworker_init.code in text for text in _texts(chat))
    async with database.sessionmaker() as session:
        [row] = (await session.scalars(select(Caseworker))).all()
        [stored] = (await session.scalars(select(EnrolmentClaim.claim))).all()
    assert row.status is CaseworkerStatus.PENDING
    assert row.delivery_chat_id is None  # bound at approval only (I9)
    assert row.label == "Amal"
    assert row.certificate is None
    claim = verify_enrolment_claim(stored, BOT_KEY.public_key)
    assert claim.chat_id == chat.chat_id
    assert claim.confirmed_by(code.replace(" ", ""))


@pytest.mark.usefixtures("bot")
async def test_the_same_code_from_another_chat_gets_its_own_confirmation_code(
    api: LocalBotApi, database: Database, caseworker_init: InitOutput
) -> None:
    caseworker, stranger = api.open_chat(4747, "Amal"), api.open_chat(4848, "Stranger")
    await caseworker.send_command("enroll", caseworker_init.code)
    first = await caseworker.wait_for(lambda m: "Fingerprint:" in (m.text or ""))
    await stranger.send_command("enroll", caseworker_init.code)
    second = await stranger.wait_for(lambda m: "Fingerprint:" in (m.text or ""))

    assert "already enrolled" not in (second.text or "")
    assert _confirmation_code(first.text or "") != _confirmation_code(second.text or "")
    async with database.sessionmaker() as session:
        claims = (await session.scalars(select(EnrolmentClaim.claim))).all()
    chats = {verify_enrolment_claim(c, BOT_KEY.public_key).chat_id for c in claims}
    assert chats == {caseworker.chat_id, stranger.chat_id}


@pytest.mark.usefixtures("bot")
async def test_bad_code_gets_one_clear_answer_and_is_deleted(
    api: LocalBotApi, database: Database, caseworker_init: InitOutput
) -> None:
    chat = api.open_chat(4343, "Typo")
    mistyped = caseworker_init.code[:-2] + (
        "AA" if not caseworker_init.code.endswith("AA") else "BB"
    )
    sent = await chat.send_command("enroll", mistyped)

    answer = await chat.wait_for()

    assert (answer.text or "").startswith("Enrolment refused: ")
    assert "copy it again" in (answer.text or "")
    await chat.wait_until(lambda: sent.message_id not in {m.message_id for m in chat.messages()})
    assert [m.message_id for m in chat.messages()] == [answer.message_id]
    async with database.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Caseworker)) == 0


@pytest.mark.usefixtures("bot")
async def test_a_flood_of_enroll_is_limited_and_answered_once(api: LocalBotApi) -> None:
    chat = api.open_chat(4444, "Flood")
    attempts = ENROLL_PER_MINUTE + 4
    for _ in range(attempts):
        await chat.send_command("enroll", "sanad-enrol:nonsense")
    # Every /enroll is deleted; the first ENROLL_PER_MINUTE are answered, then one warning.
    await chat.wait_until(
        lambda: (
            sum(t.startswith("Enrolment refused: ") for t in _texts(chat)) == ENROLL_PER_MINUTE
            and any("Too many enrolment attempts" in t for t in _texts(chat))
            and not any(not m.from_bot for m in chat.messages())
        )
    )
    texts = _texts(chat)
    assert sum(t.startswith("Enrolment refused: ") for t in texts) == ENROLL_PER_MINUTE
    assert sum("Too many enrolment attempts" in t for t in texts) == 1


@pytest.mark.usefixtures("bot")
async def test_cases_and_close_for_the_verified_caseworker_only(
    api: LocalBotApi, database: Database, org: OrganisationKeys, caseworker_init: InitOutput
) -> None:
    chat = api.open_chat(4545, "Amal")
    await chat.send_command("enroll", caseworker_init.code)
    enrolled = await chat.wait_for(lambda m: "Fingerprint:" in (m.text or ""))

    await chat.send_command("cases")
    refused = await chat.wait_for()
    assert refused.text == "This command is for verified caseworkers."

    await _approve_amal(database, org, enrolled)
    async with database.sessionmaker() as session:
        caseworker_id = await session.scalar(select(Caseworker.id))
    stored = await store_opaque_report(database, caseworker_id=caseworker_id)

    await chat.send_command("cases")
    listing = await chat.wait_for()
    assert listing.text == f"Your open cases:\n{stored.case_reference}  assigned"

    await chat.send_command("close", stored.case_reference.lower())
    closed = await chat.wait_for()
    assert closed.text == f"Case {stored.case_reference} is closed."
    async with database.sessionmaker() as session:
        report = await session.get(Report, stored.report_id)
    assert report is not None
    assert report.status is ReportStatus.CLOSED
    assert report.closed_day == TODAY

    stranger = api.open_chat(4646, "Stranger")
    await stranger.send_command("close", stored.case_reference)
    answer = await stranger.wait_for()
    assert answer.text == "Not closed: none of your open cases has this reference."


@pytest.mark.usefixtures("bot")
async def test_a_flood_of_enroll_from_many_chats_stays_bounded_and_the_caseworker_still_approves(
    api: LocalBotApi,
    database: Database,
    org: OrganisationKeys,
    caseworker_init: InitOutput,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(service, "MAX_PENDING_ENROLMENTS", 6)
    caseworker = api.open_chat(4949, "Amal")
    await caseworker.send_command("enroll", caseworker_init.code)
    enrolled = await caseworker.wait_for(lambda m: "Fingerprint:" in (m.text or ""))

    # Fake profiles, each within the per-minute flood limit: the caseworker's pasted code,
    # then fresh keys, one chat after the other.
    refusals: dict[str, set[str]] = {language: set() for language in LANGUAGES}
    for index in range(9):
        language = LANGUAGES[index % len(LANGUAGES)]
        chat = api.open_chat(7000 + index, "Fake", language_code=language)
        codes = [caseworker_init.code]
        codes += [
            encode_enrolment_code(f"Fake{index}x{n}", CaseworkerKeys.generate().public)
            for n in range(ENROLL_PER_MINUTE - 1)
        ]
        for code in codes:
            await chat.send_command("enroll", code)
        await chat.wait_until(
            lambda chat=chat: (
                len(chat.bot_messages()) == ENROLL_PER_MINUTE
                and not any(not m.from_bot for m in chat.messages())
            )
        )
        refusals[language] |= {
            m.text or "" for m in chat.bot_messages() if "Fingerprint:" not in (m.text or "")
        }

    async with database.sessionmaker() as session:
        claims = await session.scalar(select(func.count()).select_from(EnrolmentClaim))
        rows = await session.scalar(select(func.count()).select_from(Caseworker))
    assert claims == service.MAX_PENDING_ENROLMENTS
    assert (rows or 0) <= service.MAX_PENDING_ENROLMENTS
    for language, texts in refusals.items():
        expected = {
            translator(language)(limit.value) for limit in (EnrolmentLimit.KEY, EnrolmentLimit.FULL)
        }
        assert texts == expected, language
        if language != "en":
            assert not texts & refusals["en"]

    approval = await _approve_amal(database, org, enrolled)
    assert approval.other_chats == service.MAX_CHATS_PER_KEY - 1
    async with database.sessionmaker() as session:
        recipients = await service.eligible_caseworkers(
            session, org.signing.public_key, TODAY, min_serial=0
        )
    assert [r.delivery_chat_id for r in recipients] == [caseworker.chat_id]


async def test_after_a_flood_the_admin_discards_it_and_the_caseworkers_enroll_is_accepted(
    api: LocalBotApi, deployment: Deployment, caseworker_init: InitOutput
) -> None:
    """The bot of a deployment (its database and bot key, today); the flood fills every place,
    then ``sanad admin discard-enrolment --all`` runs as a subprocess, as an admin runs it."""
    desk = TelegramDesk(
        deployment.db,
        deployment.org.signing.public_key,
        bot_key=deployment.bot_key,
        floor=lambda: 0,
    )
    flood = 0
    while flood < service.MAX_PENDING_ENROLMENTS:
        chat_id = 8_000_000_000 + flood
        for _ in range(min(service.MAX_CLAIMS_PER_CHAT, service.MAX_PENDING_ENROLMENTS - flood)):
            await deployment.enrol(f"Fake{flood}", chat_id=chat_id)
            flood += 1
    async with serving(api, desk):
        caseworker = api.open_chat(5151, "Amal")
        await caseworker.send_command("enroll", caseworker_init.code)
        refused = await caseworker.wait_for()
        assert refused.text == translator("en")(EnrolmentLimit.FULL.value)

        discarded = deployment.sanad("admin", "discard-enrolment", "--all")
        assert discarded.returncode == 0, discarded.stderr
        assert f"enrolments waiting for approval: 0 of {flood}" in discarded.stdout

        await caseworker.send_command("enroll", caseworker_init.code)
        enrolled = await caseworker.wait_for(lambda m: "Fingerprint:" in (m.text or ""))

    assert f"Fingerprint: {caseworker_init.fingerprint}" in (enrolled.text or "")
    approved = deployment.sanad(
        "admin", "approve", "Amal", "--org-key", str(deployment.signing_key),
        "--confirm", _confirmation_code(enrolled.text or ""),
    )  # fmt: skip
    assert approved.returncode == 0, approved.stderr
    async with deployment.db.sessionmaker() as session:
        [recipient] = await service.eligible_caseworkers(
            session, deployment.org.signing.public_key, today_utc(), min_serial=0
        )
    assert recipient.delivery_chat_id == caseworker.chat_id
