"""Caseworkers: enrolment, approval, eligibility (I4), reassignment and their own cases.

The one rule this module exists to keep is I4: a report is sealed only to caseworker keys whose
certificate verifies against the organisation signing key *pinned in the configuration*.
:func:`eligible_caseworkers` is the only place that decides who is a recipient; the report
submission service, the forward job and the reply commands all ask it. It never trusts what the
database says about a caseworker (status, fingerprint, key id): an intruder who can write rows
can write those too. What it trusts is a signature it checks itself, against a key it was given
by the caller from the configuration, never one read from the database.

Life of a caseworker (DESIGN.md §1, §4 "Caseworker keys"):

1. ``/enroll CODE`` in Telegram → :func:`enroll`: a ``pending`` row with the caseworker's own chat
   as the delivery chat. A new key under a label already enrolled from the same chat is a
   *rotation*: a new pending row whose ``replaces_id`` points at the latest row of that label.
   Because labels are unique in the database, the rotation row is stored as ``LABEL/2``,
   ``LABEL/3``, ... — ``/`` cannot occur in an enrolment label, so these never collide with a
   label someone chose.
2. ``sanad admin approve`` → :func:`approve`: after comparing fingerprints out of band, an admin
   signs a certificate with the organisation signing key; the row becomes ``verified``.
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
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from telegram.ext import Application

from bot.errors import SanadError
from bot.logs import event, get_logger
from bot.runtime import Runtime
from bot.services.limits import DEFAULT_CERTIFICATE_DAYS
from crypto import (
    Certificate,
    CertificateError,
    CertificateExpired,
    CertificateNotYetValid,
    CertificateRevoked,
    EnrolmentCodeError,
    EnvelopeKind,
    InvalidLabel,
    InvalidSignature,
    RevocationList,
    SignedByAnotherKey,
    UnsignedCertificate,
    UnsupportedVersion,
    caseworker_fingerprint,
    decode_enrolment_code,
    issue_certificate,
    rewrap,
    verify_certificate,
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
from handlers.caseworker_commands import DeskRefusal, install_caseworker_commands
from storage import audit, outbox
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
from storage.models import RevocationList as RevocationListRow
from storage.repositories import CaseworkerRepository, ReportRepository

_log = get_logger("caseworkers")

# Bounds the rows one Telegram chat can create by pasting codes: a pending row costs an admin's
# attention, and a flood of them is how an adversary would hide their own key among real ones.
MAX_PENDING_PER_CHAT = 3
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


class NotEligible(CaseworkerError):
    """This caseworker is not a recipient the bot will seal to."""


class WrongOrganisationKey(CaseworkerError):
    """The key file given is not the organisation key pinned in the configuration."""


class UnknownCase(CaseworkerError):
    """No case with this reference can be acted on here."""


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
    """An eligible caseworker: the keys come from the verified certificate, not from the row.

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

    @property
    def eligible(self) -> bool:
        return self.recipient is not None


@dataclass(frozen=True)
class Enrolment:
    """What ``/enroll`` recorded: the caseworker's row, label and the fingerprint to compare."""

    caseworker_id: int
    label: str
    fingerprint: str
    replaces_id: int | None
    already_enrolled: bool


@dataclass(frozen=True)
class Approval:
    """A signed certificate, now stored: who, until when."""

    caseworker_id: int
    label: str
    fingerprint: str
    expires: dt.date
    rotation_of: int | None
    languages: frozenset[Language] = frozenset()  # empty: any


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
    session: AsyncSession, org_public: Ed25519PublicKey
) -> RevocationList | None:
    """The revocation list in force: the highest serial whose signature verifies.

    Rows that do not verify against ``org_public`` are skipped, not trusted: an intruder who
    inserts a bogus list with a huge serial must not hide the real one.
    """
    rows = await session.scalars(
        select(RevocationListRow.signed).order_by(RevocationListRow.serial.desc())
    )
    for signed in rows:
        try:
            return verify_revocation_list(signed, org_public, min_serial=0)
        except (CertificateError, UnsupportedVersion):
            continue
    return None


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
        delivery_chat_id=row.delivery_chat_id,
        keys=certificate.keys,
        certificate=certificate,
        languages=languages,
    )
    return verdict(None, recipient, certificate.expires)


async def assess_caseworkers(
    session: AsyncSession, org_public: Ed25519PublicKey, today: dt.date
) -> list[Assessment]:
    """Every caseworker with the bot's verdict, in id order (``sanad admin caseworkers``)."""
    revocations = await latest_revocations(session, org_public)
    rows = await session.scalars(select(Caseworker).order_by(Caseworker.id))
    return [assess(row, org_public, today, revocations) for row in rows]


async def eligible_caseworkers(
    session: AsyncSession, org_public: Ed25519PublicKey, today: dt.date
) -> list[Recipient]:
    """The caseworkers the bot may seal to today, in id order (I4).

    ``org_public`` must be the pinned key from the configuration (``organisation.
    signing_public_key``), never one read from the database. A caseworker is returned only when
    their row is ``verified``, their stored certificate verifies against ``org_public``, names
    this row and exactly its stored keys, is valid on ``today``, and neither they nor their keys
    are on the latest verified revocation list. Seal to ``Recipient.keys``.
    """
    return [
        a.recipient
        for a in await assess_caseworkers(session, org_public, today)
        if a.recipient is not None
    ]


async def eligible_caseworkers_for_chat(
    session: AsyncSession, chat_id: int, org_public: Ed25519PublicKey, today: dt.date
) -> list[Recipient]:
    """The eligible caseworker rows delivering to ``chat_id`` (every key generation), in id order.

    How a Telegram command learns who is asking: a caseworker acts from their delivery chat, and
    a rotation leaves several rows on one chat, each judged as :func:`eligible_caseworkers`
    judges it (I4).
    """
    rows = list(
        await session.scalars(
            select(Caseworker).where(Caseworker.delivery_chat_id == chat_id).order_by(Caseworker.id)
        )
    )
    if not rows:
        return []
    revocations = await latest_revocations(session, org_public)
    verdicts = [assess(row, org_public, today, revocations) for row in rows]
    return [v.recipient for v in verdicts if v.recipient is not None]


async def eligible_caseworker(
    session: AsyncSession, caseworker_id: int, org_public: Ed25519PublicKey, today: dt.date
) -> Recipient | None:
    """This caseworker as a recipient if :func:`eligible_caseworkers` would list them, else None."""
    row = await CaseworkerRepository(session).get(caseworker_id)
    if row is None:
        return None
    return assess(row, org_public, today, await latest_revocations(session, org_public)).recipient


async def choose_caseworker(
    session: AsyncSession, org_public: Ed25519PublicKey, today: dt.date, language: Language
) -> Recipient | None:
    """The caseworker a new report in ``language`` is sealed to, or None when nobody is eligible.

    Candidates are the :func:`eligible_caseworkers` (I4) who read ``language`` or set no
    languages; when none of them does, every eligible caseworker, so that a report is never left
    to the recovery key alone for want of a reader. Among the candidates, the fewest open cases
    wins, then the lowest id.
    """
    eligible = await eligible_caseworkers(session, org_public, today)
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


async def enroll(db: Database, *, code: str, delivery_chat_id: int, today: dt.date) -> Enrolment:
    """Record the caseworker in an enrolment code as pending, delivering to ``delivery_chat_id``.

    The same key sent again from the same chat answers as before (``already_enrolled``). A new
    key under a label already enrolled from this chat is a rotation of that label's latest row.
    Raises ``crypto.EnrolmentCodeError`` / ``crypto.InvalidLabel`` for a bad code, and
    :class:`EnrolmentRefused` when the key or label belongs to another chat or this chat has too
    many keys waiting. Commits.
    """
    label, keys = decode_enrolment_code(code)
    fingerprint = caseworker_fingerprint(keys)
    try:
        async with db.sessionmaker() as session, session.begin():
            repository = CaseworkerRepository(session)
            same_key = await repository.get_by_encryption_key_id(keys.encryption.key_id)
            if same_key is not None:
                if (
                    same_key.delivery_chat_id != delivery_chat_id
                    or same_key.signing_public_key != keys.signing.raw
                    or _split_label(same_key.label)[0] != label
                ):
                    raise EnrolmentRefused("this key is already enrolled")
                return Enrolment(
                    same_key.id, same_key.label, fingerprint, same_key.replaces_id, True
                )
            pending = await session.scalar(
                select(func.count()).where(
                    Caseworker.delivery_chat_id == delivery_chat_id,
                    Caseworker.status == CaseworkerStatus.PENDING,
                )
            )
            if (pending or 0) >= MAX_PENDING_PER_CHAT:
                raise EnrolmentRefused(
                    "too many keys from this chat are waiting for approval; ask an administrator"
                )
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
            if family and family[-1].delivery_chat_id != delivery_chat_id:
                # A label belongs to one chat: a stranger cannot queue a "rotation" of someone
                # else's key and have sealed reports sent to their own chat.
                raise EnrolmentRefused("this label is enrolled from another chat; choose another")
            generation = 1 + max((_split_label(row.label)[1] for row in family), default=0)
            stored_label = f"{label}{ROTATION_SEPARATOR}{generation}" if family else label
            row = await repository.add(
                label=stored_label,
                delivery_chat_id=delivery_chat_id,
                encryption_public_key=keys.encryption.raw,
                encryption_key_id=keys.encryption.key_id,
                signing_public_key=keys.signing.raw,
                fingerprint=fingerprint,
                today=today,
                replaces_id=family[-1].id if family else None,
            )
            return Enrolment(row.id, row.label, fingerprint, row.replaces_id, False)
    except IntegrityError as exc:
        # Two enrolments of the same key or label committed at once; the other one won.
        raise EnrolmentRefused("this enrolment collided with another; send it again") from exc


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
    signing_key: Ed25519SigningKey,
    org_public: Ed25519PublicKey,
    today: dt.date,
    days: int = DEFAULT_CERTIFICATE_DAYS,
    languages: frozenset[Language] | None = None,
) -> Approval:
    """Sign a certificate for caseworker ``who`` with the organisation key and mark them verified.

    ``languages`` sets the report languages they are routed (empty: any); None keeps what the
    row holds, so renewing a certificate does not forget them.

    ``org_public`` is the pinned key from the configuration; a ``signing_key`` that is not its
    private half raises :class:`WrongOrganisationKey` before anything is signed (a certificate
    from any other key would never verify, so the caseworker would silently receive nothing).
    The certificate is valid from ``today`` for ``days`` days and binds the row's id, label and
    both public keys. Records an audit entry. Commits.
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
        certificate = Certificate(
            caseworker_id=str(row.id),
            label=row.label,
            keys=keys,
            # Random rather than counted: admins may sign on different machines with no shared
            # counter, and 63 random bits do not repeat.
            serial=secrets.randbits(63),
            not_before=today,
            expires=today + dt.timedelta(days=days),
        )
        row.certificate = issue_certificate(certificate, signing_key)
        row.status = CaseworkerStatus.VERIFIED
        if languages is not None:
            row.languages = _column_languages(languages)
        counts = {"caseworkers": 1, "days": days}
        await audit.append(session, "caseworker.approved", org_public.key_id, counts, today)
        return Approval(
            row.id,
            row.label,
            caseworker_fingerprint(keys),
            certificate.expires,
            row.replaces_id,
            _stored_languages(row),
        )


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
) -> Reassignment:
    """Give case ``case_reference`` to caseworker ``to``, in one transaction.

    Every body of the case (report and addenda) is re-wrapped from the recovery key's wrap to the
    new caseworker's certified key (bodies are never re-encrypted, DESIGN.md §4); every other
    caseworker's wrap of the case is deleted, so the previous caseworker can no longer open it;
    pending deliveries of the case are replaced by one delivery per body to the new caseworker
    from ``now``. Raises :class:`NotEligible` (with the reason) for a target the bot would not
    seal to, :class:`WrongOrganisationKey` when ``recovery_key`` is not the configured recovery
    key, :class:`UnknownCase`, and ``crypto.OpenFailure`` if a wrap does not open. Commits.
    """
    if recovery_key.public_key != recovery_public:
        raise WrongOrganisationKey(
            "this recovery key is not the one in the configuration",
            hint="check organisation.recovery_public_key and the --recovery-key file",
        )
    async with db.sessionmaker() as session, session.begin():
        report = await ReportRepository(session).get_by_case_reference(case_reference)
        if report is None:
            raise UnknownCase("no case has this reference")
        if report.status is ReportStatus.CLOSED:
            raise CaseworkerError("this case is closed; it cannot be reassigned")
        row = await resolve_caseworker(session, to)
        verdict = assess(row, org_public, today, await latest_revocations(session, org_public))
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
    db: Database, *, chat_id: int, org_public: Ed25519PublicKey, today: dt.date
) -> list[CaseLine] | None:
    """The open cases assigned to the verified caseworker of ``chat_id``; None if there is none."""
    async with db.sessionmaker() as session, session.begin():
        recipients = await eligible_caseworkers_for_chat(session, chat_id, org_public, today)
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
) -> str:
    """Close a case assigned to the verified caseworker of ``chat_id``; returns its reference.

    Raises :class:`UnknownCase` alike for a case that does not exist, is someone else's or is
    already closed, so the command tells a caseworker nothing about other people's cases.
    Commits.
    """
    async with db.sessionmaker() as session, session.begin():
        recipients = await eligible_caseworkers_for_chat(session, chat_id, org_public, today)
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

    Binds the database and the pinned organisation key from the configuration, and turns every
    refusal into a :class:`~handlers.caseworker_commands.DeskRefusal` whose text the caseworker
    reads. Logs event names and counts only (never a label, chat id or reference).
    """

    def __init__(
        self,
        db: Database,
        org_public: Ed25519PublicKey,
        *,
        today: Callable[[], dt.date] = today_utc,
    ) -> None:
        self._db = db
        self._org_public = org_public
        self._today = today

    async def enroll(self, code: str, chat_id: int) -> Enrolment:
        try:
            enrolment = await enroll(
                self._db, code=code, delivery_chat_id=chat_id, today=self._today()
            )
        except (CaseworkerError, EnrolmentCodeError, InvalidLabel) as exc:
            event(_log, "caseworker.enrol_refused")
            raise DeskRefusal(str(exc) or "this enrolment code cannot be used") from exc
        event(_log, "caseworker.enrolled", rotation=int(enrolment.replaces_id is not None))
        return enrolment

    async def open_cases(self, chat_id: int) -> list[CaseLine] | None:
        return await open_cases(
            self._db, chat_id=chat_id, org_public=self._org_public, today=self._today()
        )

    async def close(self, chat_id: int, case_reference: str) -> str:
        try:
            closed = await close_case(
                self._db,
                chat_id=chat_id,
                case_reference=case_reference,
                org_public=self._org_public,
                today=self._today(),
            )
        except CaseworkerError as exc:
            raise DeskRefusal(str(exc)) from exc
        event(_log, "case.closed")
        return closed


def register_caseworker_commands(
    application: Application[Any, Any, Any, Any, Any, Any], runtime: Runtime
) -> None:
    """Add ``/enroll``, ``/cases`` and ``/close``, served by the runtime's database and the
    configuration's pinned organisation key (called once by ``bot.app.build_application``)."""
    desk = TelegramDesk(runtime.database, runtime.config.organisation.signing_public_key)
    install_caseworker_commands(application, desk)
