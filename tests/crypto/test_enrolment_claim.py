"""Enrolment claims and confirmation codes (docs/crypto.md, "Enrolment claims")."""

from __future__ import annotations

import re
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crypto.certificates import InvalidSignature, SignedByAnotherKey
from crypto.enrolment_claim import (
    CODE_DIGITS,
    MalformedConfirmationCode,
    _issue_enrolment_claim_from_parts,
    confirmation_code,
    display_confirmation_code,
    issue_enrolment_claim,
    parse_confirmation_code,
    verify_enrolment_claim,
)
from crypto.errors import UnsupportedVersion
from crypto.keys import CaseworkerKeys, Ed25519SigningKey, X25519SecretKey
from tests.crypto.chain import ATTACKER, BOT

KEYS = CaseworkerKeys(
    X25519SecretKey(bytes(range(2, 34))), Ed25519SigningKey(bytes(range(3, 35)))
).public
CHAT = 424242
ISSUED = date(2026, 6, 1)
ARABIC_INDIC = "٠١٢٣٤٥٦٧٨٩"
PERSIAN = "۰۱۲۳۴۵۶۷۸۹"


def _claim(chat_id: int = CHAT, nonce: bytes = bytes(16), bot: Ed25519SigningKey = BOT) -> bytes:
    return _issue_enrolment_claim_from_parts(bot, chat_id, KEYS, nonce=nonce, issued=ISSUED)


def test_verify_enrolment_claim_returns_the_chat_keys_day_and_code() -> None:
    data = _claim()
    claim = verify_enrolment_claim(data, BOT.public_key)
    assert (claim.chat_id, claim.keys, claim.issued) == (CHAT, KEYS, ISSUED)
    assert claim.code == confirmation_code(data)
    assert claim.confirmed_by(parse_confirmation_code(display_confirmation_code(claim.code)))


def test_a_claim_moved_to_another_chat_fails_the_bot_signature() -> None:
    # I9: a database writer who rewrites the claim's chat id cannot bind another chat.
    data = _claim()
    moved = data.replace(CHAT.to_bytes(8, "big", signed=True), (31337).to_bytes(8, "big"))
    with pytest.raises(InvalidSignature):
        verify_enrolment_claim(moved, BOT.public_key)


def test_a_claim_signed_by_another_key_is_refused() -> None:
    with pytest.raises(SignedByAnotherKey):
        verify_enrolment_claim(_claim(bot=ATTACKER), BOT.public_key)


def test_a_pasted_code_makes_a_claim_with_a_different_code() -> None:
    # Someone pastes the caseworker's enrolment code into their own chat: the bot's claim names
    # their chat, and its code is not the one the caseworker reads aloud.
    real = verify_enrolment_claim(issue_enrolment_claim(BOT, CHAT, KEYS), BOT.public_key)
    pasted = verify_enrolment_claim(issue_enrolment_claim(BOT, 31337, KEYS), BOT.public_key)
    assert pasted.chat_id != real.chat_id
    assert not pasted.confirmed_by(real.code)


def test_every_enrol_gets_a_new_code() -> None:
    first = verify_enrolment_claim(issue_enrolment_claim(BOT, CHAT, KEYS), BOT.public_key)
    second = verify_enrolment_claim(issue_enrolment_claim(BOT, CHAT, KEYS), BOT.public_key)
    assert first.code != second.code


def test_a_v1_claim_is_refused_naming_the_version() -> None:
    data = _claim()
    with pytest.raises(UnsupportedVersion, match=r"enrolment claim is format version 1"):
        verify_enrolment_claim(data[:4] + b"\x01" + data[5:], BOT.public_key)


@given(nonce=st.binary(min_size=16, max_size=16), chat_id=st.integers(-(2**63), 2**63 - 1))
def test_confirmation_codes_are_8_ascii_digits(nonce: bytes, chat_id: int) -> None:
    code = confirmation_code(_claim(chat_id, nonce))
    assert re.fullmatch(f"[0-9]{{{CODE_DIGITS}}}", code)


@given(
    code=st.text("0123456789", min_size=8, max_size=8),
    script=st.sampled_from(["0123456789", ARABIC_INDIC, PERSIAN]),
    separator=st.sampled_from(["", " ", "-", "\u00a0", "  "]),
)
def test_parse_confirmation_code_reads_any_digits_with_spaces_and_dashes(
    code: str, script: str, separator: str
) -> None:
    typed = "".join(script[int(c)] for c in code)
    typed = typed[:4] + separator + typed[4:]
    assert parse_confirmation_code(f" {typed} ") == code


@pytest.mark.parametrize("text", ["1234 567", "1234 56789", "1234 567x", "", "1" * 65])
def test_parse_confirmation_code_refuses_anything_but_8_digits(text: str) -> None:
    with pytest.raises(MalformedConfirmationCode):
        parse_confirmation_code(text)
