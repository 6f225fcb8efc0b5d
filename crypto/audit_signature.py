"""Signatures on the audit log's entries (docs/crypto.md, "Audit log signatures").

The audit log is a hash chain (``storage/audit.py``); a chain alone lets someone who can write the
database rewrite it whole and recompute every hash. So the bot signs each link with its own key,
which lives in the state directory, never in the database::

    signed = "saus" || version (2) || position (u64, 1 for the first entry) || entry hash (32)
    signature = Ed25519(bot key, signed)

The position stops a signed entry from being moved; the entry hash covers the entry and, through
the chain, every entry before it. Deleting the newest entries leaves a valid shorter chain, which
is why the chain's length and head are also kept in the state directory.
"""

from __future__ import annotations

from crypto import _sodium
from crypto.keys import Ed25519PublicKey, Ed25519SigningKey

AUDIT_SIGNATURE_MAGIC = b"saus"
VERSION = 2
ENTRY_HASH_BYTES = 32
SIGNATURE_BYTES = _sodium.ED25519_SIGNATURE_BYTES


def _signed_bytes(position: int, entry_hash: bytes) -> bytes:
    if not 0 < position < 2**64 or len(entry_hash) != ENTRY_HASH_BYTES:
        raise ValueError("an audit position is a positive u64 and an entry hash 32 bytes")
    return AUDIT_SIGNATURE_MAGIC + bytes([VERSION]) + position.to_bytes(8, "big") + entry_hash


def sign_audit_entry(bot_key: Ed25519SigningKey, position: int, entry_hash: bytes) -> bytes:
    """The bot's 64-byte signature of the entry at ``position`` with hash ``entry_hash``."""
    return bot_key.sign(_signed_bytes(position, entry_hash))


def audit_entry_signed(
    bot_public: Ed25519PublicKey, position: int, entry_hash: bytes, signature: bytes
) -> bool:
    """True when ``signature`` is ``bot_public``'s over this position and entry hash."""
    try:
        signed = _signed_bytes(position, entry_hash)
    except ValueError:
        return False
    return bot_public.verify(signed, signature)
