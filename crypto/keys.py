"""Key types, key ids and the text form of public keys (docs/crypto.md, "Keys").

Secret keys have their own types whose ``repr`` is redacted, so that a secret cannot slip into an
f-string or a log line unnoticed. Public keys travel as text with a prefix naming their role
(``sanad-sign1:`` for an organisation signing key, ``sanad-x25519-1:`` for an encryption key,
``sanad-ed25519-1:`` for a caseworker signing key), so a key pasted into the wrong configuration
field is a precise error rather than a silent mismatch.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field

from crypto import _sodium
from crypto.errors import CryptoError

KEY_ID_BYTES = 16
# Domain separation: key ids are BLAKE2b keyed with this label (docs/crypto.md, "Key ids").
_KEY_ID_LABEL = b"sanad key id v1"

ORG_SIGNING_PREFIX = "sanad-sign1:"
X25519_PREFIX = "sanad-x25519-1:"
ED25519_PREFIX = "sanad-ed25519-1:"


class MalformedKey(CryptoError):
    """This key is not in the expected form (wrong prefix, length or encoding), or is not a key
    any honest key pair has (a low-order point or a non-canonical encoding)."""


def key_id(public_key: bytes) -> bytes:
    """The 16-byte id of a public key: keyed BLAKE2b, so ids of unrelated protocols never match."""
    return _sodium.blake2b(public_key, key=_KEY_ID_LABEL, size=KEY_ID_BYTES)


def _encode(prefix: str, raw: bytes) -> str:
    return prefix + base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _decode(prefix: str, text: str, size: int, what: str) -> bytes:
    text = text.strip()
    if not text.startswith(prefix):
        raise MalformedKey(f"{what} must start with {prefix!r}")
    body = text[len(prefix) :]
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (binascii.Error, ValueError) as exc:
        raise MalformedKey(f"{what} is not valid base64url") from exc
    if len(raw) != size:
        raise MalformedKey(f"{what} has the wrong length")
    return raw


def _check_size(raw: bytes, size: int, what: str) -> None:
    # Checked at construction so a truncated key can never reach libsodium.
    if len(raw) != size:
        raise MalformedKey(f"{what} must be {size} bytes")


_WHY_UNUSABLE = {
    "X25519": "low-order or non-canonical",
    "Ed25519": "low-order, non-canonical or not on the curve",
}


def _unusable(what: str, kind: str) -> MalformedKey:
    return MalformedKey(f"{what} is not a usable {kind} public key ({_WHY_UNUSABLE[kind]})")


@dataclass(frozen=True)
class X25519PublicKey:
    """A recipient's encryption public key (caseworker, recovery key or reporter mailbox)."""

    raw: bytes

    def __post_init__(self) -> None:
        _check_size(self.raw, _sodium.X25519_KEY_BYTES, "an X25519 public key")
        # Every decoder builds this type, so an enrolment code, certificate, key file or
        # configuration line naming a key that every seal to would fail (or be readable by
        # anyone) is refused where it is read, not when a report is sealed (docs/crypto.md).
        if not _sodium.x25519_public_is_usable(self.raw):
            raise _unusable("this key", "X25519")

    @property
    def key_id(self) -> bytes:
        return key_id(self.raw)

    def to_text(self) -> str:
        return _encode(X25519_PREFIX, self.raw)

    @classmethod
    def from_text(cls, text: str, what: str = "the encryption public key") -> X25519PublicKey:
        raw = _decode(X25519_PREFIX, text, _sodium.X25519_KEY_BYTES, what)
        if not _sodium.x25519_public_is_usable(raw):
            raise _unusable(what, "X25519")
        return cls(raw)


@dataclass(frozen=True)
class X25519SecretKey:
    """An X25519 secret key; never printed, never stored unencrypted."""

    raw: bytes = field(repr=False)
    # Derived once (a scalar multiplication and the usability check of the result).
    _public: X25519PublicKey = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _check_size(self.raw, _sodium.X25519_KEY_BYTES, "an X25519 secret key")
        public = X25519PublicKey(_sodium.x25519_public_from_secret(self.raw))
        object.__setattr__(self, "_public", public)

    @classmethod
    def generate(cls) -> X25519SecretKey:
        return cls(_sodium.random_bytes(_sodium.X25519_KEY_BYTES))

    @classmethod
    def from_seed(cls, seed: bytes) -> X25519SecretKey:
        """Deterministic key from a 32-byte seed (used for mailbox keys derived from a receipt)."""
        _public, secret = _sodium.x25519_keypair_from_seed(seed)
        return cls(secret)

    @property
    def public_key(self) -> X25519PublicKey:
        return self._public

    def __repr__(self) -> str:
        return "X25519SecretKey(<redacted>)"


@dataclass(frozen=True)
class Ed25519PublicKey:
    """A signature verification key (organisation signing key or caseworker signing key)."""

    raw: bytes

    def __post_init__(self) -> None:
        _check_size(self.raw, _sodium.ED25519_PUBLIC_BYTES, "an Ed25519 public key")
        # With a small-order key anyone can make signatures that some verifiers accept; with a
        # mixed-order one verifiers disagree; a non-canonical encoding lets two texts (and two
        # key ids) name one key. Sanad never makes any of them (docs/crypto.md, "Keys").
        if not _sodium.ed25519_public_is_usable(self.raw):
            raise _unusable("this key", "Ed25519")

    @property
    def key_id(self) -> bytes:
        return key_id(self.raw)

    def verify(self, message: bytes, signature: bytes) -> bool:
        """True when ``signature`` is valid for ``message``; callers decide what a failure means."""
        return _sodium.ed25519_verify(self.raw, message, signature)

    def to_text(self, prefix: str = ED25519_PREFIX) -> str:
        return _encode(prefix, self.raw)

    @classmethod
    def from_text(
        cls, text: str, prefix: str = ED25519_PREFIX, what: str = "the signing public key"
    ) -> Ed25519PublicKey:
        raw = _decode(prefix, text, _sodium.ED25519_PUBLIC_BYTES, what)
        if not _sodium.ed25519_public_is_usable(raw):
            raise _unusable(what, "Ed25519")
        return cls(raw)


@dataclass(frozen=True)
class Ed25519SigningKey:
    """An Ed25519 signing key, held as its 32-byte seed; never printed."""

    seed: bytes = field(repr=False)
    # Derived once: the bot signs every file it sends, and re-deriving the key pair from the seed
    # on each signature cost about a third of a signed 4 KiB seal (docs/BENCHMARKS.md).
    _secret: bytes = field(init=False, repr=False, compare=False)
    _public: Ed25519PublicKey = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _check_size(self.seed, _sodium.ED25519_SEED_BYTES, "an Ed25519 seed")
        public, secret = _sodium.ed25519_keypair_from_seed(self.seed)
        object.__setattr__(self, "_secret", secret)
        object.__setattr__(self, "_public", Ed25519PublicKey(public))

    @classmethod
    def generate(cls) -> Ed25519SigningKey:
        return cls(_sodium.random_bytes(_sodium.ED25519_SEED_BYTES))

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self._public

    def sign(self, message: bytes) -> bytes:
        return _sodium.ed25519_sign(self._secret, message)

    def __repr__(self) -> str:
        return "Ed25519SigningKey(<redacted>)"


@dataclass(frozen=True)
class CaseworkerPublicKeys:
    """What the bot knows of a caseworker: an encryption key and a reply-signing key."""

    encryption: X25519PublicKey
    signing: Ed25519PublicKey


@dataclass(frozen=True)
class CaseworkerKeys:
    """A caseworker's private keys, as held in their key file on their own machine."""

    encryption: X25519SecretKey
    signing: Ed25519SigningKey

    @classmethod
    def generate(cls) -> CaseworkerKeys:
        return cls(X25519SecretKey.generate(), Ed25519SigningKey.generate())

    @property
    def public(self) -> CaseworkerPublicKeys:
        return CaseworkerPublicKeys(self.encryption.public_key, self.signing.public_key)

    def __repr__(self) -> str:
        return "CaseworkerKeys(<redacted>)"


@dataclass(frozen=True)
class OrganisationKeys:
    """The organisation's two private keys, made offline by ``sanad org init``.

    ``signing`` certifies caseworkers; ``recovery`` receives a wrap of every report. Their public
    halves go into the configuration.
    """

    signing: Ed25519SigningKey
    recovery: X25519SecretKey

    @classmethod
    def generate(cls) -> OrganisationKeys:
        return cls(Ed25519SigningKey.generate(), X25519SecretKey.generate())

    def __repr__(self) -> str:
        return "OrganisationKeys(<redacted>)"
