"""Receipt pepper overlap, on SQLite and PostgreSQL: a mailbox keyed under an older pepper is
found after a new pepper is added, and is re-keyed under the new one at that look-up; a report
submitted after the rotation gets its mailbox under the new pepper at once."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from sqlalchemy import select

from bot.server_secrets import load_or_create_server_secrets
from bot.services import key_lifecycle as lifecycle
from bot.services.mailbox import MailboxService, MailboxSettings
from bot.services.report_submission import ReportSubmissionService
from crypto import KdfPool, derive_master_secret, generate_receipt
from crypto.keys import OrganisationKeys
from handlers.draft import Draft
from storage.engine import Database
from storage.models import Mailbox
from storage.repositories import MailboxRepository

from .conftest import NOW, TODAY, certified_bot, store_case


async def test_mailbox_under_the_old_pepper_is_found_and_rekeyed_after_rotation(
    db: Database, org: OrganisationKeys, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    server = load_or_create_server_secrets(state)
    receipt = generate_receipt()
    master = derive_master_secret(receipt, salt=server.receipt_salt)
    _, parts = await store_case(db, [org.recovery.public_key])
    old_tag = master.lookup_tag(server.receipt_pepper)
    async with db.sessionmaker() as session, session.begin():
        mailbox = await MailboxRepository(session).get_by_report(parts[0].report_id)
        assert mailbox is not None
        mailbox.lookup_tag = old_tag
        mailbox.public_key = master.mailbox_key().public_key.raw

    ring = lifecycle.load_pepper_ring(state, server.receipt_pepper)
    assert lifecycle.add_pepper(state, ring) == 2
    ring = lifecycle.load_pepper_ring(state, server.receipt_pepper)
    assert ring.current_version == 2
    assert os.stat(state / "secrets" / "receipt-pepper.v2").st_mode & 0o777 == 0o600
    service = MailboxService(
        db,
        KdfPool(1),
        MailboxSettings(
            revocation_floor=lambda: 0,
            org_signing_public=org.signing.public_key,
            recovery_public=org.recovery.public_key,
            receipt_salt=server.receipt_salt,
            receipt_pepper=server.receipt_pepper,
            jitter_seconds=0,
            peppers=ring,
        ),
        bot=certified_bot(state, org),
        clock=lambda: NOW,
    )

    view = await service.look_up(receipt)

    assert view is not None
    async with db.sessionmaker() as session:
        stored = await session.scalar(
            select(Mailbox).where(Mailbox.report_id == parts[0].report_id)
        )
    assert stored is not None
    assert stored.pepper_version == 2
    assert stored.lookup_tag == master.lookup_tag(ring.current) != old_tag
    assert stored.last_lookup_day == TODAY
    # Found again under the new tag, and a stranger's receipt still finds nothing.
    assert await service.look_up(receipt) is not None
    assert await service.look_up(generate_receipt()) is None
    assert secrets.compare_digest(ring.peppers[1], server.receipt_pepper)


async def test_new_report_after_rotation_keys_its_mailbox_under_the_current_pepper(
    db: Database, org: OrganisationKeys, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    server = load_or_create_server_secrets(state)
    lifecycle.add_pepper(state, lifecycle.load_pepper_ring(state, server.receipt_pepper))
    ring = lifecycle.load_pepper_ring(state, server.receipt_pepper)
    async with KdfPool(1) as pool:
        service = ReportSubmissionService(
            db,
            pool,
            organisation_signing_key=org.signing.public_key,
            recovery_key=org.recovery.public_key,
            receipt_salt=server.receipt_salt,
            peppers=ring,
            revocation_floor=lambda: 0,
        )
        submission = await service.submit(Draft(language="en", what_happened="pepper canary"))

    master = derive_master_secret(submission.receipt, salt=server.receipt_salt)
    async with db.sessionmaker() as session:
        stored = await session.scalar(select(Mailbox))
    assert stored is not None
    assert stored.pepper_version == 2
    assert stored.lookup_tag == master.lookup_tag(ring.peppers[2])
