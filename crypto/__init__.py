"""Sanad's cryptography: a recipe layer over libsodium (see docs/crypto.md).

Use the functions exported here; nothing outside ``crypto/`` imports ``nacl`` or ``crypto._sodium``.
Every failure to open something is one :class:`OpenFailure`, whatever the cause.
"""

from crypto.body import (
    Answer,
    Attachment,
    AttachmentKind,
    MalformedBody,
    ReportBody,
    safe_file_name,
)
from crypto.envelope import SealedReport, open_report, seal_report
from crypto.errors import CryptoError, NotForThisKey, OpenFailure, UnsupportedVersion
from crypto.header import EnvelopeKind, new_report_id
from crypto.sealed_file import (
    MalformedSealedFile,
    OpenedFile,
    SealedFile,
    open_sealed_file,
    read_sealed_file,
    write_sealed_file,
)
from crypto.wraps import Wrap, rewrap

__all__ = [
    "Answer",
    "Attachment",
    "AttachmentKind",
    "CryptoError",
    "EnvelopeKind",
    "MalformedBody",
    "MalformedSealedFile",
    "NotForThisKey",
    "OpenFailure",
    "OpenedFile",
    "ReportBody",
    "SealedFile",
    "SealedReport",
    "UnsupportedVersion",
    "Wrap",
    "new_report_id",
    "open_report",
    "open_sealed_file",
    "read_sealed_file",
    "rewrap",
    "safe_file_name",
    "seal_report",
    "write_sealed_file",
]
