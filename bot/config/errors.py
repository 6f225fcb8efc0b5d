"""The configuration's one error type."""

from __future__ import annotations

from bot.errors import SanadError


class ConfigError(SanadError):
    """The deployment's configuration, token or server secrets are missing or wrong.

    The message is one line per mistake, each naming the file and the key path and saying what
    is wrong, and never containing a secret's value (a token, a database password).
    """
