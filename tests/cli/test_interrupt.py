"""Ctrl-C at a passphrase prompt: ``sanad: interrupted`` on its own line, exit status 130.

Each command that asks for a passphrase runs on a real pseudo-terminal (``getpass`` reads
``/dev/tty``); once its prompt shows, the test types Ctrl-C, which the terminal turns into SIGINT
for the command, as a person's keyboard does. Before, every one of them exited 0 and printed
nothing, so ``sanad admin rotate-recovery ... && next-step`` went on after an interrupt.
"""

from __future__ import annotations

import os
import pty
import re
import select
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.bot_identity import certify_bot
from crypto.keyfile import MINIMUM, save_org_recovery_key, save_org_signing_key
from crypto.keys import ORG_SIGNING_PREFIX, OrganisationKeys, X25519SecretKey
from tests.delivery.conftest import TOKEN_ENV, config_text

pytestmark = pytest.mark.slow

PASSPHRASE = "a long enough test passphrase"
# The prompt, then Ctrl-C: a new line (the terminal writes \r\n), the message, nothing after.
INTERRUPTED = re.compile(rb"Passphrase[^\r\n]*: \r\nsanad: interrupted\r\n$")


@dataclass(frozen=True)
class Keys:
    folder: Path
    config: Path
    org: OrganisationKeys
    signing: Path
    recovery: Path
    new_recovery: Path


@pytest.fixture
def keys(tmp_path: Path) -> Keys:
    """A configuration with a certified bot, and the organisation key files an admin brings."""
    org = OrganisationKeys.generate()
    state_dir = tmp_path / "state"
    config = tmp_path / "config.toml"
    config.write_text(
        config_text(
            api_url="http://127.0.0.1:9",
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'sanad.sqlite3'}",
            org=org,
            state_dir=state_dir,
            delivery={"batch_interval_seconds": 600.0, "jitter_seconds": 0.0},
        )
    )
    certify_bot(state_dir, org.signing)
    signing, recovery = tmp_path / "org-signing.key", tmp_path / "org-recovery.key"
    new_recovery = tmp_path / "new" / "org-recovery.key"
    new_recovery.parent.mkdir()
    save_org_signing_key(signing, org.signing, "organisation", PASSPHRASE, kdf=MINIMUM)
    save_org_recovery_key(recovery, org.recovery, "organisation", PASSPHRASE, kdf=MINIMUM)
    save_org_recovery_key(
        new_recovery, X25519SecretKey.generate(), "organisation", PASSPHRASE, kdf=MINIMUM
    )
    return Keys(tmp_path, config, org, signing, recovery, new_recovery)


def interrupt_at_prompt(
    args: list[str], cwd: Path, answers: tuple[str, ...] = ()
) -> tuple[int, bytes]:
    """Run ``sanad ARGS`` on a pseudo-terminal, type ``answers`` at its first prompts and Ctrl-C
    at the next; return the exit status and everything the terminal showed."""
    to_type = [answer.encode() + b"\r" for answer in answers]
    env = {k: v for k, v in os.environ.items() if k != "SANAD_PASSPHRASE"}
    env[TOKEN_ENV] = "123456:" + "A" * 35
    pid, terminal = pty.fork()
    if pid == 0:  # the child: a new session whose controlling terminal is the pty
        os.chdir(cwd)
        # As in a person's shell: a test runner started in the background (``cmd &`` without job
        # control, as CI may be) ignores SIGINT, and an ignored signal stays ignored across exec.
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.execve(sys.executable, [sys.executable, "-m", "bot.cli", *args], env)
    shown = b""
    deadline = time.monotonic() + 60
    interrupted = False
    prompts_seen = 0
    while True:
        ready, _, _ = select.select([terminal], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            os.kill(pid, 9)
            raise AssertionError(f"no prompt within 60 s; the terminal showed {shown!r}")
        try:
            chunk = os.read(terminal, 4096)
        except OSError:  # EIO: the command ended and closed the terminal
            break
        if not chunk:
            break
        shown += chunk
        prompts = len(re.findall(rb"Passphrase[^\r\n]*: ", shown))
        if not interrupted and prompts > prompts_seen and shown.endswith(b": "):
            prompts_seen = prompts
            if to_type:
                os.write(terminal, to_type.pop(0))
            else:
                os.write(terminal, b"\x03")  # Ctrl-C: the terminal sends SIGINT
                interrupted = True
    _, status = os.waitpid(pid, 0)
    os.close(terminal)
    return os.waitstatus_to_exitcode(status), shown


def commands(keys: Keys) -> dict[str, list[str]]:
    config = ["--config", str(keys.config)]
    org_key = keys.org.signing.public_key.to_text(ORG_SIGNING_PREFIX)
    return {
        "org init": ["org", "init", "--out", str(keys.folder / "org")],
        "org new-recovery": ["org", "new-recovery", "--out", str(keys.folder / "other")],
        "org rotate-signing": [
            "org", "rotate-signing", "--old-key", str(keys.signing),
            "--out", str(keys.folder / "rotated"),
        ],
        "caseworker init": [
            "caseworker", "init", "--key", str(keys.folder / "cw" / "me.key"),
            "--name", "alice", "--org", org_key,
        ],
        "admin certify-bot": ["admin", "certify-bot", "--org-key", str(keys.signing), *config],
        "admin approve": [
            "admin", "approve", "1", "--org-key", str(keys.signing), "--confirm", "12345678",
            *config,
        ],
        "admin revoke": ["admin", "revoke", "1", "--org-key", str(keys.signing), *config],
        "admin rewrap": [
            "admin", "rewrap", "--caseworker", "1", "--recovery-key", str(keys.recovery), *config,
        ],
        "admin reassign": [
            "admin", "reassign", "ABC", "--to", "1", "--recovery-key", str(keys.recovery),
            *config,
        ],
        "admin rotate-recovery": [
            "admin", "rotate-recovery", "--old-key", str(keys.recovery),
            "--new-key", str(keys.new_recovery), *config,
        ],
    }  # fmt: skip


COMMANDS = [
    "org init",
    "org new-recovery",
    "org rotate-signing",
    "caseworker init",
    "admin certify-bot",
    "admin approve",
    "admin revoke",
    "admin rewrap",
    "admin reassign",
    "admin rotate-recovery",
]


@pytest.mark.parametrize("command", COMMANDS)
def test_ctrl_c_at_the_prompt_exits_130_saying_interrupted(keys: Keys, command: str) -> None:
    status, shown = interrupt_at_prompt(commands(keys)[command], keys.folder)
    assert status == 130, shown
    assert INTERRUPTED.search(shown), shown
    assert b"Traceback" not in shown


def test_rotate_recovery_asks_each_passphrase_by_name(keys: Keys) -> None:
    status, shown = interrupt_at_prompt(
        commands(keys)["admin rotate-recovery"], keys.folder, answers=(PASSPHRASE,)
    )
    assert status == 130, shown
    assert shown.startswith(b"Passphrase for org-recovery.key (old): \r\n"), shown
    assert shown.endswith(b"Passphrase for org-recovery.key (new): \r\nsanad: interrupted\r\n")
