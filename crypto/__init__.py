"""Sanad's cryptography: a recipe layer over libsodium (see docs/crypto.md).

Use the functions exported here; nothing outside ``crypto/`` imports ``nacl`` or ``crypto._sodium``.
Every failure to open something is one :class:`OpenFailure`, whatever the cause.
"""

from crypto.errors import CryptoError, OpenFailure

__all__ = ["CryptoError", "OpenFailure"]
