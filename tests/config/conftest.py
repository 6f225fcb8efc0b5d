"""Helpers for configuration tests: real organisation keys and a minimal configuration text."""

from __future__ import annotations

from pathlib import Path

import pytest

from crypto.keys import (
    ORG_SIGNING_PREFIX,
    X25519_PREFIX,
    Ed25519SigningKey,
    OrganisationKeys,
    X25519SecretKey,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.toml"
# The example's placeholder organisation keys: all zero, refused until replaced.
PLACEHOLDER_SIGNING = ORG_SIGNING_PREFIX + "A" * 43
PLACEHOLDER_RECOVERY = X25519_PREFIX + "A" * 43


@pytest.fixture(scope="session")
def org_keys() -> tuple[str, str]:
    """The text forms of a freshly generated organisation signing and recovery public key."""
    signing = Ed25519SigningKey.generate().public_key.to_text(ORG_SIGNING_PREFIX)
    recovery = X25519SecretKey.generate().public_key.to_text()
    return signing, recovery


def text_forms(org: OrganisationKeys) -> tuple[str, str]:
    """What ``sanad org init`` prints for ``org``: the two public keys' text forms."""
    return (
        org.signing.public_key.to_text(ORG_SIGNING_PREFIX),
        org.recovery.public_key.to_text(),
    )


def example_toml(org_keys: tuple[str, str]) -> str:
    """config.example.toml with its placeholder keys replaced, as an admin does after org init."""
    text = EXAMPLE.read_text(encoding="utf-8")
    assert PLACEHOLDER_SIGNING in text
    assert PLACEHOLDER_RECOVERY in text
    return text.replace(PLACEHOLDER_SIGNING, org_keys[0]).replace(PLACEHOLDER_RECOVERY, org_keys[1])


def minimal_toml(
    org_keys: tuple[str, str],
    *,
    telegram: str = 'token_env = "SANAD_TEST_TOKEN"',
    signing: str | None = None,
    recovery: str | None = None,
    organisation: str = "",
    tables: str = "",
) -> str:
    """A configuration with only the fixed keys, plus extra lines per table for a test."""
    return f"""
[telegram]
{telegram}
api_base_url = "https://api.telegram.org"

[database]
url = "sqlite+aiosqlite:///state/sanad.sqlite3"

[organisation]
signing_public_key = "{signing or org_keys[0]}"
recovery_public_key = "{recovery or org_keys[1]}"
{organisation}

[delivery]
batch_interval_seconds = 600
jitter_seconds = 300

{tables}
"""
