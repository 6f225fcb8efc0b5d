"""Who may reply, and which reply files are taken: the mailbox service on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bot.services.mailbox import (
    NOT_A_REPLY_FILE,
    NOT_YOUR_CASE,
    NOT_YOUR_SIGNATURE,
    WRONG_CASE_BINDING,
    WRONG_MAILBOX,
    ReplyRefused,
    WrongReplyNumber,
)
from crypto import ReplySigner, ReplyStatement, generate_receipt, write_reply_file
from crypto.keys import CaseworkerKeys
from storage.engine import Database
from storage.models import Caseworker, CaseworkerStatus, MailboxMessage, Report, ReportStatus
from tests.caseworkers.conftest import approved, enrolled
from tests.mailbox.conftest import CASEWORKER_CHAT, Case, Deployment

OTHER_CHAT = 7_000_099


def reply_file(case: Case, keys: CaseworkerKeys, text: str, sequence: int) -> bytes:
    return case.reply_file(keys, text, sequence)


async def message_count(db: Database) -> int:
    async with db.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(MailboxMessage)) or 0)


async def test_reply_is_stored_sealed_and_signed_by_the_bot_and_sets_case_in_progress(
    world: Deployment,
) -> None:
    case = await world.submit()
    stored = await world.service().store_reply(
        chat_id=CASEWORKER_CHAT, case_reference=case.case_reference.lower(), text="Hello"
    )
    assert (stored.case_reference, stored.sequence) == (case.case_reference, 0)
    async with world.db.sessionmaker() as session:
        report = await session.get(Report, case.report_id)
        message = await session.scalar(select(MailboxMessage))
    assert report is not None
    assert report.status is ReportStatus.IN_PROGRESS
    assert message is not None
    assert b"Hello" not in message.message_sealed
    # I9: the bot vouches for this case, this mailbox, this number and this ciphertext.
    assert (message.signer, message.signer_key_id) == (2, world.bot.public_key.key_id)
    assert message.signature is not None
    ReplyStatement(
        signer=ReplySigner.BOT,
        case_reference=case.case_reference,
        report_id=case.report_id,
        mailbox_key_id=case.mailbox_key_id,
        sequence=0,
        sealed_reply=message.message_sealed,
    ).verify(world.bot.public_key, message.signature)


async def test_reply_from_a_caseworker_not_assigned_is_refused(world: Deployment) -> None:
    case = await world.submit()
    await approved(world.db, world.org, "other", chat_id=OTHER_CHAT)
    with pytest.raises(ReplyRefused, match=NOT_YOUR_CASE):
        await world.service().store_reply(
            chat_id=OTHER_CHAT, case_reference=case.case_reference, text="Hello"
        )
    assert await message_count(world.db) == 0


async def test_reply_to_unknown_case_gets_the_same_refusal(world: Deployment) -> None:
    with pytest.raises(ReplyRefused, match=NOT_YOUR_CASE):
        await world.service().store_reply(
            chat_id=CASEWORKER_CHAT, case_reference="ZZZ-ZZZZ", text="Hello"
        )


async def test_reply_and_reply_file_from_revoked_caseworker_are_refused(
    world: Deployment,
) -> None:
    case = await world.submit()
    async with world.db.sessionmaker() as session, session.begin():
        row = await session.get(Caseworker, world.caseworker_id)
        assert row is not None
        row.status = CaseworkerStatus.REVOKED
    service = world.service()
    with pytest.raises(ReplyRefused, match=NOT_YOUR_CASE):
        await service.store_reply(
            chat_id=CASEWORKER_CHAT, case_reference=case.case_reference, text="Hello"
        )
    with pytest.raises(ReplyRefused, match=NOT_YOUR_CASE):
        await service.store_reply_file(
            chat_id=CASEWORKER_CHAT, data=reply_file(case, world.caseworker, "Hello", 0)
        )
    assert await message_count(world.db) == 0


async def test_reply_file_from_unverified_caseworker_is_refused(world: Deployment) -> None:
    case = await world.submit()
    enrolment, keys = await enrolled(world.db, "pending", chat_id=OTHER_CHAT)
    # Even with the case assigned to their row, a pending caseworker has no certificate (I4).
    async with world.db.sessionmaker() as session, session.begin():
        report = await session.get(Report, case.report_id)
        assert report is not None
        report.assigned_caseworker_id = enrolment.caseworker_id
    with pytest.raises(ReplyRefused, match=NOT_YOUR_CASE):
        await world.service().store_reply_file(
            chat_id=OTHER_CHAT, data=reply_file(case, keys, "Hello", 0)
        )
    assert await message_count(world.db) == 0


async def test_tampered_reply_file_is_refused(world: Deployment) -> None:
    case = await world.submit()
    data = bytearray(reply_file(case, world.caseworker, "Hello", 0))
    data[-100] ^= 1  # inside the sealed reply, under the signature
    with pytest.raises(ReplyRefused, match=NOT_YOUR_SIGNATURE):
        await world.service().store_reply_file(chat_id=CASEWORKER_CHAT, data=bytes(data))
    with pytest.raises(ReplyRefused, match=NOT_A_REPLY_FILE):
        await world.service().store_reply_file(chat_id=CASEWORKER_CHAT, data=b"not a reply")
    assert await message_count(world.db) == 0


async def test_reply_file_signed_with_another_key_is_refused(world: Deployment) -> None:
    case = await world.submit()
    forged = reply_file(case, CaseworkerKeys.generate(), "Come to this address", 0)
    with pytest.raises(ReplyRefused, match=NOT_YOUR_SIGNATURE):
        await world.service().store_reply_file(chat_id=CASEWORKER_CHAT, data=forged)


async def test_replayed_reply_file_is_refused_with_the_next_number(world: Deployment) -> None:
    case = await world.submit()
    service = world.service()
    data = reply_file(case, world.caseworker, "Hello", 0)
    stored = await service.store_reply_file(chat_id=CASEWORKER_CHAT, data=data)
    assert stored.sequence == 0
    with pytest.raises(WrongReplyNumber) as refused:
        await service.store_reply_file(chat_id=CASEWORKER_CHAT, data=data)
    assert refused.value.expected == 1
    assert await message_count(world.db) == 1


async def test_signature_and_signer_are_kept_with_the_unopened_reply(world: Deployment) -> None:
    case = await world.submit()
    data = reply_file(case, world.caseworker, "Hello", 0)
    await world.service().store_reply_file(chat_id=CASEWORKER_CHAT, data=data)
    async with world.db.sessionmaker() as session:
        message = await session.scalar(select(MailboxMessage))
    assert message is not None
    assert message.signature == data[-64:]
    assert message.message_sealed in data
    assert (message.signer, message.signer_key_id) == (
        1,
        world.caseworker.public.signing.key_id,
    )


async def test_reply_file_for_another_case_of_the_same_caseworker_is_refused(
    world: Deployment,
) -> None:
    case, other = await world.submit(), await world.submit()
    # Signed for ``other``'s report, but naming ``case``: the binding is checked, not assumed.
    statement = ReplyStatement(
        signer=ReplySigner.CASEWORKER,
        case_reference=case.case_reference,
        report_id=other.report_id,
        mailbox_key_id=case.mailbox_key_id,
        sequence=0,
        sealed_reply=b"srpl" + bytes(100),
    )
    with pytest.raises(ReplyRefused, match=WRONG_CASE_BINDING):
        await world.service().store_reply_file(
            chat_id=CASEWORKER_CHAT, data=write_reply_file(statement, world.caseworker.signing)
        )
    assert await message_count(world.db) == 0


async def test_reply_file_sealed_to_another_mailbox_is_refused(world: Deployment) -> None:
    case = await world.submit()
    # The caseworker's own file, but for a mailbox that is not this reporter's: whoever holds
    # that other receipt would read it, and this reporter would never be shown it.
    elsewhere = Case(
        case.report_id,
        case.case_reference,
        generate_receipt(),
        (await world.submit()).mailbox_public,
    )
    with pytest.raises(ReplyRefused, match=WRONG_MAILBOX):
        await world.service().store_reply_file(
            chat_id=CASEWORKER_CHAT, data=reply_file(elsewhere, world.caseworker, "Hello", 0)
        )
    assert await message_count(world.db) == 0
