"""I9 at /status: a reporter is shown a reply only when its signature verifies, for this case,
this mailbox and this number, against a certificate valid now; whatever is dropped is what
``sanad admin status`` counts. The intruder here can write any row of the database and knows
every public key in it (so they can seal a reply the reporter's mailbox key opens); what they do
not hold is the bot key or a caseworker's signing key.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets

import pytest
from sqlalchemy import select, update

from bot.services.status import gather_status
from crypto import ReplySigner, ReplyStatement, issue_revocation_list, seal_reply
from crypto.keys import Ed25519SigningKey, X25519PublicKey
from storage.models import Direction, Mailbox, MailboxMessage
from storage.models import RevocationList as RevocationListRow
from tests.mailbox.conftest import CASEWORKER_CHAT, NOW, Case, Deployment

LURE = "Meet me at the cafe on Tahrir street at 9"


async def shown(world: Deployment, case: Case, *, now: dt.datetime = NOW) -> list[str]:
    view = await world.service(clock=lambda: now).look_up(case.receipt)
    assert view is not None
    return view.replies


async def dropped(world: Deployment, *, now: dt.datetime = NOW) -> int:
    """What ``sanad admin status`` counts as failing its signature check."""
    return (await gather_status(world.db, world.config(), now)).replies_unverified


async def mailbox_id(world: Deployment, case: Case) -> int:
    async with world.db.sessionmaker() as session:
        found = await session.scalar(select(Mailbox.id).where(Mailbox.report_id == case.report_id))
    assert found is not None
    return found


def lure(case: Case, sequence: int) -> bytes:
    """A reply the reporter's mailbox key opens: anyone who read the mailbox row can make it."""
    return seal_reply(
        LURE,
        report_id=case.report_id,
        sequence=sequence,
        mailbox_public=X25519PublicKey(case.mailbox_public),
    )


async def write_row(world: Deployment, case: Case, sequence: int, **values: object) -> None:
    """A reply row written straight into the database, as an intruder with write access would."""
    async with world.db.sessionmaker() as session, session.begin():
        session.add(
            MailboxMessage(
                mailbox_id=await mailbox_id(world, case),
                sequence=sequence,
                direction=Direction.TO_REPORTER,
                created_day=NOW.date(),
                **values,
            )
        )


async def stored_row(world: Deployment, case: Case, sequence: int) -> MailboxMessage:
    async with world.db.sessionmaker() as session:
        row = await session.get(MailboxMessage, (await mailbox_id(world, case), sequence))
    assert row is not None
    return row


async def test_reply_and_reply_file_round_trip_to_status(world: Deployment) -> None:
    case = await world.submit()
    service = world.service()
    await service.store_reply(
        chat_id=CASEWORKER_CHAT, case_reference=case.case_reference, text="From the bot"
    )
    await service.store_reply_file(
        chat_id=CASEWORKER_CHAT, data=case.reply_file(world.caseworker, "From my laptop", 1)
    )

    assert await shown(world, case) == ["From the bot", "From my laptop"]
    assert await dropped(world) == 0


@pytest.mark.parametrize(
    "forgery",
    [
        pytest.param(
            lambda w: {"signer": None, "signer_key_id": None, "signature": None}, id="unsigned"
        ),
        pytest.param(
            lambda w: {
                "signer": ReplySigner.BOT.value,
                "signer_key_id": w.bot.public_key.key_id,
                "signature": secrets.token_bytes(64),
            },
            id="garbage-signature-in-the-bots-name",
        ),
        pytest.param(
            lambda w: {
                "signer": ReplySigner.CASEWORKER.value,
                "signer_key_id": w.caseworker.public.signing.key_id,
                "signature": secrets.token_bytes(64),
            },
            id="garbage-signature-in-the-caseworkers-name",
        ),
        pytest.param(
            lambda w: {"signer": 9, "signer_key_id": bytes(16), "signature": bytes(64)},
            id="unknown-signer",
        ),
    ],
)
async def test_reply_row_written_into_the_database_is_not_shown_and_is_counted(
    world: Deployment, forgery: object
) -> None:
    case = await world.submit()
    await write_row(world, case, 0, message_sealed=lure(case, 0), **forgery(world))  # type: ignore[operator]

    assert await shown(world, case) == []
    assert await dropped(world) == 1


async def test_reply_signed_by_a_key_the_organisation_never_certified_is_not_shown(
    world: Deployment,
) -> None:
    case = await world.submit()
    intruder = Ed25519SigningKey.generate()
    statement = ReplyStatement(
        signer=ReplySigner.BOT,
        case_reference=case.case_reference,
        report_id=case.report_id,
        mailbox_key_id=case.mailbox_key_id,
        sequence=0,
        sealed_reply=lure(case, 0),
    )
    await write_row(
        world,
        case,
        0,
        message_sealed=statement.sealed_reply,
        signer=ReplySigner.BOT.value,
        signer_key_id=intruder.public_key.key_id,
        signature=statement.sign(intruder),
    )

    assert await shown(world, case) == []
    assert await dropped(world) == 1


async def test_ciphertext_replaced_under_a_valid_signature_is_not_shown(
    world: Deployment,
) -> None:
    case = await world.submit()
    await world.service().store_reply(
        chat_id=CASEWORKER_CHAT, case_reference=case.case_reference, text="We will call you"
    )
    async with world.db.sessionmaker() as session, session.begin():
        await session.execute(update(MailboxMessage).values(message_sealed=lure(case, 0)))

    assert await shown(world, case) == []
    assert await dropped(world) == 1


async def test_ciphertext_with_a_flipped_byte_is_not_shown(world: Deployment) -> None:
    case = await world.submit()
    await world.service().store_reply_file(
        chat_id=CASEWORKER_CHAT, data=case.reply_file(world.caseworker, "Hello", 0)
    )
    row = await stored_row(world, case, 0)
    altered = bytearray(row.message_sealed)
    altered[-1] ^= 1
    async with world.db.sessionmaker() as session, session.begin():
        await session.execute(update(MailboxMessage).values(message_sealed=bytes(altered)))

    assert await shown(world, case) == []
    assert await dropped(world) == 1


async def test_valid_signature_copied_onto_a_forged_reply_is_not_shown(
    world: Deployment,
) -> None:
    case = await world.submit()
    await world.service().store_reply(
        chat_id=CASEWORKER_CHAT, case_reference=case.case_reference, text="We will call you"
    )
    genuine = await stored_row(world, case, 0)
    await write_row(
        world,
        case,
        1,
        message_sealed=lure(case, 1),
        signer=genuine.signer,
        signer_key_id=genuine.signer_key_id,
        signature=genuine.signature,
    )

    assert await shown(world, case) == ["We will call you"]
    assert await dropped(world) == 1


async def test_reply_moved_to_another_case_is_not_shown_there(world: Deployment) -> None:
    case, other = await world.submit(), await world.submit()
    await world.service().store_reply_file(
        chat_id=CASEWORKER_CHAT, data=case.reply_file(world.caseworker, "Hello", 0)
    )
    async with world.db.sessionmaker() as session, session.begin():
        await session.execute(
            update(MailboxMessage).values(mailbox_id=await mailbox_id(world, other))
        )

    assert await shown(world, other) == []
    assert await shown(world, case) == []
    assert await dropped(world) == 1


async def test_replies_renumbered_are_not_shown(world: Deployment) -> None:
    case = await world.submit()
    service = world.service()
    for text in ("First", "Second"):
        await service.store_reply(
            chat_id=CASEWORKER_CHAT, case_reference=case.case_reference, text=text
        )
    # Swap the two numbers: each row keeps its own ciphertext and signature.
    async with world.db.sessionmaker() as session, session.begin():
        for old, new in ((0, 100), (1, 0), (100, 1)):
            await session.execute(
                update(MailboxMessage).where(MailboxMessage.sequence == old).values(sequence=new)
            )

    assert await shown(world, case) == []
    assert await dropped(world) == 2


async def test_bot_signature_relabelled_as_a_caseworkers_is_not_shown(
    world: Deployment,
) -> None:
    case = await world.submit()
    await world.service().store_reply(
        chat_id=CASEWORKER_CHAT, case_reference=case.case_reference, text="Hello"
    )
    async with world.db.sessionmaker() as session, session.begin():
        await session.execute(
            update(MailboxMessage).values(
                signer=ReplySigner.CASEWORKER.value,
                signer_key_id=world.caseworker.public.signing.key_id,
            )
        )

    assert await shown(world, case) == []
    assert await dropped(world) == 1


async def test_reply_of_a_caseworker_revoked_since_is_no_longer_shown(
    world: Deployment,
) -> None:
    case = await world.submit()
    await world.service().store_reply_file(
        chat_id=CASEWORKER_CHAT, data=case.reply_file(world.caseworker, "Hello", 0)
    )
    assert await shown(world, case) == ["Hello"]
    # A signed revocation list, as `sanad admin revoke` stores it: the row itself is untouched.
    signed = issue_revocation_list(
        world.org.signing, serial=1, caseworker_ids=[str(world.caseworker_id)], issued=NOW.date()
    )
    async with world.db.sessionmaker() as session, session.begin():
        session.add(RevocationListRow(serial=1, signed=signed))

    assert await shown(world, case) == []
    assert await dropped(world) == 1


async def test_bot_reply_is_no_longer_shown_once_the_bot_certificate_expired(
    world: Deployment,
) -> None:
    case = await world.submit()
    await world.service().store_reply(
        chat_id=CASEWORKER_CHAT, case_reference=case.case_reference, text="Hello"
    )
    after_expiry = dt.datetime.combine(
        world.bot.verified.expires + dt.timedelta(days=1), dt.time(12), dt.UTC
    )

    assert await shown(world, case, now=after_expiry) == []


async def test_status_logs_how_many_replies_it_dropped_and_nothing_else(
    world: Deployment, caplog: pytest.LogCaptureFixture
) -> None:
    case = await world.submit()
    await write_row(world, case, 0, message_sealed=lure(case, 0))
    with caplog.at_level(logging.INFO):
        await shown(world, case)
    [record] = [r for r in caplog.records if r.getMessage() == "mailbox.reply_unverified"]
    assert record.sanad_counts == {"replies": 1}  # type: ignore[attr-defined]
    assert case.case_reference not in caplog.text
