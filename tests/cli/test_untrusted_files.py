"""Forged sealed files against ``sanad caseworker open`` and ``reply``, run as processes (I9).

A sealed box is anonymous: anyone who knows a caseworker's public key (it travels in their
enrolment code) can make a file that opens with their key, and choose the reply-to key their
answer will be sealed to — an entrapment tool against the reporters. Each forgery here is made
from public data only and must be refused before anything is decrypted, printed or written.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from crypto import open_reply, read_reply_file
from crypto.body import Answer, Attachment, AttachmentKind, ReportBody
from crypto.envelope import seal_report
from crypto.header import EnvelopeKind, new_report_id
from crypto.keyfile import MINIMUM, save_caseworker_key, save_org_recovery_key
from crypto.keys import (
    ORG_SIGNING_PREFIX,
    CaseworkerKeys,
    Ed25519SigningKey,
    OrganisationKeys,
    X25519SecretKey,
)
from crypto.sealed_file import MAGIC
from tests.support.signed_files import TODAY, BotSigner

pytestmark = pytest.mark.slow

SANAD = Path(sys.executable).with_name("sanad")
PASSPHRASE = "a long enough test passphrase"
CASE = "K7Q-4M2P"
CANARY = "canary-untrusted-7d2e"
EVIDENCE = b"%PDF-1.7 evidence canary 91ab"


@dataclass(frozen=True)
class Desk:
    """A caseworker's key file pinning their organisation, and that organisation's bot."""

    organisation: OrganisationKeys
    bot: BotSigner
    keys: CaseworkerKeys
    key_file: Path
    folder: Path

    def sealed(
        self,
        name: str,
        bot: BotSigner,
        *,
        answers: list[Answer] | None = None,
        reply_to: X25519SecretKey | None = None,
    ) -> Path:
        """A report with an attachment, sealed to this caseworker, in a file signed by ``bot``."""
        report_id = new_report_id()
        mailbox = (reply_to or X25519SecretKey.generate()).public_key
        body = ReportBody(
            answers or [Answer("incident.what", CANARY)],
            [Attachment("evidence.pdf", "application/pdf", AttachmentKind.DOCUMENT, EVIDENCE)],
        )
        sealed = seal_report(
            body.to_bytes(),
            report_id=report_id,
            sequence=0,
            kind=EnvelopeKind.REPORT,
            recipients=[self.keys.public.encryption],
            reply_to=mailbox,
        )
        path = self.folder / name
        path.write_bytes(
            bot.sealed_file(
                kind=EnvelopeKind.REPORT,
                case_reference=CASE,
                report_id=report_id,
                sequence=0,
                reply_to=mailbox,
                wrap=sealed.wraps[0],
                body_sealed=sealed.body_sealed,
            )
        )
        return path


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Desk:
    folder = tmp_path_factory.mktemp("desk")
    organisation, keys = OrganisationKeys.generate(), CaseworkerKeys.generate()
    key_file = folder / "me.key"
    save_caseworker_key(
        key_file, keys, "Amira", PASSPHRASE, organisation=organisation.signing.public_key,
        kdf=MINIMUM,
    )  # fmt: skip
    return Desk(organisation, BotSigner.certified_by(organisation.signing), keys, key_file, folder)


def sanad(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SANAD), *map(str, args)],
        capture_output=True,
        text=True,
        env={**os.environ, "SANAD_PASSPHRASE": PASSPHRASE},
        stdin=subprocess.DEVNULL,
        timeout=120,
        check=False,
    )


def forgeries(desk: Desk) -> dict[str, BotSigner]:
    """Signers an attacker can be, from public data: keys of their own, a copied certificate."""
    attacker = Ed25519SigningKey.generate()
    return {
        # No certificate at all: the attacker's own key, vouched for by nobody.
        "uncertified key": BotSigner(attacker, b""),
        # The real bot certificate, copied from any delivered file, with the attacker's key.
        "copied certificate": BotSigner(attacker, desk.bot.certificate),
        # A complete chain, from an organisation key that is not the one the caseworker pinned.
        "other organisation": BotSigner.certified_by(OrganisationKeys.generate().signing),
    }


FORGERIES = ["uncertified key", "copied certificate", "other organisation"]


def open_into(desk: Desk, file: Path, out: Path) -> subprocess.CompletedProcess[str]:
    return sanad("caseworker", "open", file, "--key", desk.key_file, "--out", out)


def reply_to(desk: Desk, file: Path, out: Path) -> subprocess.CompletedProcess[str]:
    text = desk.folder / "reply.txt"
    text.write_text("We have your report; write to us on /status.")
    return sanad(
        "caseworker", "reply", CASE, "--key", desk.key_file, "--from", file,
        "--text-file", text, "--out", out,
    )  # fmt: skip


def assert_refused(result: subprocess.CompletedProcess[str], *, says: str) -> None:
    """One line (and a hint) on stderr naming the refusal; nothing at all on stdout."""
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert lines[0].startswith("sanad: "), result.stderr
    assert says in lines[0], result.stderr
    assert len(lines) <= 2
    assert all(line.startswith("hint: ") for line in lines[1:])
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert CANARY not in result.stderr


@pytest.mark.parametrize("forger", FORGERIES)
def test_open_refuses_a_file_forged_from_public_data(
    desk: Desk, forger: str, tmp_path: Path
) -> None:
    attacker_mailbox = X25519SecretKey.generate()
    forged = desk.sealed(
        f"forged-{forger}.sanad", forgeries(desk)[forger], reply_to=attacker_mailbox
    )
    out = tmp_path / "opened"
    result = open_into(desk, forged, out)
    assert_refused(result, says="refused: ")
    assert not out.exists()  # not even the folder: nothing of the file reached the disk


@pytest.mark.parametrize("forger", FORGERIES)
def test_reply_refuses_a_file_forged_from_public_data(
    desk: Desk, forger: str, tmp_path: Path
) -> None:
    # The attacker's aim: the caseworker's answer sealed to the attacker's mailbox key.
    attacker_mailbox = X25519SecretKey.generate()
    forged = desk.sealed(
        f"reply-{forger}.sanad", forgeries(desk)[forger], reply_to=attacker_mailbox
    )
    out = tmp_path / "reply.sanad"
    result = reply_to(desk, forged, out)
    assert_refused(result, says="refused: ")
    assert not out.exists()


def test_open_and_reply_refuse_an_expired_bot_certificate_naming_renewal(
    desk: Desk, tmp_path: Path
) -> None:
    expired = BotSigner.certified_by(
        desk.organisation.signing,
        not_before=TODAY - dt.timedelta(days=100),
        expires=TODAY - dt.timedelta(days=10),
    )
    file = desk.sealed("expired.sanad", expired)
    opened = open_into(desk, file, tmp_path / "opened")
    assert_refused(opened, says="expired")
    assert "sanad admin certify-bot" in opened.stderr.splitlines()[0]
    assert not (tmp_path / "opened").exists()
    replied = reply_to(desk, file, tmp_path / "reply.sanad")
    assert_refused(replied, says="renew")
    assert not (tmp_path / "reply.sanad").exists()


def test_a_file_from_the_organisations_bot_opens_and_gets_a_signed_reply(
    desk: Desk, tmp_path: Path
) -> None:
    mailbox = X25519SecretKey.generate()
    file = desk.sealed("genuine.sanad", desk.bot, reply_to=mailbox)
    out = tmp_path / "opened"
    opened = open_into(desk, file, out)
    assert opened.returncode == 0, opened.stderr
    assert f"incident.what: {CANARY}" in opened.stdout
    assert (out / "evidence.pdf").read_bytes() == EVIDENCE

    reply_file = tmp_path / "reply.sanad"
    replied = reply_to(desk, file, reply_file)
    assert replied.returncode == 0, replied.stderr
    statement = read_reply_file(reply_file.read_bytes()).verify(desk.keys.public.signing)
    # Sealed to the mailbox key of the verified file, and says so in what it signs.
    assert statement.mailbox_key_id == mailbox.public_key.key_id
    assert statement.case_reference == CASE
    text = open_reply(
        statement.sealed_reply,
        report_id=statement.report_id,
        sequence=statement.sequence,
        mailbox_secret=mailbox,
    )
    assert text == "We have your report; write to us on /status."


def test_open_refuses_an_organisation_key_other_than_the_pinned_one(
    desk: Desk, tmp_path: Path
) -> None:
    file = desk.sealed("pinned.sanad", desk.bot)
    other = OrganisationKeys.generate().signing.public_key.to_text(ORG_SIGNING_PREFIX)
    result = sanad("caseworker", "open", file, "--key", desk.key_file, "--org", other)
    assert_refused(result, says="--org is not the organisation key your key file pins")


def test_a_version_1_file_is_refused_naming_the_version(desk: Desk, tmp_path: Path) -> None:
    data = bytearray(desk.sealed("v2.sanad", desk.bot).read_bytes())
    data[len(MAGIC)] = 1
    old = tmp_path / "v1.sanad"
    old.write_bytes(bytes(data))
    result = sanad("caseworker", "open", old, "--key", desk.key_file)
    assert_refused(result, says="format version 1")


def test_a_version_1_key_file_is_refused_naming_the_version(desk: Desk, tmp_path: Path) -> None:
    file = desk.sealed("for-v1-key.sanad", desk.bot)
    data = bytearray(desk.key_file.read_bytes())
    data[len(b"SANADKEY")] = 1
    old_key = tmp_path / "v1.key"
    old_key.write_bytes(bytes(data))
    result = sanad("caseworker", "open", file, "--key", old_key)
    assert_refused(result, says="key file is format version 1")


def test_open_prints_no_control_or_direction_characters_from_the_file(
    desk: Desk, tmp_path: Path
) -> None:
    # Validly signed: the reporter typed this, and the bot delivers what it was given.
    hostile = [
        Answer("incident.what", "before\x1b[2J\x1b]0;owned\x07after\nsecond\u202eline\x9b31m"),
        Answer("incident.platform", "\u2066isolated\u2069 \u200fmarked\u061c\u202aend\x7f"),
    ]
    file = desk.sealed("hostile.sanad", desk.bot, answers=hostile)
    result = sanad("caseworker", "open", file, "--key", desk.key_file)
    assert result.returncode == 0, result.stderr
    for character in ("\x1b", "\x07", "\x9b", "\u202e", "\u2066", "\u2069", "\u200f", "\u061c"):
        assert character not in result.stdout
    assert "incident.what: before[2J]0;ownedafter" in result.stdout
    assert "    secondline31m" in result.stdout  # the second line, indented, still inert
    assert "incident.platform: isolated markedend" in result.stdout


def test_reply_refuses_a_key_file_that_is_not_a_caseworkers(desk: Desk, tmp_path: Path) -> None:
    recovery = tmp_path / "org-recovery.key"
    save_org_recovery_key(
        recovery, desk.organisation.recovery, "organisation", PASSPHRASE, kdf=MINIMUM
    )
    file = desk.sealed("for-recovery.sanad", desk.bot)
    out = tmp_path / "reply.sanad"
    result = sanad("caseworker", "reply", CASE, "--key", recovery, "--from", file, "--out", out)
    assert_refused(result, says="replies are signed with a caseworker key file")
    assert not out.exists()
