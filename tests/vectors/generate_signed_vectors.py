"""Generate tests/vectors/signed.json, the golden vectors of format v2's signed objects: caseworker
and bot certificates, enrolment claims and their confirmation codes, reply statements, reply
files and audit signatures (docs/crypto.md, "Test vectors").

Run from the repository root: ``python tests/vectors/generate_signed_vectors.py``. Keys, days and
nonces are fixed and Ed25519 is deterministic, so every signed object is reproducible and the
runner re-issues each ``ok`` case to the recorded bytes. The one random part is the sealed reply
inside the reply cases (``crypto_box_seal`` draws its own ephemeral key): the statements sign it
as opaque bytes, so re-running rewrites it; commit the result only when the format changes on
purpose.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

from crypto.audit_signature import sign_audit_entry
from crypto.bot_certificate import BotCertificate, issue_bot_certificate
from crypto.certificates import Certificate, issue_certificate, issue_revocation_list
from crypto.enrolment_claim import _issue_enrolment_claim_from_parts, confirmation_code
from crypto.keys import CaseworkerKeys, Ed25519SigningKey, X25519SecretKey
from crypto.mailbox_messages import (
    REPLY_FILE_MAGIC,
    REPLY_FILE_VERSION,
    ReplySigner,
    ReplyStatement,
    seal_reply,
    write_reply_file,
)

OUT = Path(__file__).with_name("signed.json")
ORG = Ed25519SigningKey(bytes(range(0x10, 0x30)))
OTHER_ORG = Ed25519SigningKey(bytes(range(0x30, 0x50)))
BOT = Ed25519SigningKey(bytes(range(0x50, 0x70)))
OTHER_BOT = Ed25519SigningKey(bytes(range(0x70, 0x90)))
CASEWORKER = CaseworkerKeys(
    X25519SecretKey(bytes(range(0x90, 0xB0))), Ed25519SigningKey(bytes(range(0xB0, 0xD0)))
)
MAILBOX = X25519SecretKey(bytes(range(0xD0, 0xF0))).public_key
TODAY = date(2026, 6, 1)
BOT_CERTIFICATE = BotCertificate(BOT.public_key, 3, date(2026, 5, 1), date(2026, 8, 1))
CERTIFICATE = Certificate(
    caseworker_id="cw-17",
    label="أمل (Beirut desk)",
    delivery_chat_id=-1001234567890,
    keys=CASEWORKER.public,
    serial=4,
    not_before=date(2026, 1, 1),
    expires=date(2027, 1, 1),
)
CHAT_ID = 424242
CLAIM_NONCE = bytes(range(0xF0, 0x100))
REPORT_ID = bytes.fromhex("5a4e4144207265706f72742069642031")
ENTRY_HASH = bytes(range(0x20, 0x40))


def _version(data: bytes, at: int, version: int) -> bytes:
    return data[:at] + bytes([version]) + data[at + 1 :]


def _moved(data: bytes, old: bytes, new: bytes) -> bytes:
    if data.count(old) != 1:
        raise AssertionError("the field to move must occur once")
    return data.replace(old, new)


def bot_certificates() -> list[dict[str, Any]]:
    ok = issue_bot_certificate(BOT_CERTIFICATE, ORG)
    revocations = issue_revocation_list(
        ORG, serial=2, key_ids=[BOT.public_key.key_id], issued=TODAY
    )
    base = {"type": "bot_certificate", "org_public": ORG.public_key.raw.hex(), "today": str(TODAY)}
    cases = [
        ("bot certificate", "ok", ok, {}),
        ("bot certificate expired", "expired", ok, {"today": "2026-08-01"}),
        ("bot certificate not yet valid", "not_yet_valid", ok, {"today": "2026-04-30"}),
        (
            "bot certificate from another organisation",
            "signed_by_another_key",
            issue_bot_certificate(BOT_CERTIFICATE, OTHER_ORG),
            {},
        ),
        (
            "bot certificate naming another bot key",
            "invalid_signature",
            _moved(ok, BOT.public_key.raw, OTHER_BOT.public_key.raw),
            {},
        ),
        ("bot certificate of format version 1", "bad_version", _version(ok, 4, 1), {}),
        ("revoked bot key", "revoked", ok, {"revocation_list": revocations.hex()}),
    ]
    return [
        {
            "name": name,
            **base,
            "expect": expect,
            "data": data.hex(),
            "bot_public": BOT.public_key.raw.hex(),
            "serial": BOT_CERTIFICATE.serial,
            "not_before": str(BOT_CERTIFICATE.not_before),
            "expires": str(BOT_CERTIFICATE.expires),
            "org_seed": ORG.seed.hex(),
            **extra,
        }
        for name, expect, data, extra in cases
    ]


def certificates() -> list[dict[str, Any]]:
    ok = issue_certificate(CERTIFICATE, ORG)
    chat = CERTIFICATE.delivery_chat_id.to_bytes(8, "big", signed=True)
    cases = [
        ("caseworker certificate with its chat", "ok", ok),
        (
            "caseworker certificate moved to another chat",
            "invalid_signature",
            _moved(ok, chat, (31337).to_bytes(8, "big", signed=True)),
        ),
        ("caseworker certificate of format version 1", "bad_version", _version(ok, 4, 1)),
    ]
    return [
        {
            "name": name,
            "type": "certificate",
            "expect": expect,
            "org_public": ORG.public_key.raw.hex(),
            "org_seed": ORG.seed.hex(),
            "today": str(TODAY),
            "caseworker_id": CERTIFICATE.caseworker_id,
            "label": CERTIFICATE.label,
            "delivery_chat_id": CERTIFICATE.delivery_chat_id,
            "encryption_key": CASEWORKER.public.encryption.raw.hex(),
            "signing_key": CASEWORKER.public.signing.raw.hex(),
            "serial": CERTIFICATE.serial,
            "not_before": str(CERTIFICATE.not_before),
            "expires": str(CERTIFICATE.expires),
            "data": data.hex(),
        }
        for name, expect, data in cases
    ]


def enrolment_claims() -> list[dict[str, Any]]:
    def claim(bot: Ed25519SigningKey) -> bytes:
        return _issue_enrolment_claim_from_parts(
            bot, CHAT_ID, CASEWORKER.public, nonce=CLAIM_NONCE, issued=TODAY
        )

    ok = claim(BOT)
    chat = CHAT_ID.to_bytes(8, "big", signed=True)
    cases = [
        ("enrolment claim and its code", "ok", ok),
        (
            "enrolment claim moved to another chat",
            "invalid_signature",
            _moved(ok, chat, (31337).to_bytes(8, "big", signed=True)),
        ),
        ("enrolment claim signed by another key", "signed_by_another_key", claim(OTHER_BOT)),
    ]
    return [
        {
            "name": name,
            "type": "enrolment_claim",
            "expect": expect,
            "bot_public": BOT.public_key.raw.hex(),
            "bot_seed": BOT.seed.hex(),
            "chat_id": CHAT_ID,
            "encryption_key": CASEWORKER.public.encryption.raw.hex(),
            "signing_key": CASEWORKER.public.signing.raw.hex(),
            "nonce": CLAIM_NONCE.hex(),
            "issued": str(TODAY),
            "code": confirmation_code(ok),
            "data": data.hex(),
        }
        for name, expect, data in cases
    ]


def replies() -> list[dict[str, Any]]:
    sealed = seal_reply(
        "We received your report — وصلنا بلاغك",
        report_id=REPORT_ID,
        sequence=1,
        mailbox_public=MAILBOX,
    )
    statement = ReplyStatement(
        signer=ReplySigner.BOT,
        case_reference="K7Q-4M2P",
        report_id=REPORT_ID,
        mailbox_key_id=MAILBOX.key_id,
        sequence=1,
        sealed_reply=sealed,
    )
    signature = statement.sign(BOT)
    altered = bytearray(sealed)
    altered[-1] ^= 0x01
    moves = [
        ("reply statement", "ok", statement),
        (
            "altered sealed reply",
            "invalid_signature",
            replace(statement, sealed_reply=bytes(altered)),
        ),
        (
            "reply moved to another mailbox",
            "invalid_signature",
            replace(statement, mailbox_key_id=bytes(16)),
        ),
        ("reply moved to another number", "invalid_signature", replace(statement, sequence=2)),
        (
            "reply moved to another case",
            "invalid_signature",
            replace(statement, case_reference="K7Q-4M2Q"),
        ),
    ]
    cases: list[dict[str, Any]] = [
        {
            "name": name,
            "type": "reply_statement",
            "expect": expect,
            "signer_seed": BOT.seed.hex(),
            "signer_public": BOT.public_key.raw.hex(),
            "statement": stored.to_bytes().hex(),
            "signature": signature.hex(),
        }
        for name, expect, stored in moves
    ]
    from_caseworker = replace(statement, signer=ReplySigner.CASEWORKER)
    reply_file = write_reply_file(from_caseworker, CASEWORKER.signing)
    encoded = statement.to_bytes()
    bot_in_file = b"".join(
        [
            REPLY_FILE_MAGIC,
            bytes([REPLY_FILE_VERSION]),
            len(encoded).to_bytes(4, "big"),
            encoded,
            signature,
        ]
    )
    altered_file = bytearray(reply_file)
    altered_file[-65] ^= 0x01  # the last byte of the sealed reply
    files = [
        ("reply file", "ok", reply_file),
        ("reply file with an altered sealed reply", "invalid_signature", bytes(altered_file)),
        ("bot statement in a reply file", "malformed", bot_in_file),
        (
            "reply file of format version 1",
            "bad_version",
            _version(reply_file, len(REPLY_FILE_MAGIC), 1),
        ),
    ]
    cases += [
        {
            "name": name,
            "type": "reply_file",
            "expect": expect,
            "signer_seed": CASEWORKER.signing.seed.hex(),
            "signer_public": CASEWORKER.public.signing.raw.hex(),
            "file": data.hex(),
        }
        for name, expect, data in files
    ]
    return cases


def audit_signatures() -> list[dict[str, Any]]:
    signature = sign_audit_entry(BOT, 7, ENTRY_HASH)
    return [
        {
            "name": name,
            "type": "audit_signature",
            "expect": expect,
            "bot_seed": BOT.seed.hex(),
            "bot_public": BOT.public_key.raw.hex(),
            "signed_position": 7,
            "position": position,
            "entry_hash": ENTRY_HASH.hex(),
            "signature": signature.hex(),
        }
        for name, expect, position in [
            ("audit signature", "ok", 7),
            ("audit entry moved to another position", "invalid_signature", 8),
        ]
    ]


def main() -> None:
    cases = [
        *bot_certificates(),
        *certificates(),
        *enrolment_claims(),
        *replies(),
        *audit_signatures(),
    ]
    document = {
        "source": "generated by tests/vectors/generate_signed_vectors.py; format v2 in "
        "docs/crypto.md",
        "cases": cases,
    }
    OUT.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
