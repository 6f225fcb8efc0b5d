"""Fingerprints of public keys, compared by voice or in person (docs/crypto.md, "Fingerprints").

An admin approving a caseworker compares the fingerprint the bot shows with the one the
caseworker's own ``sanad caseworker init`` printed, over a call or face to face: this is what
stops a security service from enrolling its own key under a caseworker's name (I4). Digits are
used because they read the same aloud in Arabic, French and English; 30 of them carry 99.6 bits,
which a forger would have to match by brute force.
"""

from __future__ import annotations

from crypto import _sodium
from crypto.keys import CaseworkerPublicKeys, Ed25519PublicKey, X25519PublicKey

FINGERPRINT_DIGITS = 30
GROUP_SIZE = 5

# Domain-separation labels (docs/crypto.md, "Fingerprints"), used as the BLAKE2b key.
_CASEWORKER_LABEL = b"sanad caseworker fingerprint v1"
_ORGANISATION_LABEL = b"sanad organisation fingerprint v1"
_ORGANISATION_SIGNING_LABEL = b"sanad organisation signing key fingerprint v2"


def _render(label: bytes, public_keys: bytes) -> str:
    digest = _sodium.blake2b(public_keys, key=label, size=32)
    # 256 bits reduced mod 10**30: the bias is below 2**-150, far past anything measurable.
    digits = str(int.from_bytes(digest, "big") % 10**FINGERPRINT_DIGITS).zfill(FINGERPRINT_DIGITS)
    return " ".join(digits[i : i + GROUP_SIZE] for i in range(0, FINGERPRINT_DIGITS, GROUP_SIZE))


def caseworker_fingerprint(public_keys: CaseworkerPublicKeys) -> str:
    """Six groups of five digits over the caseworker's encryption and signing public keys."""
    return _render(_CASEWORKER_LABEL, public_keys.encryption.raw + public_keys.signing.raw)


def organisation_fingerprint(signing: Ed25519PublicKey, recovery: X25519PublicKey) -> str:
    """Six groups of five digits over the organisation signing and recovery public keys.

    Admins compare it to check that a configuration pins the organisation's real keys.
    """
    return _render(_ORGANISATION_LABEL, signing.raw + recovery.raw)


def organisation_signing_fingerprint(signing: Ed25519PublicKey) -> str:
    """Six groups of five digits over the organisation signing public key alone.

    What a caseworker compares at the enrolment meeting (I9): ``sanad caseworker init --org``
    pins only the signing key, so both ``sanad org init`` and ``caseworker init`` print this one.
    Its own label keeps it from ever equalling :func:`organisation_fingerprint`.
    """
    return _render(_ORGANISATION_SIGNING_LABEL, signing.raw)
