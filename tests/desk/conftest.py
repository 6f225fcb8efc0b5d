"""A caseworker's desk for tests: a real key file, real sealed files signed by a certified bot,
and ``sanad desk`` run as a subprocess on loopback.

Files are sealed and signed with the real libsodium recipes, exactly as the forward job builds
them (:class:`tests.support.signed_files.BotSigner`); the key file uses Argon2id's smallest
settings so that starting a desk costs milliseconds.
"""

from __future__ import annotations

import html
import http.cookiejar
import io
import json
import os
import re
import signal
import subprocess
import sys
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from PIL import Image

from crypto import Answer, Attachment, EnvelopeKind, ReportBody, seal_report
from crypto.file_names import delivery_file_name, part_file_name
from crypto.header import new_report_id
from crypto.keyfile import MINIMUM, save_caseworker_key
from crypto.keys import CaseworkerKeys, OrganisationKeys, X25519SecretKey
from crypto.sealed_file import read_sealed_file
from crypto.sealed_parts import split_sealed_file
from tests.handlers.samples import ogg_opus
from tests.support.signed_files import BotSigner

SANAD = Path(sys.executable).with_name("sanad")
PASSPHRASE = "a long enough desk passphrase"
_URL = re.compile(r"Your desk is open at (http://127\.0\.0\.1:(\d+)/\?token=(\S+))")


def page_text(fragment: str) -> str:
    """What a fragment of a page says, without its tags."""
    return html.unescape(re.sub(r"<[^>]+>", "", fragment)).strip()


def refused(page: str) -> list[tuple[str, str]]:
    """The inbox's refused files, as (file name, reason) in the page's language."""
    found = re.findall(
        r'<li class="refusal"><bdi class="file-name">(.*?)</bdi>: '
        r'<span class="reason">(.*?)</span>',
        page,
    )
    return [(page_text(name), page_text(reason)) for name, reason in found]


def photo(colour: tuple[int, int, int] = (200, 40, 40), size: int = 64) -> bytes:
    """A small JPEG, as the bot's cleaning re-encodes pictures."""
    out = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(out, format="JPEG")
    return out.getvalue()


def pdf(pages: int = 2) -> bytes:
    """A PDF of ``pages`` picture pages, as the bot's cleaning rebuilds documents."""
    images = [Image.new("RGB", (300, 400), (255, 255, 255 - 40 * n)) for n in range(pages)]
    out = io.BytesIO()
    images[0].save(out, format="PDF", save_all=True, append_images=images[1:])
    return out.getvalue()


def voice(seconds: int = 2) -> bytes:
    """An Ogg Opus voice note of ``seconds`` seconds of 20 ms silent frames."""
    return ogg_opus([b"ENCODER=sanad"], audio_packets=seconds * 50)


@dataclass
class Caseworker:
    """A caseworker's key file and the certified bot whose files it accepts."""

    key_file: Path
    keys: CaseworkerKeys
    organisation: OrganisationKeys
    bot: BotSigner
    mailboxes: dict[str, X25519SecretKey] = field(default_factory=dict)

    def sealed(
        self,
        reference: str,
        answers: list[tuple[str, str]],
        attachments: list[Attachment] = (),  # type: ignore[assignment]
        *,
        sequence: int = 0,
        bot: BotSigner | None = None,
    ) -> bytes:
        """A report (or addition, ``sequence`` > 0) sealed to this caseworker and signed by
        ``bot`` (default: the organisation's own); its mailbox secret kept for reading replies."""
        mailbox = self.mailboxes.setdefault(reference, X25519SecretKey.generate())
        report_id = _report_ids.setdefault(reference, new_report_id())
        kind = EnvelopeKind.REPORT if sequence == 0 else EnvelopeKind.ADDENDUM
        body = ReportBody([Answer(k, v) for k, v in answers], list(attachments))
        sealed = seal_report(
            body.to_bytes(),
            report_id=report_id,
            sequence=sequence,
            kind=kind,
            recipients=[self.keys.public.encryption],
            reply_to=mailbox.public_key if sequence == 0 else None,
        )
        return (bot or self.bot).sealed_file(
            kind=kind,
            case_reference=reference,
            report_id=report_id,
            sequence=sequence,
            reply_to=mailbox.public_key if sequence == 0 else None,
            wrap=sealed.wraps[0],
            body_sealed=sealed.body_sealed,
        )

    def parts(self, data: bytes, count: int, *, bot: BotSigner | None = None) -> list[bytes]:
        """The sealed file ``data`` cut into ``count`` parts, each signed by ``bot`` (default:
        the organisation's own), as the bot sends a file too large for one upload."""
        sealed = read_sealed_file(data, self.organisation.signing.public_key)
        signer = bot or self.bot
        parts = split_sealed_file(
            data, case_reference=sealed.case_reference, report_id=sealed.report_id,
            sequence=sealed.sequence, part_size=-(-len(data) // count), bot_key=signer.key,
            bot_certificate=signer.certificate,
        )  # fmt: skip
        assert len(parts) == count
        return parts

    def save(self, folder: Path, reference: str, data: bytes, sequence: int = 0) -> Path:
        """Save ``data`` under the name the bot gives it, as a download from Telegram."""
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / delivery_file_name(reference, sequence)
        path.write_bytes(data)
        return path

    def save_part(self, folder: Path, reference: str, parts: list[bytes], index: int) -> Path:
        """Save part ``index`` of ``parts`` (of sequence 0) under the name the bot gives it."""
        path = folder / part_file_name(reference, 0, index, len(parts))
        path.write_bytes(parts[index])
        return path


_report_ids: dict[str, bytes] = {}


@pytest.fixture
def caseworker(tmp_path: Path) -> Caseworker:
    organisation = OrganisationKeys.generate()
    keys = CaseworkerKeys.generate()
    key_file = tmp_path / "keys" / "caseworker.key"
    key_file.parent.mkdir()
    save_caseworker_key(
        key_file, keys, "amal", PASSPHRASE, organisation=organisation.signing.public_key,
        kdf=MINIMUM,
    )
    return Caseworker(key_file, keys, organisation, BotSigner.certified_by(organisation.signing))


@dataclass(frozen=True)
class RunningDesk:
    """A ``sanad desk`` process: its URL (with the token), port, token and folders."""

    url: str
    port: int
    token: str
    data: Path
    inbox: Path
    process: subprocess.Popen[str]
    log: Path  # what the desk wrote to stderr

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextmanager
def running_desk(
    key_file: Path, folder: Path, *extra: str, passphrase: str = PASSPHRASE
) -> Iterator[RunningDesk]:
    """``sanad desk --no-browser`` with ``key_file``, its data and inbox under ``folder``."""
    data, inbox = folder / "desk-data", folder / "Downloads"
    inbox.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "SANAD_PASSPHRASE": passphrase}
    log = folder / "desk.log"
    out = log.open("w+", encoding="utf-8")
    process = subprocess.Popen(
        [str(SANAD), "desk", "--key", str(key_file), "--data", str(data),
         "--inbox", str(inbox), "--no-browser", *extra],
        stdout=subprocess.PIPE, stderr=out, stdin=subprocess.DEVNULL, text=True, env=env,
        # As in a person's shell, whatever the test runner ignores: Ctrl-C stops the desk.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = _URL.search(line)
        assert match is not None, (line, out.seek(0), out.read())
        yield RunningDesk(
            match.group(1), int(match.group(2)), match.group(3), data, inbox, process, log
        )
    finally:
        if process.poll() is None:
            process.terminate()
        process.wait(timeout=20)
        out.close()


class Browser:
    """Cookies and redirects, as a browser keeps them; nothing else."""

    def __init__(self, desk: RunningDesk) -> None:
        self.desk = desk
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def get(self, path: str) -> tuple[int, str]:
        status, body = self.get_bytes(path)
        return status, body.decode()

    def get_bytes(self, path: str) -> tuple[int, bytes]:
        with self.opener.open(self.desk.origin + path, timeout=30) as response:
            return response.status, response.read()

    def post(self, path: str, **fields: str) -> tuple[int, str]:
        body = urllib.parse.urlencode(fields).encode()
        with self.opener.open(self.desk.origin + path, body, timeout=30) as response:
            return response.status, response.read().decode()

    def drop(self, name: str, data: bytes, *, size: int | None = None) -> dict[str, object]:
        """Drop ``data`` as the page does; with ``size``, as the page drops a file of that size
        over the desk's bound: its name and size only."""
        headers = {"X-File-Name": urllib.parse.quote(name),
                   "Content-Type": "application/octet-stream"}  # fmt: skip
        if size is not None:
            headers["X-File-Size"] = str(size)
        request = urllib.request.Request(self.desk.origin + "/drop", data=data, headers=headers)
        with self.opener.open(request, timeout=30) as response:
            result: dict[str, object] = json.loads(response.read())
            return result


@pytest.fixture
def desk(caseworker: Caseworker, tmp_path: Path) -> Iterator[RunningDesk]:
    with running_desk(caseworker.key_file, tmp_path) as running:
        yield running


@pytest.fixture
def signed_in(desk: RunningDesk) -> Browser:
    browser = Browser(desk)
    status, _ = browser.get(f"/?token={desk.token}")
    assert status == 200
    return browser
