"""Report envelope: seal a report, addendum or reply once, readable by each recipient
(docs/crypto.md, "Report envelope").

``body_sealed = "senv" || version || nonce || XChaCha20-Poly1305(body key, nonce, pad(body), ad)``
where the body key is ``BLAKE2b-256(key = DEK, message = "sanad body key v1")`` for a fresh random
32-byte DEK, ``ad = header(kind, report id, sequence) || reply-to key`` (32 zero bytes when there
is none), and the DEK reaches each recipient through a :class:`~crypto.wraps.Wrap`.

The opener rebuilds ``ad`` from what it asked for; the stored blob only says which version to
expect. A random 24-byte nonce under a single-use key cannot repeat.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from crypto import _sodium, padding
from crypto.errors import OpenFailure, UnsupportedVersion
from crypto.header import MAGIC, VERSION, EnvelopeKind, header
from crypto.keys import X25519PublicKey, X25519SecretKey
from crypto.wraps import DEK_BYTES, Wrap, unwrap_dek, wrap_dek

# Domain separation: the AEAD key is never the DEK itself, so a DEK could later key other
# things (docs/crypto.md, "Report envelope").
_BODY_KEY_LABEL = b"sanad body key v1"
_PREFIX = MAGIC + bytes([VERSION])
_NO_REPLY_TO = bytes(_sodium.X25519_KEY_BYTES)


@dataclass(frozen=True)
class SealedReport:
    """A sealed body and one wrap per recipient; store them apart (``reports``, ``wraps``)."""

    body_sealed: bytes
    wraps: list[Wrap]


def _body_key(dek: bytes) -> bytes:
    return _sodium.blake2b(_BODY_KEY_LABEL, key=dek, size=_sodium.AEAD_KEY_BYTES)


def _associated_data(
    kind: EnvelopeKind, report_id: bytes, sequence: int, reply_to: X25519PublicKey | None
) -> bytes:
    return header(kind, report_id, sequence) + (reply_to.raw if reply_to else _NO_REPLY_TO)


def seal_report(
    body: bytes,
    *,
    report_id: bytes,
    sequence: int,
    kind: EnvelopeKind,
    recipients: Sequence[X25519PublicKey],
    reply_to: X25519PublicKey | None = None,
) -> SealedReport:
    """Pad and seal ``body`` under a fresh data key, wrapped for every recipient.

    ``recipients`` must already be verified (I4: certified caseworkers plus the recovery key);
    ``reply_to`` is the reporter's mailbox key, bound to the body so that a sealed file cannot be
    edited to send a caseworker's reply elsewhere. Raises ValueError for no or repeated recipients.
    """
    return _seal_report_from_parts(
        body,
        report_id=report_id,
        sequence=sequence,
        kind=kind,
        recipients=recipients,
        reply_to=reply_to,
        dek=_sodium.random_bytes(DEK_BYTES),
        nonce=_sodium.random_bytes(_sodium.AEAD_NONCE_BYTES),
    )


def _seal_report_from_parts(
    body: bytes,
    *,
    report_id: bytes,
    sequence: int,
    kind: EnvelopeKind,
    recipients: Sequence[X25519PublicKey],
    reply_to: X25519PublicKey | None,
    dek: bytes,
    nonce: bytes,
) -> SealedReport:
    """:func:`seal_report` with the randomness supplied: only tests and the vector generator."""
    if not recipients:
        raise ValueError("a report needs at least one recipient")
    if len({r.raw for r in recipients}) != len(recipients):
        raise ValueError("a recipient is listed twice")
    if len(dek) != DEK_BYTES or len(nonce) != _sodium.AEAD_NONCE_BYTES:
        raise ValueError("wrong data key or nonce size")
    ad = _associated_data(kind, report_id, sequence, reply_to)
    ciphertext = _sodium.aead_encrypt(_body_key(dek), nonce, padding.pad(body), ad)
    wraps = [
        wrap_dek(dek, kind=kind, report_id=report_id, sequence=sequence, recipient=r)
        for r in recipients
    ]
    return SealedReport(_PREFIX + nonce + ciphertext, wraps)


def open_report(
    body_sealed: bytes,
    wrap: Wrap,
    *,
    report_id: bytes,
    sequence: int,
    kind: EnvelopeKind,
    secret_key: X25519SecretKey,
    reply_to: X25519PublicKey | None = None,
) -> bytes:
    """The body sealed by :func:`seal_report`, given the holder's wrap and secret key.

    ``report_id``, ``sequence``, ``kind`` and ``reply_to`` are what the caller expects this to be;
    anything sealed otherwise fails. Raises UnsupportedVersion for a body of another format
    version, NotForThisKey when the wrap names another key, and OpenFailure for every other cause.
    """
    check_version(body_sealed)
    dek = unwrap_dek(wrap, kind=kind, report_id=report_id, sequence=sequence, secret_key=secret_key)
    nonce_end = len(_PREFIX) + _sodium.AEAD_NONCE_BYTES
    ad = _associated_data(kind, report_id, sequence, reply_to)
    padded = _sodium.aead_decrypt(
        _body_key(dek), body_sealed[len(_PREFIX) : nonce_end], body_sealed[nonce_end:], ad
    )
    return padding.unpad(padded)


def check_version(body_sealed: bytes) -> None:
    """Refuse a sealed body that is not Sanad's or is of another version, before any key is used."""
    minimum = len(_PREFIX) + _sodium.AEAD_NONCE_BYTES + _sodium.AEAD_TAG_BYTES
    if len(body_sealed) < minimum or body_sealed[: len(MAGIC)] != MAGIC:
        raise OpenFailure
    if body_sealed[len(MAGIC)] != VERSION:
        raise UnsupportedVersion
