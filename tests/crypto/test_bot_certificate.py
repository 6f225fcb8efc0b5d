"""Bot certificate (docs/crypto.md, "Bot certificate")."""

from __future__ import annotations

from datetime import date

import pytest

from crypto.bot_certificate import BotCertificate, issue_bot_certificate, verify_bot_certificate
from crypto.certificates import (
    CertificateExpired,
    CertificateNotYetValid,
    CertificateRevoked,
    InvalidSignature,
    MalformedCertificate,
    SignedByAnotherKey,
    UnsignedCertificate,
    issue_certificate,
    issue_revocation_list,
    verify_revocation_list,
)
from crypto.errors import UnsupportedVersion
from tests.crypto.chain import ATTACKER, BOT, BOT_CERTIFICATE, BOT_PERIOD, DAY, ORG, OTHER_ORG
from tests.crypto.test_certificates import CERTIFICATE


def _verify(data: bytes, **kwargs: object) -> BotCertificate:
    kwargs.setdefault("today", DAY)
    return verify_bot_certificate(data, ORG.public_key, **kwargs)  # type: ignore[arg-type]


def test_verify_bot_certificate_returns_what_was_issued() -> None:
    assert _verify(BOT_CERTIFICATE) == BOT_PERIOD


def test_a_bot_certificate_is_valid_from_not_before_until_the_day_before_expiry() -> None:
    assert _verify(BOT_CERTIFICATE, today=BOT_PERIOD.not_before) == BOT_PERIOD
    with pytest.raises(CertificateNotYetValid):
        _verify(BOT_CERTIFICATE, today=date(2026, 4, 30))
    with pytest.raises(CertificateExpired):
        _verify(BOT_CERTIFICATE, today=BOT_PERIOD.expires)


def test_a_bot_certificate_from_another_organisation_is_refused() -> None:
    with pytest.raises(SignedByAnotherKey):
        _verify(issue_bot_certificate(BOT_PERIOD, OTHER_ORG))


def test_a_bot_certificate_signed_under_the_pinned_key_id_by_another_key_is_refused() -> None:
    forged = issue_bot_certificate(BOT_PERIOD, OTHER_ORG)
    forged = forged[:5] + ORG.public_key.key_id + forged[21:]
    with pytest.raises(InvalidSignature):
        _verify(forged)


def test_a_bot_certificate_naming_another_bot_key_is_refused() -> None:
    swapped = BOT_CERTIFICATE.replace(BOT.public_key.raw, ATTACKER.public_key.raw)
    with pytest.raises(InvalidSignature):
        _verify(swapped)
    with pytest.raises(UnsignedCertificate):
        _verify(BOT_CERTIFICATE[:-64])


def test_a_revoked_bot_key_is_refused() -> None:
    revocations = verify_revocation_list(
        issue_revocation_list(ORG, serial=1, key_ids=[BOT.public_key.key_id], issued=DAY),
        ORG.public_key,
        min_serial=0,
    )
    with pytest.raises(CertificateRevoked):
        _verify(BOT_CERTIFICATE, revocations=revocations)


def test_a_v1_bot_certificate_is_refused_naming_the_version() -> None:
    with pytest.raises(UnsupportedVersion, match=r"bot certificate is format version 1"):
        _verify(BOT_CERTIFICATE[:4] + b"\x01" + BOT_CERTIFICATE[5:])


def test_a_caseworker_certificate_is_not_a_bot_certificate() -> None:
    # Domain separation: the same organisation key signs both kinds.
    with pytest.raises(MalformedCertificate, match="not a Sanad bot certificate"):
        _verify(issue_certificate(CERTIFICATE, ORG))


@pytest.mark.parametrize(
    ("serial", "not_before", "expires"),
    [(-1, date(2026, 1, 1), date(2026, 2, 1)), (1, date(2026, 2, 1), date(2026, 2, 1))],
)
def test_bot_certificate_rejects_invalid_fields(
    serial: int, not_before: date, expires: date
) -> None:
    with pytest.raises(MalformedCertificate):
        BotCertificate(BOT.public_key, serial, not_before, expires)
