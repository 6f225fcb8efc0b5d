"""Enrolment codes: a caseworker's label and public keys as one pasteable token.

docs/crypto.md, "Enrolment codes". A caseworker runs ``sanad caseworker init`` on their own
machine and pastes the printed code into Telegram as ``/enroll CODE``. The code is one token (no
spaces, at most 148 characters) so that Telegram never splits or wraps it, and it carries a
checksum so that a truncated or mistyped paste is refused instead of enrolling a wrong key. The
checksum is about typos, not forgery: an admin still compares fingerprints out of band before
approving (I4).
"""

from __future__ import annotations

import base64
import binascii
import unicodedata

from crypto import _sodium
from crypto.errors import CryptoError
from crypto.keys import CaseworkerPublicKeys, Ed25519PublicKey, MalformedKey, X25519PublicKey

PREFIX = "sanad-enrol:"
VERSION = 1
LABEL_MAX_BYTES = 32
CHECKSUM_BYTES = 4
_KEYS_BYTES = _sodium.X25519_KEY_BYTES + _sodium.ED25519_PUBLIC_BYTES
# version, label length, label, two keys, checksum
_MIN_BYTES = 1 + 1 + 1 + _KEYS_BYTES + CHECKSUM_BYTES
_MAX_BYTES = 1 + 1 + LABEL_MAX_BYTES + _KEYS_BYTES + CHECKSUM_BYTES
# Domain-separation label (docs/crypto.md, "Enrolment codes"), used as the BLAKE2b key.
_CHECKSUM_LABEL = b"sanad enrolment checksum v1"
# Punctuation allowed in a label besides letters, combining marks and digits.
_LABEL_PUNCTUATION = frozenset(" .-_'")


class EnrolmentCodeError(CryptoError):
    """This enrolment code cannot be used: copy it again from ``sanad caseworker init``."""


class InvalidLabel(CryptoError):
    """A caseworker label is short plain text: letters, digits, spaces and . - _ '."""


def validate_label(label: str) -> str:
    """Return ``label`` in NFC form if it is a valid caseworker or key-file label.

    A label is 1 to 32 bytes of UTF-8 (about 16 Arabic or 32 Latin letters): letters, combining
    marks, digits, single spaces and ``. - _ '``, not starting or ending with a space. Control,
    format and direction characters are refused: they could make one label display as another.
    Raises :class:`InvalidLabel` saying which rule failed.
    """
    label = unicodedata.normalize("NFC", label)
    if not label:
        raise InvalidLabel("a label cannot be empty")
    if len(label.encode("utf-8")) > LABEL_MAX_BYTES:
        raise InvalidLabel(f"a label is at most {LABEL_MAX_BYTES} bytes of UTF-8")
    if label != label.strip(" ") or "  " in label:
        raise InvalidLabel("a label cannot start or end with a space or hold two in a row")
    for char in label:
        if char not in _LABEL_PUNCTUATION and unicodedata.category(char)[0] not in "LMN":
            raise InvalidLabel("a label holds only letters, digits, spaces and . - _ '")
    return label


def _checksum(body: bytes) -> bytes:
    return _sodium.blake2b(body, key=_CHECKSUM_LABEL, size=CHECKSUM_BYTES)


def encode_enrolment_code(label: str, public_keys: CaseworkerPublicKeys) -> str:
    """The ``sanad-enrol:...`` token for ``label`` and ``public_keys``.

    Raises :class:`InvalidLabel` for a label that :func:`validate_label` refuses.
    """
    encoded_label = validate_label(label).encode("utf-8")
    body = (
        bytes([VERSION, len(encoded_label)])
        + encoded_label
        + public_keys.encryption.raw
        + public_keys.signing.raw
    )
    raw = body + _checksum(body)
    return PREFIX + base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_enrolment_code(text: str) -> tuple[str, CaseworkerPublicKeys]:
    """The label and public keys in an enrolment code.

    Checks, in order, the prefix, the encoding and length, the checksum (a typo or a truncated
    paste), the version, then the label and keys; each failure is an
    :class:`EnrolmentCodeError` whose message says which.
    """
    text = text.strip()
    if not text.startswith(PREFIX):
        raise EnrolmentCodeError(f"an enrolment code starts with {PREFIX!r}")
    body_text = text[len(PREFIX) :]
    if len(body_text) > -(-_MAX_BYTES * 4 // 3):
        raise EnrolmentCodeError("this enrolment code is too long")
    try:
        raw = base64.urlsafe_b64decode(body_text + "=" * (-len(body_text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise EnrolmentCodeError("this enrolment code has characters that do not belong") from exc
    # Only the canonical encoding is accepted, so an edit to the unused low bits of the last
    # character is refused like any other typo instead of decoding to the same bytes.
    if base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=") != body_text:
        raise EnrolmentCodeError("this enrolment code has characters that do not belong")
    if len(raw) < _MIN_BYTES:
        raise EnrolmentCodeError("this enrolment code is incomplete: copy all of it")
    body, checksum = raw[:-CHECKSUM_BYTES], raw[-CHECKSUM_BYTES:]
    if _checksum(body) != checksum:
        raise EnrolmentCodeError("this enrolment code is mistyped or incomplete: copy it again")
    if body[0] != VERSION:
        raise EnrolmentCodeError(f"enrolment code version {body[0]} is not supported")
    label_length = body[1]
    if len(body) != 2 + label_length + _KEYS_BYTES:
        raise EnrolmentCodeError("this enrolment code is malformed")
    try:
        label = body[2 : 2 + label_length].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise EnrolmentCodeError("the label in this enrolment code is not text") from exc
    if validate_label(label) != label:  # only the NFC form is ever encoded
        raise InvalidLabel("the label in this enrolment code is not in canonical form")
    keys = body[2 + label_length :]
    try:
        public_keys = CaseworkerPublicKeys(
            X25519PublicKey(keys[: _sodium.X25519_KEY_BYTES]),
            Ed25519PublicKey(keys[_sodium.X25519_KEY_BYTES :]),
        )
    except MalformedKey as exc:
        # Sanad never makes such a key: the code was made by hand (docs/crypto.md, "Keys").
        raise EnrolmentCodeError(
            "this enrolment code holds a key that is not usable (low-order or non-canonical)"
        ) from exc
    return label, public_keys
