"""Reading a Bot API request's parameters the way Telegram does.

Telegram accepts the same parameters in a query string, an ``application/json`` body, an
``application/x-www-form-urlencoded`` body or ``multipart/form-data``. python-telegram-bot sends
form fields whose values are already JSON text for anything that is not a string (numbers,
booleans, ``reply_markup``) and the raw string otherwise, plus file parts when uploading. So a
value's type cannot be read off the wire: each method asks for the type it expects, and a
``"123"`` is the integer 123 for ``chat_id`` and the text ``123`` for ``text``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from tornado.httputil import HTTPServerRequest, parse_body_arguments

from bot.local_api.errors import bad_request

_ATTACH_PREFIX = "attach://"


@dataclass(frozen=True, slots=True)
class Upload:
    """A file part of a multipart request, kept in memory only (files may be evidence)."""

    filename: str
    content: bytes
    content_type: str

    def __repr__(self) -> str:  # the bytes may be sealed evidence: never print them
        return f"Upload(filename=<redacted>, size={len(self.content)})"


class Params:
    """The parameters of one request, converted on demand to the type a method expects."""

    def __init__(self, values: dict[str, Any], uploads: dict[str, Upload]) -> None:
        self._values = values
        self._uploads = uploads

    @classmethod
    def from_request(cls, request: HTTPServerRequest) -> Params:
        """Collect query, body and file parameters; a malformed JSON body is a 400."""
        values: dict[str, Any] = {
            name: raw[-1].decode("utf-8", "replace")
            for name, raw in request.query_arguments.items()
        }
        uploads: dict[str, Upload] = {}
        content_type = request.headers.get("Content-Type", "")
        if request.body and content_type.split(";")[0].strip().lower() == "application/json":
            try:
                body = json.loads(request.body)
            except ValueError as exc:
                raise bad_request("can't parse JSON encoded request body") from exc
            if not isinstance(body, dict):
                raise bad_request("JSON object expected as request body")
            values.update(body)
        elif request.body:
            arguments: dict[str, list[bytes]] = {}
            files: dict[str, list[Any]] = {}
            parse_body_arguments(content_type, request.body, arguments, files, request.headers)
            for name, raw in arguments.items():
                values[name] = raw[-1].decode("utf-8", "replace")
            for name, parts in files.items():
                part = parts[-1]
                uploads[name] = Upload(
                    filename=part.filename or "",
                    content=part.body,
                    content_type=part.content_type or "",
                )
        return cls(values, uploads)

    def has(self, name: str) -> bool:
        """Whether the parameter was given at all (a file part counts)."""
        return name in self._values or name in self._uploads

    def integer(self, name: str) -> int | None:
        """The parameter as an integer, ``None`` when absent."""
        value = self._values.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            raise bad_request(f'field "{name}" must be an Integer')
        if isinstance(value, int):
            return value
        try:
            return int(str(value).strip())
        except ValueError:
            raise bad_request(f'field "{name}" must be an Integer') from None

    def required_integer(self, name: str, missing: str) -> int:
        """The parameter as an integer; ``missing`` is Telegram's wording when it is absent."""
        value = self.integer(name)
        if value is None:
            raise bad_request(missing)
        return value

    def text(self, name: str) -> str | None:
        """The parameter as a string (numbers given in JSON are turned into their text)."""
        value = self._values.get(name)
        if value is None:
            return None
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float | str):
            return str(value)
        raise bad_request(f'field "{name}" must be a String')

    def required_text(self, name: str, missing: str) -> str:
        """The parameter as a non-empty string; ``missing`` is Telegram's wording otherwise."""
        value = self.text(name)
        if not value:
            raise bad_request(missing)
        return value

    def boolean(self, name: str) -> bool:
        """The parameter as a boolean; absent means ``False`` as in the Bot API."""
        value = self._values.get(name)
        if value is None:
            return False
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("true", "1"):
            return True
        if text in ("false", "0", ""):
            return False
        raise bad_request(f'field "{name}" must be a Boolean')

    def json(self, name: str, *, what: str) -> Any:
        """A JSON-serialised object or array (given as JSON text or, in a JSON body, inline).

        ``what`` names the object in Telegram's error, e.g. ``reply keyboard markup``.
        """
        value = self._values.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                raise bad_request(f"can't parse {what} JSON object") from None
        if not isinstance(value, dict | list):
            raise bad_request(f"can't parse {what} JSON object")
        return value

    def file(self, name: str) -> Upload | str | None:
        """A file to send: an uploaded part (directly or via ``attach://``) or a file_id/URL."""
        if name in self._uploads:
            return self._uploads[name]
        value = self.text(name)
        if value is None:
            return None
        if value.startswith(_ATTACH_PREFIX):
            upload = self._uploads.get(value.removeprefix(_ATTACH_PREFIX))
            if upload is None:
                raise bad_request(f"can't find attached file \"{value}\"")
            return upload
        return value
