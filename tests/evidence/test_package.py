"""Evidence packages: a photo sent through the real bot, packaged on the caseworker's computer,
checked offline — and a flipped byte in a file, the manifest or its signature is caught.

The bot is real (PTB over HTTP against the local Bot API server, the cleaning sandbox, the
submission service, SQLite); the stored report is delivered as the forward job would, signed by a
bot key the organisation certified; `sanad` runs as a subprocess.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path

import pytest

from crypto import Wrap
from tests.cli.test_key_commands import sanad
from tests.evidence.support import Organisation, send_report_with
from tests.handlers import samples
from tests.handlers.conftest import Reporter, running_bot
from tests.handlers.e2e import deployment, stored_reports
from tests.support.signed_files import BotSigner

pytestmark = pytest.mark.slow


def with_flipped_byte(package: bytes, member: str, position: int = -1) -> bytes:
    """The same zip with one byte of ``member`` flipped."""
    source = zipfile.ZipFile(io.BytesIO(package))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            content = bytearray(source.read(info))
            if info.filename == member:
                content[position] ^= 0x01
            target.writestr(info, bytes(content))
    return out.getvalue()


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


async def test_package_carries_the_sent_photos_hash_verifies_and_catches_every_flipped_byte(
    tmp_path: Path,
) -> None:
    photo = samples.jpeg_with_gps(width=64, height=48)
    async with (
        deployment(tmp_path / "server") as deployed,
        running_bot(submitter=deployed.service) as bot,
    ):
        await send_report_with(Reporter(bot.api.open_chat(7401, "Reporter")), photo)
        [stored] = await stored_reports(deployed.database)

    organisation = Organisation(
        deployed.organisation, BotSigner.certified_by(deployed.organisation.signing)
    )
    me = organisation.caseworker(tmp_path / "laptop", "Amira", deployed.caseworker)
    key_id = deployed.caseworker.encryption.public_key.key_id
    case = stored.report.case_reference
    delivered = write(
        tmp_path / "laptop" / f"case-{case}.sanad",
        organisation.deliver(
            None,  # type: ignore[arg-type]
            case,
            deployed.caseworker.encryption.public_key,
            report_id=stored.report.id,
            reply_to=stored.mailbox_public,
            sealed=(stored.body_sealed, Wrap(key_id, stored.wraps[key_id])),
        ),
    )
    sent_hash = hashlib.sha256(photo).hexdigest()

    opened = sanad("caseworker", "open", delivered, "--key", me.key_file)
    assert opened.returncode == 0, opened.stderr
    assert f"SHA-256 {sent_hash}" in opened.stdout
    assert "a GPS location in the EXIF metadata" in opened.stdout

    package_path = tmp_path / "laptop" / "case.zip"
    made = sanad(
        "caseworker", "package", case, "--key", me.key_file, "--from", delivered,
        "--out", package_path,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    package = package_path.read_bytes()
    archive = zipfile.ZipFile(io.BytesIO(package))
    manifest = json.loads(archive.read("manifest.json"))
    [entry] = manifest["files"]
    assert entry["original"]["sha256"] == sent_hash
    assert entry["original"]["size"] == len(photo)
    assert entry["sha256"] == hashlib.sha256(archive.read(entry["path"])).hexdigest()
    # The open above and this package, from the sealed custody log beside the key file.
    assert [c["event"] for c in manifest["custody"]] == ["opened", "opened", "packaged"]
    assert manifest["delivery"]["bot_signature"] == "verified"

    checked = sanad("verify-package", package_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    lines = checked.stdout.splitlines()
    assert all(line.startswith("OK") for line in lines), lines
    assert any(sent_hash in line for line in lines)
    assert any("signed by the organisation's bot" in line for line in lines)

    for member, position in ((entry["path"], 200), ("manifest.json", 40), ("manifest.sig", -1)):
        tampered = write(tmp_path / "tampered.zip", with_flipped_byte(package, member, position))
        result = sanad("verify-package", tampered)
        assert result.returncode == 1, member
        failed = [line for line in result.stdout.splitlines() if line.startswith("FAILED")]
        assert failed, member
        if member == entry["path"]:
            assert failed == [f"FAILED {member}: altered " + failed[0].split("altered ")[1]]
        else:
            assert failed[0].startswith("FAILED manifest.json"), failed
        assert "does not verify" in result.stderr

    other_org = Organisation.generate().keys.signing.public_key.to_text("sanad-sign1:")
    pinned = sanad("verify-package", package_path, "--org", other_org)
    assert pinned.returncode == 1
    assert "FAILED organisation key: the manifest names another organisation" in pinned.stdout
