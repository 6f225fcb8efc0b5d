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
from crypto.certificates import (
    Certificate,
    CertificateError,
    CertificateExpired,
    CertificateNotYetValid,
    CertificateRevoked,
    InvalidSignature,
    MalformedCertificate,
    RevocationList,
    RevocationListRollback,
    SignedByAnotherKey,
    UnsignedCertificate,
    issue_certificate,
    issue_revocation_list,
    verify_certificate,
    verify_revocation_list,
)
from crypto.envelope import SealedReport, open_report, seal_report
from crypto.errors import CryptoError, NotForThisKey, OpenFailure, UnsupportedVersion
from crypto.header import EnvelopeKind, new_report_id
from crypto.mailbox_messages import (
    MalformedReplyFile,
    ReplyFile,
    open_reply,
    seal_reply,
    sign_reply_file,
    verify_reply_file,
)
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
    "Certificate",
    "CertificateError",
    "CertificateExpired",
    "CertificateNotYetValid",
    "CertificateRevoked",
    "CryptoError",
    "EnvelopeKind",
    "InvalidSignature",
    "MalformedBody",
    "MalformedCertificate",
    "MalformedReplyFile",
    "MalformedSealedFile",
    "NotForThisKey",
    "OpenFailure",
    "OpenedFile",
    "ReplyFile",
    "ReportBody",
    "RevocationList",
    "RevocationListRollback",
    "SealedFile",
    "SealedReport",
    "SignedByAnotherKey",
    "UnsignedCertificate",
    "UnsupportedVersion",
    "Wrap",
    "issue_certificate",
    "issue_revocation_list",
    "new_report_id",
    "open_reply",
    "open_report",
    "open_sealed_file",
    "read_sealed_file",
    "rewrap",
    "safe_file_name",
    "seal_reply",
    "seal_report",
    "sign_reply_file",
    "verify_certificate",
    "verify_reply_file",
    "verify_revocation_list",
    "write_sealed_file",
]
