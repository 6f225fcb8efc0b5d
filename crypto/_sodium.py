"""Hazardous layer: the only place in Sanad that calls libsodium.

WARNING: nothing outside ``crypto/`` may import this module, and inside ``crypto/`` only the
recipe modules (envelope, wraps, keyfile, receipts, ...) should. These functions take raw keys
and nonces and will happily misuse them if asked; the public functions in ``crypto/__init__.py``
are the safe way in. Every libsodium failure is translated to :class:`crypto.errors.OpenFailure`
(or a precise parameter error) here, so no ``nacl`` exception ever leaves ``crypto/``.
"""

from __future__ import annotations

import nacl.bindings as _b
import nacl.exceptions
import nacl.pwhash.argon2id as _argon2id
import nacl.utils

from crypto.errors import CryptoError, OpenFailure

AEAD_KEY_BYTES = _b.crypto_aead_xchacha20poly1305_ietf_KEYBYTES  # 32
AEAD_NONCE_BYTES = _b.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES  # 24
AEAD_TAG_BYTES = _b.crypto_aead_xchacha20poly1305_ietf_ABYTES  # 16
X25519_KEY_BYTES = _b.crypto_box_PUBLICKEYBYTES  # 32
SEAL_OVERHEAD = _b.crypto_box_SEALBYTES  # 48
ED25519_SEED_BYTES = _b.crypto_sign_SEEDBYTES  # 32
ED25519_PUBLIC_BYTES = _b.crypto_sign_PUBLICKEYBYTES  # 32
ED25519_SIGNATURE_BYTES = _b.crypto_sign_BYTES  # 64
ARGON2ID_SALT_BYTES = _argon2id.SALTBYTES  # 16

ARGON2ID_OPSLIMIT_MIN = _argon2id.OPSLIMIT_MIN
ARGON2ID_MEMLIMIT_MIN = _argon2id.MEMLIMIT_MIN
ARGON2ID_INTERACTIVE = (_argon2id.OPSLIMIT_INTERACTIVE, _argon2id.MEMLIMIT_INTERACTIVE)
ARGON2ID_MODERATE = (_argon2id.OPSLIMIT_MODERATE, _argon2id.MEMLIMIT_MODERATE)
ARGON2ID_SENSITIVE = (_argon2id.OPSLIMIT_SENSITIVE, _argon2id.MEMLIMIT_SENSITIVE)


def random_bytes(size: int) -> bytes:
    """Return ``size`` bytes from libsodium's CSPRNG."""
    return bytes(nacl.utils.random(size))


def aead_encrypt(key: bytes, nonce: bytes, plaintext: bytes, associated_data: bytes) -> bytes:
    """XChaCha20-Poly1305 (IETF) encryption; returns ciphertext || 16-byte tag."""
    return bytes(
        _b.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, associated_data, nonce, key)
    )


def aead_decrypt(key: bytes, nonce: bytes, ciphertext: bytes, associated_data: bytes) -> bytes:
    """XChaCha20-Poly1305 (IETF) decryption; any failure is the one opaque OpenFailure."""
    try:
        return bytes(
            _b.crypto_aead_xchacha20poly1305_ietf_decrypt(ciphertext, associated_data, nonce, key)
        )
    except (nacl.exceptions.CryptoError, ValueError, TypeError) as exc:
        raise OpenFailure from exc


def blake2b(data: bytes, *, key: bytes = b"", size: int = 32, person: bytes = b"") -> bytes:
    """Keyed (or unkeyed) BLAKE2b with an output of ``size`` bytes (16..64).

    ``person`` is BLAKE2b's 16-byte personalisation string, for domain separation.
    """
    return bytes(
        _b.crypto_generichash_blake2b_salt_personal(data, digest_size=size, key=key, person=person)
    )


def x25519_public_from_secret(secret: bytes) -> bytes:
    """The X25519 public key for a 32-byte secret scalar."""
    return bytes(_b.crypto_scalarmult_base(secret))


def x25519(secret: bytes, public: bytes) -> bytes:
    """Raw X25519 scalar multiplication; used only for the RFC 7748 known-answer test."""
    return bytes(_b.crypto_scalarmult(secret, public))


# Any scalar will do: libsodium clamps it to a multiple of 8 below 2^255, which sends every point
# of order 1, 2, 4 or 8 (on the curve or its twist) to zero and no other point there.
_LOW_ORDER_PROBE_SCALAR = bytes([9] * X25519_KEY_BYTES)
_FIELD_PRIME = 2**255 - 19


def x25519_public_is_usable(raw: bytes) -> bool:
    """False for an X25519 public key that no honest key pair can have.

    Refused: a non-canonical encoding (top bit set, or u >= 2^255 - 19), which would let two
    texts name one key; and a low-order point, with which every shared secret is all zeros, so
    a box sealed to it is refused by libsodium or readable by anyone (docs/crypto.md, "Keys").
    """
    if len(raw) != X25519_KEY_BYTES or int.from_bytes(raw, "little") >= _FIELD_PRIME:
        return False
    try:
        # libsodium's crypto_scalarmult fails on an all-zero result, which is exactly the
        # low-order points (and it also checks its own list of them first).
        shared = _b.crypto_scalarmult(_LOW_ORDER_PROBE_SCALAR, bytes(raw))
    except (nacl.exceptions.CryptoError, ValueError, TypeError):
        return False
    return any(shared)


def ed25519_public_is_usable(raw: bytes) -> bool:
    """False for an Ed25519 public key that no honest key pair can have.

    libsodium's crypto_core_ed25519_is_valid_point refuses non-canonical encodings, points not
    on the curve, points of small order and points outside the prime-order subgroup: a key that
    could verify signatures nobody made, or that two texts could name (docs/crypto.md, "Keys").
    """
    if len(raw) != ED25519_PUBLIC_BYTES:
        return False
    try:
        return bool(_b.crypto_core_ed25519_is_valid_point(bytes(raw)))
    except (nacl.exceptions.CryptoError, ValueError, TypeError):
        # Includes UnavailableError from a minimal libsodium build: refuse rather than trust.
        return False


def x25519_keypair_from_seed(seed: bytes) -> tuple[bytes, bytes]:
    """Deterministic X25519 key pair (public, secret) from a 32-byte seed."""
    public, secret = _b.crypto_box_seed_keypair(seed)
    return bytes(public), bytes(secret)


def seal(recipient_public: bytes, plaintext: bytes) -> bytes:
    """Anonymous sealed box (crypto_box_seal) to an X25519 public key.

    Callers pass the raw bytes of an ``X25519PublicKey``, which refuses unusable keys when it is
    built; should libsodium refuse one anyway, that is a CryptoError, never a ``nacl`` error.
    """
    try:
        return bytes(_b.crypto_box_seal(plaintext, recipient_public))
    except (nacl.exceptions.CryptoError, ValueError, TypeError) as exc:
        raise CryptoError("cannot seal to this key") from exc


def seal_open(recipient_public: bytes, recipient_secret: bytes, sealed: bytes) -> bytes:
    """Open a sealed box; any failure is the one opaque OpenFailure."""
    try:
        return bytes(_b.crypto_box_seal_open(sealed, recipient_public, recipient_secret))
    except (nacl.exceptions.CryptoError, ValueError, TypeError) as exc:
        raise OpenFailure from exc


def ed25519_keypair_from_seed(seed: bytes) -> tuple[bytes, bytes]:
    """Deterministic Ed25519 key pair (public, libsodium 64-byte secret) from a 32-byte seed."""
    public, secret = _b.crypto_sign_seed_keypair(seed)
    return bytes(public), bytes(secret)


def ed25519_sign(secret: bytes, message: bytes) -> bytes:
    """Detached Ed25519 signature (64 bytes) over ``message``."""
    signed = _b.crypto_sign(message, secret)
    return bytes(signed[:ED25519_SIGNATURE_BYTES])


def ed25519_verify(public: bytes, message: bytes, signature: bytes) -> bool:
    """True when ``signature`` is a valid Ed25519 signature of ``message`` under ``public``."""
    if len(signature) != ED25519_SIGNATURE_BYTES or len(public) != ED25519_PUBLIC_BYTES:
        return False
    try:
        _b.crypto_sign_open(signature + message, public)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.CryptoError, ValueError):
        return False
    return True


def argon2id(
    passphrase: bytes, salt: bytes, *, opslimit: int, memlimit: int, size: int = 32
) -> bytes:
    """Argon2id (libsodium crypto_pwhash, ALG_ARGON2ID13). Callers range-check the limits first."""
    return bytes(_argon2id.kdf(size, passphrase, salt, opslimit=opslimit, memlimit=memlimit))
