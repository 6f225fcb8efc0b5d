"""The bot token and webhook secret come from the environment or a file, never shown."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from bot.config import ConfigError, load_bot_token, load_webhook_secret, parse_config
from bot.config.model import Config
from tests.config.conftest import minimal_toml

TOKEN = "987654321:AAH-canaryTOKENvalue_9"


def config_with(org_keys: tuple[str, str], telegram: str) -> Config:
    return parse_config(tomllib.loads(minimal_toml(org_keys, telegram=telegram)))


def test_token_from_environment_is_redacted_in_repr(
    org_keys: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SANAD_TEST_TOKEN", TOKEN + "\n")
    token = load_bot_token(config_with(org_keys, 'token_env = "SANAD_TEST_TOKEN"'))
    assert token.reveal() == TOKEN
    assert TOKEN not in repr(token)
    assert TOKEN not in f"{token}"


def test_token_from_file(tmp_path: Path, org_keys: tuple[str, str]) -> None:
    token_file = tmp_path / "bot-token"
    token_file.write_text(TOKEN + "\n")
    config = config_with(org_keys, f'token_file = "{token_file}"')
    assert load_bot_token(config).reveal() == TOKEN


def test_unset_variable_is_named(
    org_keys: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SANAD_TEST_TOKEN", raising=False)
    with pytest.raises(ConfigError, match=r"environment variable SANAD_TEST_TOKEN .* not set"):
        load_bot_token(config_with(org_keys, 'token_env = "SANAD_TEST_TOKEN"'))


@pytest.mark.parametrize(("content", "says"), [(None, "does not exist"), ("  \n", "is empty")])
def test_missing_or_empty_token_file_is_named(
    tmp_path: Path, org_keys: tuple[str, str], content: str | None, says: str
) -> None:
    token_file = tmp_path / "bot-token"
    if content is not None:
        token_file.write_text(content)
    with pytest.raises(ConfigError, match=f"{token_file} named by telegram.token_file {says}"):
        load_bot_token(config_with(org_keys, f'token_file = "{token_file}"'))


def test_something_else_than_a_token_is_refused_without_echoing_it(
    org_keys: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SANAD_TEST_TOKEN", "TOKEN=" + TOKEN)
    with pytest.raises(ConfigError) as caught:
        load_bot_token(config_with(org_keys, 'token_env = "SANAD_TEST_TOKEN"'))
    assert "SANAD_TEST_TOKEN does not hold a bot token" in str(caught.value)
    assert "canaryTOKEN" not in f"{caught.value} {caught.value.hint}"


def test_webhook_secret_in_telegram_form(
    org_keys: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = config_with(org_keys, 'token_env = "X"\nwebhook_secret_env = "HOOK"')
    monkeypatch.setenv("HOOK", "a" * 64)
    assert load_webhook_secret(config).reveal() == "a" * 64
    assert "aaaa" not in repr(load_webhook_secret(config))
    monkeypatch.setenv("HOOK", "has spaces and !")
    with pytest.raises(ConfigError, match="HOOK does not hold a valid webhook secret"):
        load_webhook_secret(config)
