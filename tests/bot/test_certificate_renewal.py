"""A bot certificate renewed while the bot runs is taken up without a restart (I9, format v2).

Before, ``Runtime.bot`` was read once at start: after ``sanad admin certify-bot`` the running
bot went on signing files under the old certificate, and once that expired every caseworker
refused them.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import pytest

from bot.bot_identity import BOT_DIRNAME, KEY_FILENAME, certify_bot, load_bot_identity
from bot.jobs.certificate import check_certificate
from crypto import EnvelopeKind, read_sealed_file, seal_report
from crypto.keys import Ed25519SigningKey, OrganisationKeys, X25519SecretKey
from tests.support.signed_files import BotSigner

TODAY = dt.date(2026, 3, 1)


def _sealed_file_bytes(certificate: bytes, key: Ed25519SigningKey) -> bytes:
    """A sealed file signed with the identity's key and carrying ``certificate``."""
    caseworker = X25519SecretKey.generate()
    sealed = seal_report(
        b"body",
        report_id=bytes(16),
        sequence=0,
        kind=EnvelopeKind.REPORT,
        recipients=[caseworker.public_key],
    )
    signer = BotSigner(key, certificate)
    return signer.sealed_file(
        kind=EnvelopeKind.REPORT,
        case_reference="K7Q-4M2P",
        report_id=bytes(16),
        sequence=0,
        reply_to=None,
        wrap=sealed.wraps[0],
        body_sealed=sealed.body_sealed,
    )


def test_a_certificate_renewed_on_disk_is_taken_up_by_the_running_identity(
    tmp_path: Path,
) -> None:
    org = OrganisationKeys.generate()
    certify_bot(tmp_path, org.signing, days=10, today=TODAY)
    bot = load_bot_identity(tmp_path, org.signing.public_key, today=TODAY)
    assert bot.renewal_due(TODAY)

    renewed = certify_bot(tmp_path, org.signing, days=90, today=TODAY)

    assert bot.refresh(TODAY)
    assert bot.verified == renewed
    assert not bot.renewal_due(TODAY)
    # What the forward job signs from now on chains to the renewed certificate, which is still
    # valid after the old one has expired.
    later = TODAY + dt.timedelta(days=30)
    data = _sealed_file_bytes(bot.certificate, bot.key)
    assert read_sealed_file(data, org.signing.public_key, today=later).bot == renewed


def test_a_certificate_from_another_organisation_or_a_shorter_one_is_not_taken_up(
    tmp_path: Path,
) -> None:
    org, other = OrganisationKeys.generate(), OrganisationKeys.generate()
    certify_bot(tmp_path, org.signing, days=60, today=TODAY)
    bot = load_bot_identity(tmp_path, org.signing.public_key, today=TODAY)
    in_use = bot.certificate

    certify_bot(tmp_path, other.signing, days=90, today=TODAY)  # someone else's organisation
    assert not bot.refresh(TODAY)
    certify_bot(tmp_path, org.signing, days=30, today=TODAY)  # ours, but shorter
    assert not bot.refresh(TODAY)
    assert bot.certificate == in_use


def test_the_hourly_check_warns_while_renewal_is_due_with_the_days_left_only(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    org = OrganisationKeys.generate()
    certify_bot(tmp_path, org.signing, days=5, today=TODAY)
    bot = load_bot_identity(tmp_path, org.signing.public_key, today=TODAY)
    with caplog.at_level(logging.INFO):
        check_certificate(bot, TODAY)
    due = [r for r in caplog.records if "bot.certificate_renewal_due" in r.getMessage()]
    assert due
    assert due[0].levelno == logging.WARNING
    assert due[0].sanad_counts == {"days_left": 5}  # type: ignore[attr-defined]

    caplog.clear()
    certify_bot(tmp_path, org.signing, days=90, today=TODAY)
    with caplog.at_level(logging.INFO):
        check_certificate(bot, TODAY)
    messages = [r.getMessage() for r in caplog.records]
    assert any("bot.certificate_renewed" in m for m in messages)
    assert not any("bot.certificate_renewal_due" in m for m in messages)


def test_refreshing_never_creates_a_bot_key_when_the_key_file_is_gone(tmp_path: Path) -> None:
    """A refresh reads the certificate only: the key in memory is the one that signs, and a key
    file removed under the running bot is not silently replaced by a new, uncertified one."""
    org = OrganisationKeys.generate()
    certify_bot(tmp_path, org.signing, days=10, today=TODAY)
    bot = load_bot_identity(tmp_path, org.signing.public_key, today=TODAY)
    key_file = tmp_path / BOT_DIRNAME / KEY_FILENAME
    key_file.unlink()

    assert not bot.refresh(TODAY)  # the certificate on disk is the one already in use
    assert not key_file.exists()
