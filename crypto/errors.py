"""Errors raised by ``crypto/``; their docstrings are written for the person who sees them.

``crypto`` imports nothing of the rest of Sanad, so its root is its own ``CryptoError``; the CLI
and the bot treat it as one of Sanad's user-facing errors.
"""


class CryptoError(Exception):
    """A cryptographic operation could not be completed."""


class OpenFailure(CryptoError):
    """This could not be opened: the key is not the right one, or the data is damaged.

    Deliberately one error for every cause (wrong key, tampering, truncation, swapped header,
    unknown version inside an authenticated part) so that no caller can be used as an oracle.
    """


class UnsupportedVersion(CryptoError):
    """This was made by a different version of Sanad, whose format this one cannot read.

    Raised only for a version field that is in the clear (so it tells nobody anything new),
    before any key is used. :func:`unsupported_version` gives it a message naming both versions.
    """


def unsupported_version(what: str, found: int, supported: int) -> UnsupportedVersion:
    """The one-line refusal of a ``what`` made in format ``found`` by a reader of ``supported``."""
    return UnsupportedVersion(
        f"this {what} is format version {found}; this version of Sanad reads version "
        f"{supported} only"
    )


class NotForThisKey(CryptoError):
    """This was not sealed to your key (no recipient entry names it)."""
