"""The sandbox behind ``sanad try``: the real bot, a built-in Bot API server, throw-away keys.

Everything lives in one temporary folder (mode 0700, removed when the sandbox ends, on Ctrl-C
and SIGTERM too): the SQLite database, the server secrets, the bot token file and demo key files.
A stop signal is a clean stop whenever it comes: :mod:`bot.lifecycle` starts and stops the bot
as it does for ``sanad run``, the enrolment of the demo caseworker is cut short too, and a
sandbox stopped while starting never announces its page.
Nothing is configured by hand: the configuration is built in memory with
:func:`bot.config.parse_config` from the same keys a deployment's ``config.toml`` holds, so the
bot that runs is the one ``sanad run`` runs (:func:`bot.app.build_application` and
:class:`bot.runtime.Runtime`), with delivery every few seconds instead of every ten minutes.

The caseworker is enrolled as a real one would be: their chat sends ``/enroll CODE`` to the bot,
and the enrolment is approved through :func:`bot.services.caseworkers.approve` with the generated
organisation signing key, so reports are sealed to them only because the certificate verifies
against the pinned key (I4). The same throw-away key certifies the bot key
(:func:`bot.bot_identity.certify_bot`), as ``sanad admin certify-bot`` does for a deployment, so
every file the sandbox delivers is signed and chains to the organisation key (I9).

Demo keys are not protected: their passphrase is random and held by this process (it opens the
caseworker key file for the page's "open" button), and their Argon2id cost is libsodium's
minimum so the sandbox starts at once. The page says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ipaddress
import os
import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from bot.bot_identity import certify_bot
from bot.config import Config, load_bot_token, parse_config
from bot.errors import SanadError
from bot.lifecycle import StartReceiving, receiving, stop_on_signals, unless_stopped
from bot.local_api import LocalBotApi, UserChat
from bot.local_api.ptb import AnyApplication
from bot.logs import configure_logging, event, get_logger
from bot.runtime import Runtime
from bot.services.caseworkers import approve
from bot.try_mode.page import CaseworkerComputer, PageChats, serving_page
from crypto.enrolment import encode_enrolment_code
from crypto.enrolment_claim import parse_confirmation_code
from crypto.keyfile import MINIMUM, save_caseworker_key, save_org_recovery_key, save_org_signing_key
from crypto.keys import ORG_SIGNING_PREFIX, CaseworkerKeys, OrganisationKeys

_log = get_logger("try")

#: The two simulated Telegram users whose chats the page shows.
REPORTER_CHAT_ID: Final = 700_001
CASEWORKER_CHAT_ID: Final = 700_002
CASEWORKER_LABEL: Final = "Demo caseworker"
CASEWORKER_KEY_FILE: Final = "caseworker.key"
# A few seconds rather than production's ten minutes, so the sealed file arrives while the
# person watches; the random part (I3) is kept, only smaller.
BATCH_INTERVAL_SECONDS: Final = 3.0
JITTER_SECONDS: Final = 2.0
POLL_SECONDS: Final = 1
DEMO_MESSAGES_PER_MINUTE: Final = 120
ENROLMENT_TIMEOUT: Final = 20.0
# The line of the bot's /enroll answer that carries the code (handlers/caseworker_commands.py).
_CONFIRMATION_LINE: Final = "Confirmation code:"


@dataclass(frozen=True)
class DemoPassphrase:
    """The passphrase of the sandbox's key files: random, never shown, gone with the process."""

    _value: str = field(repr=False)

    @classmethod
    def generate(cls) -> DemoPassphrase:
        return cls(secrets.token_urlsafe(24))

    def reveal(self) -> str:
        """The passphrase itself, for ``SANAD_PASSPHRASE`` of ``sanad caseworker open`` only."""
        return self._value

    def __repr__(self) -> str:
        return "DemoPassphrase(<redacted>)"


@dataclass(frozen=True)
class DemoKeys:
    """Organisation and caseworker keys made for one sandbox, with their key files in a folder."""

    organisation: OrganisationKeys
    caseworker: CaseworkerKeys
    caseworker_key_file: Path
    passphrase: DemoPassphrase

    @classmethod
    def create(cls, folder: Path) -> DemoKeys:
        """Generate the keys and write the three key files (0600) into ``folder``."""
        organisation, caseworker = OrganisationKeys.generate(), CaseworkerKeys.generate()
        passphrase = DemoPassphrase.generate()
        # MINIMUM: demo key files protect nothing (the passphrase sits in this process).
        save_org_signing_key(
            folder / "org-signing.key",
            organisation.signing,
            "organisation",
            passphrase.reveal(),
            kdf=MINIMUM,
        )
        save_org_recovery_key(
            folder / "org-recovery.key",
            organisation.recovery,
            "organisation",
            passphrase.reveal(),
            kdf=MINIMUM,
        )
        key_file = folder / CASEWORKER_KEY_FILE
        # Pinned as a caseworker pins it at `caseworker init --org`, so the page's "open" runs
        # the same signature checks a real caseworker's computer runs (I9).
        save_caseworker_key(
            key_file,
            caseworker,
            CASEWORKER_LABEL,
            passphrase.reveal(),
            organisation=organisation.signing.public_key,
            kdf=MINIMUM,
        )
        return cls(organisation, caseworker, key_file, passphrase)


@dataclass(frozen=True)
class Sandbox:
    """A running sandbox, as the page needs it: its folder, the two chats and the key file."""

    folder: Path
    chats: PageChats
    keys: DemoKeys


def open_chats(api: LocalBotApi, reporter_language: str) -> PageChats:
    """The reporter's and the caseworker's chats with the one bot of ``api``.

    Their user ids are fixed, so a caseworker enrolled from the page's chat (the certificate
    binds the chat, I9) is the same chat after a restart of ``sanad local-api``.
    """
    return PageChats(
        api,
        reporter=api.open_chat(REPORTER_CHAT_ID, "Reporter", language_code=reporter_language),
        reporter_language=reporter_language,
        caseworker=api.open_chat(CASEWORKER_CHAT_ID, "Caseworker", language_code="en"),
    )


def loopback_host(host: str) -> str:
    """``host`` as an IP address if it is a loopback one; :class:`SanadError` otherwise.

    The page shows reports in clear and opens sealed files with a key it holds: it must never
    be reachable from another machine.
    """
    candidate = "127.0.0.1" if host.strip().lower() == "localhost" else host.strip()
    try:
        address = ipaddress.ip_address(candidate.strip("[]"))
    except ValueError:
        address = None
    if address is None or not address.is_loopback:
        raise SanadError(
            "--host must be a loopback address: the sandbox page is for this computer only",
            hint="use 127.0.0.1 (the default) or ::1",
        )
    return str(address)


def sandbox_config(folder: Path, api_url: str, keys: DemoKeys) -> Config:
    """The sandbox's configuration: the keys of a real ``config.toml``, built in memory."""
    return parse_config(
        {
            # Bandit B105 reviewed: the name of the file holding the sandbox's made-up token.
            "telegram": {"token_file": "bot-token", "api_base_url": api_url},  # nosec B105
            "organisation": {
                "name": "Sanad sandbox",
                "signing_public_key": keys.organisation.signing.public_key.to_text(
                    ORG_SIGNING_PREFIX
                ),
                "recovery_public_key": keys.organisation.recovery.public_key.to_text(),
            },
            "database": {"url": "sqlite+aiosqlite:///sanad.sqlite3"},
            "server": {"state_dir": "state"},
            "delivery": {
                "batch_interval_seconds": BATCH_INTERVAL_SECONDS,
                "jitter_seconds": JITTER_SECONDS,
            },
            # One person clicks through a whole report in well under a minute; the deployment
            # default (20 messages a minute) would slow the demonstration down, not protect it.
            "limits": {"max_messages_per_minute": DEMO_MESSAGES_PER_MINUTE},
        },
        source="sanad try",
        base_dir=folder,
    )


@contextlib.contextmanager
def throwaway_folder() -> Iterator[Path]:
    """A new 0700 folder, removed with everything in it when the block ends, however it ends."""
    folder = Path(tempfile.mkdtemp(prefix="sanad-try-"))  # mkdtemp creates it 0700
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _write_token(path: Path, token: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(token)


def sandbox_bot(runtime: Runtime) -> tuple[AnyApplication, StartReceiving]:
    """The bot of :func:`bot.app.build_application` on ``runtime``, and how it starts polling.

    It is started and stopped by :func:`bot.lifecycle.receiving`, as ``sanad run`` is: the hooks
    in ``run_polling``'s order (``post_init`` applies migrations, ``post_stop`` hands open
    conversations to the erase job, ``post_shutdown`` closes the runtime), each step of start-up
    cut short by a stop signal wherever it comes.
    """
    from bot.app import build_application  # PTB's application is heavy; only the bot needs it

    config = runtime.config
    application = build_application(config, load_bot_token(config), runtime)
    updater = application.updater
    if updater is None:
        raise SanadError("the sandbox's bot was built without an updater")
    return application, lambda: updater.start_polling(poll_interval=0.0, timeout=POLL_SECONDS)


async def enrol_caseworker(chat: UserChat, keys: DemoKeys, runtime: Runtime) -> None:
    """``/enroll CODE`` from the caseworker's chat, then the admin's approval with the org key.

    Runs against the polling bot: the answer to ``/enroll`` is the bot's own, after it stored
    the pending enrolment.
    """
    code = encode_enrolment_code(CASEWORKER_LABEL, keys.caseworker.public)
    await chat.send_command("enroll", code)
    try:
        answer = await chat.wait_for(
            lambda m: (m.text or "").startswith("Enrolment received"), timeout=ENROLMENT_TIMEOUT
        )
    except TimeoutError:
        raise SanadError("the sandbox's bot did not answer /enroll in time") from None
    await approve_demo_caseworker(keys, runtime, confirmation_in(answer.text or ""))
    event(_log, "caseworker.approved")


def confirmation_in(answer: str) -> str:
    """The confirmation code the bot's ``/enroll`` answer gives, as the admin would type it."""
    for line in answer.splitlines():
        if line.startswith(_CONFIRMATION_LINE):
            return parse_confirmation_code(line.removeprefix(_CONFIRMATION_LINE))
    raise SanadError("the sandbox's bot answered /enroll without a confirmation code")


async def approve_demo_caseworker(keys: DemoKeys, runtime: Runtime, confirmation: str) -> None:
    """What the admin's ``sanad admin approve --confirm CODE`` does, with the sandbox's
    organisation key and the code the bot gave the enrolling chat (I9)."""
    await approve(
        runtime.database,
        who=CASEWORKER_LABEL,
        confirmation=confirmation,
        signing_key=keys.organisation.signing,
        org_public=runtime.config.organisation.signing_public_key,
        bot_public=runtime.bot.public_key,
        today=dt.datetime.now(dt.UTC).date(),
    )


async def serve_sandbox(
    host: str,
    port: int,
    announce: Callable[[str, Path], None],
    stop: asyncio.Event,
    reporter_language: str,
) -> None:
    """Run the sandbox until ``stop`` is set; see :func:`run_sandbox`."""
    with throwaway_folder() as folder:
        keys = DemoKeys.create(folder)
        async with LocalBotApi.running() as api:
            _write_token(folder / "bot-token", api.add_bot(username="sanad_try_bot"))
            config = sandbox_config(folder, api.url, keys)
            sandbox = Sandbox(folder, open_chats(api, reporter_language), keys)
            # The port is taken first, so a port in use fails before the bot starts.
            computer = CaseworkerComputer(sandbox)
            async with serving_page(sandbox.chats, host, port, computer) as url:
                certify_bot(config.server.state_dir, keys.organisation.signing)
                runtime = Runtime.open(config)
                async with receiving(*sandbox_bot(runtime), stop) as started:
                    caseworker = sandbox.chats.caseworker
                    if started and await unless_stopped(
                        stop, enrol_caseworker(caseworker, keys, runtime)
                    ):
                        event(_log, "sandbox.ready")
                        announce(url, folder)
                        await stop.wait()


def run_sandbox(
    host: str, port: int, announce: Callable[[str, Path], None], *, reporter_language: str = "ar"
) -> None:
    """``sanad try``: serve the sandbox on ``host:port`` (loopback only) until SIGINT/SIGTERM.

    ``announce(url, folder)`` is called once the page is ready and the caseworker approved;
    ``reporter_language`` is the language of the simulated reporter's phone (Telegram passes it
    to the bot, and ``/status`` answers in it).

    Raises :class:`SanadError` for a host that is not a loopback address or a port in use.
    """
    address = loopback_host(host)
    configure_logging("INFO")

    async def main() -> None:
        stop = asyncio.Event()
        stop_on_signals(stop)
        await serve_sandbox(address, port, announce, stop, reporter_language)

    asyncio.run(main())
