"""Recipient wraps: a report's data key sealed to each recipient (docs/crypto.md,
"Recipient wraps").

A wrap is ``crypto_box_seal(recipient, "swrp" || header || DEK)``: the header (kind, report id,
sequence number, see :mod:`crypto.header`) travels inside the sealed box, so a wrap copied to
another report or addendum opens to a header the opener did not ask for and is refused. Each wrap
is stored with the recipient's key id (:func:`crypto.keys.key_id`), apart from the body: changing
who can read a report changes wraps only, and deleting every wrap of a report crypto-shreds it.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from crypto import _sodium
from crypto.errors import NotForThisKey, OpenFailure
from crypto.header import EnvelopeKind, header
from crypto.keys import KEY_ID_BYTES, X25519PublicKey, X25519SecretKey

WRAP_MAGIC = b"swrp"
DEK_BYTES = _sodium.AEAD_KEY_BYTES
_HEADER_BYTES = len(header(EnvelopeKind.REPORT, bytes(16), 0))
WRAP_BYTES = _sodium.SEAL_OVERHEAD + len(WRAP_MAGIC) + _HEADER_BYTES + DEK_BYTES


@dataclass(frozen=True)
class Wrap:
    """One recipient's sealed copy of a data key, named by the recipient's key id.

    ``key_id`` is public (it only says which stored key to try); ``wrap`` is the sealed box.
    """

    key_id: bytes
    wrap: bytes

    def __post_init__(self) -> None:
        if len(self.key_id) != KEY_ID_BYTES:
            raise ValueError("a key id is 16 bytes")


def wrap_dek(
    dek: bytes, *, kind: EnvelopeKind, report_id: bytes, sequence: int, recipient: X25519PublicKey
) -> Wrap:
    """Seal ``dek`` for ``recipient``, bound to this kind, report and sequence number."""
    if len(dek) != DEK_BYTES:
        raise ValueError("a data key is 32 bytes")
    plaintext = WRAP_MAGIC + header(kind, report_id, sequence) + dek
    return Wrap(recipient.key_id, _sodium.seal(recipient.raw, plaintext))


def unwrap_dek(
    wrap: Wrap, *, kind: EnvelopeKind, report_id: bytes, sequence: int, secret_key: X25519SecretKey
) -> bytes:
    """The data key inside ``wrap``.

    Raises NotForThisKey when the wrap names another key id (public information, so saying so is
    no oracle), and OpenFailure for everything else: wrong key, tampering, or a wrap bound to
    another report, sequence number, kind or version.
    """
    public = secret_key.public_key
    if not hmac.compare_digest(wrap.key_id, public.key_id):
        raise NotForThisKey
    plaintext = _sodium.seal_open(public.raw, secret_key.raw, wrap.wrap)
    expected = WRAP_MAGIC + header(kind, report_id, sequence)
    if len(plaintext) != len(expected) + DEK_BYTES or not hmac.compare_digest(
        plaintext[: len(expected)], expected
    ):
        raise OpenFailure
    return plaintext[len(expected) :]


def rewrap(
    wrap: Wrap,
    *,
    kind: EnvelopeKind,
    report_id: bytes,
    sequence: int,
    secret_key: X25519SecretKey,
    new_recipient: X25519PublicKey,
) -> Wrap:
    """Open ``wrap`` with ``secret_key`` and seal the same data key to ``new_recipient``.

    The body is not touched (reassignment and key rotation change wraps only). The caller stores
    the new wrap and, for a rotation or a revocation, deletes the old one in the same transaction.
    Raises what :func:`unwrap_dek` raises.
    """
    dek = unwrap_dek(wrap, kind=kind, report_id=report_id, sequence=sequence, secret_key=secret_key)
    return wrap_dek(dek, kind=kind, report_id=report_id, sequence=sequence, recipient=new_recipient)
