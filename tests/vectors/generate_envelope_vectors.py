"""Generate tests/vectors/envelope.json, the golden vectors of Sanad's report envelope and sealed
report file (docs/crypto.md, "Test vectors").

Run from the repository root: ``python tests/vectors/generate_envelope_vectors.py``. Keys, data
keys and nonces are fixed, so each ``body_sealed`` is reproducible and the runner re-derives it.
``crypto_box_seal`` draws its own ephemeral key, so wraps differ on every run: the runner checks
that the recorded wraps open with the fixed secret key. Re-running therefore rewrites the wraps;
commit the result only when the format changes on purpose. Sealed files are signed by a fixed bot
key certified by a fixed organisation key (Ed25519 is deterministic): the runner re-signs each
``ok`` file and compares.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

from crypto.body import Answer, Attachment, AttachmentKind, ReportBody
from crypto.bot_certificate import BotCertificate, issue_bot_certificate
from crypto.envelope import _seal_report_from_parts
from crypto.header import EnvelopeKind
from crypto.keys import Ed25519SigningKey, X25519SecretKey
from crypto.sealed_file import write_sealed_file
from crypto.wraps import Wrap

OUT = Path(__file__).with_name("envelope.json")
ORG = Ed25519SigningKey(bytes(range(0x10, 0x30)))
OTHER_ORG = Ed25519SigningKey(bytes(range(0x30, 0x50)))
BOT = Ed25519SigningKey(bytes(range(0x50, 0x70)))
OTHER_BOT = Ed25519SigningKey(bytes(range(0x70, 0x90)))
TODAY = date(2026, 6, 1)
RECIPIENT = X25519SecretKey(bytes(range(0x40, 0x60)))
OTHER = X25519SecretKey(bytes(range(0x60, 0x80)))
MAILBOX = X25519SecretKey(bytes(range(0x80, 0xA0))).public_key
REPORT_ID = bytes.fromhex("5a4e4144207265706f72742069642031")
OTHER_REPORT_ID = bytes.fromhex("5a4e4144207265706f72742069642032")
DEK = bytes(range(0xA0, 0xC0))
NONCE = bytes(range(0xC0, 0xD8))
BODY = ReportBody(
    [Answer("incident.type", "entrapment"), Answer("what", "vector canary ١٢٣")],
    [Attachment("chat.png", "image/png", AttachmentKind.PHOTO, b"\x89PNG\r\n\x1a\n")],
).to_bytes()


def _case(
    name: str,
    expect: str,
    *,
    body: bytes = BODY,
    kind: EnvelopeKind = EnvelopeKind.REPORT,
    sequence: int = 0,
    reply_to: bool = True,
    mutate_body: int | None = None,
    open_as: dict[str, Any] | None = None,
) -> dict[str, Any]:
    sealed = _seal_report_from_parts(
        body,
        report_id=REPORT_ID,
        sequence=sequence,
        kind=kind,
        recipients=[RECIPIENT.public_key],
        reply_to=MAILBOX if reply_to else None,
        dek=DEK,
        nonce=NONCE,
    )
    body_sealed = bytearray(sealed.body_sealed)
    if mutate_body is not None:
        body_sealed[mutate_body] ^= 0x01
    return {
        "name": name,
        "type": "envelope",
        "expect": expect,
        "kind": kind.name.lower(),
        "report_id": REPORT_ID.hex(),
        "sequence": sequence,
        "reply_to": MAILBOX.raw.hex() if reply_to else None,
        "recipient_secret": RECIPIENT.raw.hex(),
        "dek": DEK.hex(),
        "nonce": NONCE.hex(),
        "body": body.hex(),
        "key_id": sealed.wraps[0].key_id.hex(),
        "wrap": sealed.wraps[0].wrap.hex(),
        "body_sealed": bytes(body_sealed).hex(),
        "open_as": open_as or {},
    }


def _bot_certificate(
    bot: Ed25519SigningKey = BOT,
    org: Ed25519SigningKey = ORG,
    expires: date = date(2026, 8, 1),
) -> bytes:
    return issue_bot_certificate(BotCertificate(bot.public_key, 3, date(2026, 5, 1), expires), org)


def _file_case(
    name: str,
    expect: str,
    *,
    version: int = 2,
    bot: Ed25519SigningKey = BOT,
    certificate: bytes | None = None,
    unsigned: bool = False,
    flip: int | None = None,
) -> dict[str, Any]:
    envelope = _case(name, expect, kind=EnvelopeKind.ADDENDUM, sequence=1)
    data = write_sealed_file(
        kind=EnvelopeKind.ADDENDUM,
        case_reference="K7Q-4M2P",
        report_id=REPORT_ID,
        sequence=1,
        reply_to=MAILBOX,
        wrap=_wrap(envelope),
        body_sealed=bytes.fromhex(envelope["body_sealed"]),
        bot_key=bot,
        bot_certificate=_bot_certificate() if certificate is None else certificate,
    )
    data = data[:13] + bytes([version]) + data[14:]
    if unsigned:
        data = data[:-64] + bytes(64)
    if flip is not None:
        edited = bytearray(data)
        edited[flip] ^= 0x01
        data = bytes(edited)
    return {
        "name": name,
        "type": "sealed_file",
        "expect": expect,
        "recipient_secret": RECIPIENT.raw.hex(),
        "org_public": ORG.public_key.raw.hex(),
        "bot_seed": BOT.seed.hex(),
        "today": str(TODAY),
        "case_reference": "K7Q-4M2P",
        "body": BODY.hex(),
        "file": data.hex(),
    }


def _wrap(case: dict[str, Any]) -> Wrap:
    return Wrap(bytes.fromhex(case["key_id"]), bytes.fromhex(case["wrap"]))


def main() -> None:
    cases = [
        _case("report", "ok"),
        _case(
            "addendum without reply-to key",
            "ok",
            kind=EnvelopeKind.ADDENDUM,
            sequence=7,
            reply_to=False,
        ),
        _case("empty reply", "ok", body=b"", kind=EnvelopeKind.REPLY, sequence=1, reply_to=False),
        _case(
            "moved to another report", "open_failure", open_as={"report_id": OTHER_REPORT_ID.hex()}
        ),
        _case(
            "replayed under another sequence",
            "open_failure",
            kind=EnvelopeKind.ADDENDUM,
            sequence=1,
            open_as={"sequence": 2},
        ),
        _case("kind changed", "open_failure", open_as={"kind": "addendum"}),
        _case("reply-to key changed", "open_failure", open_as={"reply_to": None}),
        _case("flipped tag bit", "open_failure", mutate_body=-1),
        _case("flipped nonce bit", "open_failure", mutate_body=10),
        _case("unknown version", "bad_version", mutate_body=4),
        _case(
            "another recipient's key",
            "not_for_this_key",
            open_as={"recipient_secret": OTHER.raw.hex()},
        ),
        _file_case("sealed addendum file", "ok"),
        _file_case("unsigned sealed file", "untrusted", unsigned=True),
        _file_case("sealed file signed by another bot key", "untrusted", bot=OTHER_BOT),
        _file_case(
            "sealed file with a bot certificate from another organisation",
            "untrusted",
            bot=OTHER_BOT,
            certificate=_bot_certificate(OTHER_BOT, OTHER_ORG),
        ),
        _file_case(
            "sealed file with an expired bot certificate",
            "untrusted",
            certificate=_bot_certificate(expires=TODAY),
        ),
        _file_case("sealed file with a flipped byte in the signed part", "untrusted", flip=30),
        _file_case("sealed file of format version 1", "bad_version", version=1),
    ]
    document = {
        "source": "generated by tests/vectors/generate_envelope_vectors.py; format in "
        "docs/crypto.md",
        "cases": cases,
    }
    OUT.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
