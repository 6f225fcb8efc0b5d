"""``sanad org init``, ``sanad caseworker init`` and ``sanad caseworker open``, run as processes.

The key files are made by the real commands with the real Argon2id settings (a few seconds), once
per module; a report is sealed through the library to the caseworker and the recovery key, and
written as sealed files, which the command then opens.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from crypto.body import Answer, Attachment, AttachmentKind, ReportBody
from crypto.enrolment import decode_enrolment_code
from crypto.envelope import seal_report
from crypto.fingerprint import caseworker_fingerprint, organisation_signing_fingerprint
from crypto.header import EnvelopeKind, new_report_id
from crypto.keyfile import (
    MINIMUM,
    KeyKind,
    read_key_file_header,
    save_caseworker_key,
    save_org_recovery_key,
)
from crypto.keys import (
    ORG_SIGNING_PREFIX,
    CaseworkerKeys,
    CaseworkerPublicKeys,
    Ed25519PublicKey,
    OrganisationKeys,
    X25519PublicKey,
)
from desk.evidence.custody import (
    OPENED_WITH_RECOVERY_KEY,
    RECOVERY_LOG_NAME,
    CustodyLog,
    UnverifiedCustodyLog,
)
from tests.support.signed_files import BotSigner

pytestmark = pytest.mark.slow

SANAD = Path(sys.executable).with_name("sanad")
PASSPHRASE = "a long enough test passphrase"
CASE = "K7Q-4M2P"
ANSWERS = [
    ("incident.type", "outing"),
    ("incident.platform", "Instagram"),
    ("incident.what", "حساب مزيف نشر صوري\nsecond line of the account"),
]
EVIDENCE = b"%PDF-1.7 evidence canary 5f1c"


def sanad(
    *args: str | Path, passphrase: str | None = PASSPHRASE
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "SANAD_PASSPHRASE"}
    if passphrase is not None:
        env["SANAD_PASSPHRASE"] = passphrase
    return subprocess.run(
        [str(SANAD), *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=120,
        check=False,
    )


def assert_one_line_failure(result: subprocess.CompletedProcess[str], message: str) -> None:
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert lines[0] == f"sanad: {message}"
    assert len(lines) <= 2  # the message and at most one hint line
    assert all(line.startswith("hint: ") for line in lines[1:])
    assert "Traceback" not in result.stderr


@dataclass(frozen=True)
class Org:
    folder: Path
    stdout: str

    @property
    def recovery_key(self) -> Path:
        return self.folder / "org-recovery.key"


@dataclass(frozen=True)
class Caseworker:
    key: Path
    stdout: str


@dataclass(frozen=True)
class Trust:
    """The organisation the caseworker pins, and a bot key it certified to sign their files."""

    organisation: OrganisationKeys
    bot: BotSigner

    @property
    def org_text(self) -> str:
        """The ``--org`` value the admin hands the caseworker."""
        return self.organisation.signing.public_key.to_text(ORG_SIGNING_PREFIX)


@pytest.fixture(scope="module")
def trust() -> Trust:
    organisation = OrganisationKeys.generate()
    return Trust(organisation, BotSigner.certified_by(organisation.signing))


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> Org:
    folder = tmp_path_factory.mktemp("admin") / "org"
    result = sanad("org", "init", "--out", folder)
    assert result.returncode == 0, result.stderr
    return Org(folder, result.stdout)


@pytest.fixture(scope="module")
def caseworker(tmp_path_factory: pytest.TempPathFactory, trust: Trust) -> Caseworker:
    # A folder that does not exist yet: `init` makes it, private.
    key = tmp_path_factory.mktemp("caseworker") / "keys" / "amira.key"
    result = sanad("caseworker", "init", "--key", key, "--name", "Amira", "--org", trust.org_text)
    assert result.returncode == 0, result.stderr
    return Caseworker(key, result.stdout)


@pytest.fixture(scope="module")
def recovery_key(tmp_path_factory: pytest.TempPathFactory, trust: Trust) -> Path:
    """The recovery key file of the organisation the caseworker pins (cheap Argon2id)."""
    path = tmp_path_factory.mktemp("recovery") / "org-recovery.key"
    save_org_recovery_key(
        path, trust.organisation.recovery, "organisation", PASSPHRASE, kdf=MINIMUM
    )
    return path


def _seal(folder: Path, recipients: list[X25519PublicKey], bot: BotSigner) -> list[Path]:
    """A report sealed to ``recipients``, as one file per recipient's wrap, signed by ``bot``."""
    body = ReportBody(
        [Answer(k, v) for k, v in ANSWERS],
        [Attachment("screenshot.pdf", "application/pdf", AttachmentKind.DOCUMENT, EVIDENCE)],
    )
    report_id = new_report_id()
    sealed = seal_report(
        body.to_bytes(),
        report_id=report_id,
        sequence=0,
        kind=EnvelopeKind.REPORT,
        recipients=recipients,
    )
    paths = []
    for number, wrap in enumerate(sealed.wraps):
        path = folder / f"{CASE}-{number}.sanad"
        path.write_bytes(
            bot.sealed_file(
                kind=EnvelopeKind.REPORT,
                case_reference=CASE,
                report_id=report_id,
                sequence=0,
                reply_to=None,
                wrap=wrap,
                body_sealed=sealed.body_sealed,
            )
        )
        paths.append(path)
    return paths


def _encryption_key(key_file: Path) -> X25519PublicKey:
    public = read_key_file_header(key_file).encryption_key
    assert public is not None
    return public


@pytest.fixture(scope="module")
def sealed_files(
    tmp_path_factory: pytest.TempPathFactory,
    trust: Trust,
    caseworker: Caseworker,
    recovery_key: Path,
) -> dict[str, Path]:
    """One sealed file for the caseworker's wrap and one for the recovery key's wrap."""
    recipients = [_encryption_key(caseworker.key), _encryption_key(recovery_key)]
    mine, recovery = _seal(tmp_path_factory.mktemp("inbox"), recipients, trust.bot)
    return {"caseworker": mine, "recovery": recovery}


@dataclass(frozen=True)
class Light:
    """A caseworker key file with the minimum Argon2id settings, and a file sealed to it."""

    key: Path
    sealed: Path


@pytest.fixture(scope="module")
def light(tmp_path_factory: pytest.TempPathFactory, trust: Trust) -> Light:
    # For the failure paths, which need many derivations but not the real cost.
    folder = tmp_path_factory.mktemp("light")
    key = folder / "light.key"
    save_caseworker_key(
        key,
        CaseworkerKeys.generate(),
        "Light",
        PASSPHRASE,
        organisation=trust.organisation.signing.public_key,
        kdf=MINIMUM,
    )
    (sealed,) = _seal(folder, [_encryption_key(key)], trust.bot)
    return Light(key, sealed)


def _assert_report_printed(stdout: str) -> None:
    assert f"Case: {CASE}" in stdout
    for key, value in ANSWERS:
        first, *rest = value.splitlines()
        assert f"{key}: {first}" in stdout
        for line in rest:
            assert f"    {line}" in stdout


def test_org_init_writes_private_files_and_ends_with_the_configuration_lines(org: Org) -> None:
    signing = read_key_file_header(org.folder / "org-signing.key")
    recovery = read_key_file_header(org.recovery_key)
    assert (signing.kind, recovery.kind) == (KeyKind.ORG_SIGNING, KeyKind.ORG_RECOVERY)
    for path in (org.folder / "org-signing.key", org.recovery_key):
        assert path.stat().st_mode & 0o777 == 0o600
    *_, signing_line, recovery_line = org.stdout.splitlines()
    assert signing_line.startswith('signing_public_key = "')
    assert recovery_line.startswith('recovery_public_key = "')
    signing_text = signing_line.split('"')[1]
    recovery_text = recovery_line.split('"')[1]
    assert Ed25519PublicKey.from_text(signing_text, prefix=ORG_SIGNING_PREFIX).raw == (
        signing.public_keys
    )
    assert X25519PublicKey.from_text(recovery_text).raw == recovery.public_keys
    # The line the admin reads aloud at an enrolment meeting; `caseworker init --org` prints it.
    signing_public = Ed25519PublicKey(signing.public_keys)
    assert f"Organisation fingerprint: {organisation_signing_fingerprint(signing_public)}" in (
        org.stdout.splitlines()
    )


def test_caseworker_init_prints_a_matching_enrolment_code_and_fingerprint(
    caseworker: Caseworker, trust: Trust
) -> None:
    header = read_key_file_header(caseworker.key)
    assert header.kind is KeyKind.CASEWORKER
    assert caseworker.key.stat().st_mode & 0o777 == 0o600
    assert caseworker.key.parent.stat().st_mode & 0o777 == 0o700
    # The key file pins the organisation key given with --org, and prints its fingerprint.
    organisation = trust.organisation.signing.public_key
    assert header.organisation == organisation
    assert f"Organisation fingerprint: {organisation_signing_fingerprint(organisation)}" in (
        caseworker.stdout.splitlines()
    )
    lines = caseworker.stdout.splitlines()
    code = next(line for line in lines if line.startswith("Enrolment code: "))
    fingerprint = next(line for line in lines if line.startswith("Fingerprint: "))
    label, public = decode_enrolment_code(code.removeprefix("Enrolment code: "))
    assert label == "Amira"
    assert public.encryption.raw + public.signing.raw == header.public_keys
    assert fingerprint.removeprefix("Fingerprint: ") == caseworker_fingerprint(
        CaseworkerPublicKeys(public.encryption, public.signing)
    )


def test_open_prints_the_report_and_saves_attachments_privately(
    caseworker: Caseworker, sealed_files: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "case"
    phrase_file = tmp_path / "phrase"
    phrase_file.write_text(PASSPHRASE + "\n")
    result = sanad(
        "caseworker", "open", sealed_files["caseworker"], "--key", caseworker.key,
        "--out", out, "--passphrase-file", phrase_file, passphrase=None,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    _assert_report_printed(result.stdout)
    saved = out / "screenshot.pdf"
    assert saved.read_bytes() == EVIDENCE
    assert out.stat().st_mode & 0o777 == 0o700
    assert saved.stat().st_mode & 0o777 == 0o600


def test_open_with_the_recovery_key_names_the_organisation_key(
    trust: Trust, recovery_key: Path, sealed_files: dict[str, Path]
) -> None:
    # The recovery key file pins no organisation key: its holder names it with --org.
    result = sanad(
        "caseworker", "open", sealed_files["recovery"], "--key", recovery_key,
        "--org", trust.org_text,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    _assert_report_printed(result.stdout)


def test_an_open_with_the_recovery_key_is_recorded_in_a_custody_log_beside_it(
    trust: Trust, recovery_key: Path, sealed_files: dict[str, Path]
) -> None:
    # Its own log, as a caseworker's: when the recovery key was used, on which case, nothing else.
    log = CustodyLog.beside_recovery_key(recovery_key, trust.organisation.recovery)
    path = recovery_key.parent / RECOVERY_LOG_NAME
    before = log.events(CASE)
    started = dt.datetime.now(dt.UTC).replace(microsecond=0)
    result = sanad(
        "caseworker", "open", sealed_files["recovery"], "--key", recovery_key,
        "--org", trust.org_text,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    added = log.events(CASE)[len(before) :]
    assert [event.event for event in added] == [OPENED_WITH_RECOVERY_KEY]
    assert "recovery key" in added[0].event
    assert started <= added[0].at <= dt.datetime.now(dt.UTC)
    assert path.stat().st_mode & 0o777 == 0o600
    content = path.read_bytes()
    assert CASE.encode() not in content
    assert b"recovery" not in content
    # Sealed to the recovery key and signed with a key only its holder has: other keys find a
    # log they cannot verify.
    with pytest.raises(UnverifiedCustodyLog):
        CustodyLog(path, CaseworkerKeys.generate()).events()


def test_a_recovery_key_whose_folder_cannot_be_written_still_opens_and_says_so(
    trust: Trust, recovery_key: Path, sealed_files: dict[str, Path], tmp_path: Path
) -> None:
    # As on a read-only stick (which tests run as root cannot make): the log cannot be created.
    key = tmp_path / "org-recovery.key"
    shutil.copy2(recovery_key, key)
    log = tmp_path / RECOVERY_LOG_NAME
    log.symlink_to(tmp_path / "no-such-folder" / RECOVERY_LOG_NAME)
    result = sanad(
        "caseworker", "open", sealed_files["recovery"], "--key", key, "--org", trust.org_text
    )
    assert result.returncode == 0, result.stderr
    _assert_report_printed(result.stdout)
    assert result.stderr.splitlines() == [
        f"warning: the custody log {log} could not be written (no such file or directory): "
        "this open was not recorded"
    ]


def test_open_with_the_recovery_key_refuses_without_an_organisation_key(
    recovery_key: Path, sealed_files: dict[str, Path]
) -> None:
    result = sanad("caseworker", "open", sealed_files["recovery"], "--key", recovery_key)
    assert_one_line_failure(result, "the recovery key file pins no organisation key")
    assert result.stdout == ""


def test_open_never_overwrites_an_attachment(light: Light, tmp_path: Path) -> None:
    out = tmp_path / "case"
    first = sanad("caseworker", "open", light.sealed, "--key", light.key, "--out", out)
    assert first.returncode == 0, first.stderr
    saved = out / "screenshot.pdf"
    saved.write_bytes(b"the caseworker's own notes")
    again = sanad("caseworker", "open", light.sealed, "--key", light.key, "--out", out)
    assert_one_line_failure(again, f"{saved} already exists")
    assert saved.read_bytes() == b"the caseworker's own notes"


def test_open_without_out_says_attachments_were_not_saved(light: Light) -> None:
    result = sanad("caseworker", "open", light.sealed, "--key", light.key)
    assert result.returncode == 0, result.stderr
    _assert_report_printed(result.stdout)
    assert "1 attachment(s) not saved" in result.stdout


def test_open_with_another_caseworkers_key_fails_clearly(
    light: Light, sealed_files: dict[str, Path]
) -> None:
    result = sanad("caseworker", "open", sealed_files["caseworker"], "--key", light.key)
    assert_one_line_failure(result, "this file was not sealed to this key")


def test_open_with_a_wrong_passphrase_fails_clearly(light: Light) -> None:
    result = sanad(
        "caseworker", "open", light.sealed, "--key", light.key,
        passphrase="not the passphrase at all",
    )  # fmt: skip
    assert_one_line_failure(result, "wrong passphrase or damaged key file")
    assert ANSWERS[0][1] not in result.stdout


def test_open_an_altered_file_is_refused_before_decrypting(light: Light, tmp_path: Path) -> None:
    damaged = tmp_path / "damaged.sanad"
    data = bytearray(light.sealed.read_bytes())
    data[-1] ^= 1
    damaged.write_bytes(bytes(data))
    result = sanad("caseworker", "open", damaged, "--key", light.key)
    assert_one_line_failure(
        result, "refused: this file's signature does not match: it was altered or forged"
    )
    assert result.stdout == ""


def test_existing_key_files_are_not_replaced_without_force(
    org: Org, caseworker: Caseworker, trust: Trust
) -> None:
    before = caseworker.key.read_bytes()
    result = sanad(
        "caseworker", "init", "--key", caseworker.key, "--name", "Amira",
        "--org", trust.org_text,
    )  # fmt: skip
    assert_one_line_failure(result, f"{caseworker.key} already exists")
    assert caseworker.key.read_bytes() == before
    org_before = org.recovery_key.read_bytes()
    result = sanad("org", "init", "--out", org.folder)
    assert_one_line_failure(result, f"{org.folder / 'org-signing.key'} already exists")
    assert org.recovery_key.read_bytes() == org_before


def test_force_replaces_a_caseworker_key_file(tmp_path: Path, trust: Trust) -> None:
    key = tmp_path / "k.key"
    save_caseworker_key(
        key,
        CaseworkerKeys.generate(),
        "Old",
        PASSPHRASE,
        organisation=OrganisationKeys.generate().signing.public_key,
        kdf=MINIMUM,
    )
    result = sanad(
        "caseworker", "init", "--key", key, "--name", "New", "--org", trust.org_text, "--force"
    )
    assert result.returncode == 0, result.stderr
    header = read_key_file_header(key)
    assert header.label == "New"
    assert header.settings != MINIMUM  # the command always uses the real settings


def test_no_passphrase_and_no_terminal_is_a_clear_error(tmp_path: Path, trust: Trust) -> None:
    result = sanad(
        "caseworker", "init", "--key", tmp_path / "k.key", "--name", "Amira",
        "--org", trust.org_text, passphrase=None,
    )  # fmt: skip
    assert_one_line_failure(result, "no passphrase given and no terminal to ask for one")
    assert not (tmp_path / "k.key").exists()


def test_short_new_passphrase_is_refused(tmp_path: Path, trust: Trust) -> None:
    result = sanad(
        "caseworker", "init", "--key", tmp_path / "k.key", "--name", "Amira",
        "--org", trust.org_text, passphrase="short",
    )  # fmt: skip
    assert_one_line_failure(result, "a new passphrase needs at least 12 characters")


def test_invalid_label_is_refused(tmp_path: Path, trust: Trust) -> None:
    result = sanad(
        "caseworker", "init", "--key", tmp_path / "k.key", "--name", "a\u202eb",
        "--org", trust.org_text,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.startswith("sanad: a label holds only")


def test_caseworker_init_requires_the_organisation_key(tmp_path: Path) -> None:
    missing = sanad("caseworker", "init", "--key", tmp_path / "k.key", "--name", "Amira")
    assert missing.returncode == 2
    assert "--org" in missing.stderr
    wrong = sanad(
        "caseworker", "init", "--key", tmp_path / "k.key", "--name", "Amira",
        "--org", X25519PublicKey(bytes(range(32))).to_text(),
    )  # fmt: skip
    assert_one_line_failure(wrong, "--org is not an organisation signing key")
    assert not (tmp_path / "k.key").exists()


@pytest.mark.parametrize(
    "command",
    [
        ["org", "init"],
        ["caseworker", "init"],
        ["caseworker", "open"],
        ["caseworker", "reply"],
        ["admin", "certify-bot"],
    ],
)
def test_every_command_has_help(command: list[str]) -> None:
    result = sanad(*command, "--help")
    assert result.returncode == 0
    assert "Usage:" in result.stdout


def test_open_refuses_a_key_file_others_can_read_and_says_how_to_fix_it(
    light: Light, tmp_path: Path
) -> None:
    exposed = tmp_path / "exposed.key"
    exposed.write_bytes(light.key.read_bytes())
    exposed.chmod(0o640)
    result = sanad("caseworker", "open", light.sealed, "--key", exposed)
    assert_one_line_failure(
        result,
        f"{exposed} can be read by other accounts of this computer (mode 0640): "
        f"run chmod 600 {exposed}",
    )
    assert ANSWERS[0][1] not in result.stdout
    exposed.chmod(0o600)
    assert sanad("caseworker", "open", light.sealed, "--key", exposed).returncode == 0
