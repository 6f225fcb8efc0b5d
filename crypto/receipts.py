"""Receipts and the mailbox they open (docs/crypto.md, "Receipts").

A receipt is the only thing a reporter keeps: 27 random decimal digits (89.7 bits) and one Damm
check digit, shown as seven groups of four. Typing it back, the reporter may use Western,
Arabic-Indic or Persian digits and any spacing or dashes; a mistyped digit or two swapped
neighbours are caught by the check digit before any expensive work, so a typo costs nothing and
says so plainly.

From a receipt, one Argon2id run (INTERACTIVE, one deployment-wide salt) gives a master secret;
from the master secret, keyed BLAKE2b with distinct labels gives the mailbox lookup tag (further
keyed with the server pepper) and the seed of the reporter's mailbox X25519 key pair. The server
stores the tag and the mailbox public key, never the receipt.

Argon2id here costs 64 MiB; callers on the bot run it through :mod:`crypto.kdf_pool`, never on
the event loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from crypto import _sodium
from crypto.errors import CryptoError
from crypto.keys import X25519SecretKey

PAYLOAD_DIGITS = 27
RECEIPT_DIGITS = PAYLOAD_DIGITS + 1  # payload + Damm check digit
GROUP_SIZE = 4
SALT_BYTES = _sodium.ARGON2ID_SALT_BYTES  # 16
PEPPER_BYTES = 32
MASTER_SECRET_BYTES = 32
LOOKUP_TAG_BYTES = 32

# Domain-separation labels (docs/crypto.md, "Receipts"): each is the BLAKE2b message under the
# master secret as key, so the tag and the mailbox seed are independent.
_LOOKUP_LABEL = b"sanad receipt lookup v1"
_MAILBOX_LABEL = b"sanad receipt mailbox v1"

# Anything longer is not a receipt, however it is spaced; refused before normalising it.
_MAX_INPUT_CHARS = 128

# Damm's totally anti-symmetric quasigroup of order 10 (H. M. Damm, 2004): a check digit over it
# detects every single-digit error and every transposition of adjacent digits.
_DAMM = (
    (0, 3, 1, 7, 5, 9, 8, 6, 4, 2),
    (7, 0, 9, 2, 1, 5, 4, 8, 6, 3),
    (4, 2, 0, 6, 8, 7, 1, 3, 5, 9),
    (1, 7, 5, 0, 9, 8, 3, 4, 2, 6),
    (6, 1, 2, 3, 0, 4, 5, 9, 7, 8),
    (3, 6, 7, 4, 2, 0, 9, 5, 8, 1),
    (5, 8, 6, 9, 7, 2, 0, 1, 3, 4),
    (8, 9, 4, 5, 3, 6, 2, 0, 1, 7),
    (9, 4, 3, 8, 6, 1, 7, 2, 0, 5),
    (2, 5, 8, 1, 4, 3, 6, 7, 9, 0),
)

# Arabic-Indic (U+0660..0669) and Persian/extended (U+06F0..06F9) digits map to ASCII.
_DIGIT_MAP = {0x0660 + i: ord("0") + i for i in range(10)} | {
    0x06F0 + i: ord("0") + i for i in range(10)
}
# Dashes people paste or their keyboards produce instead of "-".
_DASHES = frozenset("-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d")
# Invisible marks that Arabic and Persian text carries when copied (direction marks and
# embeddings, zero-width spaces and joiners, a stray byte-order mark).
_INVISIBLE = frozenset(
    "\u061c\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
    "\u2060\u2066\u2067\u2068\u2069\ufeff"
)


class ReceiptError(CryptoError):
    """This receipt cannot be used as typed."""


class MalformedReceipt(ReceiptError):
    """This is not a receipt: it must be 28 digits, optionally grouped with spaces or dashes."""


class ReceiptTypo(ReceiptError):
    """This receipt has a typo: one digit is wrong or two are swapped."""


def _check_length(value: bytes, size: int, what: str) -> None:
    if len(value) != size:
        raise ReceiptError(f"{what} must be {size} bytes")


def _damm_check_digit(digits: str) -> int:
    interim = 0
    for char in digits:
        interim = _DAMM[interim][ord(char) - 48]
    return interim


@dataclass(frozen=True)
class Receipt:
    """A reporter's receipt: 28 ASCII digits whose last one is the Damm check digit.

    Constructing one validates it; ``repr`` and ``str`` are redacted so that a receipt can never
    reach a log line or an f-string by accident. Call :meth:`to_display` to show it to its owner.
    """

    digits: str = field(repr=False)

    def __post_init__(self) -> None:
        # Checked at construction so no code path can derive from an unchecked receipt.
        if len(self.digits) != RECEIPT_DIGITS or not (
            self.digits.isascii() and self.digits.isdigit()
        ):
            raise MalformedReceipt(f"a receipt has {RECEIPT_DIGITS} digits")
        if _damm_check_digit(self.digits) != 0:
            raise ReceiptTypo("this receipt has a typo: one digit is wrong or two are swapped")

    def to_display(self) -> str:
        """The receipt as the reporter sees it: seven groups of four digits."""
        return " ".join(
            self.digits[i : i + GROUP_SIZE] for i in range(0, RECEIPT_DIGITS, GROUP_SIZE)
        )

    def __repr__(self) -> str:
        return "Receipt(<redacted>)"

    __str__ = __repr__


def _generate_receipt_from_parts(payload: str) -> Receipt:
    """Append the check digit to 27 payload digits. Tests call this; code calls generate_receipt."""
    if len(payload) != PAYLOAD_DIGITS or not (payload.isascii() and payload.isdigit()):
        raise MalformedReceipt(f"a receipt payload has {PAYLOAD_DIGITS} digits")
    return Receipt(payload + str(_damm_check_digit(payload)))


def generate_receipt() -> Receipt:
    """A fresh receipt with 27 uniformly random digits from libsodium's CSPRNG."""
    bound = 10**PAYLOAD_DIGITS
    # Rejection sampling from 96-bit integers keeps the digits exactly uniform; the limit is the
    # largest multiple of 10**27 below 2**96, so a redraw happens with probability under 2%.
    limit = (1 << 96) - (1 << 96) % bound
    while True:
        value = int.from_bytes(_sodium.random_bytes(12), "big")
        if value < limit:
            return _generate_receipt_from_parts(str(value % bound).zfill(PAYLOAD_DIGITS))


def parse_receipt(text: str) -> Receipt:
    """Read a receipt as a reporter typed it.

    Accepts Western, Arabic-Indic and Persian digits, any Unicode whitespace (including
    non-breaking spaces), dashes of every kind and invisible direction marks or zero-width
    characters between them.
    Raises :class:`MalformedReceipt` for anything else or the wrong number of digits, and
    :class:`ReceiptTypo` when the check digit does not match. Both are cheap: no Argon2id runs
    before a receipt has passed them.
    """
    if len(text) > _MAX_INPUT_CHARS:
        raise MalformedReceipt(f"a receipt has {RECEIPT_DIGITS} digits; this text is too long")
    digits: list[str] = []
    for char in text.translate(_DIGIT_MAP):
        if "0" <= char <= "9":
            digits.append(char)
        elif not (char.isspace() or char in _DASHES or char in _INVISIBLE):
            raise MalformedReceipt("a receipt contains only digits, spaces and dashes")
    if len(digits) != RECEIPT_DIGITS:
        raise MalformedReceipt(f"a receipt has {RECEIPT_DIGITS} digits; this has {len(digits)}")
    return Receipt("".join(digits))


@dataclass(frozen=True)
class MailboxSecrets:
    """What a receipt opens: the mailbox lookup tag and the mailbox's X25519 secret key."""

    lookup_tag: bytes = field(repr=False)
    key: X25519SecretKey


@dataclass(frozen=True)
class ReceiptMasterSecret:
    """The Argon2id output for one receipt; everything about its mailbox derives from it cheaply.

    Kept as its own step so that a pepper rotation can compute the tag under the old and the new
    pepper from one Argon2id run. Never stored; ``repr`` is redacted.
    """

    raw: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.raw) != MASTER_SECRET_BYTES:
            raise ReceiptError(f"a receipt master secret is {MASTER_SECRET_BYTES} bytes")

    def lookup_tag(self, pepper: bytes) -> bytes:
        """The mailbox lookup tag under ``pepper`` (32 bytes, the server's secret)."""
        _check_length(pepper, PEPPER_BYTES, "the lookup pepper")
        tag_secret = _sodium.blake2b(_LOOKUP_LABEL, key=self.raw, size=LOOKUP_TAG_BYTES)
        # Keyed with the pepper so that a stolen database alone cannot test receipt guesses.
        return _sodium.blake2b(tag_secret, key=pepper, size=LOOKUP_TAG_BYTES)

    def mailbox_key(self) -> X25519SecretKey:
        """The reporter's mailbox key pair, reproducible by anyone holding the receipt."""
        seed = _sodium.blake2b(_MAILBOX_LABEL, key=self.raw, size=32)
        return X25519SecretKey.from_seed(seed)

    def mailbox(self, pepper: bytes) -> MailboxSecrets:
        """The lookup tag under ``pepper`` and the mailbox key, together."""
        return MailboxSecrets(self.lookup_tag(pepper), self.mailbox_key())

    def __repr__(self) -> str:
        return "ReceiptMasterSecret(<redacted>)"


def derive_master_secret(receipt: Receipt, *, salt: bytes) -> ReceiptMasterSecret:
    """Run Argon2id (INTERACTIVE: 2 passes over 64 MiB) over the receipt with the deployment salt.

    Slow and memory-hungry by design; on the bot, call it through :class:`crypto.kdf_pool.KdfPool`.
    """
    _check_length(salt, SALT_BYTES, "the receipt salt")
    opslimit, memlimit = _sodium.ARGON2ID_INTERACTIVE
    raw = _sodium.argon2id(
        receipt.digits.encode("ascii"),
        salt,
        opslimit=opslimit,
        memlimit=memlimit,
        size=MASTER_SECRET_BYTES,
    )
    return ReceiptMasterSecret(raw)


def derive_mailbox(receipt: Receipt, *, salt: bytes, pepper: bytes) -> MailboxSecrets:
    """The lookup tag and mailbox key that ``receipt`` opens, from one Argon2id run.

    Raises :class:`ReceiptError` for a salt or pepper of the wrong size, before any derivation.
    """
    _check_length(pepper, PEPPER_BYTES, "the lookup pepper")  # before the expensive step
    return derive_master_secret(receipt, salt=salt).mailbox(pepper)
