"""``telegram.webhook_url`` over plain http is accepted only for a listener on this machine."""

from __future__ import annotations

import pytest

from bot.config import ConfigError, parse_config
from crypto.keys import ORG_SIGNING_PREFIX, OrganisationKeys


def webhook_config(url: str) -> dict[str, object]:
    org = OrganisationKeys.generate()
    return {
        "telegram": {"token_env": "SANAD_TEST_BOT_TOKEN", "mode": "webhook", "webhook_url": url},
        "organisation": {
            "signing_public_key": org.signing.public_key.to_text(ORG_SIGNING_PREFIX),
            "recovery_public_key": org.recovery.public_key.to_text(),
        },
    }


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8443/telegram", "http://[::1]:8443/hook", "http://localhost/hook",
            "https://bot.example.org/telegram"]
)
def test_webhook_url_may_be_http_on_loopback_or_https_anywhere(url: str) -> None:
    assert parse_config(webhook_config(url)).telegram.webhook_url == url


@pytest.mark.parametrize("url", ["http://bot.example.org/telegram", "http://10.0.0.5/hook"])
def test_webhook_url_over_http_to_another_machine_is_refused(url: str) -> None:
    with pytest.raises(ConfigError, match=r"telegram\.webhook_url: must be an https:// URL"):
        parse_config(webhook_config(url))
