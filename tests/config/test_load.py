"""Loading the configuration: the example and a minimal file load; every mistake is one line."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

from bot.config import (
    ConfigError,
    DatabaseSection,
    config_warnings,
    load_config,
    parse_config,
)
from bot.config.model import Config
from tests.config.conftest import EXAMPLE, example_toml, minimal_toml


def write(tmp_path: Path, text: str) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_example_loads_cleanly_once_its_keys_are_replaced(
    tmp_path: Path, org_keys: tuple[str, str]
) -> None:
    config = load_config(write(tmp_path, example_toml(org_keys)))
    assert config.telegram.token_env == "SANAD_BOT_TOKEN"
    assert config.database.backend == "sqlite"
    assert config_warnings(config) == []


def test_example_as_shipped_is_refused_naming_each_placeholder_key() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(EXAMPLE)
    assert str(caught.value).splitlines() == [
        f"{EXAMPLE}: organisation.{key}: is still the placeholder of config.example.toml: "
        "replace it with the line printed by `sanad org init`"
        for key in ("signing_public_key", "recovery_public_key")
    ]


def test_example_documents_every_key() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    sections = {"[" + name + "]" for name in Config.model_fields}
    missing_sections = [s for s in sections if s not in text]
    missing_keys = [
        f"{section}.{info.alias or key}"
        for section, table in Config.model_fields.items()
        for key, info in table.annotation.model_fields.items()  # type: ignore[union-attr]
        if not re.search(rf"^#? ?{info.alias or key} = ", text, re.MULTILINE)
    ]
    assert missing_sections == []
    assert missing_keys == []


def test_minimal_file_gets_the_defaults_the_example_documents(
    tmp_path: Path, org_keys: tuple[str, str]
) -> None:
    """Every default in the model equals the value the example shows for it."""
    text = minimal_toml(org_keys, telegram='token_env = "SANAD_BOT_TOKEN"')
    minimal = load_config(write(tmp_path, text))
    example = load_config(write(tmp_path / "example", example_toml(org_keys)))
    assert minimal.server.state_dir == tmp_path / "state"
    assert minimal.database.url == f"sqlite+aiosqlite:///{tmp_path}/state/sanad.sqlite3"
    for section in ("telegram", "delivery", "retention", "limits", "logging", "health"):
        assert getattr(minimal, section) == getattr(example, section), section
    org, example_org = minimal.organisation, example.organisation
    assert (org.name, org.emergency_contacts, org.countries, org.languages) == (
        example_org.name,
        example_org.emergency_contacts,
        example_org.countries,
        example_org.languages,
    )


def test_database_defaults_to_a_sqlite_file_in_the_state_dir(
    tmp_path: Path, org_keys: tuple[str, str]
) -> None:
    text = minimal_toml(org_keys, tables='[server]\nstate_dir = "/srv/sanad"').replace(
        'url = "sqlite+aiosqlite:///state/sanad.sqlite3"', ""
    )
    config = load_config(write(tmp_path, text))
    assert config.database.url == "sqlite+aiosqlite:////srv/sanad/sanad.sqlite3"


def test_relative_paths_resolve_against_the_config_file_not_the_cwd(
    tmp_path: Path, org_keys: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    config_dir = tmp_path / "etc"
    config_dir.mkdir()
    text = minimal_toml(org_keys, telegram='token_file = "bot-token"')
    config = load_config(write(config_dir, text))
    assert config.telegram.token_file == config_dir / "bot-token"
    assert config.server.state_dir == config_dir / "state"
    assert config.database.url.endswith(f"//{config_dir}/state/sanad.sqlite3")


def test_the_revocation_floor_defaults_to_zero_and_is_read(
    tmp_path: Path, org_keys: tuple[str, str]
) -> None:
    default = load_config(write(tmp_path, minimal_toml(org_keys)))
    assert default.organisation.min_revocation_serial == 0
    pinned = minimal_toml(org_keys, organisation="min_revocation_serial = 12")
    assert load_config(write(tmp_path, pinned)).organisation.min_revocation_serial == 12


def test_postgres_description_hides_user_and_password() -> None:
    section = DatabaseSection(url="postgresql+asyncpg://sanad:hunter2@db.internal:5433/reports")
    assert section.backend == "postgresql"
    assert section.describe() == "PostgreSQL database reports on db.internal:5433"


def _length_31_key(prefix: str) -> str:
    return prefix + base64.urlsafe_b64encode(bytes(31)).decode().rstrip("=")


# (id, configuration text built from org keys, key path named, text that must appear,
#  secret that must not appear)
MISTAKES = [
    (
        "wrong_type",
        lambda k: minimal_toml(k, tables='[limits]\nmax_files = "ten"'),
        "limits.max_files",
        'must be a whole number ≥ 1 (got "ten")',
        None,
    ),
    (
        "negative_number",
        lambda k: minimal_toml(k).replace("jitter_seconds = 300", "jitter_seconds = -5"),
        "delivery.jitter_seconds",
        "must be a number of seconds ≥ 0 (got -5)",
        None,
    ),
    (
        "unknown_key",
        lambda k: minimal_toml(k, tables="[limits]\nmax_filez = 3"),
        "limits.max_filez",
        'did you mean "max_files"',
        None,
    ),
    (
        "typo_in_section_name",
        lambda k: minimal_toml(k, tables="[retension]\nmailbox_days = 30"),
        "retension",
        'did you mean "retention"',
        None,
    ),
    (
        "bad_key_prefix",
        lambda k: minimal_toml(k, signing=k[1]),
        "organisation.signing_public_key",
        "must start with 'sanad-sign1:'",
        None,
    ),
    (
        "wrong_key_length",
        lambda k: minimal_toml(k, recovery=_length_31_key("sanad-x25519-1:")),
        "organisation.recovery_public_key",
        "wrong length",
        None,
    ),
    (
        "token_in_toml",
        lambda k: minimal_toml(
            k, telegram='token_env = "X"\ntoken = "123456:AAH-secretTOKENvalue"'
        ),
        "telegram.token",
        "environment variable named by telegram.token_env",
        "secretTOKENvalue",
    ),
    (
        "token_pasted_as_variable_name",
        lambda k: minimal_toml(k, telegram='token_env = "123456:AAH-secretTOKENvalue"'),
        "telegram.token_env",
        "must be the name of an environment variable",
        "secretTOKENvalue",
    ),
    (
        "token_pasted_as_file_name",
        lambda k: minimal_toml(k, telegram='token_file = "123456:AAH-secretTOKENvalue_xyz"'),
        "telegram.token_file",
        "not the token itself",
        "secretTOKENvalue",
    ),
    (
        "webhook_without_url",
        lambda k: minimal_toml(k, telegram='token_env = "X"\nmode = "webhook"'),
        "telegram.webhook_url",
        'required when telegram.mode is "webhook"',
        None,
    ),
    (
        "health_on_all_interfaces",
        lambda k: minimal_toml(k, tables='[health]\nlisten = "0.0.0.0"'),
        "health.listen",
        "must be a loopback address",
        None,
    ),
    (
        "database_url_with_password_and_wrong_driver",
        lambda k: minimal_toml(k).replace(
            'url = "sqlite+aiosqlite:///state/sanad.sqlite3"',
            'url = "postgresql://sanad:hunter2secret@db/sanad"',
        ),
        "database.url",
        "postgresql+asyncpg://",
        "hunter2secret",
    ),
    (
        "plain_http_to_a_remote_bot_api",
        lambda k: minimal_toml(k).replace(
            'api_base_url = "https://api.telegram.org"', 'api_base_url = "http://203.0.113.9"'
        ),
        "telegram.api_base_url",
        "must use https://",
        None,
    ),
    (
        "housekeeping_beyond_telegram_deletion_window",
        lambda k: minimal_toml(k, tables="[retention]\nhousekeeping_hours = 72"),
        "retention.housekeeping_hours",
        "from 1 to 48 (got 72)",
        None,
    ),
    (
        "negative_revocation_floor",
        lambda k: minimal_toml(k, organisation="min_revocation_serial = -1"),
        "organisation.min_revocation_serial",
        "must be a whole number ≥ 0 (a revocation list serial) (got -1)",
        None,
    ),
    (
        "both_token_sources",
        lambda k: minimal_toml(k, telegram='token_env = "X"\ntoken_file = "t"'),
        "telegram.token_file",
        "not both",
        None,
    ),
]


@pytest.mark.parametrize(
    ("make_text", "key", "says", "secret"),
    [case[1:] for case in MISTAKES],
    ids=[case[0] for case in MISTAKES],
)
def test_each_mistake_is_one_line_naming_the_key(
    tmp_path: Path,
    org_keys: tuple[str, str],
    make_text: object,
    key: str,
    says: str,
    secret: str | None,
) -> None:
    path = write(tmp_path, make_text(org_keys))  # type: ignore[operator]
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: {key}: ")
    assert says in message
    if secret is not None:
        shown = f"{message} {caught.value.hint} {caught.value!r}"
        assert secret not in shown
        assert caught.value.__cause__ is None
        assert caught.value.__suppress_context__


def test_invalid_toml_names_the_line(tmp_path: Path, org_keys: tuple[str, str]) -> None:
    lines = minimal_toml(org_keys).splitlines()
    lines[6] = "max_files = = 3"
    path = write(tmp_path, "\n".join(lines))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value).startswith(f"{path} line 7: invalid TOML: ")
    assert "\n" not in str(caught.value)


def test_missing_file_says_so_and_hints_at_the_example(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "nope.toml")
    assert str(caught.value) == f"{tmp_path / 'nope.toml'}: no such configuration file"
    assert "config.example.toml" in (caught.value.hint or "")


def test_several_mistakes_give_one_line_each(org_keys: tuple[str, str]) -> None:
    import tomllib

    text = minimal_toml(org_keys, tables='[limits]\nmax_files = 0\n[logging]\nlevel = "loud"')
    with pytest.raises(ConfigError) as caught:
        parse_config(tomllib.loads(text))
    assert str(caught.value).splitlines() == [
        "config.toml: limits.max_files: must be a whole number ≥ 1 (got 0)",
        'config.toml: logging.level: must be "debug", "info", "warning" or "error" (got "loud")',
    ]


def test_warnings_flag_an_open_token_file(tmp_path: Path, org_keys: tuple[str, str]) -> None:
    token_file = tmp_path / "bot-token"
    token_file.write_text("123:abc\n")
    token_file.chmod(0o644)
    text = example_toml(org_keys).replace(
        'token_env = "SANAD_BOT_TOKEN"', f'token_file = "{token_file}"'
    )
    warnings = config_warnings(load_config(write(tmp_path, text)))
    assert any(f"{token_file} is open to other users (mode 0644)" in w for w in warnings)


def test_no_warnings_for_a_private_token_file_and_real_keys(
    tmp_path: Path, org_keys: tuple[str, str]
) -> None:
    token_file = tmp_path / "bot-token"
    token_file.write_text("123:abc\n")
    token_file.chmod(0o600)
    text = minimal_toml(org_keys, telegram=f'token_file = "{token_file}"')
    assert config_warnings(load_config(write(tmp_path, text))) == []
