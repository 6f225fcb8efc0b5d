"""Enrolment codes: one short token, every typo and truncation refused, labels kept plain."""

from __future__ import annotations

import base64
import string

import pytest

from crypto.enrolment import (
    LABEL_MAX_BYTES,
    PREFIX,
    EnrolmentCodeError,
    InvalidLabel,
    _checksum,
    decode_enrolment_code,
    encode_enrolment_code,
    validate_label,
)
from crypto.keys import CaseworkerKeys, Ed25519SigningKey, X25519SecretKey

_BASE64URL = string.ascii_letters + string.digits + "-_"
# Fixed keys (so a failure is reproducible) that are real keys: X25519 and Ed25519 public keys
# are checked when built, and arbitrary bytes such as all zeros are refused as low-order.
PUBLIC = CaseworkerKeys(
    X25519SecretKey(bytes(range(32))), Ed25519SigningKey(bytes(range(32, 64)))
).public


def _body(code: str) -> bytes:
    text = code[len(PREFIX) :]
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _encode_raw(raw: bytes) -> str:
    return PREFIX + base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize("label", ["Amira", "Sami K.", "أمينة", "Léa-Marie", "x" * 32, "ع" * 16])
def test_round_trip(label: str) -> None:
    public = CaseworkerKeys.generate().public
    code = encode_enrolment_code(label, public)
    assert decode_enrolment_code(code) == (label, public)
    assert decode_enrolment_code(f"  {code}\n") == (label, public)


def test_code_is_one_short_token_even_with_the_longest_label() -> None:
    code = encode_enrolment_code("ع" * (LABEL_MAX_BYTES // 2), PUBLIC)
    assert len(code) <= 150
    assert code.startswith(PREFIX)
    assert set(code[len(PREFIX) :]) <= set(_BASE64URL)


def test_every_single_character_typo_is_refused() -> None:
    code = encode_enrolment_code("Amira", PUBLIC)
    for position in range(len(PREFIX), len(code)):
        for replacement in _BASE64URL:
            if replacement == code[position]:
                continue
            typo = code[:position] + replacement + code[position + 1 :]
            with pytest.raises(EnrolmentCodeError):
                decode_enrolment_code(typo)


def test_every_truncation_is_refused() -> None:
    code = encode_enrolment_code("Amira", PUBLIC)
    for length in range(len(code)):
        with pytest.raises(EnrolmentCodeError):
            decode_enrolment_code(code[:length])


def test_adjacent_swaps_are_refused() -> None:
    code = encode_enrolment_code("Amira", PUBLIC)
    for i in range(len(PREFIX), len(code) - 1):
        if code[i] != code[i + 1]:
            swapped = code[:i] + code[i + 1] + code[i] + code[i + 2 :]
            with pytest.raises(EnrolmentCodeError):
                decode_enrolment_code(swapped)


def test_unknown_version_is_refused_by_name() -> None:
    body = bytearray(_body(encode_enrolment_code("Amira", PUBLIC))[:-4])
    body[0] = 2
    with pytest.raises(EnrolmentCodeError, match="version 2"):
        decode_enrolment_code(_encode_raw(bytes(body) + _checksum(bytes(body))))


def test_inconsistent_label_length_is_refused() -> None:
    body = bytearray(_body(encode_enrolment_code("Amira", PUBLIC))[:-4])
    body[1] = 4
    with pytest.raises(EnrolmentCodeError, match="malformed"):
        decode_enrolment_code(_encode_raw(bytes(body) + _checksum(bytes(body))))


def test_label_with_a_direction_override_is_refused_even_with_a_valid_checksum() -> None:
    label = "Am\u202eira".encode()
    body = bytes([1, len(label)]) + label + PUBLIC.encryption.raw + PUBLIC.signing.raw
    with pytest.raises(InvalidLabel):
        decode_enrolment_code(_encode_raw(body + _checksum(body)))


@pytest.mark.parametrize(
    "text",
    ["", "Amira", "sanad-x25519-1:AAAA", PREFIX, PREFIX + "!!!!", PREFIX + "A" * 400],
)
def test_what_is_not_a_code_is_refused(text: str) -> None:
    with pytest.raises(EnrolmentCodeError):
        decode_enrolment_code(text)


@pytest.mark.parametrize(
    "label",
    [
        "",
        " Amira",
        "Amira ",
        "Am  ira",
        "a\nb",
        "a\tb",
        "a\u200fb",
        "a\u202eb",
        "a/b",
        "a<b>",
        "x" * 33,
        "ع" * 17,
    ],
)
def test_invalid_labels_are_refused(label: str) -> None:
    with pytest.raises(InvalidLabel):
        validate_label(label)
    with pytest.raises(InvalidLabel):
        encode_enrolment_code(label, PUBLIC)


def test_label_is_normalised_to_nfc() -> None:
    assert validate_label("Le\u0301a") == "L\u00e9a"
    code = encode_enrolment_code("Le\u0301a", PUBLIC)
    assert decode_enrolment_code(code)[0] == "L\u00e9a"
