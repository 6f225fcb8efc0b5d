"""Organisation signing key rotation statements (docs/crypto.md, "Signing key rotation").

When the organisation replaces its signing key, the old key and the new key both sign one short
statement naming the two. The old key's signature is the authorisation: only whoever holds the
key that was pinned until now can say which key comes next, so a stolen configuration file or a
database edit cannot introduce a signing key of an intruder's choosing. The new key's signature
proves that the holder of the new key made the statement too (nobody can "rotate" the
organisation onto a public key whose private half they do not hold).

The statement is what ``sanad admin approve --all`` checks before it re-issues, under the new key,
the certificates the old key had signed (I4): a caseworker the old key vouched for keeps their
standing, and nobody else gains any.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date

from crypto import _sodium
from crypto._reader import Reader

# The day encoding is that of every signed object (u32 days since 1970-01-01).
from crypto._signed import InvalidSignature, date_bytes, read_date, read_public_key, today_utc
from crypto.errors import CryptoError, unsupported_version
from crypto.keys import Ed25519PublicKey, Ed25519SigningKey

# Domain separation from certificates ("scrt") and revocation lists ("srev"), which the same
# organisation key signs: no signed statement can be read as another kind.
ROTATION_MAGIC = b"srot"
VERSION = 2
_BODY_BYTES = len(ROTATION_MAGIC) + 1 + 1 + 2 * _sodium.ED25519_PUBLIC_BYTES + 4
STATEMENT_BYTES = _BODY_BYTES + 2 * _sodium.ED25519_SIGNATURE_BYTES


class MalformedRotationStatement(CryptoError):
    """This is not a well-formed Sanad signing key rotation statement."""


class RotationReason(enum.Enum):
    """Why the signing key changes; the value is its byte in the statement."""

    SCHEDULED = 1
    # The old key may be in someone else's hands: whatever it signed, a thief could have signed
    # too, so nothing it vouched for is carried over (every caseworker is approved again).
    COMPROMISED = 2


@dataclass(frozen=True)
class SigningKeyRotation:
    """A verified statement: ``new`` replaces ``old`` as the organisation signing key."""

    old: Ed25519PublicKey
    new: Ed25519PublicKey
    issued: date
    reason: RotationReason = RotationReason.SCHEDULED


def issue_signing_key_rotation(
    old: Ed25519SigningKey,
    new: Ed25519SigningKey,
    *,
    reason: RotationReason = RotationReason.SCHEDULED,
    issued: date | None = None,
) -> bytes:
    """The statement that ``new`` replaces ``old``, signed by both (old first).

    Raises ValueError when the two are the same key: a statement that a key replaces itself would
    let an old statement be mistaken for a real rotation.
    """
    if old.public_key == new.public_key:
        raise ValueError("a signing key cannot replace itself")
    body = b"".join(
        [
            ROTATION_MAGIC,
            bytes([VERSION, reason.value]),
            old.public_key.raw,
            new.public_key.raw,
            date_bytes(issued or today_utc()),
        ]
    )
    return body + old.sign(body) + new.sign(body)


def verify_signing_key_rotation(data: bytes) -> SigningKeyRotation:
    """The rotation in ``data`` if both signatures verify over the statement.

    Checks, in order: the magic and length (``MalformedRotationStatement``), the version
    (``UnsupportedVersion``), the two keys differ, then the old key's signature and the new
    key's (``InvalidSignature``). The statement is public, so the errors are precise. The caller
    decides whether ``old`` is a key it trusted and ``new`` the one it now pins.
    """
    if not data.startswith(ROTATION_MAGIC):
        raise MalformedRotationStatement("this is not a Sanad signing key rotation statement")
    reader = Reader(
        data, MalformedRotationStatement, "this signing key rotation statement is damaged"
    )
    reader.take(len(ROTATION_MAGIC))
    found = reader.number(1)
    if found != VERSION:
        raise unsupported_version("signing key rotation statement", found, VERSION)
    if len(data) != STATEMENT_BYTES:
        raise reader.fail()
    reason_byte = reader.number(1)  # read once: not inside the search below
    reason = next((r for r in RotationReason if r.value == reason_byte), None)
    if reason is None:
        raise reader.fail()
    old = read_public_key(reader)
    new = read_public_key(reader)
    issued = read_date(reader)
    body = data[: reader.position]
    old_signature = reader.take(_sodium.ED25519_SIGNATURE_BYTES)
    new_signature = reader.take(_sodium.ED25519_SIGNATURE_BYTES)
    reader.end()
    if old == new:
        raise MalformedRotationStatement("a signing key cannot replace itself")
    if not old.verify(body, old_signature) or not new.verify(body, new_signature):
        raise InvalidSignature
    return SigningKeyRotation(old, new, issued, reason)
