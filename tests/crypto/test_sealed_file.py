"""Sealed report file (docs/crypto.md, "Sealed report file")."""

from __future__ import annotations

import pytest

from crypto.body import Answer, Attachment, AttachmentKind, ReportBody
from crypto.envelope import seal_report
from crypto.errors import NotForThisKey, OpenFailure, UnsupportedVersion
from crypto.header import EnvelopeKind, new_report_id
from crypto.keys import X25519PublicKey, X25519SecretKey
from crypto.sealed_file import (
    MAGIC,
    MalformedSealedFile,
    open_sealed_file,
    read_sealed_file,
    write_sealed_file,
)

CASEWORKER = X25519SecretKey(bytes(range(1, 33)))
OTHER = X25519SecretKey(bytes(range(33, 65)))
MAILBOX = X25519SecretKey(bytes(range(65, 97))).public_key
BODY = ReportBody(
    [Answer("what", "canary-sealed-file")],
    [Attachment("proof.pdf", "application/pdf", AttachmentKind.DOCUMENT, b"%PDF-1.7")],
)


def _file(
    reply_to: X25519PublicKey | None = MAILBOX, kind: EnvelopeKind = EnvelopeKind.ADDENDUM
) -> tuple[bytes, bytes]:
    report_id = new_report_id()
    sealed = seal_report(
        BODY.to_bytes(),
        report_id=report_id,
        sequence=2,
        kind=kind,
        recipients=[CASEWORKER.public_key, OTHER.public_key],
        reply_to=reply_to,
    )
    data = write_sealed_file(
        kind=kind,
        case_reference="K7Q-4M2P",
        report_id=report_id,
        sequence=2,
        reply_to=reply_to,
        wrap=sealed.wraps[0],
        body_sealed=sealed.body_sealed,
    )
    return data, report_id


@pytest.mark.parametrize("reply_to", [MAILBOX, None])
def test_open_sealed_file_returns_header_and_body(reply_to: X25519PublicKey | None) -> None:
    data, report_id = _file(reply_to)
    opened = open_sealed_file(data, CASEWORKER)
    assert (opened.kind, opened.case_reference, opened.report_id, opened.sequence) == (
        EnvelopeKind.ADDENDUM,
        "K7Q-4M2P",
        report_id,
        2,
    )
    assert opened.reply_to == reply_to
    assert opened.body == BODY


def test_read_sealed_file_parses_without_a_key() -> None:
    data, report_id = _file()
    parsed = read_sealed_file(data)
    assert parsed.wrap.key_id == CASEWORKER.public_key.key_id
    assert parsed.report_id == report_id
    assert data.startswith(MAGIC)
    assert b"canary" not in data


def test_open_sealed_file_says_not_for_this_key() -> None:
    data, _ = _file()
    with pytest.raises(NotForThisKey):
        open_sealed_file(data, OTHER)


def test_open_sealed_file_rejects_edited_reply_to_key() -> None:
    data, _ = _file()
    edited = data.replace(MAILBOX.raw, OTHER.public_key.raw)
    assert read_sealed_file(edited).reply_to == OTHER.public_key
    with pytest.raises(OpenFailure):
        open_sealed_file(edited, CASEWORKER)


@pytest.mark.parametrize("field", ["report_id", "sequence", "kind"])
def test_open_sealed_file_rejects_edited_header(field: str) -> None:
    data, _ = _file()
    edited = bytearray(data)
    offset = len(MAGIC) + 1 + 1 + 1 + len("K7Q-4M2P")
    if field == "report_id":
        edited[offset] ^= 1
    elif field == "sequence":
        edited[offset + 16 + 3] = 3
    else:
        edited[len(MAGIC) + 1] = EnvelopeKind.REPORT.value
    with pytest.raises(OpenFailure):
        open_sealed_file(bytes(edited), CASEWORKER)


def test_read_sealed_file_rejects_foreign_data() -> None:
    with pytest.raises(MalformedSealedFile, match="not a Sanad"):
        read_sealed_file(b"%PDF-1.7 not a report")


def test_read_sealed_file_refuses_unknown_version_by_name() -> None:
    data, _ = _file()
    with pytest.raises(UnsupportedVersion):
        read_sealed_file(MAGIC + b"\x02" + data[len(MAGIC) + 1 :])


@pytest.mark.parametrize("keep", [len(MAGIC) + 1, len(MAGIC) + 5, len(MAGIC) + 40, 110])
def test_read_sealed_file_rejects_truncated_header(keep: int) -> None:
    data, _ = _file()
    with pytest.raises(MalformedSealedFile, match="damaged"):
        read_sealed_file(data[:keep])


def test_open_sealed_file_rejects_truncated_body() -> None:
    data, _ = _file()
    with pytest.raises(OpenFailure):
        open_sealed_file(data[:-1], CASEWORKER)


def test_write_sealed_file_refuses_replies_and_bad_case_references() -> None:
    sealed = seal_report(
        b"",
        report_id=bytes(16),
        sequence=0,
        kind=EnvelopeKind.REPORT,
        recipients=[CASEWORKER.public_key],
    )
    common = {
        "report_id": bytes(16),
        "sequence": 0,
        "reply_to": None,
        "wrap": sealed.wraps[0],
        "body_sealed": sealed.body_sealed,
    }
    with pytest.raises(ValueError, match="report or an addendum"):
        write_sealed_file(kind=EnvelopeKind.REPLY, case_reference="K7Q-4M2P", **common)  # type: ignore[arg-type]
    with pytest.raises(MalformedSealedFile):
        write_sealed_file(kind=EnvelopeKind.REPORT, case_reference="../x", **common)  # type: ignore[arg-type]
