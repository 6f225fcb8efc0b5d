"""The desk's own records, sealed to the caseworker's own key (docs/crypto.md, "Desk state").

The caseworker's desk keeps, on their laptop, what it knows beyond the sealed files themselves:
each case's state (new, read, replied, closed), the reply numbers used, and private notes. A
stolen laptop must show no more of that than of the reports, so every record is::

    sealed = "sdsk" || version (1) || crypto_box_seal(own X25519 key, "sdsk" || version
                                                      || u8 len || purpose || record)

The purpose (``"state"``) travels inside the box, so a sealed record copied to another use opens
to a purpose the opener did not ask for and is refused. Only the holder of the caseworker's key
file (and its passphrase) opens it; the desk writes it with the public key alone.
"""

from __future__ import annotations

from crypto import _sodium
from crypto.errors import OpenFailure, unsupported_version
from crypto.keys import X25519PublicKey, X25519SecretKey

DESK_STATE_MAGIC = b"sdsk"
VERSION = 1
_PREFIX = DESK_STATE_MAGIC + bytes([VERSION])


def _inner(purpose: str, record: bytes) -> bytes:
    label = purpose.encode("ascii")
    if not 0 < len(label) < 256:
        raise ValueError("a desk record's purpose is 1 to 255 ASCII characters")
    return _PREFIX + bytes([len(label)]) + label + record


def seal_desk_record(purpose: str, record: bytes, owner: X25519PublicKey) -> bytes:
    """``record`` sealed so that only ``owner``'s secret key opens it, for ``purpose``."""
    return _PREFIX + _sodium.seal(owner.raw, _inner(purpose, record))


def open_desk_record(purpose: str, sealed: bytes, owner: X25519SecretKey) -> bytes:
    """The record :func:`seal_desk_record` sealed for ``purpose``.

    Raises ``UnsupportedVersion`` for another version, and the one opaque ``OpenFailure`` for
    anything else: another key, tampering, truncation, another purpose.
    """
    found = sealed[len(DESK_STATE_MAGIC)] if len(sealed) > len(_PREFIX) else VERSION
    if sealed[: len(DESK_STATE_MAGIC)] == DESK_STATE_MAGIC and found != VERSION:
        raise unsupported_version("desk record", found, VERSION)
    if sealed[: len(_PREFIX)] != _PREFIX:
        raise OpenFailure
    inner = _sodium.seal_open(owner.public_key.raw, owner.raw, sealed[len(_PREFIX) :])
    expected = _inner(purpose, b"")
    if inner[: len(expected)] != expected:
        raise OpenFailure
    return inner[len(expected) :]
