"""The configuration model: one frozen pydantic model per TOML table (DESIGN.md §9).

``config.example.toml`` documents every key. The fixed keys (``telegram.token_env`` /
``telegram.token_file``, ``telegram.api_base_url``, ``database.url``, the two organisation public
keys, ``delivery.batch_interval_seconds`` and ``delivery.jitter_seconds``) keep their names because
deployment scripts rely on them; every other key has a default, so a file with just those runs.

Every table forbids unknown keys, so a typo is an error rather than a silently ignored setting.
Each field's type says, in the words a person reads, what it must be (``_expecting``): the loader
(``bot.config.load``) turns a failure into ``<file>: <key path>: must be ... (got ...)``. Values
that may be or carry a secret (a database URL with a password, a token pasted where a variable
name belongs) are never repeated in an error.

Relative paths (``server.state_dir``, ``telegram.token_file``, a relative SQLite file) are resolved
against the directory of the configuration file, passed as the validation context ``base_dir``,
so the same file means the same deployment whatever the current directory is.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import SplitResult, urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    Strict,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from crypto.keys import (
    ORG_SIGNING_PREFIX,
    X25519_PREFIX,
    Ed25519PublicKey,
    MalformedKey,
    X25519PublicKey,
)

#: The pydantic error type of every message written here; the loader prints its text as is.
ERROR_TYPE = "sanad_config"

DEFAULT_STATE_DIR = "./state"
SQLITE_FILENAME = "sanad.sqlite3"
SQLITE_DRIVER = "sqlite+aiosqlite"
POSTGRESQL_DRIVER = "postgresql+asyncpg"
TELEGRAM_API = "https://api.telegram.org"
# The Telegram cloud Bot API serves files up to 20 MB to bots (getFile); a self-hosted
# telegram-bot-api server can serve more.
TELEGRAM_CLOUD_FILE_LIMIT = 20 * 1024 * 1024

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _problem(message: str) -> PydanticCustomError:
    return PydanticCustomError(ERROR_TYPE, message)


def _expecting(description: str) -> WrapValidator:
    """Replace pydantic's wording for a failed value with "must be <description> (got ...)".

    Only used on values that are never secret; the value is passed on in the error's context
    as ``got`` for the loader to show.
    """

    def validate(value: object, handler: ValidatorFunctionWrapHandler) -> object:
        try:
            return handler(value)
        except ValidationError:
            raise PydanticCustomError(
                ERROR_TYPE, "must be " + description, {"got": value}
            ) from None

    return WrapValidator(validate)


# Numbers are strict: TOML has real numbers and booleans, so "30" or "yes" where a number or a
# boolean belongs is a mistake worth naming, not something to guess at.
Seconds = Annotated[float, Strict(), Field(ge=0), _expecting("a number of seconds ≥ 0")]
PositiveSeconds = Annotated[float, Strict(), Field(gt=0), _expecting("a number of seconds > 0")]
Rate = Annotated[float, Strict(), Field(gt=0), _expecting("a number per second > 0")]
TakeoverSeconds = Annotated[
    float, Strict(), Field(ge=1, le=600), _expecting("a number of seconds from 1 to 600")
]
Count = Annotated[int, Strict(), Field(ge=1), _expecting("a whole number ≥ 1")]
Days = Annotated[int, Strict(), Field(ge=1), _expecting("a whole number of days ≥ 1")]
Minutes = Annotated[int, Strict(), Field(ge=1), _expecting("a whole number of minutes ≥ 1")]
# Telegram lets a bot delete a message only during the 48 hours after it was sent; keeping the
# (encrypted) chat and message ids any longer buys nothing and weakens I2.
HousekeepingHours = Annotated[
    int, Strict(), Field(ge=1, le=48), _expecting("a whole number of hours from 1 to 48")
]
Port = Annotated[int, Strict(), Field(ge=1, le=65535), _expecting("a port number from 1 to 65535")]
Serial = Annotated[
    int,
    Strict(),
    Field(ge=0, lt=2**64),
    _expecting("a whole number ≥ 0 (a revocation list serial)"),
]
Flag = Annotated[bool, Strict(), _expecting("true or false")]
# Shown to reporters in Telegram messages, so short and never blank.
Label = Annotated[
    str,
    Strict(),
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    _expecting("non-empty text of at most 200 characters"),
]
Mode = Annotated[Literal["polling", "webhook"], _expecting('"polling" or "webhook"')]
Language = Annotated[Literal["ar", "fr", "en"], _expecting('one of "ar", "fr", "en"')]


def _log_level(value: object) -> str:
    level = value.upper() if isinstance(value, str) else value
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise PydanticCustomError(
            ERROR_TYPE, 'must be "debug", "info", "warning" or "error"', {"got": value}
        )
    return str(level)


LogLevel = Annotated[Literal["DEBUG", "INFO", "WARNING", "ERROR"], PlainValidator(_log_level)]


def _env_var_name(value: object) -> str:
    # The value is never echoed: someone may have pasted the secret itself here.
    if not isinstance(value, str) or not _ENV_NAME.fullmatch(value):
        raise _problem(
            "must be the name of an environment variable (letters, digits and _), "
            "not the secret itself"
        )
    return value


EnvVarName = Annotated[str, PlainValidator(_env_var_name)]


def _resolved_path(value: object, info: ValidationInfo) -> Path:
    if not isinstance(value, str | Path) or not str(value).strip():
        raise PydanticCustomError(ERROR_TYPE, "must be a path", {"got": value})
    path = Path(value).expanduser()
    base_dir = (info.context or {}).get("base_dir")
    if not path.is_absolute() and base_dir is not None:
        path = Path(base_dir) / path
    return path


ResolvedPath = Annotated[Path, PlainValidator(_resolved_path)]

# Something shaped like a real bot token (bot id, colon, long secret), wherever it is pasted.
_LOOKS_LIKE_TOKEN = re.compile(r"[0-9]{5,}:[A-Za-z0-9_-]{20,}")


def _token_file(value: object, info: ValidationInfo) -> Path:
    # A token pasted here would otherwise be echoed as a "missing file" name later.
    if isinstance(value, str) and _LOOKS_LIKE_TOKEN.search(value):
        raise _problem("must be the path of a file holding the token, not the token itself")
    return _resolved_path(value, info)


TokenFile = Annotated[Path, PlainValidator(_token_file)]


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _http_url(value: object, *, what: str) -> SplitResult:
    # URLs are never echoed: a webhook path is itself a secret, and any URL may carry a password.
    if not isinstance(value, str):
        raise _problem(f"must be {what}")
    try:
        parts = urlsplit(value)
        _ = parts.port  # raises ValueError for a port out of range
    except ValueError:
        raise _problem(f"must be {what}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _problem(f"must be {what}")
    if parts.username is not None or parts.password is not None:
        raise _problem("must not contain a user name or password")
    if parts.query or parts.fragment:
        raise _problem("must not contain a query (?...) or a fragment (#...)")
    return parts


def _api_base_url(value: object) -> str:
    parts = _http_url(value, what="an https:// URL such as https://api.telegram.org")
    # The token is part of every request path and every report crosses this connection.
    if parts.scheme == "http" and not _is_loopback(parts.hostname or ""):
        raise _problem(
            "must use https:// unless the Bot API server runs on this machine "
            "(the token and every message would cross the network in clear)"
        )
    return parts.geturl().rstrip("/")


def _webhook_url(value: object) -> str:
    parts = _http_url(value, what="an https:// URL (Telegram delivers webhooks over HTTPS only)")
    # Telegram posts to https:// only. A Bot API server on this machine (self-hosted, or the
    # local one the tests use) may post to a listener on this machine over http://: the updates
    # never cross the network, the same rule as api_base_url.
    if parts.scheme != "https" and not _is_loopback(parts.hostname or ""):
        raise _problem("must be an https:// URL (Telegram delivers webhooks over HTTPS only)")
    return parts.geturl()


ApiBaseUrl = Annotated[str, PlainValidator(_api_base_url)]
WebhookUrl = Annotated[str, PlainValidator(_webhook_url)]


def _ip_address(value: object) -> str:
    try:
        return str(ipaddress.ip_address(value if isinstance(value, str) else ""))
    except ValueError:
        raise PydanticCustomError(
            ERROR_TYPE, "must be an IP address such as 127.0.0.1", {"got": value}
        ) from None


def _loopback_address(value: object) -> str:
    address = _ip_address(value)
    # The health endpoint reports counts of pending work; that is for the operator, not the world.
    if not ipaddress.ip_address(address).is_loopback:
        raise PydanticCustomError(
            ERROR_TYPE,
            "must be a loopback address (127.0.0.1 or ::1): the health endpoint is not public",
            {"got": value},
        )
    return address


IpAddress = Annotated[str, PlainValidator(_ip_address)]
LoopbackAddress = Annotated[str, PlainValidator(_loopback_address)]


# config.example.toml's placeholder keys: 32 zero bytes, which are a low-order point and so are
# refused like any unusable key (docs/crypto.md, "Keys"); named here for a plainer message.
_PLACEHOLDER_BODY = "A" * 43


def _key_problem(value: str, prefix: str, exc: MalformedKey) -> PydanticCustomError:
    if value.strip() == prefix + _PLACEHOLDER_BODY:
        return _problem(
            "is still the placeholder of config.example.toml: replace it with the line "
            "printed by `sanad org init`"
        )
    return _problem(f"{exc} (use the line printed by `sanad org init`)")


def _org_signing_key(value: object) -> Ed25519PublicKey:
    if isinstance(value, Ed25519PublicKey):
        return value
    if not isinstance(value, str):
        raise _problem("must be the signing_public_key line printed by `sanad org init`")
    try:
        return Ed25519PublicKey.from_text(value, prefix=ORG_SIGNING_PREFIX, what="this key")
    except MalformedKey as exc:
        raise _key_problem(value, ORG_SIGNING_PREFIX, exc) from None


def _recovery_key(value: object) -> X25519PublicKey:
    if isinstance(value, X25519PublicKey):
        return value
    if not isinstance(value, str):
        raise _problem("must be the recovery_public_key line printed by `sanad org init`")
    try:
        return X25519PublicKey.from_text(value, what="this key")
    except MalformedKey as exc:
        raise _key_problem(value, X25519_PREFIX, exc) from None


OrgSigningKey = Annotated[Ed25519PublicKey, PlainValidator(_org_signing_key)]
RecoveryKey = Annotated[X25519PublicKey, PlainValidator(_recovery_key)]


def _database_url(value: object, info: ValidationInfo) -> str:
    # Never echoed: a PostgreSQL URL usually carries a password.
    expected = f"must be a {SQLITE_DRIVER}:///FILE or {POSTGRESQL_DRIVER}://... URL"
    if not isinstance(value, str):
        raise _problem(expected)
    try:
        url = make_url(value)
    except ArgumentError:
        raise _problem(expected) from None
    if url.drivername == POSTGRESQL_DRIVER:
        if not url.database:
            raise _problem("must name the PostgreSQL database (…/DATABASE)")
        return value
    if url.drivername != SQLITE_DRIVER:
        raise _problem(expected)
    if not url.database or url.database == ":memory:":
        raise _problem("must name a SQLite file: an in-memory database would lose every report")
    return _sqlite_url(_resolved_path(url.database, info))


def _sqlite_url(path: Path) -> str:
    return URL.create(SQLITE_DRIVER, database=str(path)).render_as_string()


DatabaseUrl = Annotated[str, PlainValidator(_database_url)]


class _Table(BaseModel):
    # Unknown keys are an error: a misspelt setting must not silently fall back to its default.
    model_config = ConfigDict(extra="forbid", frozen=True)


class TelegramSection(_Table):
    """``[telegram]``: where the token is, which Bot API server, polling or webhook."""

    token_env: EnvVarName | None = None
    token_file: TokenFile | None = Field(default=None, validate_default=True)
    api_base_url: ApiBaseUrl = TELEGRAM_API
    mode: Mode = "polling"
    webhook_url: WebhookUrl | None = Field(default=None, validate_default=True)
    webhook_listen: IpAddress = "127.0.0.1"
    webhook_port: Port = 8443
    webhook_secret_env: EnvVarName = "SANAD_WEBHOOK_SECRET"  # noqa: S105 (a variable's name)
    drop_pending_updates: Flag = False

    @field_validator("token_file")
    @classmethod
    def _exactly_one_token_source(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if "token_env" not in info.data:  # token_env itself was wrong; that is the one error
            return value
        has_env = info.data["token_env"] is not None
        if has_env and value is not None:
            raise _problem("set token_env or token_file, not both")
        if not has_env and value is None:
            raise _problem(
                "missing: set token_file, or token_env (the environment variable that holds "
                "the bot token)"
            )
        return value

    @field_validator("webhook_url")
    @classmethod
    def _webhook_needs_url(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("mode") == "webhook" and value is None:
            raise _problem('required when telegram.mode is "webhook"')
        return value


class EmergencyContact(_Table):
    """A line shown to a reporter in danger: who to call, and how."""

    label: Label
    value: Label


class OrganisationSection(_Table):
    """``[organisation]``: the pinned public keys (I4) and what reporters are offered."""

    signing_public_key: OrgSigningKey
    recovery_public_key: RecoveryKey
    name: Label = "Sanad"
    emergency_contacts: tuple[EmergencyContact, ...] = ()
    # The five countries of the brief; "other" is always offered in addition.
    countries: tuple[Label, ...] = ("EG", "IQ", "JO", "LB", "TN")
    languages: tuple[Language, ...] = ("ar", "fr", "en")
    # I9: the lowest revocation list serial the bot accepts, beside the mark in the state
    # directory (bot.revocation_mark); 0 leaves it to the mark alone.
    min_revocation_serial: Serial = 0

    @field_validator("countries")
    @classmethod
    def _countries_distinct(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        folded = [country.casefold() for country in value]
        if "other" in folded:
            raise _problem('must not list "other": it is always offered')
        if len(set(folded)) != len(folded):
            raise _problem("must not list a country twice")
        return value

    @field_validator("languages")
    @classmethod
    def _languages_distinct(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value or len(set(value)) != len(value):
            raise _problem('must list each offered language once, from "ar", "fr", "en"')
        return value


class DatabaseSection(_Table):
    """``[database]``: SQLite by default, PostgreSQL for several bot instances."""

    url: DatabaseUrl

    @property
    def backend(self) -> Literal["sqlite", "postgresql"]:
        return "postgresql" if make_url(self.url).drivername == POSTGRESQL_DRIVER else "sqlite"

    def describe(self) -> str:
        """Where the data lives, for people: never the user name or password of the URL."""
        url = make_url(self.url)
        if self.backend == "sqlite":
            return f"SQLite file {url.database}"
        where = f"{url.host or 'local socket'}{f':{url.port}' if url.port else ''}"
        return f"PostgreSQL database {url.database} on {where}"


class DeliverySection(_Table):
    """``[delivery]``: batching (I3), retries and Telegram's rate limits for the forward job."""

    batch_interval_seconds: PositiveSeconds = 600.0
    jitter_seconds: Seconds = 300.0
    max_attempts: Count = 12
    backoff_cap_seconds: PositiveSeconds = 3600.0
    # Telegram's documented ceiling for bulk messages from one bot.
    messages_per_second: Rate = 30.0


class RetentionSection(_Table):
    """``[retention]``: how long anything is kept (I2, I6)."""

    housekeeping_hours: HousekeepingHours = 24
    closed_report_days: Days = 90
    mailbox_days: Days = 90
    unassigned_alert_days: Days = 7


class LimitsSection(_Table):
    """``[limits]``: bounds on what one reporter can make the bot hold or do."""

    max_text_chars: Count = 10_000
    max_file_bytes: Count = TELEGRAM_CLOUD_FILE_LIMIT
    max_files: Count = 10
    max_messages_per_minute: Count = 20
    flood_burst: Count = 60
    conversation_timeout_minutes: Minutes = 30
    argon2_queue_size: Count = 8
    argon2_workers: Count = 2
    submission_queue_size: Count = 256
    receipt_lookups_per_minute: Count = 60
    draft_memory_bytes: Count = 256 * 1024 * 1024
    reports_per_day: Count = 10
    min_free_disk_bytes: Count = 512 * 1024 * 1024


class ServerSection(_Table):
    """``[server]``: the state directory, for the server secrets and the SQLite file."""

    state_dir: ResolvedPath = Field(default=DEFAULT_STATE_DIR, validate_default=True)


class LoggingSection(_Table):
    """``[logging]``: level and format (logs carry event names and counts, never content)."""

    level: LogLevel = "INFO"
    # Named json_lines because ``json`` would shadow a BaseModel method; the TOML key is "json".
    json_lines: Flag = Field(default=False, alias="json")


class HaSection(_Table):
    """``[ha]``: several ``sanad run`` on one PostgreSQL database, one leading (docs/deploy.md)."""

    # How soon a standby takes over from a leader that died; every delay derives from it
    # (bot.leadership.timings).
    takeover_seconds: TakeoverSeconds = 15.0


class HealthSection(_Table):
    """``[health]``: an optional loopback-only HTTP endpoint for the operator's monitoring."""

    enabled: Flag = False
    listen: LoopbackAddress = "127.0.0.1"
    port: Port = 8081


def _table() -> Any:
    # Validating the empty table (rather than building a default instance at import time) runs the
    # table's validators with this load's context, so default paths resolve like written ones.
    return Field(default_factory=dict, validate_default=True)


class Config(_Table):
    """A validated deployment configuration; build it with ``bot.config.load_config``."""

    telegram: TelegramSection
    organisation: OrganisationSection
    database: DatabaseSection = _table()
    delivery: DeliverySection = _table()
    retention: RetentionSection = _table()
    limits: LimitsSection = _table()
    server: ServerSection = _table()
    logging: LoggingSection = _table()
    health: HealthSection = _table()
    ha: HaSection = _table()

    @model_validator(mode="before")
    @classmethod
    def _database_defaults_to_state_dir(cls, data: Any) -> Any:
        """Without ``database.url``, the database is ``sanad.sqlite3`` in ``server.state_dir``."""
        if not isinstance(data, dict):
            return data
        database = data.get("database", {})
        server = data.get("server", {})
        if not isinstance(database, dict) or "url" in database or not isinstance(server, dict):
            return data
        state_dir = server.get("state_dir", DEFAULT_STATE_DIR)
        if not isinstance(state_dir, str | Path):
            # server.state_dir reports its own error; a stand-in keeps database.url quiet.
            state_dir = DEFAULT_STATE_DIR
        default = _sqlite_url(Path(state_dir) / SQLITE_FILENAME)
        return {**data, "database": {**database, "url": default}}
