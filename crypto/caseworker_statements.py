"""Documents a caseworker signs on their own computer (docs/crypto.md, "Caseworker statements").

An evidence package's manifest (:data:`EVIDENCE_MANIFEST`) and an advocacy export
(:data:`ADVOCACY_EXPORT`) are JSON documents that leave the caseworker's computer. Each is signed
with the caseworker's Ed25519 signing key, the one their certificate names, so whoever receives
it can tell it comes unaltered from that caseworker::

    statement = magic (4) || version (2) || signer public key (32) || SHA-256 of the document (32)
                || Ed25519 signature by the signer over everything before it (64)

The magic keeps the kinds apart: a manifest's signature cannot pass for an export's, nor for
anything else a caseworker key signs (reply files). The signer's key travels in the statement so
a reader can check the signature offline; whether that key is a caseworker of the organisation
is a separate question, answered by its certificate or by its fingerprint read aloud.
"""

from __future__ import annotations

import hashlib
from enum import Enum

from crypto.errors import CryptoError, unsupported_version
from crypto.keys import Ed25519PublicKey, Ed25519SigningKey, MalformedKey

VERSION = 2
_KEY_BYTES = 32
_HASH_BYTES = 32
_SIGNATURE_BYTES = 64
STATEMENT_BYTES = 4 + 1 + _KEY_BYTES + _HASH_BYTES + _SIGNATURE_BYTES


class StatementKind(Enum):
    """What a caseworker statement signs; the value is its magic."""

    EVIDENCE_MANIFEST = b"spkg"
    ADVOCACY_EXPORT = b"sadv"


EVIDENCE_MANIFEST = StatementKind.EVIDENCE_MANIFEST
ADVOCACY_EXPORT = StatementKind.ADVOCACY_EXPORT


class MalformedStatement(CryptoError):
    """This is not a caseworker's signature of that kind of document."""


class StatementMismatch(CryptoError):
    """The signature does not match: the document or its signature was altered after signing."""


def sign_statement(kind: StatementKind, signing_key: Ed25519SigningKey, document: bytes) -> bytes:
    """The 133-byte statement by ``signing_key`` that ``document`` is theirs, unaltered."""
    signed = _signed_part(kind, signing_key.public_key, document)
    return signed + signing_key.sign(signed)


def verify_statement(kind: StatementKind, statement: bytes, document: bytes) -> Ed25519PublicKey:
    """The signer of ``document``, once ``statement`` proves they signed exactly it.

    Raises :class:`MalformedStatement` for another kind or a damaged layout,
    :class:`~crypto.errors.UnsupportedVersion` for another version, and
    :class:`StatementMismatch` when the document or the signature was altered. These are public
    data, so the errors may be precise.
    """
    if len(statement) < 5 or statement[:4] != kind.value:
        raise MalformedStatement(f"this is not a Sanad {_NAMES[kind]} signature")
    if statement[4] != VERSION:
        raise unsupported_version(f"{_NAMES[kind]} signature", statement[4], VERSION)
    if len(statement) != STATEMENT_BYTES:
        raise MalformedStatement(f"this {_NAMES[kind]} signature is damaged")
    try:
        signer = Ed25519PublicKey(statement[5 : 5 + _KEY_BYTES])
    except MalformedKey as exc:
        raise MalformedStatement(f"this {_NAMES[kind]} signature is damaged") from exc
    signed, signature = statement[:-_SIGNATURE_BYTES], statement[-_SIGNATURE_BYTES:]
    if signed != _signed_part(kind, signer, document) or not signer.verify(signed, signature):
        raise StatementMismatch(
            f"the {_NAMES[kind]} does not match its signature: it was altered after signing"
        )
    return signer


_NAMES = {EVIDENCE_MANIFEST: "evidence manifest", ADVOCACY_EXPORT: "advocacy export"}


def _signed_part(kind: StatementKind, signer: Ed25519PublicKey, document: bytes) -> bytes:
    return kind.value + bytes([VERSION]) + signer.raw + hashlib.sha256(document).digest()
