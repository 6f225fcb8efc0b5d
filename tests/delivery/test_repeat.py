"""Recognising the one repeat I8 allows, on the caseworker's machine (``sanad caseworker open``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from crypto import Answer, EnvelopeKind, ReportBody, new_report_id, seal_report
from crypto.keyfile import MINIMUM, save_caseworker_key
from crypto.keys import CaseworkerKeys, OrganisationKeys
from desk.manifest import MANIFEST_NAME, OpenedManifest
from tests.support.signed_files import BotSigner

SANAD = Path(sys.executable).with_name("sanad")
PASSPHRASE = "a long enough test passphrase"


def sealed_file(
    bot: BotSigner, keys: CaseworkerKeys, *, case_reference: str, sequence: int
) -> bytes:
    report_id = new_report_id()
    kind = EnvelopeKind.REPORT if sequence == 0 else EnvelopeKind.ADDENDUM
    sealed = seal_report(
        ReportBody([Answer("incident.description", "repeat canary")]).to_bytes(),
        report_id=report_id,
        sequence=sequence,
        kind=kind,
        recipients=[keys.public.encryption],
    )
    return bot.sealed_file(
        kind=kind,
        case_reference=case_reference,
        report_id=report_id,
        sequence=sequence,
        reply_to=None,
        wrap=sealed.wraps[0],
        body_sealed=sealed.body_sealed,
    )


def test_manifest_recognises_the_same_file_and_only_it(tmp_path: Path) -> None:
    manifest = OpenedManifest(tmp_path)
    assert not manifest.repeats("K7Q-4M2P", 0, b"sealed body")
    manifest.record("K7Q-4M2P", 0, b"sealed body")

    reread = OpenedManifest(tmp_path)
    assert reread.repeats("K7Q-4M2P", 0, b"sealed body")
    assert not reread.repeats("K7Q-4M2P", 1, b"sealed body")
    # Same label, other bytes: not a repeat of what was opened, so not called one.
    assert not reread.repeats("K7Q-4M2P", 0, b"another sealed body")
    assert (tmp_path / MANIFEST_NAME).stat().st_mode & 0o777 == 0o600
    assert b"sealed body" not in (tmp_path / MANIFEST_NAME).read_bytes()


def test_damaged_manifest_is_read_as_empty(tmp_path: Path) -> None:
    (tmp_path / MANIFEST_NAME).write_text('{"opened": [["K7Q-4M2P"')
    manifest = OpenedManifest(tmp_path)
    assert not manifest.repeats("K7Q-4M2P", 0, b"x")
    manifest.record("K7Q-4M2P", 0, b"x")
    assert OpenedManifest(tmp_path).repeats("K7Q-4M2P", 0, b"x")


@pytest.mark.slow
def test_caseworker_open_says_a_file_repeats_one_opened_into_the_same_folder(
    tmp_path: Path,
) -> None:
    keys, org = CaseworkerKeys.generate(), OrganisationKeys.generate()
    bot = BotSigner.certified_by(org.signing)
    key_file = tmp_path / "me.key"
    save_caseworker_key(
        key_file, keys, "me", PASSPHRASE, organisation=org.signing.public_key, kdf=MINIMUM
    )
    first = tmp_path / "case-K7Q4M2P-0.sanad"
    first.write_bytes(sealed_file(bot, keys, case_reference="K7Q-4M2P", sequence=0))
    # What Telegram hands over the second time is the very same bytes under the same name.
    repeat = tmp_path / "case-K7Q4M2P-0 (1).sanad"
    repeat.write_bytes(first.read_bytes())
    addendum = tmp_path / "case-K7Q4M2P-1.sanad"
    addendum.write_bytes(sealed_file(bot, keys, case_reference="K7Q-4M2P", sequence=1))
    out = tmp_path / "opened"
    env = {**os.environ, "SANAD_PASSPHRASE": PASSPHRASE}

    def open_into_out(path: Path) -> str:
        result = subprocess.run(
            [str(SANAD), "caseworker", "open", path, "--key", key_file, "--out", out],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    assert "repeats" not in open_into_out(first)
    assert "repeats" not in open_into_out(addendum)
    assert "This file repeats K7Q-4M2P #0, already opened into" in open_into_out(repeat)
