"""The signing key rotation statement (docs/crypto.md, "Signing key rotation")."""

from __future__ import annotations

import datetime as dt

import pytest

from crypto import (
    InvalidSignature,
    MalformedRotationStatement,
    RotationReason,
    UnsupportedVersion,
    issue_signing_key_rotation,
    verify_signing_key_rotation,
)
from crypto.key_rotation import ROTATION_MAGIC, STATEMENT_BYTES
from crypto.keys import Ed25519SigningKey

DAY = dt.date(2025, 3, 14)


def test_statement_names_old_and_new_key_and_day() -> None:
    old, new = Ed25519SigningKey.generate(), Ed25519SigningKey.generate()
    data = issue_signing_key_rotation(old, new, issued=DAY)
    assert len(data) == STATEMENT_BYTES
    rotation = verify_signing_key_rotation(data)
    assert (rotation.old, rotation.new, rotation.issued) == (old.public_key, new.public_key, DAY)


@pytest.mark.parametrize("reason", list(RotationReason))
def test_statement_carries_its_reason(reason: RotationReason) -> None:
    old, new = Ed25519SigningKey.generate(), Ed25519SigningKey.generate()
    data = issue_signing_key_rotation(old, new, reason=reason, issued=DAY)
    assert verify_signing_key_rotation(data).reason is reason


@pytest.mark.parametrize("position", [5, 40, 70, 75, 100, 180])
def test_statement_with_a_flipped_byte_is_refused(position: int) -> None:
    data = bytearray(
        issue_signing_key_rotation(Ed25519SigningKey.generate(), Ed25519SigningKey.generate())
    )
    data[position] ^= 0x01
    with pytest.raises((InvalidSignature, MalformedRotationStatement)):
        verify_signing_key_rotation(bytes(data))


def test_statement_signed_by_a_stranger_instead_of_the_old_key_is_refused() -> None:
    old, new, stranger = (Ed25519SigningKey.generate() for _ in range(3))
    genuine = issue_signing_key_rotation(old, new, issued=DAY)
    forged = issue_signing_key_rotation(stranger, new, issued=DAY)
    # The stranger's statement with the real old key's public half written in over theirs
    # (magic, version and reason come before it).
    old_key_end = len(ROTATION_MAGIC) + 2 + len(old.public_key.raw)
    spliced = genuine[:old_key_end] + forged[old_key_end:]
    assert verify_signing_key_rotation(forged).old == stranger.public_key
    with pytest.raises(InvalidSignature):
        verify_signing_key_rotation(spliced)


def test_statement_refuses_other_versions_truncation_and_a_key_replacing_itself() -> None:
    key = Ed25519SigningKey.generate()
    data = issue_signing_key_rotation(key, Ed25519SigningKey.generate())
    with pytest.raises(UnsupportedVersion):
        verify_signing_key_rotation(data[:4] + b"\x01" + data[5:])  # v1 is gone
    with pytest.raises(MalformedRotationStatement):
        verify_signing_key_rotation(data[:-1])
    with pytest.raises(MalformedRotationStatement):
        verify_signing_key_rotation(b"scrt" + data[4:])
    with pytest.raises(ValueError, match="itself"):
        issue_signing_key_rotation(key, key)
