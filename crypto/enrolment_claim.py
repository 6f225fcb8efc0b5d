"""Enrolment claims and confirmation codes (docs/crypto.md, "Enrolment claims").

An enrolment code is public: Telegram sees it, and anyone can paste a caseworker's code into a
chat of their own. So ``/enroll`` does not bind a key to a chat by itself. The bot answers each
``/enroll`` with a claim it signs with its own key — "chat C presented keys K on day D" — and an
8-digit confirmation code derived from that signed claim. The caseworker reads the code aloud
with the fingerprint; the admin types it into ``sanad admin approve --confirm``, which binds the
certificate to the chat of the claim whose code matches (I9). A pasted code yields a claim for the
paster's chat with a different code, which the real caseworker never reads aloud; a database
writer who moves a claim to another chat breaks the bot's signature.

    claim = "scla" || version (2) || bot key id (16) || i64 chat id || encryption key (32)
            || signing key (32) || nonce (16 random bytes) || issued (u32 day)
            || Ed25519 signature by the bot key (64)
    code  = BLAKE2b-256(key = "sanad confirmation code v2", message = claim) mod 10^8,
            as 8 decimal digits, shown "1234 5678"

The random nonce makes every claim, and so every code, new: a second ``/enroll`` from the same
chat gets a new code and the old one still names the same chat.
"""

from __future__ import annotations

import hmac
import unicodedata
from dataclasses import dataclass
from datetime import date

from crypto import _sodium
from crypto._signed import (
    check_signature,
    date_bytes,
    read_date,
    sign,
    signed_header,
    signed_reader,
    today_utc,
)
from crypto.errors import CryptoError
from crypto.keys import (
    CaseworkerPublicKeys,
    Ed25519PublicKey,
    Ed25519SigningKey,
    X25519PublicKey,
)

CLAIM_MAGIC = b"scla"
VERSION = 2
CODE_DIGITS = 8
NONCE_BYTES = 16
# Domain-separation label (docs/crypto.md, "Enrolment claims"), used as the BLAKE2b key.
_CODE_LABEL = b"sanad confirmation code v2"
_WHAT = "enrolment claim"
_MAX_CODE_INPUT = 64


class MalformedConfirmationCode(CryptoError):
    """A confirmation code is the 8 digits the bot sent after /enroll."""


@dataclass(frozen=True)
class EnrolmentClaim:
    """A verified claim: this chat presented these keys on this day; ``code`` confirms it."""

    chat_id: int
    keys: CaseworkerPublicKeys
    issued: date
    code: str

    def confirmed_by(self, code: str) -> bool:
        """True when ``code`` (from :func:`parse_confirmation_code`) is this claim's code."""
        return hmac.compare_digest(self.code.encode("ascii"), code.encode("ascii"))


def _issue_enrolment_claim_from_parts(
    bot_key: Ed25519SigningKey,
    chat_id: int,
    keys: CaseworkerPublicKeys,
    *,
    nonce: bytes,
    issued: date,
) -> bytes:
    """The signed claim with a given nonce and day. Tests call this; code calls the public one."""
    if len(nonce) != NONCE_BYTES:
        raise ValueError("an enrolment claim nonce is 16 bytes")
    body = b"".join(
        [
            signed_header(CLAIM_MAGIC, VERSION, bot_key.public_key),
            chat_id.to_bytes(8, "big", signed=True),
            keys.encryption.raw,
            keys.signing.raw,
            nonce,
            date_bytes(issued),
        ]
    )
    return sign(body, bot_key)


def issue_enrolment_claim(
    bot_key: Ed25519SigningKey,
    chat_id: int,
    keys: CaseworkerPublicKeys,
    *,
    issued: date | None = None,
) -> bytes:
    """A new claim, signed by the bot, that ``chat_id`` presented ``keys`` on ``issued``
    (default: today, UTC)."""
    return _issue_enrolment_claim_from_parts(
        bot_key,
        chat_id,
        keys,
        nonce=_sodium.random_bytes(NONCE_BYTES),
        issued=issued or today_utc(),
    )


def verify_enrolment_claim(data: bytes, bot_public: Ed25519PublicKey) -> EnrolmentClaim:
    """The claim in ``data`` if the bot key ``bot_public`` signed it, with its code.

    Raises MalformedCertificate, UnsupportedVersion, SignedByAnotherKey, UnsignedCertificate or
    InvalidSignature (a claim is public data; the errors are precise).
    """
    reader = signed_reader(data, CLAIM_MAGIC, VERSION, _WHAT, bot_public)
    chat_id = int.from_bytes(reader.take(8), "big", signed=True)
    keys = CaseworkerPublicKeys(
        reader.public_key(X25519PublicKey), reader.public_key(Ed25519PublicKey)
    )
    reader.take(NONCE_BYTES)
    issued = read_date(reader)
    check_signature(data, reader, bot_public)
    return EnrolmentClaim(chat_id, keys, issued, confirmation_code(data))


def confirmation_code(claim: bytes) -> str:
    """The 8 digits that confirm ``claim`` (computed over the signed bytes, signature included)."""
    digest = _sodium.blake2b(claim, key=_CODE_LABEL, size=32)
    return str(int.from_bytes(digest, "big") % 10**CODE_DIGITS).zfill(CODE_DIGITS)


def display_confirmation_code(code: str) -> str:
    """``12345678`` as ``1234 5678``, easier to read aloud."""
    return f"{code[:4]} {code[4:]}"


def parse_confirmation_code(text: str) -> str:
    """The 8 ASCII digits of a code as an admin typed it (any script's digits, spaces, dashes).

    Raises :class:`MalformedConfirmationCode` for anything else.
    """
    if len(text) > _MAX_CODE_INPUT:
        raise MalformedConfirmationCode("a confirmation code has 8 digits; this is too long")
    digits: list[str] = []
    for char in text:
        if char.isspace() or char == "-":
            continue
        value = unicodedata.decimal(char, None)
        if value is None:
            raise MalformedConfirmationCode("a confirmation code holds only digits")
        digits.append(str(value))
    if len(digits) != CODE_DIGITS:
        raise MalformedConfirmationCode(
            f"a confirmation code has {CODE_DIGITS} digits; this has {len(digits)}"
        )
    return "".join(digits)
