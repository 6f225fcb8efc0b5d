"""Erase targets: sealed to a fixed size, opened only with their own key, intact and current."""

from __future__ import annotations

import secrets

import pytest

from crypto import (
    EraseTarget,
    HousekeepingKey,
    OpenFailure,
    UnsupportedVersion,
    open_erase_target,
    seal_erase_target,
)
from crypto.housekeeping import MAX_MESSAGES, SEALED_BYTES

CHAT_ID = 7_391_845_226_173


def test_erase_target_round_trips_with_its_key() -> None:
    key = HousekeepingKey.generate()
    ids = [5, 6, 2**31 - 1, 2**40]
    assert open_erase_target(key, seal_erase_target(key, CHAT_ID, ids)) == EraseTarget(
        CHAT_ID, tuple(ids)
    )


@pytest.mark.parametrize("count", [1, 37, MAX_MESSAGES])
def test_sealed_size_does_not_reveal_how_many_messages(count: int) -> None:
    sealed = seal_erase_target(HousekeepingKey.generate(), -CHAT_ID, range(1, count + 1))
    assert len(sealed) == SEALED_BYTES


def test_open_erase_target_rejects_another_key() -> None:
    sealed = seal_erase_target(HousekeepingKey.generate(), CHAT_ID, [1])
    with pytest.raises(OpenFailure):
        open_erase_target(HousekeepingKey.generate(), sealed)


@pytest.mark.parametrize("position", [5, 10, 40, SEALED_BYTES - 1])
def test_open_erase_target_rejects_flipped_byte(position: int) -> None:
    key = HousekeepingKey.generate()
    sealed = bytearray(seal_erase_target(key, CHAT_ID, [1, 2]))
    sealed[position] ^= 0x01
    with pytest.raises(OpenFailure):
        open_erase_target(key, bytes(sealed))


def test_open_erase_target_rejects_truncation_and_foreign_magic() -> None:
    key = HousekeepingKey.generate()
    sealed = seal_erase_target(key, CHAT_ID, [1])
    for broken in (sealed[:-1], sealed + b"\x00", b"xxxx" + sealed[4:], b""):
        with pytest.raises(OpenFailure):
            open_erase_target(key, broken)


def test_open_erase_target_names_another_version() -> None:
    key = HousekeepingKey.generate()
    sealed = seal_erase_target(key, CHAT_ID, [1])
    with pytest.raises(UnsupportedVersion):
        open_erase_target(key, sealed[:4] + b"\x02" + sealed[5:])


@pytest.mark.parametrize("ids", [[], list(range(MAX_MESSAGES + 1)), [2**63]])
def test_seal_erase_target_refuses_what_one_target_cannot_hold(ids: list[int]) -> None:
    with pytest.raises(ValueError, match=r"erase target|64 bits"):
        seal_erase_target(HousekeepingKey.generate(), CHAT_ID, ids)


def test_secrets_and_identities_stay_out_of_repr() -> None:
    raw = secrets.token_bytes(32)
    assert raw.hex() not in repr(HousekeepingKey(raw))
    assert str(CHAT_ID) not in repr(EraseTarget(CHAT_ID, (1, 2)))
    assert "2 messages" in repr(EraseTarget(CHAT_ID, (1, 2)))
