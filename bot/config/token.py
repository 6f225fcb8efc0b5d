"""The bot token and the webhook secret: read from the environment or a file, never the TOML.

Both are secrets with their own types, whose ``repr`` is redacted, so that neither can slip into
an f-string or a log line unnoticed; ``reveal()`` is the one, greppable way to the value. Errors
name the variable or the file, never what it holds.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from bot.config.errors import ConfigError
from bot.config.model import Config

# What @BotFather hands out: a numeric bot id, a colon, and a base64url-ish secret.
_TOKEN_SHAPE = re.compile(r"[0-9]+:[A-Za-z0-9_-]+")
# Telegram's rule for setWebhook's secret_token: 1-256 characters of A-Z, a-z, 0-9, _ and -.
_WEBHOOK_SECRET_SHAPE = re.compile(r"[A-Za-z0-9_-]{1,256}")


@dataclass(frozen=True)
class BotToken:
    """The Telegram bot token; whoever holds it can read every new message sent to the bot."""

    _value: str = field(repr=False)

    def reveal(self) -> str:
        """The token itself, for the Bot API client only."""
        return self._value

    def __repr__(self) -> str:
        return "BotToken(<redacted>)"


@dataclass(frozen=True)
class WebhookSecret:
    """Telegram's ``secret_token``: proves that a webhook request comes from Telegram."""

    _value: str = field(repr=False)

    def reveal(self) -> str:
        """The secret itself, for setWebhook and the webhook listener only."""
        return self._value

    def __repr__(self) -> str:
        return "WebhookSecret(<redacted>)"


def token_source(config: Config) -> str:
    """Where the token is to be found, in words (a variable or file name, never the token)."""
    telegram = config.telegram
    if telegram.token_file is not None:
        return f"file {telegram.token_file}"
    return f"environment variable {telegram.token_env}"


def load_bot_token(config: Config) -> BotToken:
    """Read the bot token from ``telegram.token_file`` or the variable named by ``token_env``.

    Raises :class:`ConfigError` naming the variable or the file when it is unset, unreadable,
    empty or does not look like a bot token.
    """
    telegram = config.telegram
    if telegram.token_file is not None:
        text = _read_file(telegram.token_file, "telegram.token_file")
    else:
        text = _read_env(telegram.token_env, "telegram.token_env")
    token = text.strip()
    if not _TOKEN_SHAPE.fullmatch(token):
        raise ConfigError(
            f"the {token_source(config)} does not hold a bot token",
            hint="a bot token is digits, a colon and letters, as given by @BotFather",
        )
    return BotToken(token)


def load_webhook_secret(config: Config) -> WebhookSecret:
    """Read the webhook secret from the variable named by ``telegram.webhook_secret_env``.

    Raises :class:`ConfigError` naming the variable when it is unset or not in Telegram's form.
    """
    name = config.telegram.webhook_secret_env
    secret = _read_env(name, "telegram.webhook_secret_env").strip()
    if not _WEBHOOK_SECRET_SHAPE.fullmatch(secret):
        raise ConfigError(
            f"the environment variable {name} does not hold a valid webhook secret",
            hint="use 1 to 256 letters, digits, _ or -, e.g. from `openssl rand -hex 32`",
        )
    return WebhookSecret(secret)


def _read_env(name: str | None, key: str) -> str:
    if name is None:  # only reachable for a Config built without validation
        raise ConfigError(f"{key} is not set")
    text = os.environ.get(name, "")
    if not text.strip():
        raise ConfigError(f"the environment variable {name} named by {key} is not set or empty")
    return text


def _read_file(path: Path, key: str) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"the file {path} named by {key} does not exist") from None
    except (OSError, UnicodeDecodeError):
        raise ConfigError(f"the file {path} named by {key} cannot be read") from None
    if not text.strip():
        raise ConfigError(f"the file {path} named by {key} is empty")
    return text
