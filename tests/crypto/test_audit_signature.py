"""Audit log signatures (docs/crypto.md, "Audit log signatures")."""

from __future__ import annotations

from crypto.audit_signature import audit_entry_signed, sign_audit_entry
from tests.crypto.chain import ATTACKER, BOT

HASH = bytes(range(32))


def test_a_signed_entry_verifies_at_its_position() -> None:
    assert audit_entry_signed(BOT.public_key, 7, HASH, sign_audit_entry(BOT, 7, HASH))


def test_a_signed_entry_moved_to_another_position_fails() -> None:
    signature = sign_audit_entry(BOT, 7, HASH)
    assert not audit_entry_signed(BOT.public_key, 6, HASH, signature)
    assert not audit_entry_signed(BOT.public_key, 8, HASH, signature)


def test_another_hash_or_signer_fails() -> None:
    signature = sign_audit_entry(BOT, 7, HASH)
    assert not audit_entry_signed(BOT.public_key, 7, bytes(32), signature)
    assert not audit_entry_signed(BOT.public_key, 7, HASH, sign_audit_entry(ATTACKER, 7, HASH))


def test_out_of_range_positions_and_hashes_never_verify() -> None:
    signature = sign_audit_entry(BOT, 1, HASH)
    assert not audit_entry_signed(BOT.public_key, 0, HASH, signature)
    assert not audit_entry_signed(BOT.public_key, 2**64, HASH, signature)
    assert not audit_entry_signed(BOT.public_key, 1, HASH[:31], signature)
