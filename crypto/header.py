"""The fixed header that binds a sealed body and its wraps to one place (docs/crypto.md,
"Report envelope").

``magic || version || kind || report id || sequence`` is what an opener rebuilds from what it
asked for (never from the stored blob) and feeds to the AEAD as associated data and into every
wrap, so that a body or wrap moved to another report, replayed as another addendum, relabelled as
another kind or downgraded to another version fails to open.
"""

from __future__ import annotations

from enum import Enum

from crypto import _sodium

MAGIC = b"senv"
VERSION = 1
REPORT_ID_BYTES = 16
_MAX_SEQUENCE = 2**32 - 1


class EnvelopeKind(Enum):
    """What a sealed body is; the value is its byte in the header."""

    REPORT = 1
    ADDENDUM = 2
    REPLY = 3


def new_report_id() -> bytes:
    """A fresh 16-byte random report id (unlinkable to the reporter, the time or other reports)."""
    return _sodium.random_bytes(REPORT_ID_BYTES)


def check_binding(report_id: bytes, sequence: int) -> None:
    """Reject a report id or sequence number that cannot be encoded (a caller's bug)."""
    if len(report_id) != REPORT_ID_BYTES:
        raise ValueError("a report id is 16 bytes")
    if not 0 <= sequence <= _MAX_SEQUENCE:
        raise ValueError("a sequence number is an unsigned 32-bit integer")


def header(kind: EnvelopeKind, report_id: bytes, sequence: int) -> bytes:
    """The 26-byte header for this kind, report and sequence number, at the current version."""
    check_binding(report_id, sequence)
    return MAGIC + bytes([VERSION, kind.value]) + report_id + sequence.to_bytes(4, "big")
