"""Key lifecycle: revocation, caseworker key rotation, recovery key rotation, signing key
rotation and the receipt pepper's overlap (DESIGN.md §4, I4, I5).

Every operation here changes *wraps*, never bodies (docs/crypto.md, "Recipient wraps"): who can
read a report is decided by which keys hold a sealed copy of its data key. The private keys these
functions take (the recovery key, the organisation signing key) come from key files an admin
brings; the bot itself never holds them (I5).

- :func:`revoke`: a caseworker (and the older keys they rotated away from) goes on a new signed
  revocation list, is marked revoked, loses every wrap and every pending delivery; their open
  cases are listed for reassignment. On PostgreSQL it takes
  :data:`storage.locks.CASE_DELIVERIES` first, so a reassignment or rewrap to them meanwhile is
  undone here or refused. Eligibility (:mod:`bot.services.caseworkers`) already refuses a
  revoked row *and* anyone the verified list names, so their ``/reply`` and reply files are
  refused too.
- :func:`rewrap_rotated`: after a caseworker enrolled a new key (``replaces_id``) and an admin
  approved it, their open cases are re-wrapped from the recovery key to the new key, every wrap
  of the old keys is deleted, and the old rows are retired. Like a reassignment it queues
  files for a caseworker, so on PostgreSQL it takes :data:`storage.locks.CASE_DELIVERIES` first
  and ``sanad admin redeliver`` waits for it.
- :func:`rotate_recovery`: every body's recovery wrap moves to a new recovery key in batches,
  each batch one transaction that inserts the new wraps *and* deletes the same bodies' old ones.
  So at every commit each body holds exactly one recovery wrap, under the old key or the new:
  an interruption (even SIGKILL) never leaves a body without one, and running it again resumes
  where it stopped. :func:`unwrapped_for_recovery` is the check ``sanad run`` makes before
  starting: a body with no wrap for the configured recovery key means a rotation is unfinished.
- :func:`reissue_certificates` (``sanad admin approve --all``): after a signing key rotation, the
  certificates the old key signed are re-issued under the new one, and the revocation list too,
  but only for caseworkers the old key really vouched for (a row's status is not evidence, I4).
  After a rotation because the old key was compromised, no certificate is re-issued (a thief
  could have signed any of them): only the revocations move to the new key, and every
  caseworker is approved again with fingerprint and confirmation code (I9).
- :func:`revocations_in_force`: the check ``sanad run`` makes that the database still holds the
  revocations the high-water mark (:mod:`bot.revocation_mark`) says it accepted.
- :class:`PepperRing`: the receipt pepper's versions, so a mailbox keyed under an older pepper is
  still found, and re-keyed under the current one at that look-up.

Functions that take a :class:`~storage.engine.Database` own their transactions. Errors are
:class:`~bot.services.caseworkers.CaseworkerError` (a ``SanadError``) or ``crypto`` errors.
Nothing here logs a label, a case reference or a key: events and counts only.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, cast

from sqlalchemy import delete, func, insert, select, tuple_, update
from sqlalchemy.engine import CursorResult, Result
from sqlalchemy.ext.asyncio import AsyncSession

from bot.logs import event, get_logger
from bot.server_secrets import SECRETS_DIRNAME, read_server_secret
from bot.services import caseworkers
from bot.services.caseworkers import (
    DELIVERY_KIND_OF_BODY,
    ENVELOPE_KIND_OF_BODY,
    CaseworkerError,
    NotEligible,
    WrongOrganisationKey,
    assess,
    latest_revocations,
    resolve_caseworker,
    revocations_rolled_back,
)
from bot.services.limits import DEFAULT_BATCH_SIZE, MAX_BATCH_SIZE
from crypto import (
    CertificateError,
    NotForThisKey,
    OpenFailure,
    Receipt,
    ReceiptMasterSecret,
    RevocationList,
    UnsupportedVersion,
    issue_certificate,
    issue_revocation_list,
    rewrap,
    verify_revocation_list,
)
from crypto import Wrap as CryptoWrap
from crypto.kdf_pool import KdfPool
from crypto.keys import Ed25519PublicKey, Ed25519SigningKey, X25519PublicKey, X25519SecretKey
from crypto.keys import key_id as public_key_id
from crypto.receipts import MailboxSecrets, derive_master_secret
from storage import audit, locks, outbox
from storage.engine import Database
from storage.models import (
    AuditEntry,
    BodyKind,
    Caseworker,
    CaseworkerStatus,
    DeliveryStatus,
    Mailbox,
    OutboxEntry,
    Report,
    ReportBody,
    ReportStatus,
    Wrap,
)
from storage.models import RevocationList as RevocationListRow

_log = get_logger("key_lifecycle")

# What a stopped delivery records as its error class: a class-like name, never free text.
REVOKED_DELIVERY_ERROR = "CaseworkerRevoked"
RECOVERY_COMMAND = "sanad admin rotate-recovery --old-key FILE --new-key FILE"


class RecoveryRotationUnfinished(CaseworkerError):
    """Some report parts have no wrap for the configured recovery key; the bot will not start."""


class RecoveryKeyNotPasted(RecoveryRotationUnfinished):
    """A recovery key rotation finished, but the configuration still names the old key: the one
    step left is pasting the line ``rotate-recovery`` printed."""


RECOVERY_ROTATED_EVENT = "recovery_key.rotated"


@dataclass(frozen=True)
class BodyRef:
    """One sealed body (a report or an addendum) and one of its stored wraps."""

    report_id: bytes
    sequence: int
    kind: BodyKind
    wrap: bytes = field(repr=False)


def _rewrap_one(
    part: BodyRef, *, secret_key: X25519SecretKey, key_id: bytes, new_recipient: X25519PublicKey
) -> dict[str, object]:
    """A new wrap row: ``part``'s data key re-sealed from ``secret_key`` (whose key id is
    ``key_id``) to ``new_recipient``.

    The wrap's binding to its report, sequence and kind is checked on the way (docs/crypto.md,
    "Recipient wraps"): a wrap moved onto another body raises ``OpenFailure``.
    """
    fresh = rewrap(
        CryptoWrap(key_id, part.wrap),
        kind=ENVELOPE_KIND_OF_BODY[part.kind],
        report_id=part.report_id,
        sequence=part.sequence,
        secret_key=secret_key,
        new_recipient=new_recipient,
    )
    return {
        "report_id": part.report_id,
        "sequence": part.sequence,
        "recipient_key_id": fresh.key_id,
        "wrap": fresh.wrap,
    }


def _check_recovery_key(recovery_key: X25519SecretKey, recovery_public: X25519PublicKey) -> None:
    if recovery_key.public_key != recovery_public:
        raise WrongOrganisationKey(
            "this recovery key is not the one in the configuration",
            hint="check organisation.recovery_public_key and the --recovery-key file",
        )


def _check_signing_key(signing_key: Ed25519SigningKey, org_public: Ed25519PublicKey) -> None:
    if signing_key.public_key != org_public:
        raise WrongOrganisationKey(
            "this signing key is not the organisation key pinned in the configuration",
            hint="check organisation.signing_public_key and the --org-key file",
        )


async def _add_revocation_list(
    session: AsyncSession,
    signing_key: Ed25519SigningKey,
    *,
    caseworker_ids: Iterable[str],
    key_ids: Iterable[bytes],
    today: dt.date,
    min_serial: int,
) -> int:
    """Sign a revocation list of these ids and keys and add it to the session; return its serial.

    The serial is one above the highest stored row, verified or not, and above the high-water
    mark ``min_serial``: serials are the table's key, an unverifiable row with a high serial must
    not make the new list collide with it, and a list below the mark would never be in force.
    """
    highest = await session.scalar(select(func.max(RevocationListRow.serial)))
    serial = max(int(highest or 0), min_serial) + 1
    session.add(
        RevocationListRow(
            serial=serial,
            signed=issue_revocation_list(
                signing_key,
                serial=serial,
                caseworker_ids=caseworker_ids,
                key_ids=key_ids,
                issued=today,
            ),
        )
    )
    return serial


async def _ancestors(session: AsyncSession, row: Caseworker) -> list[Caseworker]:
    """The rows ``row`` rotated away from (``replaces_id`` chain), newest first."""
    found: list[Caseworker] = []
    seen = {row.id}
    current = row
    while current.replaces_id is not None and current.replaces_id not in seen:
        earlier = await session.get(Caseworker, current.replaces_id)
        if earlier is None:
            break
        found.append(earlier)
        seen.add(earlier.id)
        current = earlier
    return found


async def _pending_successors(session: AsyncSession, ids: set[int]) -> list[Caseworker]:
    """Rows waiting for approval that would rotate one of ``ids`` (directly or in a chain)."""
    found: list[Caseworker] = []
    seen = set(ids)
    frontier = set(ids)
    while frontier:
        rows = [
            r
            for r in await session.scalars(
                select(Caseworker).where(
                    Caseworker.replaces_id.in_(frontier),
                    Caseworker.status == CaseworkerStatus.PENDING,
                )
            )
            if r.id not in seen
        ]
        found += rows
        frontier = {r.id for r in rows}
        seen |= frontier
    return found


async def _lock_cases(session: AsyncSession, caseworker_ids: Sequence[int]) -> None:
    """Lock the rows of every case assigned to ``caseworker_ids``, closed ones too, by id.

    Taken before reading these cases' bodies or wraps to act on them: a reporter's addition
    locks its case's row before reading the assignment
    (:meth:`bot.services.mailbox.MailboxService.add_information`), so it either commits first
    and is read here, or waits and reads what this transaction committed (I8). By id, the one
    order of every transaction locking several cases (``storage.locks``, "Lock order"). A no-op
    on SQLite, where ``BEGIN IMMEDIATE`` admits one writer.
    """
    await session.execute(
        select(Report.id)
        .where(Report.assigned_caseworker_id.in_(caseworker_ids))
        .order_by(Report.id)
        .with_for_update()
    )


async def _open_cases(session: AsyncSession, caseworker_ids: Sequence[int]) -> list[Report]:
    rows = await session.scalars(
        select(Report)
        .where(
            Report.assigned_caseworker_id.in_(caseworker_ids),
            Report.status != ReportStatus.CLOSED,
        )
        .order_by(Report.created_day, Report.case_reference)
    )
    return list(rows)


# ---------------------------------------------------------------------------------------------
# Revocation


@dataclass(frozen=True)
class Revocation:
    """What ``revoke`` did, for the CLI: counts, the list's serial, the cases to reassign."""

    caseworker_ids: tuple[int, ...]
    serial: int
    wraps_removed: int
    deliveries_stopped: int
    open_cases: tuple[str, ...]


async def revoke(
    db: Database,
    *,
    who: str,
    signing_key: Ed25519SigningKey,
    org_public: Ed25519PublicKey,
    today: dt.date,
    min_serial: int,
    after_rollback: bool = False,
) -> Revocation:
    """Revoke caseworker ``who`` (id or label), in one transaction.

    Revoked together: that row, the older keys it rotated away from, and newer keys still waiting
    for approval (a key enrolled from the same chat must not be approvable after its owner was
    revoked). A newer key that an admin already approved is left alone: revoking a lost old key
    must not cut off its replacement. For those rows: a new revocation list with serial one above
    the highest stored, naming their ids and both key ids of each, signed with ``signing_key``
    (which must be the pinned key); status ``revoked``; every wrap under their encryption keys
    deleted (their copy of each report is crypto-shredded; the recovery key's remains); pending
    deliveries to them marked failed with :data:`REVOKED_DELIVERY_ERROR`. Their open cases keep
    their assignment so ``sanad admin reassign --all-from`` finds them. Audited. Commits.

    On PostgreSQL it takes :data:`storage.locks.CASE_DELIVERIES` first, as a reassignment and a
    rewrap do before checking that their target may receive: one of those either commits before
    this transaction reads anything, and its wraps and deliveries are removed here with the rest,
    or waits for this commit and finds the caseworker revoked (I4). Then the rows of the cases
    assigned to them are locked (:func:`_lock_cases`), so that no reporter's addition sealed to
    them commits after their wraps are deleted.

    The new list's serial is above the high-water mark ``min_serial`` too; the caller raises the
    mark to it after the commit (:func:`bot.revocation_mark.raise_mark`). In a database whose
    lists stop below the mark it raises
    :class:`~bot.services.caseworkers.RevocationsRolledBack`: a list carrying over only what is
    left would lift the mark over the lost revocations, and whoever they named would be a
    recipient again. With ``after_rollback`` the admin says they know, and revokes again
    everyone revoked since: that is how the revocations are signed again.
    """
    _check_signing_key(signing_key, org_public)
    async with db.sessionmaker() as session, session.begin():
        # First (storage.locks, "Lock order"): a reassignment or rewrap that checked them
        # eligible commits before anything is read here, or waits and finds them revoked.
        await locks.take(session, locks.CASE_DELIVERIES)
        row = await resolve_caseworker(session, who)
        current = await latest_revocations(
            session, org_public, min_serial=0 if after_rollback else min_serial
        )
        if (
            row.status is CaseworkerStatus.REVOKED
            and current is not None
            and (str(row.id) in current.caseworker_ids)
        ):
            raise CaseworkerError("this caseworker is already revoked")
        family = [row, *await _ancestors(session, row)]
        family += await _pending_successors(session, {r.id for r in family})
        ids = [r.id for r in family]
        # Before anything is written: an addition sealed to them meanwhile commits first, and
        # its wrap goes below, or waits and finds them revoked.
        await _lock_cases(session, ids)
        key_ids = [r.encryption_key_id for r in family]
        listed_ids = set(current.caseworker_ids) if current else set()
        listed_keys = set(current.key_ids) if current else set()
        listed_ids |= {str(i) for i in ids}
        listed_keys |= set(key_ids)
        listed_keys |= {public_key_id(r.signing_public_key) for r in family}
        serial = await _add_revocation_list(
            session,
            signing_key,
            caseworker_ids=listed_ids,
            key_ids=listed_keys,
            today=today,
            min_serial=min_serial,
        )
        for member in family:
            member.status = CaseworkerStatus.REVOKED
        wraps_removed = await _delete_wraps(session, key_ids)
        stopped = await session.execute(
            update(OutboxEntry)
            .where(
                OutboxEntry.caseworker_id.in_(ids),
                OutboxEntry.status == DeliveryStatus.PENDING,
            )
            .values(
                status=DeliveryStatus.FAILED,
                last_error=REVOKED_DELIVERY_ERROR,
                claimed_until=None,
                claimed_by=None,
            )
            .execution_options(synchronize_session=False)
        )
        cases = await _open_cases(session, ids)
        await audit.append(
            session,
            "caseworker.revoked",
            org_public.key_id,
            {
                "caseworkers": len(ids),
                "wraps_removed": wraps_removed,
                "deliveries_stopped": _rowcount(stopped),
                "open_cases": len(cases),
            },
            today,
        )
        result = Revocation(
            tuple(ids),
            serial,
            wraps_removed,
            _rowcount(stopped),
            tuple(c.case_reference for c in cases),
        )
    event(_log, "caseworker.revoked", caseworkers=len(ids), open_cases=len(cases))
    return result


def _rowcount(result: Result[Any]) -> int:
    """Rows a DELETE or UPDATE touched (both drivers report it for plain DML)."""
    return int(cast("CursorResult[Any]", result).rowcount or 0)


async def _delete_wraps(session: AsyncSession, key_ids: Sequence[bytes]) -> int:
    result = await session.execute(
        delete(Wrap)
        .where(Wrap.recipient_key_id.in_(key_ids))
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result)


async def reassign_all(
    db: Database,
    *,
    from_who: str,
    to: str,
    recovery_key: X25519SecretKey,
    recovery_public: X25519PublicKey,
    org_public: Ed25519PublicKey,
    today: dt.date,
    now: dt.datetime,
    min_serial: int,
) -> list[caseworkers.Reassignment]:
    """Give every open case of caseworker ``from_who`` to ``to`` (after a revocation, a leave).

    Each case goes through :func:`bot.services.caseworkers.reassign`, one transaction per case,
    so a failure part-way leaves every case either moved or untouched, and running it again
    moves the rest; each of those transactions takes the lock that ``sanad admin redeliver``
    waits for (:data:`storage.locks.CASE_DELIVERIES`), then its one case's row, so no order
    between cases is needed. Raises what that function raises; refuses
    to move cases to the same row.
    """
    async with db.sessionmaker() as session, session.begin():
        source = await resolve_caseworker(session, from_who)
        target = await resolve_caseworker(session, to)
        references = [c.case_reference for c in await _open_cases(session, [source.id])]
    if source.id == target.id:
        raise CaseworkerError("these cases are already assigned to this caseworker")
    return [
        await caseworkers.reassign(
            db,
            case_reference=reference,
            to=str(target.id),
            recovery_key=recovery_key,
            recovery_public=recovery_public,
            org_public=org_public,
            today=today,
            now=now,
            min_serial=min_serial,
        )
        for reference in references
    ]


# ---------------------------------------------------------------------------------------------
# Caseworker key rotation


@dataclass(frozen=True)
class Rewrapping:
    """What ``rewrap_rotated`` moved from a caseworker's old keys to their new one."""

    caseworker_id: int
    retired_ids: tuple[int, ...]
    cases: int
    parts: int
    wraps_removed: int


async def rewrap_rotated(
    db: Database,
    *,
    who: str,
    recovery_key: X25519SecretKey,
    recovery_public: X25519PublicKey,
    org_public: Ed25519PublicKey,
    today: dt.date,
    now: dt.datetime,
    min_serial: int,
) -> Rewrapping:
    """Move the open cases of caseworker ``who``'s older keys to ``who``'s key, in one transaction.

    ``who`` must be eligible (approved, certificate verified against ``org_public``, I4) and
    replace an earlier row (``replaces_id``, set when they enrolled the new key from the same
    chat). Every body of each open case assigned to an older key is re-wrapped from the recovery
    wrap to the new key (a body already holding a wrap for it is skipped, so a second run changes
    nothing); every wrap under an older key is deleted, closed cases included, so an old key
    opens nothing still stored; the cases are assigned to the new row with their status kept;
    pending deliveries to the old rows are dropped and each moved body is queued for the new key
    from ``now`` (the caseworker may no longer hold the old key). The old rows are retired
    (status ``revoked``). The cases' rows are locked before they are read (:func:`_lock_cases`),
    so that a reporter's addition sealed to an old key meanwhile is moved too. Audited. Commits.
    Raises
    :class:`~bot.services.caseworkers.RevocationsRolledBack` below the high-water mark
    ``min_serial``.
    """
    _check_recovery_key(recovery_key, recovery_public)
    async with db.sessionmaker() as session, session.begin():
        # It queues the moved cases' files: first, before the audit append lock, as reassign
        # does (storage.locks).
        await locks.take(session, locks.CASE_DELIVERIES)
        row = await resolve_caseworker(session, who)
        revocations = await latest_revocations(session, org_public, min_serial=min_serial)
        verdict = assess(row, org_public, today, revocations)
        if verdict.recipient is None:
            reason = verdict.reason.value if verdict.reason else "not eligible"
            raise NotEligible(f"the bot will not seal to this caseworker: {reason}")
        old_rows = await _ancestors(session, row)
        if not old_rows:
            raise CaseworkerError(
                "this caseworker does not replace an earlier key",
                hint="the new key is sent with /enroll from the same chat, under the same label",
            )
        new_key = verdict.recipient.keys.encryption
        old_ids = [r.id for r in old_rows]
        # Before reading the cases: an addition sealed to an old key meanwhile is moved too.
        await _lock_cases(session, old_ids)
        cases = await _open_cases(session, old_ids)
        case_ids = [c.id for c in cases]
        bodies = list(
            (
                await session.execute(
                    select(ReportBody.report_id, ReportBody.sequence, ReportBody.kind)
                    .where(ReportBody.report_id.in_(case_ids))
                    .order_by(ReportBody.report_id, ReportBody.sequence)
                )
            ).all()
        )
        wraps = await _wraps_by_key(session, case_ids, [recovery_public.key_id, new_key.key_id])
        to_move: list[BodyRef] = []
        for report_id, sequence, kind in bodies:
            held = wraps.get((report_id, sequence), {})
            if new_key.key_id in held:
                continue
            recovery_wrap = held.get(recovery_public.key_id)
            if recovery_wrap is None:
                raise CaseworkerError(
                    "a part of these cases has no wrap for the recovery key; nothing was moved"
                )
            to_move.append(BodyRef(report_id, sequence, kind, recovery_wrap))
        new_rows = [
            _rewrap_one(
                part,
                secret_key=recovery_key,
                key_id=recovery_public.key_id,
                new_recipient=new_key,
            )
            for part in to_move
        ]
        wraps_removed = await _delete_wraps(session, [r.encryption_key_id for r in old_rows])
        if new_rows:
            await session.execute(insert(Wrap), new_rows)
        await session.execute(
            delete(OutboxEntry)
            .where(
                OutboxEntry.caseworker_id.in_(old_ids),
                OutboxEntry.status == DeliveryStatus.PENDING,
            )
            .execution_options(synchronize_session=False)
        )
        for report_id, sequence, kind in bodies:
            await outbox.enqueue(
                session,
                kind=DELIVERY_KIND_OF_BODY[kind],
                caseworker_id=row.id,
                report_id=report_id,
                sequence=sequence,
                not_before=now,
            )
        for case in cases:
            case.assigned_caseworker_id = row.id
        for old in old_rows:
            old.status = CaseworkerStatus.REVOKED
        await audit.append(
            session,
            "caseworker.key_rotated",
            recovery_public.key_id,
            {"cases": len(cases), "parts": len(new_rows), "wraps_removed": wraps_removed},
            today,
        )
        result = Rewrapping(row.id, tuple(old_ids), len(cases), len(new_rows), wraps_removed)
    event(_log, "caseworker.key_rotated", cases=result.cases, parts=result.parts)
    return result


async def _wraps_by_key(
    session: AsyncSession, report_ids: Sequence[bytes], key_ids: Sequence[bytes]
) -> dict[tuple[bytes, int], dict[bytes, bytes]]:
    """The wraps under ``key_ids`` of the given reports: (report id, sequence) → key id → wrap."""
    found: dict[tuple[bytes, int], dict[bytes, bytes]] = {}
    if not report_ids:
        return found
    rows = await session.execute(
        select(Wrap.report_id, Wrap.sequence, Wrap.recipient_key_id, Wrap.wrap).where(
            Wrap.report_id.in_(report_ids), Wrap.recipient_key_id.in_(key_ids)
        )
    )
    for report_id, sequence, key, wrap in rows.all():
        found.setdefault((report_id, sequence), {})[key] = wrap
    return found


# ---------------------------------------------------------------------------------------------
# Recovery key rotation


@dataclass(frozen=True)
class RecoveryRotation:
    """Counts of a ``rotate_recovery`` run (a resumed run counts only what it did itself)."""

    rewrapped: int = 0
    already_new: int = 0  # parts that held a new wrap already: only their old wrap went
    unopened: int = 0  # old wraps that did not open: left in place, the part was not moved
    without_recovery_wrap: int = 0  # parts with neither key's wrap: nothing to move
    batches: int = 0

    @property
    def complete(self) -> bool:
        """True when every part seen now holds a wrap for the new key and none for the old."""
        return self.unopened == 0 and self.without_recovery_wrap == 0

    def plus(self, other: RecoveryRotation) -> RecoveryRotation:
        return RecoveryRotation(
            self.rewrapped + other.rewrapped,
            self.already_new + other.already_new,
            self.unopened + other.unopened,
            self.without_recovery_wrap + other.without_recovery_wrap,
            self.batches + other.batches,
        )


async def rotate_recovery(
    db: Database,
    *,
    old_key: X25519SecretKey,
    new_public: X25519PublicKey,
    today: dt.date,
    batch_size: int = DEFAULT_BATCH_SIZE,
    on_batch: Callable[[RecoveryRotation], None] | None = None,
) -> RecoveryRotation:
    """Move every body's recovery wrap from ``old_key`` to ``new_public``, batch by batch.

    Bodies are visited in (report id, sequence) order, ``batch_size`` per transaction. In one
    transaction a batch inserts the new wraps and deletes the old wraps of the same bodies, so
    after any commit every body holds one recovery wrap, old or new, never none; a run killed
    at any instant loses at most its open batch, which rolls back, and the next run re-visits
    everything: a body with a wrap for the new key is not re-wrapped (its old wrap, if any, is
    dropped). An old wrap that does not open is left where it is and counted, never deleted
    (that would shred the report). ``on_batch`` is called with each committed batch's counts.
    Audited once at the end. Raises ValueError for a batch size outside 1..MAX_BATCH_SIZE or
    when the two keys are one.
    """
    if not 1 <= batch_size <= MAX_BATCH_SIZE:
        raise ValueError(f"batch size must be 1..{MAX_BATCH_SIZE}")
    old_id, new_id = old_key.public_key.key_id, new_public.key_id
    if old_id == new_id:
        raise ValueError("the old and new recovery keys are the same key")
    total = RecoveryRotation()
    after: tuple[bytes, int] | None = None
    while True:
        async with db.sessionmaker() as session, session.begin():
            batch, after = await _rotate_batch(
                session, old_key, new_public, after=after, limit=batch_size
            )
        if after is None:
            break
        total = total.plus(batch)
        if on_batch is not None:
            on_batch(batch)
    async with db.sessionmaker() as session, session.begin():
        await audit.append(
            session,
            RECOVERY_ROTATED_EVENT,
            old_id,
            {
                "rewrapped": total.rewrapped,
                "unopened": total.unopened,
                "without_recovery_wrap": total.without_recovery_wrap,
            },
            today,
        )
    event(_log, "recovery_key.rotated", rewrapped=total.rewrapped, unopened=total.unopened)
    return total


async def _rotate_batch(
    session: AsyncSession,
    old_key: X25519SecretKey,
    new_public: X25519PublicKey,
    *,
    after: tuple[bytes, int] | None,
    limit: int,
) -> tuple[RecoveryRotation, tuple[bytes, int] | None]:
    """One batch of :func:`rotate_recovery` in the caller's transaction; returns its counts and
    the last body visited (None when there was nothing left)."""
    old_id, new_id = old_key.public_key.key_id, new_public.key_id
    position = tuple_(ReportBody.report_id, ReportBody.sequence)
    query = select(ReportBody.report_id, ReportBody.sequence, ReportBody.kind)
    if after is not None:
        query = query.where(position > tuple_(*after))
    bodies = list(
        (
            await session.execute(
                query.order_by(ReportBody.report_id, ReportBody.sequence).limit(limit)
            )
        ).all()
    )
    if not bodies:
        return RecoveryRotation(), None
    first, last = (bodies[0][0], bodies[0][1]), (bodies[-1][0], bodies[-1][1])
    wrap_position = tuple_(Wrap.report_id, Wrap.sequence)
    held: dict[tuple[bytes, int], dict[bytes, bytes]] = {}
    for report_id, sequence, key, wrap in (
        await session.execute(
            select(Wrap.report_id, Wrap.sequence, Wrap.recipient_key_id, Wrap.wrap).where(
                Wrap.recipient_key_id.in_([old_id, new_id]),
                wrap_position >= tuple_(*first),
                wrap_position <= tuple_(*last),
            )
        )
    ).all():
        held.setdefault((report_id, sequence), {})[key] = wrap
    to_move: list[BodyRef] = []
    retire: list[tuple[bytes, int]] = []
    already_new = missing = unopened = 0
    for report_id, sequence, kind in bodies:
        wraps = held.get((report_id, sequence), {})
        if new_id in wraps:
            already_new += 1
            if old_id in wraps:
                retire.append((report_id, sequence))
        elif old_id in wraps:
            to_move.append(BodyRef(report_id, sequence, kind, wraps[old_id]))
        else:
            missing += 1
    new_rows: list[dict[str, object]] = []
    for part in to_move:
        try:
            new_rows.append(
                _rewrap_one(part, secret_key=old_key, key_id=old_id, new_recipient=new_public)
            )
        except (OpenFailure, NotForThisKey):
            unopened += 1
            continue
        retire.append((part.report_id, part.sequence))
    if new_rows:
        await session.execute(insert(Wrap), new_rows)
    if retire:
        # Same transaction as the insert: a body never commits without a recovery wrap.
        await session.execute(
            delete(Wrap)
            .where(Wrap.recipient_key_id == old_id, wrap_position.in_(retire))
            .execution_options(synchronize_session=False)
        )
    counts = RecoveryRotation(len(new_rows), already_new, unopened, missing, 1)
    return counts, last


async def unwrapped_for_recovery(session: AsyncSession, recovery_public: X25519PublicKey) -> int:
    """How many bodies hold no wrap for ``recovery_public`` (0 when configuration and data agree).

    Every body is sealed to the recovery key when stored and keeps that wrap through
    reassignment and revocation, so a body without one means a recovery key rotation is
    unfinished (or the configuration names another key than the reports were sealed to).
    """
    has_wrap = (
        select(Wrap.report_id)
        .where(
            Wrap.report_id == ReportBody.report_id,
            Wrap.sequence == ReportBody.sequence,
            Wrap.recipient_key_id == recovery_public.key_id,
        )
        .exists()
    )
    count = await session.scalar(select(func.count()).select_from(ReportBody).where(~has_wrap))
    return int(count or 0)


async def _rotated_away_from(session: AsyncSession, recovery_public: X25519PublicKey) -> bool:
    """True when the audit log records a rotation away from ``recovery_public`` that moved every
    part (only the configuration line is then left to change).

    The audit log only chooses the words here, never whether the bot starts: a database writer
    who forged an entry gets a different refusal, not a start.
    """
    rows = await session.scalars(
        select(AuditEntry.counts).where(
            AuditEntry.event == RECOVERY_ROTATED_EVENT,
            AuditEntry.actor_key_id == recovery_public.key_id,
        )
    )
    return any(
        isinstance(counts, dict)
        and counts.get("unopened") == 0
        and counts.get("without_recovery_wrap") == 0
        for counts in rows
    )


async def recovery_wraps_problem(
    session: AsyncSession, recovery_public: X25519PublicKey
) -> RecoveryRotationUnfinished | None:
    """Why the configured recovery key and the stored wraps disagree, or None when they agree.

    :class:`RecoveryKeyNotPasted` when a finished rotation moved every part away from the
    configured key (paste the new key's line); otherwise :class:`RecoveryRotationUnfinished`,
    naming the command that finishes the rotation. ``sanad check-config`` shows the same.
    """
    missing = await unwrapped_for_recovery(session, recovery_public)
    if not missing:
        return None
    if await _rotated_away_from(session, recovery_public):
        return RecoveryKeyNotPasted(
            "the recovery key was rotated, and the configuration still names the old one",
            hint="paste the new recovery key line (recovery_public_key = ...) that "
            "`sanad admin rotate-recovery` printed into the [organisation] table, "
            "then start the bot again",
        )
    return RecoveryRotationUnfinished(
        f"{missing} report part(s) have no wrap for the configured recovery key: "
        "a recovery key rotation is unfinished",
        hint=f"finish it with `{RECOVERY_COMMAND}`, then start the bot again; "
        "if no rotation was started, check organisation.recovery_public_key",
    )


async def check_recovery_wraps(db: Database, recovery_public: X25519PublicKey) -> None:
    """Refuse to run while the configured recovery key and the stored wraps disagree.

    Raises what :func:`recovery_wraps_problem` finds. ``sanad run`` calls it after migrating and
    before handling the first update: a bot that sealed new reports to one recovery key while
    older ones wait for the other would leave the organisation needing two keys to read its
    cases.
    """
    async with db.sessionmaker() as session, session.begin():
        problem = await recovery_wraps_problem(session, recovery_public)
    if problem is not None:
        event(_log, "recovery_key.mismatch")
        raise problem


# ---------------------------------------------------------------------------------------------
# Organisation signing key rotation


@dataclass(frozen=True)
class Reissue:
    """What ``reissue_certificates`` signed: caseworker ids, and the list's new serial if any."""

    caseworker_ids: tuple[int, ...]
    skipped: int
    revocation_serial: int | None


async def reissue_certificates(
    db: Database,
    *,
    signing_key: Ed25519SigningKey,
    org_public: Ed25519PublicKey,
    previous: Ed25519PublicKey | None,
    today: dt.date,
    days: int,
    min_serial: int,
) -> Reissue:
    """Re-sign, with ``signing_key`` (the pinned ``org_public``), every certificate in force.

    In force means: the row is ``verified`` and its certificate verifies today against
    ``org_public`` or ``previous`` (the key a verified rotation statement says ``org_public``
    replaces), for this row's id and keys, and neither is revoked by the latest list signed by
    that same key. Nothing else is signed: a row an intruder marked ``verified`` has no
    certificate from either key, so it gains nothing (I4). Each new certificate keeps the chat
    the old one named (I9) and runs ``days`` from ``today``. The latest revocation list under
    ``previous`` is re-issued under ``org_public`` with the next serial (above ``min_serial``),
    so a revoked caseworker stays revoked after the switch. Audited. Commits. Raises
    :class:`~bot.services.caseworkers.RevocationsRolledBack`, signing nothing, when neither
    key's latest list reaches the high-water mark ``min_serial``: re-issuing from a rolled-back
    list would certify again someone the deleted list revoked.

    Only for a scheduled rotation: after a compromise use
    :func:`carry_revocations_after_compromise`, which signs no certificate.
    """
    _check_signing_key(signing_key, org_public)
    signers = [org_public] + ([previous] if previous is not None else [])
    async with db.sessionmaker() as session, session.begin():
        # Each key's latest list, read without the mark: before the switch only the old key
        # has signed any. The mark applies to the newer of the two (_reach_mark).
        lists = {key: await latest_revocations(session, key, min_serial=0) for key in signers}
        _reach_mark([found.serial for found in lists.values() if found is not None], min_serial)
        rows = list(
            await session.scalars(
                select(Caseworker)
                .where(Caseworker.status == CaseworkerStatus.VERIFIED)
                .order_by(Caseworker.id)
            )
        )
        signed: list[int] = []
        for row in rows:
            verdict = next(
                (
                    v
                    for v in (assess(row, key, today, lists[key]) for key in signers)
                    if v.recipient is not None
                ),
                None,
            )
            if verdict is None or verdict.recipient is None:
                continue
            old = verdict.recipient.certificate
            # replace() keeps every field the old key signed, the chat included (I9).
            row.certificate = issue_certificate(
                replace(old, not_before=today, expires=today + dt.timedelta(days=days)),
                signing_key,
            )
            row.delivery_chat_id = old.delivery_chat_id  # the index follows the certificate
            signed.append(row.id)
        serial = None
        inherited = lists.get(previous) if previous is not None else None
        if inherited is not None:
            current = lists[org_public]
            serial = await _add_revocation_list(
                session,
                signing_key,
                caseworker_ids=inherited.caseworker_ids
                | (current.caseworker_ids if current else frozenset()),
                key_ids=inherited.key_ids | (current.key_ids if current else frozenset()),
                today=today,
                min_serial=min_serial,
            )
        await audit.append(
            session,
            "caseworker.certificates_reissued",
            org_public.key_id,
            {"caseworkers": len(signed), "skipped": len(rows) - len(signed)},
            today,
        )
    event(_log, "caseworker.certificates_reissued", caseworkers=len(signed))
    return Reissue(tuple(signed), len(rows) - len(signed), serial)


async def carry_revocations_after_compromise(
    db: Database,
    *,
    signing_key: Ed25519SigningKey,
    org_public: Ed25519PublicKey,
    previous: Ed25519PublicKey,
    today: dt.date,
    min_serial: int,
) -> int:
    """After a rotation because ``previous`` was compromised: sign, with the new key, one
    revocation list naming everyone any stored list names and every revoked row; return its
    serial (above ``min_serial``).

    No certificate is re-issued: whatever ``previous`` signed, a thief could have signed too,
    so every caseworker stays ineligible until approved again with fingerprint and confirmation
    code. Every list that verifies under either key is merged, not only the latest: a thief
    could have signed a newer list that leaves someone out, and adding a name is never unsafe.
    Audited. Commits. Raises :class:`~bot.services.caseworkers.RevocationsRolledBack`, signing
    nothing, when no list reaches the high-water mark ``min_serial``: the merge would leave out
    whoever the deleted lists named, above the mark.
    """
    _check_signing_key(signing_key, org_public)
    async with db.sessionmaker() as session, session.begin():
        ids: set[str] = set()
        keys: set[bytes] = set()
        serials: list[int] = []
        for data in await session.scalars(select(RevocationListRow.signed)):
            for key in (previous, org_public):
                try:
                    # No mark per list: an old list below it still adds names, and adding a
                    # name is never unsafe; the mark applies to the newest (_reach_mark below).
                    found = verify_revocation_list(data, key, min_serial=0)
                except (CertificateError, UnsupportedVersion):
                    continue
                ids |= found.caseworker_ids
                keys |= found.key_ids
                serials.append(found.serial)
        _reach_mark(serials, min_serial)
        for row in await session.scalars(
            select(Caseworker).where(Caseworker.status == CaseworkerStatus.REVOKED)
        ):
            ids.add(str(row.id))
            keys |= {row.encryption_key_id, public_key_id(row.signing_public_key)}
        serial = await _add_revocation_list(
            session,
            signing_key,
            caseworker_ids=ids,
            key_ids=keys,
            today=today,
            min_serial=min_serial,
        )
        await audit.append(
            session,
            "signing_key.compromise_handled",
            org_public.key_id,
            {"caseworkers_revoked": len(ids)},
            today,
        )
    event(_log, "signing_key.compromise_handled")
    return serial


def _reach_mark(serials: Iterable[int], min_serial: int) -> None:
    """Raise :class:`~bot.services.caseworkers.RevocationsRolledBack` unless one of the
    ``serials`` of lists read under either key of a rotation reaches the mark ``min_serial``."""
    if max(serials, default=0) < min_serial:
        raise revocations_rolled_back(min_serial)


async def revocations_in_force(
    db: Database, org_public: Ed25519PublicKey, *, min_serial: int
) -> RevocationList | None:
    """The latest revocation list the pinned key signed, at or above the high-water mark.

    ``sanad run`` calls it before the first update: raises
    :class:`~bot.services.caseworkers.RevocationsRolledBack` (one line) when the database's
    lists stop below ``min_serial`` — someone deleted or rolled back revocations (I9).
    """
    async with db.sessionmaker() as session, session.begin():
        return await latest_revocations(session, org_public, min_serial=min_serial)


# ---------------------------------------------------------------------------------------------
# Receipt pepper overlap

PEPPER_FILE = "receipt-pepper"  # version 1: the file bot.server_secrets creates
_PEPPER_VERSION_SUFFIX = ".v"


@dataclass(frozen=True)
class PepperRing:
    """Every receipt pepper still accepted, by version; the highest version is current.

    New mailboxes are keyed under the current pepper; a look-up tries each version, so a
    mailbox keyed under an older one is still found during the overlap, and is re-keyed then.
    """

    peppers: Mapping[int, bytes] = field(repr=False)

    def __post_init__(self) -> None:
        if not self.peppers:
            raise ValueError("a pepper ring needs at least one pepper")

    @property
    def current_version(self) -> int:
        return max(self.peppers)

    @property
    def current(self) -> bytes:
        return self.peppers[self.current_version]

    def tags(self, master: ReceiptMasterSecret) -> dict[bytes, int]:
        """The receipt's lookup tag under every pepper: tag → pepper version."""
        return {master.lookup_tag(pepper): version for version, pepper in self.peppers.items()}

    def __repr__(self) -> str:
        return f"PepperRing(versions={sorted(self.peppers)})"


def _pepper_path(state_dir: Path, version: int) -> Path:
    name = PEPPER_FILE if version == 1 else f"{PEPPER_FILE}{_PEPPER_VERSION_SUFFIX}{version}"
    return state_dir / SECRETS_DIRNAME / name


def load_pepper_ring(state_dir: Path, first: bytes) -> PepperRing:
    """The pepper ring of this deployment: ``first`` (the server secret ``receipt-pepper``, which
    :mod:`bot.server_secrets` loads and checks) and every ``receipt-pepper.vN`` beside it.

    Each later file is checked as the server secrets are (owner, mode 0600, size, no symlink);
    raises ``ConfigError`` otherwise.
    """
    peppers = {1: first}
    directory = state_dir / SECRETS_DIRNAME
    prefix = PEPPER_FILE + _PEPPER_VERSION_SUFFIX
    for path in sorted(directory.glob(prefix + "*")):
        version_text = path.name[len(prefix) :]
        if version_text.isascii() and version_text.isdigit() and int(version_text) > 1:
            peppers[int(version_text)] = read_server_secret(path, len(first))
    return PepperRing(peppers)


def add_pepper(state_dir: Path, ring: PepperRing) -> int:
    """Create the next pepper version's file (0600, never overwriting) and return its number.

    Restart the bot to use it: new mailboxes then take it, and older ones move to it at their
    next look-up. Older pepper files stay until an admin removes them after the overlap.
    """
    version = ring.current_version + 1
    path = _pepper_path(state_dir, version)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(os.urandom(len(ring.current)))
        file.flush()
        os.fsync(file.fileno())
    directory = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
    return version


@dataclass(frozen=True)
class ReceiptLookup:
    """What one Argon2id run over a receipt gives a look-up: the current mailbox secrets and the
    tag under every accepted pepper. Never printed."""

    current: MailboxSecrets = field(repr=False)
    current_version: int
    tags: Mapping[bytes, int] = field(repr=False)

    def __repr__(self) -> str:
        return "ReceiptLookup(<redacted>)"


async def derive_receipt_lookup(
    pool: KdfPool, receipt: Receipt, *, salt: bytes, ring: PepperRing
) -> ReceiptLookup:
    """Argon2id once through the bounded pool (may raise ``crypto.Busy``), then every tag."""
    if len(ring.peppers) == 1:
        # No overlap: the pool's own mailbox derivation, the same single Argon2id run.
        current = await pool.derive_mailbox(receipt, salt=salt, pepper=ring.current)
        return ReceiptLookup(
            current, ring.current_version, {current.lookup_tag: ring.current_version}
        )
    master = await pool.run(lambda: derive_master_secret(receipt, salt=salt))
    return ReceiptLookup(master.mailbox(ring.current), ring.current_version, ring.tags(master))


def rekey_mailbox(mailbox: Mailbox, lookup: ReceiptLookup) -> bool:
    """Move a mailbox found under an older pepper to the current one (caller commits).

    Returns True when it changed. Call it only for a mailbox found by one of ``lookup.tags``, in
    the transaction that found it.
    """
    if mailbox.pepper_version == lookup.current_version:
        return False
    mailbox.lookup_tag = lookup.current.lookup_tag
    mailbox.pepper_version = lookup.current_version
    return True
