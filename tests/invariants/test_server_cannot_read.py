"""I5: nothing the server holds can open a report it stores.

A deployment is set up the way ``sanad run`` sets it up (its configuration, its state directory
with the server secrets, its migrated SQLite database); a caseworker is enrolled and approved; a
report with a canary is submitted through the bot's own submission service. Then everything the
server holds — every file under the deployment's directory — is searched for any private key
that could open the report, and every 32-byte value the server keeps as a secret is tried as one.
The caseworker's and the recovery key, which live elsewhere, do open it: the check can tell.
"""

from __future__ import annotations

import base64
import datetime as dt
import secrets
from pathlib import Path

from sqlalchemy import select

from bot.bot_identity import certify_bot
from bot.config import parse_config
from bot.runtime import Runtime
from bot.services.caseworkers import approve, enroll
from bot.services.report_submission import ReportSubmissionService
from crypto import (
    EnvelopeKind,
    ReportBody,
    Wrap,
    encode_enrolment_code,
    open_report,
    parse_confirmation_code,
)
from crypto.keys import (
    ORG_SIGNING_PREFIX,
    CaseworkerKeys,
    Ed25519SigningKey,
    OrganisationKeys,
    X25519PublicKey,
    X25519SecretKey,
)
from handlers.draft import Draft
from storage.models import Mailbox
from storage.models import ReportBody as BodyRow
from storage.models import Wrap as WrapRow

TODAY = dt.datetime.now(dt.UTC).date()


def _config(directory: Path, org: OrganisationKeys) -> dict[str, object]:
    return {
        "telegram": {"token_env": "SANAD_TEST_TOKEN"},
        "database": {"url": f"sqlite+aiosqlite:///{directory / 'state' / 'sanad.sqlite3'}"},
        "server": {"state_dir": str(directory / "state")},
        "organisation": {
            "signing_public_key": org.signing.public_key.to_text(ORG_SIGNING_PREFIX),
            "recovery_public_key": org.recovery.public_key.to_text(),
        },
        "delivery": {"batch_interval_seconds": 60.0, "jitter_seconds": 1.0},
    }


def _files_under(directory: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in directory.rglob("*") if p.is_file()}


def _encodings(raw: bytes) -> list[bytes]:
    """The forms a key could be stored in: raw, hex, and base64 (standard or URL-safe)."""
    forms = [raw, raw.hex().encode(), raw.hex().upper().encode()]
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        forms.append(encode(raw).rstrip(b"="))
    return forms


def _windows(data: bytes, size: int = 32) -> set[bytes]:
    return {data[i : i + size] for i in range(max(len(data) - size + 1, 0))}


async def test_nothing_the_server_holds_opens_a_report(tmp_path: Path) -> None:
    org = OrganisationKeys.generate()
    caseworker = CaseworkerKeys.generate()
    config = parse_config(_config(tmp_path, org), base_dir=tmp_path)
    certify_bot(config.server.state_dir, org.signing)
    runtime = Runtime.open(config)
    await runtime.prepare()
    code = encode_enrolment_code("amina", caseworker.public)
    enrolment = await enroll(
        runtime.database, code=code, chat_id=4242, bot_key=runtime.bot.key, today=TODAY
    )
    await approve(
        runtime.database,
        who="amina",
        confirmation=parse_confirmation_code(enrolment.confirmation_code),
        signing_key=org.signing,
        org_public=org.signing.public_key,
        bot_public=runtime.bot.public_key,
        today=TODAY,
    )
    canary = f"canary-i5-{secrets.token_hex(6)}"
    draft = Draft(
        language="en",
        incident_type="blackmail",
        platform="instagram",
        what_happened=canary,
        wants_reply=True,
        advocacy_consent=False,
    )
    await ReportSubmissionService.from_runtime(runtime).submit(draft)
    async with runtime.database.sessionmaker() as session:
        body = (await session.scalars(select(BodyRow))).one()
        wraps = {w.recipient_key_id: w.wrap for w in await session.scalars(select(WrapRow))}
        mailbox = (await session.scalars(select(Mailbox))).one()
    await runtime.close()

    def opens(secret: X25519SecretKey) -> bool:
        key_id = secret.public_key.key_id
        if key_id not in wraps:
            return False  # no wrap names this key: it is nobody's recipient key
        plaintext = open_report(
            body.body_sealed,
            Wrap(key_id, wraps[key_id]),
            report_id=body.report_id,
            sequence=0,
            kind=EnvelopeKind.REPORT,
            secret_key=secret,
            reply_to=X25519PublicKey(mailbox.public_key),
        )
        answers = ReportBody.from_bytes(plaintext).answers
        return any(canary in answer.value for answer in answers)

    # The keys that live off the server open it: the checks below could see a leak.
    assert len(wraps) == 2, "sealed to the approved caseworker and the recovery key"
    assert opens(caseworker.encryption)
    assert opens(org.recovery)

    held = _files_under(tmp_path)
    assert any(p.name == "sanad.sqlite3" for p in held), "the database was searched"
    assert any("secrets" in p.parts for p in held), "the server secrets were searched"
    everything = b"".join(held.values())
    private_keys = {
        "recovery": org.recovery.raw,
        "organisation signing": org.signing.seed,
        "caseworker encryption": caseworker.encryption.raw,
        "caseworker signing": caseworker.signing.seed,
    }
    for name, raw in private_keys.items():
        for form in _encodings(raw):
            assert form not in everything, f"the {name} private key is on the server"

    # Every 32-byte value in the server's secret files, tried as a secret key of either kind.
    secret_files = [data for path, data in held.items() if "secrets" in path.parts]
    candidates = set().union(*(_windows(data) for data in secret_files))
    assert candidates, "there were server secrets to try"
    signing_publics = {org.signing.public_key, caseworker.public.signing}
    for candidate in candidates:
        assert not opens(X25519SecretKey(candidate))
        assert Ed25519SigningKey(candidate).public_key not in signing_publics
