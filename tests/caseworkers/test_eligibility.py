"""I4: only caseworkers whose certificate verifies against the pinned key are recipients.

Each test builds one way a row can look trustworthy without being so, and checks both that
``eligible_caseworkers`` leaves it out and that the reason an admin sees names the cause.
"""

from __future__ import annotations

import datetime as dt

from bot.services import caseworkers as service
from bot.services.caseworkers import Ineligibility
from crypto import issue_revocation_list
from crypto.keys import OrganisationKeys
from storage.engine import Database
from storage.models import Caseworker, CaseworkerStatus, Language, RevocationList
from tests.storage.helpers import store_opaque_report

from .conftest import TODAY, approved, certificate_for, insert_by_hand, set_certificate


async def _verdicts(
    db: Database, org: OrganisationKeys, today: dt.date = TODAY
) -> tuple[set[int], dict[int, Ineligibility | None]]:
    async with db.sessionmaker() as session, session.begin():
        eligible = await service.eligible_caseworkers(
            session, org.signing.public_key, today, min_serial=0
        )
        assessments = await service.assess_caseworkers(
            session, org.signing.public_key, today, min_serial=0
        )
    return {r.caseworker_id for r in eligible}, {a.caseworker_id: a.reason for a in assessments}


async def test_approved_caseworker_is_eligible_with_certified_keys(
    db: Database, org: OrganisationKeys
) -> None:
    caseworker_id, keys = await approved(db, org, "Amal")
    async with db.sessionmaker() as session, session.begin():
        [recipient] = await service.eligible_caseworkers(
            session, org.signing.public_key, TODAY, min_serial=0
        )
    assert recipient.caseworker_id == caseworker_id
    assert recipient.keys == keys.public
    assert recipient.certificate.expires == TODAY + dt.timedelta(days=30)


async def test_pending_caseworker_without_certificate_is_not_eligible(
    db: Database, org: OrganisationKeys
) -> None:
    caseworker_id, _ = await insert_by_hand(db, "Unsigned", status=CaseworkerStatus.PENDING)
    eligible, reasons = await _verdicts(db, org)
    assert caseworker_id not in eligible
    assert reasons[caseworker_id] is Ineligibility.NO_CERTIFICATE


async def test_row_marked_verified_by_hand_without_certificate_is_not_eligible(
    db: Database, org: OrganisationKeys
) -> None:
    caseworker_id, _ = await insert_by_hand(db, "Intruder", status=CaseworkerStatus.VERIFIED)
    eligible, reasons = await _verdicts(db, org)
    assert eligible == set()
    assert reasons[caseworker_id] is Ineligibility.NO_CERTIFICATE


async def test_certificate_signed_by_a_foreign_key_is_not_eligible(
    db: Database, org: OrganisationKeys
) -> None:
    caseworker_id, keys = await insert_by_hand(db, "Foreign")
    foreign = OrganisationKeys.generate()
    await set_certificate(
        db, caseworker_id, certificate_for(caseworker_id, "Foreign", keys, foreign)
    )
    eligible, reasons = await _verdicts(db, org)
    assert eligible == set()
    assert reasons[caseworker_id] is Ineligibility.SIGNED_BY_ANOTHER_KEY


async def test_certificate_with_altered_bytes_is_not_eligible(
    db: Database, org: OrganisationKeys
) -> None:
    caseworker_id, keys = await insert_by_hand(db, "Altered")
    good = certificate_for(caseworker_id, "Altered", keys, org, days=30)
    # Flip a bit inside the signed expiry date: the signature no longer matches.
    altered = bytearray(good)
    altered[-65] ^= 0x01
    await set_certificate(db, caseworker_id, bytes(altered))
    eligible, reasons = await _verdicts(db, org)
    assert eligible == set()
    assert reasons[caseworker_id] is Ineligibility.BAD_SIGNATURE


async def test_expired_certificate_is_not_eligible(db: Database, org: OrganisationKeys) -> None:
    caseworker_id, _ = await approved(db, org, "Expiring", days=10)
    eligible_before, _ = await _verdicts(db, org, TODAY + dt.timedelta(days=9))
    eligible_after, reasons = await _verdicts(db, org, TODAY + dt.timedelta(days=10))
    assert eligible_before == {caseworker_id}
    assert eligible_after == set()
    assert reasons[caseworker_id] is Ineligibility.EXPIRED


async def test_certificate_not_yet_valid_is_not_eligible(
    db: Database, org: OrganisationKeys
) -> None:
    caseworker_id, keys = await insert_by_hand(db, "Early")
    later = TODAY + dt.timedelta(days=3)
    await set_certificate(
        db, caseworker_id, certificate_for(caseworker_id, "Early", keys, org, not_before=later)
    )
    eligible, reasons = await _verdicts(db, org)
    assert eligible == set()
    assert reasons[caseworker_id] is Ineligibility.NOT_YET_VALID


async def test_caseworker_on_latest_verified_revocation_list_is_not_eligible(
    db: Database, org: OrganisationKeys
) -> None:
    revoked_id, _ = await approved(db, org, "Revoked")
    kept_id, _ = await approved(db, org, "Kept")
    foreign = OrganisationKeys.generate()
    async with db.sessionmaker() as session, session.begin():
        session.add(
            RevocationList(
                serial=2,
                signed=issue_revocation_list(
                    org.signing, serial=2, caseworker_ids=[str(revoked_id)], issued=TODAY
                ),
            )
        )
        # An intruder's list with a higher serial, revoking nobody: it does not verify against
        # the pinned key, so it must not displace the real one.
        session.add(
            RevocationList(
                serial=99, signed=issue_revocation_list(foreign.signing, serial=99, issued=TODAY)
            )
        )
    eligible, reasons = await _verdicts(db, org)
    assert eligible == {kept_id}
    assert reasons[revoked_id] is Ineligibility.REVOKED_BY_LIST


async def test_row_marked_revoked_is_not_eligible_despite_valid_certificate(
    db: Database, org: OrganisationKeys
) -> None:
    caseworker_id, _ = await approved(db, org, "Left")
    async with db.sessionmaker() as session, session.begin():
        row = await session.get(Caseworker, caseworker_id)
        assert row is not None
        row.status = CaseworkerStatus.REVOKED
    eligible, reasons = await _verdicts(db, org)
    assert eligible == set()
    assert reasons[caseworker_id] is Ineligibility.REVOKED


async def test_valid_certificate_copied_onto_a_row_with_other_keys_is_not_eligible(
    db: Database, org: OrganisationKeys
) -> None:
    real_id, _ = await approved(db, org, "Real")
    impostor_id, _ = await insert_by_hand(db, "Impostor")
    async with db.sessionmaker() as session, session.begin():
        real = await session.get(Caseworker, real_id)
        assert real is not None
        assert real.certificate is not None
        copied = real.certificate
    await set_certificate(db, impostor_id, copied)
    eligible, reasons = await _verdicts(db, org)
    assert eligible == {real_id}
    assert reasons[impostor_id] is Ineligibility.KEY_MISMATCH


async def test_eligibility_uses_the_key_it_is_given_not_the_database(
    db: Database, org: OrganisationKeys
) -> None:
    caseworker_id, _ = await approved(db, org, "Pinned")
    other_deployment = OrganisationKeys.generate()
    eligible, reasons = await _verdicts(db, other_deployment)
    assert eligible == set()
    assert reasons[caseworker_id] is Ineligibility.SIGNED_BY_ANOTHER_KEY


async def test_choose_caseworker_prefers_the_least_loaded(
    db: Database, org: OrganisationKeys
) -> None:
    busy_id, _ = await approved(db, org, "Busy")
    free_id, _ = await approved(db, org, "Free")
    await store_opaque_report(db, caseworker_id=busy_id)
    async with db.sessionmaker() as session, session.begin():
        chosen = await service.choose_caseworker(
            session, org.signing.public_key, TODAY, Language.AR, min_serial=0
        )
    assert chosen is not None
    assert chosen.caseworker_id == free_id
