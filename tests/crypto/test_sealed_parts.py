"""Parts of a sealed report file (docs/crypto.md, "Parts of a sealed report file")."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto.bot_certificate import BotCertificate, issue_bot_certificate
from crypto.errors import CryptoError
from crypto.keys import Ed25519SigningKey
from crypto.sealed_file import (
    MalformedSealedFile,
    UntrustedFile,
    open_sealed_file,
    read_sealed_file,
)
from crypto.sealed_parts import (
    PartsDoNotJoin,
    is_sealed_part,
    join_sealed_parts,
    read_sealed_part,
    split_sealed_file,
)
from tests.crypto.chain import (
    ATTACKER,
    BOT,
    BOT_CERTIFICATE,
    CASE_REFERENCE,
    CASEWORKER,
    DAY,
    ORG,
    OTHER_ORG,
    sealed_file,
)

REPORT_ID = bytes(range(16))
# The same file for every property example: sealing draws a random data key, the checks do not.
FILE = sealed_file(report_id=REPORT_ID)
PART_SIZE = 200


def _split(
    data: bytes = FILE,
    *,
    report_id: bytes = REPORT_ID,
    bot_key: Ed25519SigningKey = BOT,
    bot_certificate: bytes = BOT_CERTIFICATE,
) -> list[bytes]:
    return split_sealed_file(
        data,
        case_reference=CASE_REFERENCE,
        report_id=report_id,
        sequence=2,
        part_size=PART_SIZE,
        bot_key=bot_key,
        bot_certificate=bot_certificate,
    )


PARTS = _split()


def _join(parts: list[bytes], today: date = DAY) -> bytes:
    return join_sealed_parts(parts, ORG.public_key, today=today)


def test_parts_join_back_into_the_file_which_opens() -> None:
    assert len(PARTS) == -(-len(FILE) // PART_SIZE) >= 3
    joined = _join(PARTS)
    assert joined == FILE
    opened = open_sealed_file(joined, CASEWORKER, ORG.public_key, today=DAY)
    assert opened.body.answer("what") == "canary-sealed-file"


def test_every_part_is_labelled_with_its_report_and_place() -> None:
    read = [read_sealed_part(part, ORG.public_key, today=DAY) for part in PARTS]
    assert [(p.index, p.count) for p in read] == [(i, len(PARTS)) for i in range(len(PARTS))]
    assert {(p.case_reference, p.report_id, p.sequence) for p in read} == {
        (CASE_REFERENCE, REPORT_ID, 2)
    }
    assert all(len(p.chunk) <= PART_SIZE for p in read)


def test_reordered_parts_join_into_the_same_file() -> None:
    assert _join(PARTS[::-1]) == FILE


def test_a_part_given_twice_byte_for_byte_counts_once() -> None:
    # I8: a crash between parts sends every part again, the same bytes (splitting is
    # deterministic), so the caseworker may hold two copies of some parts.
    assert _split() == PARTS
    assert _join([*PARTS, PARTS[1], PARTS[0]]) == FILE


def test_a_missing_part_is_named() -> None:
    with pytest.raises(PartsDoNotJoin, match=f"part 2 of {len(PARTS)} is missing"):
        _join([PARTS[0], *PARTS[2:]])


def test_a_single_part_of_several_is_refused() -> None:
    with pytest.raises(PartsDoNotJoin, match="missing"):
        _join(PARTS[:1])


def test_a_part_of_another_report_is_refused() -> None:
    other_id = bytes(range(1, 17))
    other = _split(sealed_file(report_id=other_id), report_id=other_id)
    with pytest.raises(PartsDoNotJoin, match="different files"):
        _join([PARTS[0], other[1], *PARTS[2:]])


def test_a_part_of_another_send_of_the_same_report_is_refused() -> None:
    # The same report sealed again (another send, another wrap) has another whole-file hash.
    resealed = _split(sealed_file(report_id=REPORT_ID))
    with pytest.raises(PartsDoNotJoin, match="different files"):
        _join([PARTS[0], resealed[1], *PARTS[2:]])


def test_an_unsigned_part_is_untrusted() -> None:
    unsigned = PARTS[1][:-64] + bytes(64)
    with pytest.raises(UntrustedFile, match="signature does not match"):
        _join([PARTS[0], unsigned, *PARTS[2:]])


def test_a_part_signed_by_a_key_the_certificate_does_not_name_is_untrusted() -> None:
    forged = _split(bot_key=ATTACKER)
    with pytest.raises(UntrustedFile):
        _join([PARTS[0], forged[1], *PARTS[2:]])


def test_a_part_from_another_organisations_bot_is_untrusted() -> None:
    certificate = issue_bot_certificate(
        BotCertificate(ATTACKER.public_key, 1, date(2026, 5, 1), date(2026, 8, 1)), OTHER_ORG
    )
    forged = _split(bot_key=ATTACKER, bot_certificate=certificate)
    with pytest.raises(UntrustedFile, match="not signed by your organisation's bot"):
        _join([PARTS[0], forged[1], *PARTS[2:]])


def test_a_part_after_its_bot_certificate_expired_is_untrusted() -> None:
    with pytest.raises(UntrustedFile, match="expired"):
        _join(PARTS, today=date(2026, 8, 1))


def test_parts_and_files_cannot_be_read_as_one_another() -> None:
    assert is_sealed_part(PARTS[0])
    assert not is_sealed_part(FILE)
    with pytest.raises(MalformedSealedFile):
        read_sealed_file(PARTS[0], ORG.public_key, today=DAY)
    with pytest.raises(MalformedSealedFile):
        read_sealed_part(FILE, ORG.public_key, today=DAY)


def test_no_parts_is_refused() -> None:
    with pytest.raises(PartsDoNotJoin):
        _join([])


def test_split_refuses_what_it_cannot_encode() -> None:
    with pytest.raises(ValueError, match="at least one byte"):
        split_sealed_file(
            FILE,
            case_reference=CASE_REFERENCE,
            report_id=REPORT_ID,
            sequence=2,
            part_size=0,
            bot_key=BOT,
            bot_certificate=BOT_CERTIFICATE,
        )
    with pytest.raises(ValueError, match="more parts"):
        split_sealed_file(
            bytes(0x10000),
            case_reference=CASE_REFERENCE,
            report_id=REPORT_ID,
            sequence=2,
            part_size=1,
            bot_key=BOT,
            bot_certificate=BOT_CERTIFICATE,
        )


@settings(max_examples=300, deadline=None)
@given(
    which=st.integers(min_value=0, max_value=len(PARTS) - 1),
    position=st.integers(min_value=0),
    change=st.integers(min_value=1, max_value=255),
)
def test_any_single_byte_change_in_any_part_is_refused(
    which: int, position: int, change: int
) -> None:
    edited = bytearray(PARTS[which])
    edited[position % len(edited)] ^= change
    parts = [*PARTS[:which], bytes(edited), *PARTS[which + 1 :]]
    with pytest.raises(CryptoError):
        _join(parts)
