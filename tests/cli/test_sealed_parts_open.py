"""``sanad caseworker open`` given the parts of a report too large for one Telegram upload, run
as a process (docs/crypto.md, "Parts of a sealed report file"; I9, I8).

Every part must be signed by the organisation's bot, and the parts must make exactly one file;
anything else is refused in one line, before anything is decrypted, printed or written.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.services.sealed_files import part_file_name
from crypto import split_sealed_file
from crypto.body import Answer, Attachment, AttachmentKind, ReportBody
from crypto.envelope import seal_report
from crypto.header import EnvelopeKind, new_report_id
from crypto.keyfile import MINIMUM, save_caseworker_key
from crypto.keys import CaseworkerKeys, Ed25519SigningKey, OrganisationKeys
from tests.support.signed_files import BotSigner

pytestmark = pytest.mark.slow

SANAD = Path(sys.executable).with_name("sanad")
PASSPHRASE = "a long enough test passphrase"
CASE = "K7Q-4M2P"
CANARY = "canary-parts-5c1e"
PART_SIZE = 4096


@dataclass(frozen=True)
class Desk:
    organisation: OrganisationKeys
    bot: BotSigner
    keys: CaseworkerKeys
    key_file: Path
    folder: Path

    def parts(self, name: str, bot: BotSigner | None = None) -> list[Path]:
        """A report with a 10 KB attachment sealed to this caseworker, cut into parts that
        ``bot`` (default: the organisation's) signed, written as the bot names them."""
        signer = bot or self.bot
        report_id = new_report_id()
        body = ReportBody(
            [Answer("incident.what", CANARY)],
            [Attachment("proof.bin", "application/octet-stream", AttachmentKind.DOCUMENT,
                        os.urandom(10_000))],
        )  # fmt: skip
        sealed = seal_report(
            body.to_bytes(),
            report_id=report_id,
            sequence=0,
            kind=EnvelopeKind.REPORT,
            recipients=[self.keys.public.encryption],
        )
        whole = signer.sealed_file(
            kind=EnvelopeKind.REPORT,
            case_reference=CASE,
            report_id=report_id,
            sequence=0,
            reply_to=None,
            wrap=sealed.wraps[0],
            body_sealed=sealed.body_sealed,
        )
        parts = split_sealed_file(
            whole,
            case_reference=CASE,
            report_id=report_id,
            sequence=0,
            part_size=PART_SIZE,
            bot_key=signer.key,
            bot_certificate=signer.certificate,
        )
        folder = self.folder / name
        folder.mkdir()
        paths = []
        for index, part in enumerate(parts):
            path = folder / part_file_name(CASE, 0, index, len(parts))
            path.write_bytes(part)
            paths.append(path)
        return paths


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


def open_parts(desk: Desk, files: list[Path], out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SANAD), "caseworker", "open", *map(str, files), "--key", str(desk.key_file),
         "--out", str(out)],
        capture_output=True,
        text=True,
        env={**os.environ, "SANAD_PASSPHRASE": PASSPHRASE},
        stdin=subprocess.DEVNULL,
        timeout=120,
        check=False,
    )  # fmt: skip


def assert_refused(result: subprocess.CompletedProcess[str], out: Path, *, says: str) -> None:
    """One line (and a hint) on stderr naming the refusal; nothing printed, nothing written."""
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert lines[0].startswith("sanad: "), result.stderr
    assert says in lines[0], result.stderr
    assert len(lines) <= 2
    assert all(line.startswith("hint: ") for line in lines[1:])
    assert result.stdout == ""
    assert CANARY not in result.stderr
    assert not out.exists()


def test_all_parts_in_any_order_open_as_the_report(desk: Desk, tmp_path: Path) -> None:
    parts = desk.parts("whole")
    assert len(parts) == 3
    out = tmp_path / "opened"
    result = open_parts(desk, parts[::-1], out)
    assert result.returncode == 0, result.stderr
    assert CANARY in result.stdout
    assert (out / "proof.bin").stat().st_size == 10_000
    # The joined file is kept under a whole file's name, for `caseworker reply --from`.
    joined = out / "case-K7Q4M2P-0.sanad"
    assert joined.read_bytes().startswith(b"SANAD-REPORT\n")
    assert joined.stat().st_mode & 0o777 == 0o600
    again = open_parts(desk, parts, out)
    assert "repeats K7Q-4M2P #0" in again.stdout


def test_a_part_given_twice_counts_once(desk: Desk, tmp_path: Path) -> None:
    parts = desk.parts("repeated")
    # What a browser saves when the same part is downloaded twice.
    copy = parts[0].with_name(parts[0].stem + " (1).sanad")
    copy.write_bytes(parts[0].read_bytes())
    result = open_parts(desk, [*parts, copy], tmp_path / "opened")
    assert result.returncode == 0, result.stderr
    assert CANARY in result.stdout


def test_a_missing_part_is_refused_naming_it(desk: Desk, tmp_path: Path) -> None:
    parts = desk.parts("missing")
    out = tmp_path / "opened"
    assert_refused(open_parts(desk, [parts[0], parts[2]], out), out, says="part 2 of 3 is missing")


def test_a_part_of_another_report_is_refused(desk: Desk, tmp_path: Path) -> None:
    parts, other = desk.parts("mine"), desk.parts("other")
    out = tmp_path / "opened"
    result = open_parts(desk, [parts[0], other[1], parts[2]], out)
    assert_refused(result, out, says="different files")


@pytest.mark.parametrize("forger", ["copied certificate", "other organisation"])
def test_a_forged_part_is_refused(desk: Desk, forger: str, tmp_path: Path) -> None:
    signers = {
        "copied certificate": BotSigner(Ed25519SigningKey.generate(), desk.bot.certificate),
        "other organisation": BotSigner.certified_by(OrganisationKeys.generate().signing),
    }
    parts, forged = desk.parts(f"real-{forger}"), desk.parts(forger, signers[forger])
    out = tmp_path / "opened"
    result = open_parts(desk, [parts[0], forged[1], parts[2]], out)
    assert_refused(result, out, says="refused: ")


def test_an_unsigned_part_is_refused(desk: Desk, tmp_path: Path) -> None:
    parts = desk.parts("unsigned")
    parts[1].write_bytes(parts[1].read_bytes()[:-64] + bytes(64))
    out = tmp_path / "opened"
    assert_refused(open_parts(desk, parts, out), out, says="signature does not match")


def test_parts_mixed_with_a_whole_file_are_refused(desk: Desk, tmp_path: Path) -> None:
    parts = desk.parts("mixed")
    whole = desk.folder / "not-a-part.sanad"
    whole.write_bytes(b"SANAD-REPORT\n\x02")
    out = tmp_path / "opened"
    assert_refused(open_parts(desk, [*parts, whole], out), out, says="the parts of one")
