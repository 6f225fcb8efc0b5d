"""Sealed report file, format v2 (docs/crypto.md, "Sealed report file")."""

from __future__ import annotations

from datetime import date
from unittest.mock import patch

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto import envelope
from crypto.bot_certificate import BotCertificate, issue_bot_certificate
from crypto.envelope import seal_report
from crypto.errors import NotForThisKey, OpenFailure, UnsupportedVersion
from crypto.header import EnvelopeKind
from crypto.keys import X25519PublicKey
from crypto.sealed_file import (
    MAGIC,
    MalformedSealedFile,
    UntrustedFile,
    open_sealed_file,
    read_sealed_file,
    write_sealed_file,
)
from tests.crypto.chain import (
    ATTACKER,
    BODY,
    BOT,
    BOT_CERTIFICATE,
    BOT_PERIOD,
    CASE_REFERENCE,
    CASEWORKER,
    DAY,
    MAILBOX,
    ORG,
    OTHER,
    OTHER_ORG,
    sealed_file,
)

SIGNATURE_BYTES = 64
# The same file for every property example: sealing draws a random data key, the checks do not.
FILE = sealed_file()


def _open(data: bytes, today: date = DAY) -> object:
    return open_sealed_file(data, CASEWORKER, ORG.public_key, today=today)


def _resigned(data: bytes) -> bytes:
    """``data`` edited, then signed again with the real bot key: what only the running server
    (which holds that key) could make. Shows the AEAD still binds the header (docs/crypto.md)."""
    signed = data[:-SIGNATURE_BYTES]
    return signed + BOT.sign(signed)


@pytest.mark.parametrize("reply_to", [MAILBOX, None])
def test_open_sealed_file_returns_header_and_body(reply_to: X25519PublicKey | None) -> None:
    report_id = bytes(range(16, 32))
    opened = open_sealed_file(
        sealed_file(reply_to=reply_to, report_id=report_id), CASEWORKER, ORG.public_key, today=DAY
    )
    assert (opened.kind, opened.case_reference, opened.report_id, opened.sequence) == (
        EnvelopeKind.ADDENDUM,
        CASE_REFERENCE,
        report_id,
        2,
    )
    assert opened.reply_to == reply_to
    assert opened.body == BODY


def test_read_sealed_file_checks_the_bot_without_a_key() -> None:
    parsed = read_sealed_file(FILE, ORG.public_key, today=DAY)
    assert parsed.wrap.key_id == CASEWORKER.public_key.key_id
    assert parsed.bot == BOT_PERIOD
    assert FILE.startswith(MAGIC)
    assert b"canary" not in FILE


def test_open_sealed_file_says_not_for_this_key() -> None:
    with pytest.raises(NotForThisKey):
        open_sealed_file(FILE, OTHER, ORG.public_key, today=DAY)


def test_an_edited_reply_to_key_is_untrusted() -> None:
    # The v1 attack: whoever carries the file swaps in their own mailbox key to read the answer.
    edited = FILE.replace(MAILBOX.raw, OTHER.public_key.raw)
    with pytest.raises(UntrustedFile, match="altered or forged"):
        _open(edited)
    # Even re-signed with the bot's own key, the body's associated data still refuses it.
    with pytest.raises(OpenFailure):
        _open(_resigned(edited))


@pytest.mark.parametrize("field", ["report_id", "sequence", "kind"])
def test_an_edited_header_is_untrusted_and_does_not_open(field: str) -> None:
    edited = bytearray(FILE)
    offset = len(MAGIC) + 1 + 1 + 1 + len(CASE_REFERENCE)
    if field == "report_id":
        edited[offset] ^= 1
    elif field == "sequence":
        edited[offset + 16 + 3] = 3
    else:
        edited[len(MAGIC) + 1] = EnvelopeKind.REPORT.value
    with pytest.raises(UntrustedFile):
        _open(bytes(edited))
    with pytest.raises(OpenFailure):
        _open(_resigned(bytes(edited)))


def test_a_file_signed_by_an_uncertified_key_is_untrusted() -> None:
    with pytest.raises(UntrustedFile, match="altered or forged"):
        _open(sealed_file(bot_key=ATTACKER))


def test_a_bot_certificate_from_another_organisation_is_untrusted() -> None:
    foreign = issue_bot_certificate(BotCertificate(ATTACKER.public_key, 1, *_period()), OTHER_ORG)
    with pytest.raises(UntrustedFile, match="not signed by your organisation's bot"):
        _open(sealed_file(bot_key=ATTACKER, bot_certificate=foreign))


def test_an_expired_or_future_bot_certificate_is_untrusted_and_says_so() -> None:
    with pytest.raises(UntrustedFile, match=r"expired.*certify-bot"):
        _open(FILE, today=BOT_PERIOD.expires)
    with pytest.raises(UntrustedFile, match="not valid yet"):
        _open(FILE, today=date(2026, 4, 30))


def test_a_file_without_a_bot_certificate_or_signature_is_untrusted() -> None:
    with pytest.raises(UntrustedFile):
        _open(sealed_file(bot_certificate=b""))
    with pytest.raises(UntrustedFile):
        _open(FILE[:-SIGNATURE_BYTES] + bytes(SIGNATURE_BYTES))


def test_read_sealed_file_rejects_foreign_data() -> None:
    with pytest.raises(MalformedSealedFile, match="not a Sanad"):
        read_sealed_file(b"%PDF-1.7 not a report", ORG.public_key)


def test_a_v1_file_is_refused_naming_the_version() -> None:
    with pytest.raises(UnsupportedVersion, match=r"format version 1; .* reads version 2 only"):
        read_sealed_file(MAGIC + b"\x01" + FILE[len(MAGIC) + 1 :], ORG.public_key)


@pytest.mark.parametrize("keep", [len(MAGIC) + 1, len(MAGIC) + 5, len(MAGIC) + 40, 110])
def test_read_sealed_file_rejects_truncated_header(keep: int) -> None:
    with pytest.raises(MalformedSealedFile, match="damaged"):
        read_sealed_file(FILE[:keep], ORG.public_key)


@pytest.mark.parametrize("change", [lambda d: d[:-1], lambda d: d + b"\x00"])
def test_a_cut_or_padded_file_is_damaged(change: object) -> None:
    with pytest.raises(MalformedSealedFile, match="damaged"):
        _open(change(FILE))  # type: ignore[operator]


def test_write_sealed_file_refuses_replies_and_bad_case_references() -> None:
    sealed = seal_report(
        b"",
        report_id=bytes(16),
        sequence=0,
        kind=EnvelopeKind.REPORT,
        recipients=[CASEWORKER.public_key],
    )
    common = {
        "report_id": bytes(16),
        "sequence": 0,
        "reply_to": None,
        "wrap": sealed.wraps[0],
        "body_sealed": sealed.body_sealed,
        "bot_key": BOT,
        "bot_certificate": BOT_CERTIFICATE,
    }
    with pytest.raises(ValueError, match="report or an addendum"):
        write_sealed_file(kind=EnvelopeKind.REPLY, case_reference="K7Q-4M2P", **common)  # type: ignore[arg-type]
    with pytest.raises(MalformedSealedFile):
        write_sealed_file(kind=EnvelopeKind.REPORT, case_reference="../x", **common)  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(position=st.integers(0, len(FILE) - SIGNATURE_BYTES - 1), mask=st.integers(1, 255))
def test_any_changed_byte_of_the_signed_part_never_opens(position: int, mask: int) -> None:
    altered = bytearray(FILE)
    altered[position] ^= mask
    # Only the version byte has its own answer (by name, before anything else is read).
    expected = (
        UnsupportedVersion if position == len(MAGIC) else (UntrustedFile, MalformedSealedFile)
    )
    with pytest.raises(expected):
        _open(bytes(altered))


@settings(max_examples=25, deadline=None)
@given(report_id=st.binary(min_size=16, max_size=16), with_reply_to=st.booleans())
def test_a_file_forged_from_public_data_is_refused_before_decryption(
    report_id: bytes, with_reply_to: bool
) -> None:
    # The attacker knows the caseworker's public key (enrolment codes are public), picks the
    # reply-to key so they can read the answer, and signs with a key of their own (I9).
    attacker_mailbox = OTHER.public_key if with_reply_to else None
    forged = sealed_file(
        report_id=report_id,
        reply_to=attacker_mailbox,
        bot_key=ATTACKER,
        bot_certificate=issue_bot_certificate(
            BotCertificate(ATTACKER.public_key, 1, *_period()), ATTACKER
        ),
    )
    with (
        patch.object(envelope, "open_report", wraps=envelope.open_report) as decrypt,
        pytest.raises(UntrustedFile),
    ):
        _open(forged)
    decrypt.assert_not_called()


def _period() -> tuple[date, date]:
    return BOT_PERIOD.not_before, BOT_PERIOD.expires
