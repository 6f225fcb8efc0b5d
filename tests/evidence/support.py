"""A caseworker's computer for the evidence tests: an organisation, its certified bot, key files
with the cheapest Argon2id settings, and sealed files as the bot delivers them; and a reporter
sending one photo through the real bot."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from crypto import Certificate, EnvelopeKind, Wrap, issue_certificate
from crypto.body import ReportBody
from crypto.envelope import seal_report
from crypto.header import new_report_id
from crypto.keyfile import MINIMUM, save_caseworker_key
from crypto.keys import CaseworkerKeys, OrganisationKeys, X25519PublicKey
from tests.cli.test_key_commands import PASSPHRASE
from tests.handlers.conftest import Reporter, answer_to_narrative, begin
from tests.support.signed_files import BotSigner

TODAY = dt.datetime.now(dt.UTC).date()


@dataclass(frozen=True)
class Caseworker:
    label: str
    keys: CaseworkerKeys
    key_file: Path
    certificate: Path


@dataclass(frozen=True)
class Organisation:
    keys: OrganisationKeys
    bot: BotSigner

    @classmethod
    def generate(cls) -> Organisation:
        keys = OrganisationKeys.generate()
        return cls(keys, BotSigner.certified_by(keys.signing))

    def caseworker(
        self, folder: Path, label: str, keys: CaseworkerKeys | None = None
    ) -> Caseworker:
        """A caseworker key file pinning this organisation, and their certificate file."""
        keys = keys or CaseworkerKeys.generate()
        folder.mkdir(parents=True, exist_ok=True)
        key_file = folder / f"{label}.key"
        save_caseworker_key(
            key_file, keys, label, PASSPHRASE, organisation=self.keys.signing.public_key,
            kdf=MINIMUM,
        )  # fmt: skip
        certificate = folder / f"{label}.certificate"
        certificate.write_bytes(
            issue_certificate(
                Certificate(
                    label.lower(),
                    label,
                    42,
                    keys.public,
                    1,
                    TODAY - dt.timedelta(days=1),
                    TODAY + dt.timedelta(days=365),
                ),
                self.keys.signing,
            )
        )
        return Caseworker(label, keys, key_file, certificate)

    def deliver(
        self,
        body: ReportBody,
        case_reference: str,
        recipient: X25519PublicKey,
        *,
        report_id: bytes | None = None,
        reply_to: X25519PublicKey | None = None,
        sealed: tuple[bytes, Wrap] | None = None,
    ) -> bytes:
        """The sealed report file the bot would send ``recipient`` (or of an already sealed
        body and its wrap, as a deployment stored them)."""
        report_id = report_id or new_report_id()
        if sealed is None:
            made = seal_report(
                body.to_bytes(),
                report_id=report_id,
                sequence=0,
                kind=EnvelopeKind.REPORT,
                recipients=[recipient],
                reply_to=reply_to,
            )
            sealed = (made.body_sealed, made.wraps[0])
        body_sealed, wrap = sealed
        return self.bot.sealed_file(
            kind=EnvelopeKind.REPORT, case_reference=case_reference, report_id=report_id,
            sequence=0, reply_to=reply_to, wrap=wrap, body_sealed=body_sealed,
        )  # fmt: skip


async def send_report_with(reporter: Reporter, photo: bytes) -> None:
    """A short report whose one evidence file is ``photo``, sent as a photo, then submitted."""
    chat = reporter.chat
    await begin(reporter)
    await answer_to_narrative(reporter)
    await reporter.say("They sent this photo around.", until=lambda m: bool(m.buttons))
    await reporter.press("Skip")  # links
    await chat.send_photo(photo)
    added = reporter._("File added. Files added so far: {count}.").format(count=1)
    await chat.wait_for(lambda m: (m.text or "").startswith(added))
    await reporter.press("Done")
    await reporter.press("I reported it and they removed it")
    await reporter.press("No reply needed")
    await reporter.press("No")
    await reporter.press("Submit")
