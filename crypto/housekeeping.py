"""Erase targets sealed with a rotating server key (docs/crypto.md, "Housekeeping").

When the bot cannot delete a conversation's messages at once (Telegram refused, the process is
stopping), it must remember *which chat* and *which messages* until the erase job can: the only
reporter identifiers Sanad ever writes down (I2). They are written only as an erase target sealed
with a :class:`HousekeepingKey`::

    target = i64 chat id || u8 count || 100 × i64 message id (unused slots zero)
    sealed = "shkp" || version (1) || nonce (24) || XChaCha20-Poly1305(key, nonce, target, ad)
    ad     = "shkp" || version

Every target has the same size whatever the number of messages, so a stored row does not show
how long a conversation was. Keys are random and short-lived; where they live and when they are
destroyed is the bot's business (``bot.services.housekeeping``): destroying a key makes every
target sealed with it unreadable, wherever a copy of the row survives.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass, field

from crypto import _sodium
from crypto.errors import OpenFailure, UnsupportedVersion

HOUSEKEEPING_MAGIC = b"shkp"
VERSION = 1
_PREFIX = HOUSEKEEPING_MAGIC + bytes([VERSION])
KEY_BYTES = _sodium.AEAD_KEY_BYTES
# Telegram's deleteMessages takes at most 100 ids, so one target is one call.
MAX_MESSAGES = 100
_SLOT = struct.Struct(">q")
_TARGET_BYTES = _SLOT.size + 1 + MAX_MESSAGES * _SLOT.size
SEALED_BYTES = len(_PREFIX) + _sodium.AEAD_NONCE_BYTES + _TARGET_BYTES + _sodium.AEAD_TAG_BYTES
_INT64 = range(-(2**63), 2**63)


@dataclass(frozen=True)
class HousekeepingKey:
    """A random 32-byte XChaCha20-Poly1305 key for erase targets; never printed."""

    raw: bytes = field(repr=False)

    def __post_init__(self) -> None:
        # Checked here so a truncated key read from disk never reaches libsodium.
        if len(self.raw) != KEY_BYTES:
            raise ValueError(f"a housekeeping key must be {KEY_BYTES} bytes")

    @classmethod
    def generate(cls) -> HousekeepingKey:
        return cls(_sodium.random_bytes(KEY_BYTES))

    def __repr__(self) -> str:
        return "HousekeepingKey(<redacted>)"


@dataclass(frozen=True)
class EraseTarget:
    """Which messages of which chat to delete: at most :data:`MAX_MESSAGES`, at least one."""

    chat_id: int
    message_ids: tuple[int, ...]

    def __post_init__(self) -> None:
        if not 1 <= len(self.message_ids) <= MAX_MESSAGES:
            raise ValueError(f"an erase target holds 1 to {MAX_MESSAGES} message ids")
        if self.chat_id not in _INT64 or any(m not in _INT64 for m in self.message_ids):
            raise ValueError("chat and message ids must fit in 64 bits")

    def __repr__(self) -> str:
        # I2: a chat id is a reporter's identity; only the count may be shown.
        return f"EraseTarget(<redacted>, {len(self.message_ids)} messages)"


def seal_erase_target(key: HousekeepingKey, chat_id: int, message_ids: Sequence[int]) -> bytes:
    """Seal ``message_ids`` (1 to 100) of ``chat_id`` under ``key``; always :data:`SEALED_BYTES`.

    Raises ``ValueError`` for an empty or oversized list or an id beyond 64 bits.
    """
    return _seal_from_parts(
        key,
        EraseTarget(chat_id, tuple(message_ids)),
        nonce=_sodium.random_bytes(_sodium.AEAD_NONCE_BYTES),
    )


def _seal_from_parts(key: HousekeepingKey, target: EraseTarget, *, nonce: bytes) -> bytes:
    """Deterministic sealing for test vectors; the random 24-byte nonce never repeats a key's."""
    slots = [*target.message_ids, *([0] * (MAX_MESSAGES - len(target.message_ids)))]
    plaintext = (
        _SLOT.pack(target.chat_id)
        + bytes([len(target.message_ids)])
        + b"".join(_SLOT.pack(m) for m in slots)
    )
    return _PREFIX + nonce + _sodium.aead_encrypt(key.raw, nonce, plaintext, _PREFIX)


def open_erase_target(key: HousekeepingKey, sealed: bytes) -> EraseTarget:
    """The target sealed by :func:`seal_erase_target` under ``key``.

    Raises :class:`UnsupportedVersion` for another format version and :class:`OpenFailure` for
    every other cause (wrong or destroyed key, tampering, truncation, a non-canonical target).
    """
    if (
        len(sealed) > len(HOUSEKEEPING_MAGIC)
        and sealed.startswith(HOUSEKEEPING_MAGIC)
        and (sealed[len(HOUSEKEEPING_MAGIC)] != VERSION)
    ):
        raise UnsupportedVersion(f"housekeeping format version {sealed[len(HOUSEKEEPING_MAGIC)]}")
    if len(sealed) != SEALED_BYTES or not sealed.startswith(_PREFIX):
        raise OpenFailure
    nonce_end = len(_PREFIX) + _sodium.AEAD_NONCE_BYTES
    plaintext = _sodium.aead_decrypt(
        key.raw, sealed[len(_PREFIX) : nonce_end], sealed[nonce_end:], _PREFIX
    )
    (chat_id,) = _SLOT.unpack_from(plaintext, 0)
    count = plaintext[_SLOT.size]
    slots = [
        _SLOT.unpack_from(plaintext, _SLOT.size + 1 + i * _SLOT.size)[0]
        for i in range(MAX_MESSAGES)
    ]
    # Authenticated already; the canonical-form check only refuses what this code never writes.
    if not 1 <= count <= MAX_MESSAGES or any(slots[count:]):
        raise OpenFailure
    return EraseTarget(chat_id, tuple(slots[:count]))
