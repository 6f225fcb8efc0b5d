"""The canonical serialisation of a report, addendum or reply body (docs/crypto.md, "Report body").

A body is an ordered list of answers (field key, text) and a list of attachments (file name, media
type, kind, bytes, and since version 2 the record of the file the bot received before cleaning it,
:class:`~crypto.originals.OriginalFile`). :meth:`ReportBody.to_bytes` writes version 2 and gives
the same bytes for the same body; :meth:`ReportBody.from_bytes` accepts only those bytes back, and
version 1 bodies (reports sealed before original files were recorded: their attachments have no
``original``). Decoding happens after the envelope has been authenticated, so its errors may be
precise: they describe a bug or a hostile sender, not a guess an attacker can test.

Attachment file names come from reporters' phones and end up as file names on a caseworker's disk
(``sanad caseworker open --out DIR``), so only safe names are accepted on both sides;
:func:`safe_file_name` turns anything into one.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum

from crypto._reader import Reader
from crypto.errors import CryptoError
from crypto.originals import SHA256_BYTES, MalformedOriginal, OriginalFile, is_code, is_media_type

MAGIC = b"sbdy"
VERSION = 2
# Version 1 (no original files) is still read: reports sealed before version 2 stay readable.
READABLE_VERSIONS = frozenset({1, VERSION})

MAX_FILE_NAME_CHARS = 120
# Bounds on counts keep a hostile body from making a decoder build millions of objects.
MAX_ANSWERS = 1000
MAX_ATTACHMENTS = 100

# Windows refuses these as file names whatever their extension.
_RESERVED_NAMES = frozenset(
    ["con", "prn", "aux", "nul"] + [f"{p}{i}" for p in ("com", "lpt") for i in range(1, 10)]
)
_UNSAFE_NAME_CHARS = frozenset('/\\:*?"<>|')


class MalformedBody(CryptoError):
    """This report body is not in Sanad's format (or breaks one of its rules)."""


class AttachmentKind(Enum):
    """What an attachment is, as the reporter sent it; the code is its byte in the format."""

    PHOTO = 1
    DOCUMENT = 2
    VOICE = 3
    VIDEO = 4
    AUDIO = 5


def _name_problem(name: str) -> str | None:
    """Why ``name`` is not a safe file name to create inside a chosen folder, or None."""
    if not name or len(name) > MAX_FILE_NAME_CHARS:
        return "must have 1 to 120 characters"
    if name.startswith("."):
        return "must not start with a dot"
    if name.endswith((" ", ".")):
        return "must not end with a space or a dot"
    if any(c in _UNSAFE_NAME_CHARS or unicodedata.category(c).startswith("C") for c in name):
        return "must not contain path separators or control characters"
    if name.split(".", 1)[0].lower() in _RESERVED_NAMES:
        return "is a reserved device name"
    return None


def safe_file_name(raw: str, *, fallback: str) -> str:
    """A file name derived from ``raw`` that :class:`Attachment` accepts, or ``fallback``.

    Unsafe characters become ``_``, leading dots and trailing dots/spaces are dropped and the
    name is cut to length, keeping its extension. ``fallback`` (such as ``photo-1.jpg``) must
    itself be safe.
    """
    if _name_problem(fallback) is not None:
        raise ValueError("fallback file name is not safe")
    name = unicodedata.normalize("NFC", raw)
    name = "".join(
        "_" if c in _UNSAFE_NAME_CHARS or unicodedata.category(c).startswith("C") else c
        for c in name
    )
    name = name.lstrip(". ").rstrip(". ")
    if len(name) > MAX_FILE_NAME_CHARS:
        stem, dot, extension = name.rpartition(".")
        if dot and 0 < len(extension) <= 10 and stem:
            name = stem[: MAX_FILE_NAME_CHARS - len(extension) - 1].rstrip(". ") + "." + extension
        else:
            name = name[:MAX_FILE_NAME_CHARS].rstrip(". ")
    return fallback if _name_problem(name) is not None else name


@dataclass(frozen=True)
class Answer:
    """One answer of the guided conversation: a field key (``incident.type``) and its text.

    The text is report content: it is left out of ``repr`` so it cannot reach a log by accident.
    """

    key: str
    value: str = field(repr=False)

    def __post_init__(self) -> None:
        if not is_code(self.key):
            raise MalformedBody("an answer key must be 1 to 64 of a-z, 0-9, '_', '.', '-'")


@dataclass(frozen=True)
class Attachment:
    """An evidence file: its safe file name, media type, kind and content (left out of ``repr``),
    and ``original``, the record of the file before cleaning (None in version 1 bodies, and for
    files the bot did not clean)."""

    file_name: str
    media_type: str
    kind: AttachmentKind
    data: bytes = field(repr=False)
    original: OriginalFile | None = None

    def __post_init__(self) -> None:
        problem = _name_problem(self.file_name)
        if problem is not None:
            raise MalformedBody(f"an attachment file name {problem}")
        if not is_media_type(self.media_type):
            raise MalformedBody("an attachment media type must look like 'type/subtype'")


@dataclass(frozen=True)
class ReportBody:
    """The plaintext of a report, addendum or reply: answers in order, then attachments."""

    answers: tuple[Answer, ...] = ()
    attachments: tuple[Attachment, ...] = ()

    def __init__(
        self, answers: Sequence[Answer] = (), attachments: Sequence[Attachment] = ()
    ) -> None:
        object.__setattr__(self, "answers", tuple(answers))
        object.__setattr__(self, "attachments", tuple(attachments))
        if len(self.answers) > MAX_ANSWERS or len(self.attachments) > MAX_ATTACHMENTS:
            raise MalformedBody("a report body has too many answers or attachments")

    def answer(self, key: str) -> str | None:
        """The text of the first answer with ``key``, or None."""
        return next((a.value for a in self.answers if a.key == key), None)

    def to_bytes(self) -> bytes:
        """The canonical bytes (version 2): magic, version, then counted, length-prefixed fields."""
        out = bytearray(MAGIC)
        out.append(VERSION)
        out += len(self.answers).to_bytes(2, "big")
        for answer in self.answers:
            out += _text(answer.key, 1)
            out += _text(answer.value, 4)
        out += len(self.attachments).to_bytes(2, "big")
        for attachment in self.attachments:
            out.append(attachment.kind.value)
            out += _text(attachment.file_name, 2)
            out += _text(attachment.media_type, 1)
            out += len(attachment.data).to_bytes(4, "big") + attachment.data
            out += _original_bytes(attachment.original)
        return bytes(out)

    @classmethod
    def from_bytes(cls, data: bytes) -> ReportBody:
        """Parse :meth:`to_bytes` output, or a version 1 body; raises MalformedBody on anything
        else."""
        reader = Reader(data, MalformedBody, "the report body is truncated or has trailing bytes")
        if reader.take(len(MAGIC)) != MAGIC:
            raise MalformedBody("this is not a Sanad report body")
        version = reader.number(1)
        if version not in READABLE_VERSIONS:
            raise MalformedBody(f"report body version {version} is not supported")
        answers = [
            Answer(_read_text(reader, 1), _read_text(reader, 4))
            for _ in range(_count(reader, MAX_ANSWERS))
        ]
        attachments = []
        for _ in range(_count(reader, MAX_ATTACHMENTS)):
            code = reader.number(1)
            try:
                kind = AttachmentKind(code)
            except ValueError as exc:
                raise MalformedBody(f"unknown attachment kind {code}") from exc
            file_name, media_type = _read_text(reader, 2), _read_text(reader, 1)
            content = reader.take(reader.number(4))
            original = _read_original(reader) if version >= 2 else None
            attachments.append(Attachment(file_name, media_type, kind, content, original))
        reader.end()
        return cls(answers, attachments)


def _original_bytes(original: OriginalFile | None) -> bytes:
    """``0``, or ``1`` then the record of the original file (docs/crypto.md, "Original files")."""
    if original is None:
        return b"\x00"
    out = bytearray(b"\x01")
    out += original.sha256 + original.size.to_bytes(8, "big")
    out += _text(original.media_type, 1)
    out.append(len(original.changes))
    for code in original.changes:
        out += _text(code, 1)
    return bytes(out)


def _read_original(reader: Reader) -> OriginalFile | None:
    flag = reader.number(1)
    if flag == 0:
        return None
    if flag != 1:
        raise MalformedBody("an attachment's original-file flag must be 0 or 1")
    sha256, size = reader.take(SHA256_BYTES), reader.number(8)
    media_type = _read_text(reader, 1)
    changes = [_read_text(reader, 1) for _ in range(reader.number(1))]
    try:
        return OriginalFile(sha256, size, media_type, changes)
    except MalformedOriginal as exc:
        raise MalformedBody(str(exc)) from exc


def _text(value: str, prefix_bytes: int) -> bytes:
    raw = value.encode("utf-8")
    if len(raw) >= 1 << (8 * prefix_bytes):
        raise MalformedBody("a text field of the report body is too long")
    return len(raw).to_bytes(prefix_bytes, "big") + raw


def _count(reader: Reader, limit: int) -> int:
    value = reader.number(2)
    if value > limit:
        raise MalformedBody("a report body has too many answers or attachments")
    return value


def _read_text(reader: Reader, prefix_bytes: int) -> str:
    try:
        return reader.take(reader.number(prefix_bytes)).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedBody("a text field of the report body is not UTF-8") from exc
