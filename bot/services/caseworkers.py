"""Caseworkers: enrolment, approval, eligibility (I4), reassignment and their own cases.

The one rule this module exists to keep is I4: a report is sealed only to caseworker keys whose
certificate verifies against the organisation signing key *pinned in the configuration*.
:func:`eligible_caseworkers` is the only place that decides who is a recipient; the report
submission service, the forward job and the reply commands all ask it. It never trusts what the
database says about a caseworker (status, fingerprint, key id): an intruder who can write rows
can write those too. What it trusts is a signature it checks itself, against a key it was given
by the caller from the configuration, never one read from the database.

Since format v2 it also keeps I9: the chat that receives a caseworker's files and may act as
them is the one their certificate names (``Certificate.delivery_chat_id``), never the
``delivery_chat_id`` column, which is only an index for finding a chat's rows. And the revocation
list in force must reach the high-water mark kept outside the database (``min_serial``, from
:func:`bot.revocation_mark.revocation_floor`): a database whose lists were deleted or rolled back
raises :class:`RevocationsRolledBack` instead of answering.

Life of a caseworker (DESIGN.md §1, §4 "Caseworker keys", "Caseworker certificates bind the
chat"):

1. ``/enroll CODE`` in Telegram → :func:`enroll`: a ``pending`` row for the key (no chat yet) and
   an *enrolment claim* the bot signs — "this chat presented this key" — whose 8-digit
   confirmation code the bot sends back with the fingerprint. Every ``/enroll`` of the key makes
   a claim, from whichever chat: a code pasted into a stranger's chat is not refused in silence,
   it shows up as a second claim in ``sanad admin caseworkers``. Claims are bounded (one per key
   and chat, a few per chat and per key, :data:`MAX_PENDING_ENROLMENTS` in all) and expire with
   their code (:func:`expire_enrolments`) or when an admin discards them
   (:func:`discard_enrolment`, :func:`discard_all_enrolments`), so a flood of ``/enroll`` neither
   grows the table nor pushes out the caseworker's own claim. A new key under a label already
   enrolled is a *rotation*: a new pending row whose ``replaces_id`` points at the latest row of
   that label. Because labels are unique in the database, the rotation row is stored as
   ``LABEL/2``, ``LABEL/3``, ... — ``/`` cannot occur in an enrolment label, so these never
   collide with a label someone chose.
2. ``sanad admin approve ID --confirm CODE`` → :func:`approve`: after comparing the fingerprint
   and hearing the confirmation code out of band, an admin signs a certificate bound to the chat
   of the claim that code confirms; the row becomes ``verified`` and its claims are deleted.
3. From then on :func:`eligible_caseworkers` returns it — until its certificate expires, the
   latest verified revocation list names it, or its row is marked revoked.

Which eligible caseworker receives a new report is :func:`choose_caseworker`'s routing rule: one
who reads the report's language (the admin-set ``languages`` column, :func:`set_languages`), then
the least loaded. Routing is not a security property; it only ever picks among recipients
:func:`eligible_caseworkers` already accepted.

Fingerprints shown to admins are always computed here from the stored public keys, never read
from the ``fingerprint`` column: a forged column must not make a forged key look right.

Service functions that take a :class:`~storage.engine.Database` own their transaction; those that
take an ``AsyncSession`` run in the caller's. Errors are :class:`CaseworkerError` (a
:class:`~bot.errors.SanadError`, so the CLI prints them as one line) or ``crypto`` errors.
"""

from __future__ import annotations

import datetime as dt
import enum
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import ColumnElement, Result, and_, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from telegram.ext import Application

from bot.errors import SanadError
from bot.logs import event, get_logger
from bot.revocation_mark import revocation_floor
from bot.runtime import Runtime
from bot.services.limits import DEFAULT_CERTIFICATE_DAYS
from crypto import (
    Certificate,
    CertificateError,
    CertificateExpired,
    CertificateNotYetValid,
    CertificateRevoked,
    CryptoError,
    EnrolmentClaim,
    EnrolmentCodeError,
    EnvelopeKind,
    InvalidLabel,
    InvalidSignature,
    RevocationList,
    SignedByAnotherKey,
    UnsignedCertificate,
    UnsupportedVersion,
    caseworker_fingerprint,
    confirmation_code,
    decode_enrolment_code,
    display_confirmation_code,
    issue_certificate,
    issue_enrolment_claim,
    rewrap,
    verify_certificate,
    verify_enrolment_claim,
    verify_revocation_list,
)
from crypto import Wrap as CryptoWrap
from crypto.certificates import today_utc
from crypto.keys import (
    CaseworkerPublicKeys,
    Ed25519PublicKey,
    Ed25519SigningKey,
    MalformedKey,
    X25519PublicKey,
    X25519SecretKey,
)
from handlers.caseworker_commands import (
    DeskRefusal,
    EnrolmentLimit,
    EnrolmentLimited,
    install_caseworker_commands,
)
from storage import audit, locks, outbox
from storage.engine import Database
from storage.models import (
    BodyKind,
    Caseworker,
    CaseworkerStatus,
    DeliveryKind,
    DeliveryStatus,
    Language,
    OutboxEntry,
    Report,
    ReportBody,
    ReportStatus,
    Wrap,
)
from storage.models import EnrolmentClaim as EnrolmentClaimRow
from storage.models import RevocationList as RevocationListRow
from storage.repositories import CaseworkerRepository, ReportRepository

_log = get_logger("caseworkers")

# Bounds on enrolment claims (docs/admins.md, "Bounds on enrolment"). A claim costs an admin's
# attention, and a flood of them is how an adversary would hide their own key among real ones or
# grow the table without end. A chat holds one claim per key (a new /enroll replaces it), at most
# MAX_CLAIMS_PER_CHAT claims in all; a key is claimed from at most MAX_CHATS_PER_KEY chats; the
# deployment holds at most MAX_PENDING_ENROLMENTS claims. Past a bound a /enroll is refused, never
# made room for by dropping an older claim: the caseworker's own claim, made first, must survive
# a flood that comes after it.
MAX_CLAIMS_PER_CHAT = 3
MAX_CHATS_PER_KEY = 3
MAX_PENDING_ENROLMENTS = 50
ROTATION_SEPARATOR = "/"  # never valid in an enrolment label (crypto.enrolment.validate_label)
# What a stored body is sealed as, and what delivering it is: shared with the key lifecycle.
ENVELOPE_KIND_OF_BODY = {
    BodyKind.REPORT: EnvelopeKind.REPORT,
    BodyKind.ADDENDUM: EnvelopeKind.ADDENDUM,
}
DELIVERY_KIND_OF_BODY = {
    BodyKind.REPORT: DeliveryKind.REPORT,
    BodyKind.ADDENDUM: DeliveryKind.ADDENDUM,
}


class CaseworkerError(SanadError):
    """A caseworker operation was refused; the message says why, in words for the person asking."""


class UnknownCaseworker(CaseworkerError):
    """No caseworker has this id or label."""


class EnrolmentRefused(CaseworkerError):
    """This enrolment cannot be recorded (the message says why)."""


class EnrolmentCapped(EnrolmentRefused):
    """A bound on enrolment claims refuses this one; ``limit`` says which."""

    def __init__(self, message: str, limit: EnrolmentLimit) -> None:
        super().__init__(message)
        self.limit = limit


class NotEligible(CaseworkerError):
    """This caseworker is not a recipient the bot will seal to."""


class WrongOrganisationKey(CaseworkerError):
    """The key file given is not the organisation key pinned in the configuration."""


class UnknownCase(CaseworkerError):
    """No case with this reference can be acted on here."""


class ConfirmationRefused(CaseworkerError):
    """The confirmation code does not confirm any /enroll of this caseworker's key."""


class RevocationsRolledBack(CaseworkerError):
    """The database's latest valid revocation list is below the high-water mark (I9): someone
    removed revocations from the database, so nobody is sealed to until it is restored."""


class Ineligibility(enum.Enum):
    """Why the bot will not seal to a caseworker; the value is what admins read."""

    MALFORMED_KEYS = "stored public keys are malformed"
    REVOKED = "revoked"
    NO_CERTIFICATE = "no certificate"
    MALFORMED_CERTIFICATE = "certificate is damaged or of an unknown version"
    BAD_SIGNATURE = "signature does not verify against the pinned key"
    SIGNED_BY_ANOTHER_KEY = "signed by another key, not the pinned one"
    EXPIRED = "certificate expired"
    NOT_YET_VALID = "certificate not yet valid"
    REVOKED_BY_LIST = "revoked by the revocation list"
    KEY_MISMATCH = "certificate is for other keys or another caseworker"
    NOT_VERIFIED = "certificate present but status is not verified"


# What each refusal of crypto.verify_certificate means for an admin; anything else is damage.
_CERTIFICATE_FAILURES: tuple[
    tuple[type[CertificateError | UnsupportedVersion], Ineligibility], ...
] = (
    (SignedByAnotherKey, Ineligibility.SIGNED_BY_ANOTHER_KEY),
    (InvalidSignature, Ineligibility.BAD_SIGNATURE),
    (UnsignedCertificate, Ineligibility.BAD_SIGNATURE),
    (CertificateExpired, Ineligibility.EXPIRED),
    (CertificateNotYetValid, Ineligibility.NOT_YET_VALID),
    (CertificateRevoked, Ineligibility.REVOKED_BY_LIST),
)


@dataclass(frozen=True)
class Recipient:
    """An eligible caseworker: the keys and the chat come from the verified certificate, not
    from the row (I4, I9): deliver only to ``delivery_chat_id``, seal only to ``keys``.

    ``languages`` (from the row, for routing only) is empty when they read any language.
    """

    caseworker_id: int
    label: str
    delivery_chat_id: int
    keys: CaseworkerPublicKeys
    certificate: Certificate
    languages: frozenset[Language] = frozenset()

    def reads(self, language: Language) -> bool:
        """Whether a report in ``language`` may be routed to them (no languages set: any)."""
        return not self.languages or language in self.languages


@dataclass(frozen=True)
class Assessment:
    """One caseworker as an admin sees them, with the bot's verdict on sealing to them."""

    caseworker_id: int
    label: str
    status: CaseworkerStatus
    fingerprint: str | None  # computed from the stored keys; None when they are malformed
    replaces_id: int | None
    recipient: Recipient | None
    reason: Ineligibility | None
    expires: dt.date | None
    languages: frozenset[Language] = frozenset()  # empty: any
    # Distinct chats whose /enroll of this key awaits approval (claims the bot key signed);
    # None when no bot key was given to check the claims with.
    claiming_chats: int | None = None

    @property
    def eligible(self) -> bool:
        return self.recipient is not None


@dataclass(frozen=True)
class Enrolment:
    """What ``/enroll`` recorded: the row, its label, the fingerprint to compare and the
    confirmation code (shown ``1234 5678``) the caseworker reads aloud to an admin."""

    caseworker_id: int
    label: str
    fingerprint: str
    confirmation_code: str
    replaces_id: int | None


@dataclass(frozen=True)
class Approval:
    """A signed certificate, now stored: who, until when."""

    caseworker_id: int
    label: str
    fingerprint: str
    expires: dt.date
    rotation_of: int | None
    languages: frozenset[Language] = frozenset()  # empty: any
    # Other chats that sent /enroll with this key: they were not bound and get nothing.
    other_chats: int = 0


@dataclass(frozen=True)
class Reassignment:
    """What ``reassign`` changed, in counts (for the CLI and the audit log)."""

    case_reference: str
    caseworker_id: int
    bodies: int
    wraps_removed: int


@dataclass(frozen=True)
class CaseLine:
    """One of a caseworker's open cases, as ``/cases`` lists it."""

    case_reference: str
    status: ReportStatus


# ---------------------------------------------------------------------------------------------
# Eligibility (I4)


async def latest_revocations(
    session: AsyncSession, org_public: Ed25519PublicKey, *, min_serial: int
) -> RevocationList | None:
    """The revocation list in force: the highest serial whose signature verifies.

    Rows that do not verify against ``org_public`` are skipped, not trusted: an intruder who
    inserts a bogus list with a huge serial must not hide the real one. The serial compared is
    the signed one, not the column, so reordering rows cannot promote an old list.
    ``min_serial`` is the high-water mark (:func:`bot.revocation_mark.revocation_floor`); when
    no valid list reaches it — the latest was deleted, or every list was — raises
    :class:`RevocationsRolledBack` (I9: a revocation cannot be undone by a database writer).
    None only when ``min_serial`` is 0 and no list verifies.
    """
    latest: RevocationList | None = None
    for signed in await session.scalars(select(RevocationListRow.signed)):
        try:
            found = verify_revocation_list(signed, org_public, min_serial=min_serial)
        except (CertificateError, UnsupportedVersion):
            continue  # RevocationListRollback included: below the mark, never in force
        if latest is None or found.serial > latest.serial:
            latest = found
    if latest is None and min_serial > 0:
        raise revocations_rolled_back(min_serial)
    return latest


def revocations_rolled_back(min_serial: int) -> RevocationsRolledBack:
    """The one-line refusal for a database whose revocation lists stop below ``min_serial``."""
    return RevocationsRolledBack(
        f"the database has no valid revocation list with serial {min_serial} or above: "
        "revocations were removed from it",
        hint="restore the database from a backup, or sign the revocations again: "
        "`sanad admin revoke ID --after-rollback` for each caseworker revoked",
    )


def _stored_keys(row: Caseworker) -> CaseworkerPublicKeys | None:
    try:
        return CaseworkerPublicKeys(
            X25519PublicKey(row.encryption_public_key), Ed25519PublicKey(row.signing_public_key)
        )
    except MalformedKey:
        return None


# ---------------------------------------------------------------------------------------------
# Routing languages

ANY_LANGUAGE = "any"  # what an admin types, and reads, for "no languages set"


def parse_languages(text: str) -> frozenset[Language]:
    """The languages an admin named: ``"ar,fr"``; ``"any"`` (or nothing) for every language.

    Raises :class:`CaseworkerError` naming the first unknown code and the known ones.
    """
    codes = [code.strip().lower() for code in text.split(",") if code.strip()]
    if codes == [ANY_LANGUAGE]:
        return frozenset()
    known = {language.value: language for language in Language}
    for code in codes:
        if code not in known:
            raise CaseworkerError(
                f"unknown language {code!r}",
                hint=f"use codes among {', '.join(known)}, separated by commas, or {ANY_LANGUAGE}",
            )
    return frozenset(known[code] for code in codes)


def format_languages(languages: frozenset[Language]) -> str:
    """``"ar,fr"`` in a fixed order, or ``"any"``: what the CLI shows."""
    return ",".join(lang.value for lang in Language if lang in languages) or ANY_LANGUAGE


def _stored_languages(row: Caseworker) -> frozenset[Language]:
    # Lenient on read: an unknown code in an edited row is skipped rather than failing the
    # listing or a submission; at worst that caseworker reads "any" (routing, not I4).
    codes = (row.languages or "").split(",")
    return frozenset(lang for lang in Language if lang.value in codes)


def _column_languages(languages: frozenset[Language]) -> str | None:
    return None if not languages else format_languages(languages)


def assess(
    row: Caseworker,
    org_public: Ed25519PublicKey,
    today: dt.date,
    revocations: RevocationList | None,
) -> Assessment:
    """The verdict on one caseworker row (pure: no database access)."""
    keys = _stored_keys(row)
    languages = _stored_languages(row)

    def verdict(
        reason: Ineligibility | None,
        recipient: Recipient | None = None,
        expires: dt.date | None = None,
    ) -> Assessment:
        return Assessment(
            caseworker_id=row.id,
            label=row.label,
            status=row.status,
            fingerprint=caseworker_fingerprint(keys) if keys else None,
            replaces_id=row.replaces_id,
            recipient=recipient,
            reason=reason,
            expires=expires,
            languages=languages,
        )

    if keys is None:
        return verdict(Ineligibility.MALFORMED_KEYS)
    if row.status is CaseworkerStatus.REVOKED:
        return verdict(Ineligibility.REVOKED)
    if not row.certificate:
        return verdict(Ineligibility.NO_CERTIFICATE)
    try:
        certificate = verify_certificate(
            row.certificate, org_public, revocations=revocations, today=today
        )
    except (CertificateError, UnsupportedVersion) as exc:
        reason = next(
            (r for kind, r in _CERTIFICATE_FAILURES if isinstance(exc, kind)),
            Ineligibility.MALFORMED_CERTIFICATE,
        )
        return verdict(reason)
    # The signature covers the certificate, not the row: a valid certificate copied onto a row
    # with other keys, another id or a doctored key id must not lend that row its trust.
    if (
        certificate.caseworker_id != str(row.id)
        or certificate.keys != keys
        or row.encryption_key_id != keys.encryption.key_id
    ):
        return verdict(Ineligibility.KEY_MISMATCH)
    if row.status is not CaseworkerStatus.VERIFIED:
        return verdict(Ineligibility.NOT_VERIFIED, expires=certificate.expires)
    recipient = Recipient(
        caseworker_id=row.id,
        label=row.label,
        # I9: the chat the organisation signed, whatever the column says.
        delivery_chat_id=certificate.delivery_chat_id,
        keys=certificate.keys,
        certificate=certificate,
        languages=languages,
    )
    return verdict(None, recipient, certificate.expires)


async def assess_caseworkers(
    session: AsyncSession,
    org_public: Ed25519PublicKey,
    today: dt.date,
    *,
    min_serial: int,
    bot_public: Ed25519PublicKey | None = None,
) -> list[Assessment]:
    """Every caseworker with the bot's verdict, in id order (``sanad admin caseworkers``).

    With ``bot_public``, each caseworker's ``claiming_chats`` counts the distinct chats whose
    claims awaiting approval that bot key signed (:func:`claiming_chats`). Raises
    :class:`RevocationsRolledBack` below the high-water mark ``min_serial``.
    """
    revocations = await latest_revocations(session, org_public, min_serial=min_serial)
    rows = await session.scalars(select(Caseworker).order_by(Caseworker.id))
    verdicts = [assess(row, org_public, today, revocations) for row in rows]
    if bot_public is None:
        return verdicts
    chats = await claiming_chats(session, bot_public)
    return [replace(v, claiming_chats=len(chats.get(v.caseworker_id, ()))) for v in verdicts]


async def _recipients(
    session: AsyncSession,
    rows: list[Caseworker],
    org_public: Ed25519PublicKey,
    today: dt.date,
    min_serial: int,
) -> list[Recipient]:
    """Those of ``rows`` the bot may seal to today, as :func:`assess` judges them (I4)."""
    if not rows:
        return []
    revocations = await latest_revocations(session, org_public, min_serial=min_serial)
    verdicts = [assess(row, org_public, today, revocations) for row in rows]
    return [v.recipient for v in verdicts if v.recipient is not None]


async def eligible_caseworkers(
    session: AsyncSession, org_public: Ed25519PublicKey, today: dt.date, *, min_serial: int
) -> list[Recipient]:
    """The caseworkers the bot may seal to today, in id order (I4).

    ``org_public`` must be the pinned key from the configuration (``organisation.
    signing_public_key``), never one read from the database; ``min_serial`` the revocation
    high-water mark. A caseworker is returned only when their row is ``verified``, their stored
    certificate verifies against ``org_public``, names this row and exactly its stored keys, is
    valid on ``today``, and neither they nor their keys are on the latest verified revocation
    list. Seal to ``Recipient.keys``, deliver to ``Recipient.delivery_chat_id``. Raises
    :class:`RevocationsRolledBack` when the latest valid list is below ``min_serial``.
    """
    rows = list(await session.scalars(select(Caseworker).order_by(Caseworker.id)))
    return await _recipients(session, rows, org_public, today, min_serial)


async def eligible_caseworkers_among(
    session: AsyncSession,
    caseworker_ids: set[int],
    org_public: Ed25519PublicKey,
    today: dt.date,
    *,
    min_serial: int,
) -> list[Recipient]:
    """Those of ``caseworker_ids`` that :func:`eligible_caseworkers` would list, in id order."""
    rows = list(
        await session.scalars(
            select(Caseworker).where(Caseworker.id.in_(caseworker_ids)).order_by(Caseworker.id)
        )
    )
    return await _recipients(session, rows, org_public, today, min_serial)


async def eligible_caseworkers_for_chat(
    session: AsyncSession,
    chat_id: int,
    org_public: Ed25519PublicKey,
    today: dt.date,
    *,
    min_serial: int,
) -> list[Recipient]:
    """The eligible caseworkers whose certificate names ``chat_id`` (every key generation).

    How a Telegram command learns who is asking: a caseworker acts from the chat their
    certificate is bound to (I9). The ``delivery_chat_id`` column only narrows the search: a row
    whose column was rewritten to another chat is found for that chat but dropped here, because
    its certificate names a different one.
    """
    rows = list(
        await session.scalars(
            select(Caseworker).where(Caseworker.delivery_chat_id == chat_id).order_by(Caseworker.id)
        )
    )
    return [
        r
        for r in await _recipients(session, rows, org_public, today, min_serial)
        if r.delivery_chat_id == chat_id
    ]


async def eligible_caseworker(
    session: AsyncSession,
    caseworker_id: int,
    org_public: Ed25519PublicKey,
    today: dt.date,
    *,
    min_serial: int,
) -> Recipient | None:
    """This caseworker as a recipient if :func:`eligible_caseworkers` would list them, else None."""
    found = await eligible_caseworkers_among(
        session, {caseworker_id}, org_public, today, min_serial=min_serial
    )
    return found[0] if found else None


async def choose_caseworker(
    session: AsyncSession,
    org_public: Ed25519PublicKey,
    today: dt.date,
    language: Language,
    *,
    min_serial: int,
) -> Recipient | None:
    """The caseworker a new report in ``language`` is sealed to, or None when nobody is eligible.

    Candidates are the :func:`eligible_caseworkers` (I4) who read ``language`` or set no
    languages; when none of them does, every eligible caseworker, so that a report is never left
    to the recovery key alone for want of a reader. Among the candidates, the fewest open cases
    wins, then the lowest id. Raises :class:`RevocationsRolledBack` below the high-water mark
    ``min_serial``, so that nothing is sealed while revocations are missing.
    """
    eligible = await eligible_caseworkers(session, org_public, today, min_serial=min_serial)
    recipients = [r for r in eligible if r.reads(language)] or eligible
    if not recipients:
        return None
    loads: dict[int | None, int] = {
        caseworker_id: count
        for caseworker_id, count in (
            await session.execute(
                select(Report.assigned_caseworker_id, func.count())
                .where(
                    Report.assigned_caseworker_id.in_([r.caseworker_id for r in recipients]),
                    Report.status != ReportStatus.CLOSED,
                )
                .group_by(Report.assigned_caseworker_id)
            )
        ).all()
    }
    return min(recipients, key=lambda r: (loads.get(r.caseworker_id, 0), r.caseworker_id))


# ---------------------------------------------------------------------------------------------
# Enrolment


def _split_label(stored: str) -> tuple[str, int]:
    """``"Amal/3"`` → ``("Amal", 3)``; a first key's plain label is generation 1."""
    label, _, generation = stored.partition(ROTATION_SEPARATOR)
    return label, int(generation) if generation.isdigit() else 1


async def enroll(
    db: Database,
    *,
    code: str,
    chat_id: int,
    bot_key: Ed25519SigningKey,
    today: dt.date,
) -> Enrolment:
    """Record that ``chat_id`` sent the key in enrolment code ``code``, as a claim ``bot_key``
    signs, and return the claim's confirmation code with the fingerprint.

    A new key becomes a pending row with no chat (only approval binds one, I9); a key already
    enrolled gets a claim from this chat too, so every ``/enroll`` is answered alike with a new
    code and an admin sees how many chats claimed the key. This chat's earlier claim of the same
    key is replaced (its code confirms nothing any more). A new key under a label already
    enrolled is a rotation of that label's latest row. Raises ``crypto.EnrolmentCodeError`` /
    ``crypto.InvalidLabel`` for a bad code, :class:`EnrolmentCapped` past a bound on claims
    (:data:`MAX_CLAIMS_PER_CHAT`, :data:`MAX_CHATS_PER_KEY`, :data:`MAX_PENDING_ENROLMENTS`), and
    :class:`EnrolmentRefused` when the key is enrolled under another label or revoked, or the
    label's latest key is bound to another chat. Commits.
    """
    label, keys = decode_enrolment_code(code)
    fingerprint = caseworker_fingerprint(keys)
    claim = issue_enrolment_claim(bot_key, chat_id, keys, issued=today)
    try:
        async with db.sessionmaker() as session, session.begin():
            await locks.take(session, locks.ENROLMENTS)
            row = await CaseworkerRepository(session).get_by_encryption_key_id(
                keys.encryption.key_id
            )
            if row is not None and (
                row.signing_public_key != keys.signing.raw or _split_label(row.label)[0] != label
            ):
                raise EnrolmentRefused("this key is already enrolled under another label")
            if row is not None and row.status is CaseworkerStatus.REVOKED:
                raise EnrolmentRefused(
                    "this key has been revoked; make a new one with `sanad caseworker init`"
                )
            await _make_room(session, None if row is None else row.id, chat_id, bot_key.public_key)
            if row is None:
                row = await _add_pending(session, label, keys, fingerprint, chat_id, today)
            session.add(EnrolmentClaimRow(caseworker_id=row.id, claim=claim, created_day=today))
            return Enrolment(
                row.id,
                row.label,
                fingerprint,
                display_confirmation_code(confirmation_code(claim)),
                row.replaces_id,
            )
    except IntegrityError as exc:
        # Two enrolments of the same key or label committed at once; the other one won.
        raise EnrolmentRefused("this enrolment collided with another; send it again") from exc


async def _make_room(
    session: AsyncSession, caseworker_id: int | None, chat_id: int, bot_public: Ed25519PublicKey
) -> None:
    """Make room for ``chat_id``'s new claim of caseworker ``caseworker_id`` (None: a key not
    enrolled yet), or raise :class:`EnrolmentCapped`.

    This chat's earlier claim of the same key is deleted: the table does not grow, so this is
    allowed even when the deployment is full, and a caseworker can always get a fresh code.
    Otherwise the chat's claims, the key's chats and all claims are each checked against their
    bound. Every stored claim's signature is verified (the chat is inside it); there are at most
    :data:`MAX_PENDING_ENROLMENTS` of them.
    """
    claims = await _verified_claims(session, bot_public)
    earlier = [
        c.row_id for c in claims if c.caseworker_id == caseworker_id and c.claim.chat_id == chat_id
    ]
    if earlier:
        await session.execute(
            delete(EnrolmentClaimRow)
            .where(EnrolmentClaimRow.id.in_(earlier))
            .execution_options(synchronize_session=False)
        )
        return
    if sum(c.claim.chat_id == chat_id for c in claims) >= MAX_CLAIMS_PER_CHAT:
        raise EnrolmentCapped(
            "too many enrolments from this chat are waiting for approval", EnrolmentLimit.CHAT
        )
    key_chats = {c.claim.chat_id for c in claims if c.caseworker_id == caseworker_id}
    if caseworker_id is not None and len(key_chats) >= MAX_CHATS_PER_KEY:
        raise EnrolmentCapped(
            "this enrolment code was already sent from too many chats", EnrolmentLimit.KEY
        )
    # Every stored row counts, even one this bot key cannot verify: it fills the table alike.
    stored = await session.scalar(select(func.count()).select_from(EnrolmentClaimRow))
    if int(stored or 0) >= MAX_PENDING_ENROLMENTS:
        raise EnrolmentCapped("too many enrolments are waiting for approval", EnrolmentLimit.FULL)


async def _add_pending(
    session: AsyncSession,
    label: str,
    keys: CaseworkerPublicKeys,
    fingerprint: str,
    chat_id: int,
    today: dt.date,
) -> Caseworker:
    """A new pending row for ``keys`` under ``label`` (a rotation when the label exists)."""
    family = list(
        await session.scalars(
            select(Caseworker)
            .where(
                (Caseworker.label == label)
                | Caseworker.label.startswith(label + ROTATION_SEPARATOR, autoescape=True)
            )
            .order_by(Caseworker.id)
        )
    )
    bound = family[-1].delivery_chat_id if family else None
    if bound is not None and bound != chat_id:
        # A courtesy, not the boundary: a stranger's rotation row would still need the code
        # the bot sent to the stranger's chat, which the real caseworker never reads aloud.
        raise EnrolmentRefused("this label is enrolled from another chat; choose another")
    generation = 1 + max((_split_label(r.label)[1] for r in family), default=0)
    return await CaseworkerRepository(session).add(
        label=f"{label}{ROTATION_SEPARATOR}{generation}" if family else label,
        encryption_public_key=keys.encryption.raw,
        encryption_key_id=keys.encryption.key_id,
        signing_public_key=keys.signing.raw,
        fingerprint=fingerprint,
        today=today,
        replaces_id=family[-1].id if family else None,
    )


@dataclass(frozen=True)
class _StoredClaim:
    """A stored claim whose signature verified: its row, its caseworker and what it says."""

    row_id: int
    caseworker_id: int
    claim: EnrolmentClaim


async def _verified_claims(
    session: AsyncSession, bot_public: Ed25519PublicKey, caseworker_ids: list[int] | None = None
) -> list[_StoredClaim]:
    """Every stored claim that ``bot_public`` signed, in row order.

    A claim that does not verify — made under an earlier bot key, or edited in the database to
    name another chat — is skipped: it binds nothing (I9).
    """
    query = select(
        EnrolmentClaimRow.id, EnrolmentClaimRow.caseworker_id, EnrolmentClaimRow.claim
    ).order_by(EnrolmentClaimRow.id)
    if caseworker_ids is not None:
        query = query.where(EnrolmentClaimRow.caseworker_id.in_(caseworker_ids))
    found: list[_StoredClaim] = []
    for row_id, caseworker_id, data in (await session.execute(query)).all():
        try:
            found.append(
                _StoredClaim(row_id, caseworker_id, verify_enrolment_claim(data, bot_public))
            )
        except CryptoError:
            continue
    return found


async def claiming_chats(
    session: AsyncSession, bot_public: Ed25519PublicKey
) -> dict[int, set[int]]:
    """Caseworker id → the distinct chats whose verified claims await approval for that key.

    More than one chat means the enrolment code was sent from several chats: at most one of
    them is the caseworker's, and only the one whose code the admin types is ever bound.
    """
    chats: dict[int, set[int]] = {}
    for stored in await _verified_claims(session, bot_public):
        chats.setdefault(stored.caseworker_id, set()).add(stored.claim.chat_id)
    return chats


# A caseworker row only /enroll made: nothing was signed for it and no chat is bound to it. The
# only rows the purge (expire_enrolments) and an admin's discard (discard_enrolment) delete.
_ONLY_ENROLLED = and_(
    Caseworker.status == CaseworkerStatus.PENDING,
    Caseworker.certificate.is_(None),
    Caseworker.delivery_chat_id.is_(None),
)


@dataclass(frozen=True)
class ExpiredEnrolments:
    """What :func:`expire_enrolments` removed (counts only)."""

    claims: int
    caseworkers: int


async def expire_enrolments(
    db: Database, *, today: dt.date, guard: Callable[[AsyncSession], Awaitable[None]] | None = None
) -> ExpiredEnrolments:
    """Delete the enrolment claims older than :data:`CLAIM_VALIDITY` (their codes can no longer
    approve anything), then the pending rows left without a claim, a certificate or a bound
    chat, made before that. Verified and revoked rows stay, whatever their age.

    Without this a flood's claims would hold :data:`MAX_PENDING_ENROLMENTS` for ever. ``guard``
    runs first and may raise to refuse the transaction (the leader's epoch check). Commits.
    """
    cutoff = today - CLAIM_VALIDITY
    async with db.sessionmaker() as session, session.begin():
        if guard is not None:
            await guard(session)
        claims = await session.execute(
            delete(EnrolmentClaimRow)
            .where(EnrolmentClaimRow.created_day < cutoff)
            .execution_options(synchronize_session=False)
        )
        rows = await session.execute(
            delete(Caseworker)
            .where(
                _ONLY_ENROLLED,
                Caseworker.created_day < cutoff,
                ~select(EnrolmentClaimRow.id)
                .where(EnrolmentClaimRow.caseworker_id == Caseworker.id)
                .exists(),
            )
            .execution_options(synchronize_session=False)
        )
        return ExpiredEnrolments(_deleted(claims), _deleted(rows))


@dataclass(frozen=True)
class DiscardedEnrolments:
    """What an admin threw away (counts only), and the claims still waiting afterwards."""

    claims: int
    caseworkers: int
    waiting: int  # of MAX_PENDING_ENROLMENTS; a verified caseworker's claims are not discarded


class NotAnEnrolment(CaseworkerError):
    """This caseworker is verified, revoked or bound to a chat: not a pending enrolment."""


async def discard_enrolment(db: Database, *, who: str, today: dt.date) -> DiscardedEnrolments:
    """Throw away the enrolment of caseworker ``who`` (id or label): their pending row and
    every claim of their key, so that the places they held are free and the label with them.

    Refused with :class:`NotAnEnrolment` unless the row is one only ``/enroll`` made (pending,
    no certificate, no chat bound): a verified or revoked caseworker is never removed here
    (``sanad admin revoke`` ends access). :class:`UnknownCaseworker` when nobody is ``who``.
    Records an audit entry (counts only). Commits.
    """
    async with db.sessionmaker() as session, session.begin():
        await locks.take(session, locks.ENROLMENTS)
        row = await resolve_caseworker(session, who)
        if not await session.scalar(select(_ONLY_ENROLLED).where(Caseworker.id == row.id)):
            raise NotAnEnrolment(
                f"caseworker {row.id} is not an enrolment waiting for approval "
                f"({row.status.value}{', bound to a chat' if row.delivery_chat_id else ''})",
                hint="`sanad admin revoke ID --org-key FILE` ends a caseworker's access",
            )
        return await _discard(session, Caseworker.id == row.id, today)


async def discard_all_enrolments(db: Database, *, today: dt.date) -> DiscardedEnrolments:
    """Throw away every pending enrolment at once, as :func:`discard_enrolment` does one: what
    frees the :data:`MAX_PENDING_ENROLMENTS` places a flood of ``/enroll`` took, without waiting
    for the claims to expire. A real caseworker among them sends ``/enroll`` again and reads the
    new confirmation code. Verified and revoked caseworkers, their claims and their chats stay.
    Records an audit entry (counts only). Commits.
    """
    async with db.sessionmaker() as session, session.begin():
        await locks.take(session, locks.ENROLMENTS)
        return await _discard(session, _ONLY_ENROLLED, today)


async def _discard(
    session: AsyncSession, which: ColumnElement[bool], today: dt.date
) -> DiscardedEnrolments:
    """Delete the claims, then the rows, of the caseworkers ``which`` selects among those only
    ``/enroll`` made; audit the counts and count the claims left."""
    chosen = select(Caseworker.id).where(_ONLY_ENROLLED, which).scalar_subquery()
    claims = await session.execute(
        delete(EnrolmentClaimRow)
        .where(EnrolmentClaimRow.caseworker_id.in_(chosen))
        .execution_options(synchronize_session=False)
    )
    rows = await session.execute(
        delete(Caseworker).where(_ONLY_ENROLLED, which).execution_options(synchronize_session=False)
    )
    discarded = {"enrolment_claims": _deleted(claims), "pending_caseworkers": _deleted(rows)}
    await audit.append(session, "caseworker.enrolments_discarded", None, discarded, today)
    waiting = await session.scalar(select(func.count()).select_from(EnrolmentClaimRow))
    return DiscardedEnrolments(_deleted(claims), _deleted(rows), int(waiting or 0))


def _deleted(result: Result[Any]) -> int:
    """The rows a DELETE removed (every driver Sanad uses reports it)."""
    return int(getattr(result, "rowcount", 0) or 0)


# ---------------------------------------------------------------------------------------------
# Approval


async def resolve_caseworker(session: AsyncSession, who: str) -> Caseworker:
    """The caseworker named by ``who``: an id, or a label (DESIGN.md §9).

    A label made only of digits could also be an id; if both exist and differ, refuse rather
    than guess which one an admin meant to sign.
    """
    repository = CaseworkerRepository(session)
    who = who.strip()
    by_label = await repository.get_by_label(who)
    by_id = await repository.get(int(who)) if who.isascii() and who.isdigit() else None
    if by_label is not None and by_id is not None and by_label.id != by_id.id:
        raise CaseworkerError(
            f"{who!r} is both a caseworker id and another caseworker's label",
            hint="use the id of the one you mean",
        )
    found = by_label or by_id
    if found is None:
        raise UnknownCaseworker(
            f"no caseworker has the id or label {who!r}",
            hint="`sanad admin caseworkers` lists them",
        )
    return found


async def approve(
    db: Database,
    *,
    who: str,
    confirmation: str,
    signing_key: Ed25519SigningKey,
    org_public: Ed25519PublicKey,
    bot_public: Ed25519PublicKey,
    today: dt.date,
    days: int = DEFAULT_CERTIFICATE_DAYS,
    languages: frozenset[Language] | None = None,
) -> Approval:
    """Sign a certificate for caseworker ``who``, bound to the chat whose ``/enroll`` the
    confirmation code ``confirmation`` confirms, and mark them verified.

    ``confirmation`` is the code as :func:`crypto.parse_confirmation_code` returns it; the claim
    it confirms must verify against ``bot_public`` (the bot key of this deployment) and name
    exactly the row's keys. Otherwise :class:`ConfirmationRefused`, before anything is signed:
    an enrolment code pasted into a stranger's chat yields a claim with another code, so the
    stranger's chat is never bound (I9). The claim's chat goes into the certificate and, as an
    index only, into the row's ``delivery_chat_id``; the caseworker's claims are then deleted
    (a code confirms once).

    ``languages`` sets the report languages they are routed (empty: any); None keeps what the
    row holds, so renewing a certificate does not forget them.

    ``org_public`` is the pinned key from the configuration; a ``signing_key`` that is not its
    private half raises :class:`WrongOrganisationKey` before anything is signed (a certificate
    from any other key would never verify, so the caseworker would silently receive nothing).
    The certificate is valid from ``today`` for ``days`` days and binds the row's id, label,
    both public keys and the chat. Records an audit entry. Commits.
    """
    if days < 1:
        raise CaseworkerError("a certificate must be valid for at least one day")
    if signing_key.public_key != org_public:
        raise WrongOrganisationKey(
            "this signing key is not the organisation key pinned in the configuration",
            hint="check organisation.signing_public_key and the --org-key file",
        )
    async with db.sessionmaker() as session, session.begin():
        row = await resolve_caseworker(session, who)
        if row.status is CaseworkerStatus.REVOKED:
            raise CaseworkerError("this caseworker is revoked and cannot be approved again")
        keys = _stored_keys(row)
        if keys is None:
            raise CaseworkerError("this caseworker's stored keys are malformed")
        if row.encryption_key_id != keys.encryption.key_id:
            raise CaseworkerError("this caseworker's stored key id does not match their key")
        claims = [c.claim for c in await _verified_claims(session, bot_public, [row.id])]
        claim = _confirmed_claim(claims, confirmation, keys, today)
        certificate = Certificate(
            caseworker_id=str(row.id),
            label=row.label,
            delivery_chat_id=claim.chat_id,
            keys=keys,
            # Random rather than counted: admins may sign on different machines with no shared
            # counter, and 63 random bits do not repeat.
            serial=secrets.randbits(63),
            not_before=today,
            expires=today + dt.timedelta(days=days),
        )
        row.certificate = issue_certificate(certificate, signing_key)
        row.status = CaseworkerStatus.VERIFIED
        row.delivery_chat_id = claim.chat_id  # an index to find the chat's rows, never trusted
        if languages is not None:
            row.languages = _column_languages(languages)
        await session.execute(
            delete(EnrolmentClaimRow)
            .where(EnrolmentClaimRow.caseworker_id == row.id)
            .execution_options(synchronize_session=False)
        )
        counts = {"caseworkers": 1, "days": days}
        await audit.append(session, "caseworker.approved", org_public.key_id, counts, today)
        return Approval(
            row.id,
            row.label,
            caseworker_fingerprint(keys),
            certificate.expires,
            row.replaces_id,
            _stored_languages(row),
            other_chats=len({c.chat_id for c in claims} - {claim.chat_id}),
        )


_REENROL_HINT = (
    "the caseworker sends /enroll with their enrolment code again and reads you the new "
    "confirmation code with the fingerprint"
)


# A confirmation code is read aloud at a meeting soon after /enroll. An old claim is refused: a
# code noted down long ago, or a chat taken over since, should not bind a certificate now.
CLAIM_VALIDITY = dt.timedelta(days=14)


def _confirmed_claim(
    claims: list[EnrolmentClaim],
    confirmation: str,
    keys: CaseworkerPublicKeys,
    today: dt.date,
) -> EnrolmentClaim:
    """The claim ``confirmation`` confirms, if it is for ``keys`` and at most
    :data:`CLAIM_VALIDITY` old; else ConfirmationRefused."""
    if not claims:
        raise ConfirmationRefused(
            "no /enroll of this caseworker's key awaits approval", hint=_REENROL_HINT
        )
    # Every claim is compared (in constant time each), so the time taken says nothing about
    # which claim, if any, the code was close to.
    matching = [c for c in claims if c.confirmed_by(confirmation)]
    if not matching:
        raise ConfirmationRefused(
            "this confirmation code confirms no /enroll of this caseworker",
            hint="check the code with the caseworker; or " + _REENROL_HINT,
        )
    if any(c.keys != keys for c in matching):
        raise ConfirmationRefused(
            "this confirmation code was given for other keys than this caseworker's",
            hint=_REENROL_HINT,
        )
    claim = matching[0]
    if today - claim.issued > CLAIM_VALIDITY:
        raise ConfirmationRefused(
            f"this confirmation code is more than {CLAIM_VALIDITY.days} days old",
            hint=_REENROL_HINT,
        )
    return claim


async def set_languages(
    db: Database, *, who: str, languages: frozenset[Language], today: dt.date
) -> tuple[int, str]:
    """Route reports in ``languages`` (empty: any) to caseworker ``who``; returns id and label.

    Needs no key: the column steers routing among eligible caseworkers and never makes one (I4).
    Records an audit entry (counts only). Commits.
    """
    async with db.sessionmaker() as session, session.begin():
        row = await resolve_caseworker(session, who)
        row.languages = _column_languages(languages)
        counts = {"caseworkers": 1, "languages": len(languages)}
        await audit.append(session, "caseworker.languages_set", None, counts, today)
        return row.id, row.label


# ---------------------------------------------------------------------------------------------
# Reassignment


async def reassign(
    db: Database,
    *,
    case_reference: str,
    to: str,
    recovery_key: X25519SecretKey,
    recovery_public: X25519PublicKey,
    org_public: Ed25519PublicKey,
    today: dt.date,
    now: dt.datetime,
    min_serial: int,
) -> Reassignment:
    """Give case ``case_reference`` to caseworker ``to``, in one transaction.

    Every body of the case (report and addenda) is re-wrapped from the recovery key's wrap to the
    new caseworker's certified key (bodies are never re-encrypted, DESIGN.md §4); every other
    caseworker's wrap of the case is deleted, so the previous caseworker can no longer open it;
    pending deliveries of the case are replaced by one delivery per body to the new caseworker
    from ``now``. Raises :class:`NotEligible` (with the reason) for a target the bot would not
    seal to, :class:`WrongOrganisationKey` when ``recovery_key`` is not the configured recovery
    key, :class:`UnknownCase`, ``crypto.OpenFailure`` if a wrap does not open, and
    :class:`RevocationsRolledBack` below the high-water mark ``min_serial``. Commits.

    On PostgreSQL it waits for, and holds, :data:`storage.locks.CASE_DELIVERIES`, so that a
    ``sanad admin redeliver`` running meanwhile sees the new pending rows (I8, one file queued
    once to a caseworker). Then it locks the case's row before reading its bodies, as a
    reporter's addition does before reading the assignment
    (:meth:`bot.services.mailbox.MailboxService.add_information`): an addition either commits
    first and is re-wrapped and queued here with the rest, or waits and goes to the new
    caseworker (I8, nothing lost).
    """
    if recovery_key.public_key != recovery_public:
        raise WrongOrganisationKey(
            "this recovery key is not the one in the configuration",
            hint="check organisation.recovery_public_key and the --recovery-key file",
        )
    async with db.sessionmaker() as session, session.begin():
        # First, before the audit append lock (storage.locks, "Lock order"): a redeliver of the
        # same file waits for this commit and then finds the new pending row.
        await locks.take(session, locks.CASE_DELIVERIES)
        # Then the case's row: what is read from here on includes any addition committed while
        # it waited, and an addition not yet begun waits for this commit.
        report = await ReportRepository(session).get_by_case_reference(case_reference, lock=True)
        if report is None:
            raise UnknownCase("no case has this reference")
        if report.status is ReportStatus.CLOSED:
            raise CaseworkerError("this case is closed; it cannot be reassigned")
        row = await resolve_caseworker(session, to)
        revocations = await latest_revocations(session, org_public, min_serial=min_serial)
        verdict = assess(row, org_public, today, revocations)
        if verdict.recipient is None:
            reason = verdict.reason.value if verdict.reason else "not eligible"
            raise NotEligible(f"the bot will not seal to this caseworker: {reason}")
        target = verdict.recipient
        recovery_id = recovery_public.key_id
        target_id = target.keys.encryption.key_id
        bodies = list(
            await session.scalars(
                select(ReportBody)
                .where(ReportBody.report_id == report.id)
                .order_by(ReportBody.sequence)
            )
        )
        removed = await session.scalar(
            select(func.count()).where(
                Wrap.report_id == report.id, Wrap.recipient_key_id.not_in([recovery_id, target_id])
            )
        )
        new_wraps: list[Wrap] = []
        for body in bodies:
            stored = await ReportRepository(session).get_wrap(report.id, body.sequence, recovery_id)
            if stored is None:
                raise CaseworkerError(
                    "a part of this case has no wrap for the recovery key; it cannot be reassigned"
                )
            fresh = rewrap(
                CryptoWrap(stored.recipient_key_id, stored.wrap),
                kind=ENVELOPE_KIND_OF_BODY[body.kind],
                report_id=report.id,
                sequence=body.sequence,
                secret_key=recovery_key,
                new_recipient=target.keys.encryption,
            )
            new_wraps.append(
                Wrap(
                    report_id=report.id,
                    sequence=body.sequence,
                    recipient_key_id=fresh.key_id,
                    wrap=fresh.wrap,
                )
            )
        # Everything but the recovery key's wraps goes: the old caseworker's access ends here.
        await session.execute(
            delete(Wrap)
            .where(Wrap.report_id == report.id, Wrap.recipient_key_id != recovery_id)
            .execution_options(synchronize_session=False)
        )
        await session.execute(
            delete(OutboxEntry)
            .where(
                OutboxEntry.report_id == report.id,
                OutboxEntry.status == DeliveryStatus.PENDING,
            )
            .execution_options(synchronize_session=False)
        )
        session.add_all(new_wraps)
        for body in bodies:
            await outbox.enqueue(
                session,
                kind=DELIVERY_KIND_OF_BODY[body.kind],
                caseworker_id=target.caseworker_id,
                report_id=report.id,
                sequence=body.sequence,
                not_before=now,
            )
        report.assigned_caseworker_id = target.caseworker_id
        report.status = ReportStatus.ASSIGNED
        await audit.append(
            session,
            "case.reassigned",
            recovery_id,
            {"bodies": len(bodies), "wraps_removed": int(removed or 0)},
            today,
        )
        return Reassignment(
            report.case_reference, target.caseworker_id, len(bodies), int(removed or 0)
        )


# ---------------------------------------------------------------------------------------------
# A caseworker's own cases (Telegram)


async def open_cases(
    db: Database,
    *,
    chat_id: int,
    org_public: Ed25519PublicKey,
    today: dt.date,
    min_serial: int,
) -> list[CaseLine] | None:
    """The open cases assigned to the verified caseworker whose certificate names ``chat_id``;
    None if there is none."""
    async with db.sessionmaker() as session, session.begin():
        recipients = await eligible_caseworkers_for_chat(
            session, chat_id, org_public, today, min_serial=min_serial
        )
        if not recipients:
            return None
        ids = [r.caseworker_id for r in recipients]
        rows = await session.execute(
            select(Report.case_reference, Report.status)
            .where(Report.assigned_caseworker_id.in_(ids), Report.status != ReportStatus.CLOSED)
            .order_by(Report.created_day, Report.case_reference)
        )
        return [CaseLine(reference, status) for reference, status in rows.all()]


async def close_case(
    db: Database,
    *,
    chat_id: int,
    case_reference: str,
    org_public: Ed25519PublicKey,
    today: dt.date,
    min_serial: int,
) -> str:
    """Close a case assigned to the verified caseworker whose certificate names ``chat_id``;
    returns its reference.

    Raises :class:`UnknownCase` alike for a case that does not exist, is someone else's or is
    already closed, so the command tells a caseworker nothing about other people's cases.
    Commits.
    """
    async with db.sessionmaker() as session, session.begin():
        recipients = await eligible_caseworkers_for_chat(
            session, chat_id, org_public, today, min_serial=min_serial
        )
        report = await ReportRepository(session).get_by_case_reference(case_reference)
        if (
            report is None
            or report.assigned_caseworker_id not in {r.caseworker_id for r in recipients}
            or report.status is ReportStatus.CLOSED
        ):
            raise UnknownCase("none of your open cases has this reference")
        report.status = ReportStatus.CLOSED
        report.closed_day = today  # I3: the day only
        return report.case_reference


class TelegramDesk:
    """The caseworker commands' desk (``handlers.caseworker_commands.CaseworkerDesk``).

    Binds the database, the pinned organisation key from the configuration, the bot key that
    signs enrolment claims and the revocation high-water mark (``floor``, read at each command),
    and turns every refusal into a :class:`~handlers.caseworker_commands.DeskRefusal` whose text
    the caseworker reads. Logs event names and counts only (never a label, chat id or
    reference).
    """

    def __init__(
        self,
        db: Database,
        org_public: Ed25519PublicKey,
        *,
        bot_key: Ed25519SigningKey,
        floor: Callable[[], int],
        today: Callable[[], dt.date] = today_utc,
    ) -> None:
        self._db = db
        self._org_public = org_public
        self._bot_key = bot_key
        self._floor = floor
        self._today = today

    async def enroll(self, code: str, chat_id: int) -> Enrolment:
        try:
            enrolment = await enroll(
                self._db, code=code, chat_id=chat_id, bot_key=self._bot_key, today=self._today()
            )
        except EnrolmentCapped as exc:
            event(_log, "caseworker.enrol_capped", **{exc.limit.name.lower(): 1})
            raise EnrolmentLimited(exc.limit) from exc
        except (CaseworkerError, EnrolmentCodeError, InvalidLabel) as exc:
            event(_log, "caseworker.enrol_refused")
            raise DeskRefusal(str(exc) or "this enrolment code cannot be used") from exc
        event(_log, "caseworker.enrolled", rotation=int(enrolment.replaces_id is not None))
        return enrolment

    async def open_cases(self, chat_id: int) -> list[CaseLine] | None:
        return await open_cases(
            self._db,
            chat_id=chat_id,
            org_public=self._org_public,
            today=self._today(),
            min_serial=self._floor(),
        )

    async def close(self, chat_id: int, case_reference: str) -> str:
        try:
            closed = await close_case(
                self._db,
                chat_id=chat_id,
                case_reference=case_reference,
                org_public=self._org_public,
                today=self._today(),
                min_serial=self._floor(),
            )
        except CaseworkerError as exc:
            raise DeskRefusal(str(exc)) from exc
        event(_log, "case.closed")
        return closed


def register_caseworker_commands(
    application: Application[Any, Any, Any, Any, Any, Any], runtime: Runtime
) -> None:
    """Add ``/enroll``, ``/cases`` and ``/close``, served by the runtime's database, the
    configuration's pinned organisation key, the bot key and the revocation high-water mark
    (called once by ``bot.app.build_application``)."""
    config = runtime.config

    def floor() -> int:
        return revocation_floor(config.server.state_dir, config.organisation.min_revocation_serial)

    desk = TelegramDesk(
        runtime.database,
        config.organisation.signing_public_key,
        bot_key=runtime.bot.key,
        floor=floor,
    )
    install_caseworker_commands(application, desk)
