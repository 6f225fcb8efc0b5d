"""Reading the configuration file, and turning every mistake into one clear line.

A TOML syntax error, a wrong type, an unknown key or a malformed organisation key each become one
line of a :class:`ConfigError`, ``<file>: <key path>: <what is wrong>``, so that ``sanad
check-config`` (and any command taking ``--config``) says exactly what to fix. A value is repeated
in a message only where the model allows it (numbers, flags, choices), never for anything that
may be or carry a secret.
"""

from __future__ import annotations

import difflib
import json
import re
import stat
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, get_args

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from bot.config.errors import ConfigError
from bot.config.model import ERROR_TYPE, TELEGRAM_API, TELEGRAM_CLOUD_FILE_LIMIT, Config

# Keys under which someone might paste the bot token itself.
_TOKEN_KEYS = frozenset({"token", "bot_token"})
_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column \d+\)$")
_GOT_MAX_CHARS = 40


def load_config(path: Path) -> Config:
    """Read and validate the configuration file at ``path``.

    Relative paths inside it are taken relative to the file's directory. Raises
    :class:`ConfigError` for a missing or unreadable file, invalid TOML, or any invalid value,
    with one line per mistake.
    """
    source = str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            f"{source}: no such configuration file",
            hint="copy config.example.toml to config.toml and edit it, or pass --config PATH",
        ) from None
    except IsADirectoryError:
        raise ConfigError(f"{source}: is a directory, not a configuration file") from None
    except OSError as exc:
        raise ConfigError(f"{source}: cannot be read ({exc.strerror or 'error'})") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{source}: invalid TOML: the file is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(_toml_problem(source, exc)) from None
    return parse_config(data, source=source, base_dir=path.absolute().parent)


def parse_config(
    data: Mapping[str, Any], *, source: str = "config.toml", base_dir: Path | None = None
) -> Config:
    """Validate already-parsed TOML ``data``; ``source`` names it in messages.

    Relative paths are resolved against ``base_dir`` (left relative when it is None). Raises
    :class:`ConfigError`.
    """
    try:
        return Config.model_validate(data, context={"base_dir": base_dir})
    except ValidationError as exc:
        lines = [f"{source}: {_key_path(e['loc'])}: {_describe(e)}" for e in exc.errors()]
        # "from None": the pydantic error holds the rejected input values, a database password
        # among them; nothing of it may travel on in a traceback or a log record.
        raise ConfigError("\n".join(lines)) from None


def config_warnings(config: Config) -> list[str]:
    """Things that are valid but probably wrong or unsafe, one sentence each."""
    warnings = []
    token_file = config.telegram.token_file
    if token_file is not None:
        try:
            mode = stat.S_IMODE(token_file.stat().st_mode)
        except OSError:
            mode = 0  # a missing file is reported where the token is read
        if mode & 0o077:
            warnings.append(
                f"the bot token file {token_file} is open to other users (mode {mode:04o}): "
                f"chmod 600 it"
            )
    if (
        config.telegram.api_base_url == TELEGRAM_API
        and config.limits.max_file_bytes > TELEGRAM_CLOUD_FILE_LIMIT
    ):
        warnings.append(
            "limits.max_file_bytes is above the 20 MB the Telegram cloud Bot API lets a bot "
            "download: larger files will be refused by Telegram"
        )
    return warnings


def _toml_problem(source: str, exc: tomllib.TOMLDecodeError) -> str:
    # Python 3.11's TOMLDecodeError has no line attribute; the position ends its message.
    message = str(exc)
    where = source
    position = _TOML_POSITION.search(message)
    if position:
        where = f"{source} line {position.group(1)}"
        message = message[: position.start()]
    return f"{where}: invalid TOML: {message[:1].lower()}{message[1:]}"


def _key_path(loc: Sequence[int | str]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else part)
    return path or "(top level)"


def _describe(error: ErrorDetails) -> str:
    kind = error["type"]
    loc = error["loc"]
    if kind == ERROR_TYPE:
        context = error.get("ctx") or {}
        got = f" (got {_render(context['got'])})" if "got" in context else ""
        return error["msg"] + got
    if kind == "extra_forbidden":
        return _unknown_key(loc)
    if kind == "missing":
        return "missing" + (" (a required table)" if len(loc) == 1 else "")
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return "must be a table"
    if kind in ("tuple_type", "list_type"):
        return "must be a list"
    message = error["msg"]
    return message[:1].lower() + message[1:]


def _unknown_key(loc: Sequence[int | str]) -> str:
    key = str(loc[-1])
    if key in _TOKEN_KEYS:
        # Never echo the value: it is the token.
        return (
            "the bot token does not belong in the configuration file: put it in the "
            "environment variable named by telegram.token_env, or in the file named by "
            "telegram.token_file"
        )
    known = _keys_at(loc[:-1])
    close = difflib.get_close_matches(key, known, n=1)
    if close:
        return f'unknown key; did you mean "{close[0]}"?'
    return "unknown key (config.example.toml lists every key)"


def _keys_at(loc: Sequence[int | str]) -> list[str]:
    """The keys the model accepts in the table at ``loc``, for "did you mean" suggestions."""
    model: type[BaseModel] | None = Config
    for part in loc:
        if isinstance(part, int) or model is None:
            continue
        fields = {info.alias or name: info for name, info in model.model_fields.items()}
        model = _model_in(fields[part].annotation) if part in fields else None
    if model is None:
        return []
    return [info.alias or name for name, info in model.model_fields.items()]


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in get_args(annotation):
        found = _model_in(argument)
        if found is not None:
            return found
    return None


def _render(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
        return text if len(text) <= _GOT_MAX_CHARS else text[: _GOT_MAX_CHARS - 2] + '…"'
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    return f"a {type(value).__name__}"  # a TOML date or time
