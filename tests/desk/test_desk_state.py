"""The desk's own records open only with the caseworker's key, for the purpose they were sealed
for (crypto.desk_state)."""

from __future__ import annotations

import pytest

from crypto.desk_state import DESK_STATE_MAGIC, open_desk_record, seal_desk_record
from crypto.errors import OpenFailure, UnsupportedVersion
from crypto.keys import X25519SecretKey

RECORD = b'{"cases": {"K7Q-4M2P": "a private note"}}'


@pytest.fixture
def owner() -> X25519SecretKey:
    return X25519SecretKey.generate()


def test_a_record_opens_with_its_owners_key(owner: X25519SecretKey) -> None:
    sealed = seal_desk_record("state", RECORD, owner.public_key)
    assert RECORD not in sealed
    assert b"private note" not in sealed
    assert open_desk_record("state", sealed, owner) == RECORD


def test_a_record_does_not_open_with_another_key(owner: X25519SecretKey) -> None:
    sealed = seal_desk_record("state", RECORD, owner.public_key)
    with pytest.raises(OpenFailure):
        open_desk_record("state", sealed, X25519SecretKey.generate())


def test_a_record_does_not_open_for_another_purpose(owner: X25519SecretKey) -> None:
    sealed = seal_desk_record("notes", RECORD, owner.public_key)
    with pytest.raises(OpenFailure):
        open_desk_record("state", sealed, owner)


@pytest.mark.parametrize("position", [5, 40, -1])
def test_a_flipped_byte_is_refused(owner: X25519SecretKey, position: int) -> None:
    sealed = bytearray(seal_desk_record("state", RECORD, owner.public_key))
    sealed[position] ^= 1
    with pytest.raises(OpenFailure):
        open_desk_record("state", bytes(sealed), owner)


@pytest.mark.parametrize("cut", [0, 3, 5, 50])
def test_a_truncated_record_is_refused(owner: X25519SecretKey, cut: int) -> None:
    sealed = seal_desk_record("state", RECORD, owner.public_key)
    with pytest.raises(OpenFailure):
        open_desk_record("state", sealed[:cut], owner)


def test_another_version_is_refused_by_name(owner: X25519SecretKey) -> None:
    sealed = bytearray(seal_desk_record("state", RECORD, owner.public_key))
    sealed[len(DESK_STATE_MAGIC)] = 2
    with pytest.raises(UnsupportedVersion, match="desk record is format version 2"):
        open_desk_record("state", bytes(sealed), owner)
