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
    before any key is used.
    """


class NotForThisKey(CryptoError):
    """This was not sealed to your key (no recipient entry names it)."""
