"""A whole deployment for tests across processes: the bot as ``sanad run``, the CLI, real keys.

The local Bot API server runs on the test's event loop; the bot is a subprocess pointed at it
through ``telegram.api_base_url``; caseworkers and admins are the ``sanad`` CLI, also as
subprocesses. The organisation's key files are written through the library with Argon2id's
smallest settings (the CLI reads the settings from each file's authenticated header and accepts
them), so an admin command costs milliseconds, not the seconds of SENSITIVE; the caseworker's key
file is made by the real ``sanad caseworker init``, pinning the organisation key, and the bot is
certified by the real ``sanad admin certify-bot`` before its first start (format v2, I9).
"""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from bot.local_api import ChatMessage, LocalBotApi, UserChat
from crypto import save_org_recovery_key, save_org_signing_key
from crypto.keyfile import MINIMUM
from crypto.keys import ORG_SIGNING_PREFIX, OrganisationKeys
from storage.engine import Database, open_database
from tests.delivery.conftest import TOKEN_ENV, config_text
from tests.storage.conftest import POSTGRES_URL
from tests.support.calls import CallCounter
from tests.support.postgres import postgres_unreachable
from tests.support.processes import CliResult, sanad, sanad_run

PASSPHRASE = "e2e passphrase, long enough"
PASSPHRASE_ENV = {"SANAD_PASSPHRASE": PASSPHRASE}
FAST_DELIVERY = {"batch_interval_seconds": 0.2, "jitter_seconds": 0.1, "backoff_cap_seconds": 0.2}
# A whole report is about twenty updates from one chat: above the deployment default of 20/min.
LIMITS = {"max_messages_per_minute": 300}

_RECEIPT = re.compile(r"\d{4}(?: \d{4}){6}")
_CONFIRMATION = re.compile(r"^Confirmation code: (\d{4} \d{4})$", re.MULTILINE)


@dataclass(frozen=True)
class CaseworkerInit:
    """What ``sanad caseworker init`` printed, and where it wrote the key file."""

    key: Path
    label: str
    code: str
    fingerprint: str
    organisation_fingerprint: str


class Deployment:
    """One organisation's deployment: configuration, database file, key files, local server."""

    def __init__(
        self,
        api: LocalBotApi,
        directory: Path,
        *,
        database_url: str | None = None,
        delivery: dict[str, Any] | None = None,
        limits: dict[str, Any] | None = None,
    ) -> None:
        self.api = api
        self.directory = directory
        self.token = api.add_bot()
        self.calls = CallCounter(api)
        self.org = OrganisationKeys.generate()
        self.signing_key = directory / "org-signing.key"
        self.recovery_key = directory / "org-recovery.key"
        save_org_signing_key(
            self.signing_key, self.org.signing, "organisation", PASSPHRASE, kdf=MINIMUM
        )
        save_org_recovery_key(
            self.recovery_key, self.org.recovery, "organisation", PASSPHRASE, kdf=MINIMUM
        )
        self.sqlite_path = directory / "sanad.sqlite3"
        self.database_url = database_url or f"sqlite+aiosqlite:///{self.sqlite_path}"
        self.config = directory / "config.toml"
        self.log = directory / "bot.log"
        self.certified = False
        chosen = LIMITS if limits is None else limits
        limits_text = "\n".join(f"{key} = {value!r}" for key, value in chosen.items())
        self.config.write_text(
            config_text(
                api_url=api.url,
                database_url=self.database_url,
                org=self.org,
                state_dir=directory / "state",
                delivery=delivery or FAST_DELIVERY,
            )
            + f"\n[limits]\n{limits_text}\n"
        )

    @asynccontextmanager
    async def bot(self) -> AsyncIterator[asyncio.subprocess.Process]:
        """``sanad run`` for this deployment, entered once it polls for updates (its migrations
        are done by then); SIGKILLed on leaving if still alive."""
        if not self.certified:
            await self.certify_bot()
        polls = self.calls["getUpdates"]
        async with sanad_run(self.config, self.log, {TOKEN_ENV: self.token}) as process:
            await self.calls.wait_for("getUpdates", polls + 1, timeout=60)
            yield process

    @asynccontextmanager
    async def database(self) -> AsyncIterator[Database]:
        """The bot's database, opened from the test (SQLite's WAL lets both read and write)."""
        db = open_database(self.database_url)
        try:
            yield db
        finally:
            await db.close()

    async def admin(self, *args: str | Path) -> CliResult:
        """``sanad admin ARGS --config CONFIG``, the passphrase from the environment."""
        return await sanad("admin", *args, "--config", self.config, env=PASSPHRASE_ENV)

    async def certify_bot(self) -> CliResult:
        """``sanad admin certify-bot``: without its certificate the bot does not start (I9)."""
        result = await self.admin("certify-bot", "--org-key", self.signing_key)
        self.certified = True
        return result

    @property
    def organisation_key_text(self) -> str:
        """The organisation signing key as the admin reads it out (``signing_public_key``)."""
        return self.org.signing.public_key.to_text(ORG_SIGNING_PREFIX)

    async def caseworker_init(self, label: str) -> CaseworkerInit:
        """``sanad caseworker init`` with its real (MODERATE) Argon2id settings, pinning the
        organisation key; the key goes into a folder the command creates."""
        key = self.directory / "caseworker" / f"{label}.key"
        result = await sanad(
            "caseworker",
            "init",
            "--key",
            key,
            "--name",
            label,
            "--org",
            self.organisation_key_text,
            env=PASSPHRASE_ENV,
        )
        return CaseworkerInit(
            key,
            label,
            result.line_starting("Enrolment code:"),
            result.line_starting("Fingerprint:"),
            result.line_starting("Organisation fingerprint:"),
        )

    async def enroll(self, chat: UserChat, init: CaseworkerInit) -> ChatMessage:
        """Send ``/enroll CODE`` from ``chat``; returns the bot's answer with the fingerprint and
        the confirmation code."""
        await chat.send_command("enroll", init.code)
        return await chat.wait_for(lambda m: "Fingerprint:" in (m.text or ""), timeout=15)

    async def enroll_and_approve(self, chat: UserChat, label: str) -> CaseworkerInit:
        """The whole enrolment: init on the caseworker's machine, /enroll, admin approve with
        the confirmation code the caseworker reads aloud."""
        init = await self.caseworker_init(label)
        answer = await self.enroll(chat, init)
        # The fingerprint read out by voice: the bot's must match the caseworker's machine's.
        assert f"Fingerprint: {init.fingerprint}" in (answer.text or "")
        await self.admin(
            "approve",
            label,
            "--org-key",
            self.signing_key,
            "--confirm",
            confirmation_in(answer),
        )
        return init

    def download(self, chat: UserChat, message: ChatMessage) -> Path:
        """Save the file of ``message`` from ``chat``, under its own name, as a client would."""
        assert message.document is not None
        assert message.document.file_name is not None
        path = self.directory / "downloads" / message.document.file_name
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(chat.download(message))
        return path

    async def open_sealed(self, path: Path, key: Path, out: Path | None = None) -> CliResult:
        """``sanad caseworker open PATH --key KEY [--out OUT]``."""
        extra: list[str | Path] = ["--out", out] if out is not None else []
        return await sanad("caseworker", "open", path, "--key", key, *extra, env=PASSPHRASE_ENV)

    async def write_reply(
        self, reference: str, key: Path, report_file: Path, text: str, *, sequence: int
    ) -> Path:
        """``sanad caseworker reply``: a signed reply file sealed to the reporter's mailbox."""
        text_file = self.directory / f"reply-{sequence}.txt"
        text_file.write_text(text, encoding="utf-8")
        out = self.directory / f"reply-{sequence}.sanad"
        await sanad(
            "caseworker",
            "reply",
            reference,
            "--key",
            key,
            "--from",
            report_file,
            "--text-file",
            text_file,
            "--number",
            str(sequence + 1),
            "--out",
            out,
            env=PASSPHRASE_ENV,
        )
        return out


def confirmation_in(message: ChatMessage) -> str:
    """The confirmation code of the bot's answer to ``/enroll``, as the caseworker reads it."""
    match = _CONFIRMATION.search(message.text or "")
    assert match is not None, "the /enroll answer gives an 8-digit confirmation code"
    return match.group(1)


def receipt_in(message: ChatMessage) -> str:
    """The receipt shown in the bot's message, as seven groups of four digits."""
    match = _RECEIPT.search(message.text or "")
    assert match is not None, "the receipt is shown as seven groups of four digits"
    return match.group(0)


async def sealed_file(chat: UserChat, caption: str, timeout: float = 20.0) -> ChatMessage:  # noqa: ASYNC109
    """The sealed file with this caption (``K7Q-4M2P #0``) once it reaches the chat."""
    return await chat.wait_for(
        lambda m: m.document is not None and m.caption == caption, timeout=timeout, since=0
    )


@pytest.fixture
async def api() -> AsyncIterator[LocalBotApi]:
    async with LocalBotApi.running(seed=16) as server:
        yield server


@pytest.fixture
def deployment(api: LocalBotApi, tmp_path: Path) -> Deployment:
    return Deployment(api, tmp_path)


@pytest.fixture
async def postgres_database(tmp_path: Path) -> AsyncIterator[str]:
    """A fresh PostgreSQL database for one test (the bot's URL cannot pick a schema)."""
    dsn = make_url(POSTGRES_URL).set(drivername="postgresql")
    try:
        admin = await asyncpg.connect(dsn.render_as_string(hide_password=False), timeout=5)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        postgres_unreachable(f"PostgreSQL not reachable: {exc}")
    name = f"sanad_e2e_{secrets.token_hex(5)}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield dsn.set(drivername="postgresql+asyncpg", database=name).render_as_string(
            hide_password=False
        )
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()
