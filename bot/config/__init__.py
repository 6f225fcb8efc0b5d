"""The deployment's configuration (DESIGN.md §9 "Configuration"; config.example.toml).

``load_config(path)`` reads and validates the TOML file and returns a frozen :class:`Config`;
``load_bot_token(config)`` reads the token from where the configuration says it is. Every mistake
is a :class:`ConfigError` whose message has one line per mistake, naming the key.
"""

from bot.config.errors import ConfigError
from bot.config.load import config_warnings, load_config, parse_config
from bot.config.model import (
    Config,
    DatabaseSection,
    DeliverySection,
    EmergencyContact,
    HealthSection,
    LimitsSection,
    LoggingSection,
    OrganisationSection,
    RetentionSection,
    ServerSection,
    TelegramSection,
)
from bot.config.token import (
    BotToken,
    WebhookSecret,
    load_bot_token,
    load_webhook_secret,
    token_source,
)

__all__ = [
    "BotToken",
    "Config",
    "ConfigError",
    "DatabaseSection",
    "DeliverySection",
    "EmergencyContact",
    "HealthSection",
    "LimitsSection",
    "LoggingSection",
    "OrganisationSection",
    "RetentionSection",
    "ServerSection",
    "TelegramSection",
    "WebhookSecret",
    "config_warnings",
    "load_bot_token",
    "load_config",
    "load_webhook_secret",
    "parse_config",
    "token_source",
]
