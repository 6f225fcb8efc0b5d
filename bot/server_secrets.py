"""The deployment-wide server secrets, generated on first use under ``server.state_dir``.

Two random values live in ``<state_dir>/secrets/``, one file each, raw bytes:

- ``receipt-salt`` (16 bytes): the one Argon2id salt that turns a receipt into its master secret
  (DESIGN.md §4 "Receipts");
- ``receipt-pepper`` (32 bytes): keys the lookup tag, so a stolen database alone cannot test
  receipt guesses. Later versions (``receipt-pepper.v2``, ...) are added beside it by
  ``sanad admin rotate-pepper`` and read by :func:`bot.services.key_lifecycle.load_pepper_ring`.

The same directory also holds the housekeeping day keys (``housekeeping/``, random and deleted
daily by :mod:`bot.services.housekeeping`). A ``housekeeping-seed`` file left by earlier
versions, from which those keys were once derived, is neither read nor required: deployments
that have it load as before.

Losing the salt or the pepper makes every existing receipt unusable, so these files are created
once and never overwritten: both are written into a fresh private directory that is then
renamed into place in one step, so another process starting at the same moment either wins the
rename or loads the winner's set, and no one ever sees half a set. Loading refuses anything that
is not exactly as created (owner, 0700/0600 permissions, sizes): the secrets are only as good as
the file permissions that keep them.
"""

from __future__ import annotations

import errno
import os
import secrets
import shutil
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from bot.config import ConfigError
from bot.failures import folder_failure
from crypto.receipts import PEPPER_BYTES, SALT_BYTES

SECRETS_DIRNAME = "secrets"
# The receipt sizes are crypto's (docs/crypto.md, "Receipts"), so the two can never disagree.
RECEIPT_SALT_BYTES = SALT_BYTES
RECEIPT_PEPPER_BYTES = PEPPER_BYTES

_FILES = {
    "receipt-salt": RECEIPT_SALT_BYTES,
    "receipt-pepper": RECEIPT_PEPPER_BYTES,
}
_RESTORE_HINT = (
    "restore the state directory from a backup; new secrets would make every existing receipt "
    "unusable"
)


@dataclass(frozen=True)
class ServerSecrets:
    """The receipt salt and the first receipt pepper; never printed."""

    receipt_salt: bytes = field(repr=False)
    receipt_pepper: bytes = field(repr=False)

    def __post_init__(self) -> None:
        sizes = (
            (self.receipt_salt, RECEIPT_SALT_BYTES),
            (self.receipt_pepper, RECEIPT_PEPPER_BYTES),
        )
        # Checked here too, so a short secret can never reach a KDF whatever built this value.
        if any(len(value) != size for value, size in sizes):
            raise ConfigError("a server secret has the wrong size")

    def __repr__(self) -> str:
        return "ServerSecrets(<redacted>)"


def find_server_secrets(state_dir: Path) -> ServerSecrets | None:
    """Load the server secrets, or return None if they have never been created.

    Raises :class:`ConfigError` if they exist but anything about them is off (a file missing,
    readable by others, of the wrong size, owned by someone else).
    """
    directory = state_dir / SECRETS_DIRNAME
    try:
        info = directory.lstat()
    except FileNotFoundError:
        return None
    _check_private(directory, info, kind="directory")
    return ServerSecrets(
        *(read_server_secret(directory / name, size) for name, size in _FILES.items())
    )


def load_or_create_server_secrets(state_dir: Path) -> ServerSecrets:
    """Load the server secrets, generating them first if this deployment has none yet.

    Creates ``state_dir`` (mode 0700) if needed. Raises :class:`ConfigError` as
    :func:`find_server_secrets` does, or when the state directory cannot be used.
    """
    found = find_server_secrets(state_dir)
    if found is not None:
        return found
    _create(state_dir)
    created = find_server_secrets(state_dir)
    if created is None:  # the directory vanished between the rename and this read
        raise ConfigError(f"the server secrets in {state_dir} disappeared while being created")
    return created


def _create(state_dir: Path) -> None:
    try:
        state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = state_dir.stat()
    except OSError as exc:
        raise folder_failure("state folder", state_dir, exc, setting="server.state_dir") from None
    # Whoever can write here can swap the secrets directory for their own.
    if info.st_mode & 0o022:
        raise ConfigError(
            f"the state directory {state_dir} can be written by other users "
            f"(mode {stat.S_IMODE(info.st_mode):04o})",
            hint=f"chmod 700 {state_dir}",
        )
    try:
        staging = Path(tempfile.mkdtemp(prefix=".secrets-", dir=state_dir))  # mode 0700
    except OSError as exc:
        raise folder_failure("state folder", state_dir, exc, setting="server.state_dir") from None
    try:
        for name, size in _FILES.items():
            _write_new(staging / name, secrets.token_bytes(size))
        _fsync_directory(staging)
        try:
            # rename() never replaces a non-empty directory: an existing set is never overwritten.
            staging.rename(state_dir / SECRETS_DIRNAME)
        except OSError as exc:
            if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise
            # Another process created the set first; the caller loads that one.
        _fsync_directory(state_dir)
    except OSError as exc:
        raise folder_failure("state folder", state_dir, exc, setting="server.state_dir") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _write_new(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())


def _fsync_directory(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_server_secret(path: Path, size: int) -> bytes:
    """The ``size`` bytes of the secret file at ``path``, checked as the server secrets are.

    Raises :class:`ConfigError` unless it is a plain file (no symlink), owned by this user, mode
    0600 or stricter, and exactly ``size`` bytes long.
    """
    try:
        # O_NOFOLLOW: a symlink planted in place of a secret is refused, not followed.
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        raise ConfigError(f"the server secret {path} is missing", hint=_RESTORE_HINT) from None
    except OSError as exc:
        raise ConfigError(
            f"the server secret {path} cannot be read ({exc.strerror or 'error'})"
        ) from None
    with os.fdopen(fd, "rb") as file:
        _check_private(path, os.fstat(file.fileno()), kind="file")
        data = file.read(size + 1)
    if len(data) != size:
        raise ConfigError(
            f"the server secret {path} has the wrong size ({len(data)} bytes, expected {size})",
            hint=_RESTORE_HINT,
        )
    return data


def _check_private(path: Path, info: os.stat_result, *, kind: str) -> None:
    is_dir = stat.S_ISDIR(info.st_mode)
    if is_dir != (kind == "directory") or not (is_dir or stat.S_ISREG(info.st_mode)):
        raise ConfigError(f"the server secrets {kind} {path} is not a plain {kind}")
    if info.st_uid != os.geteuid():
        raise ConfigError(f"the server secrets {kind} {path} belongs to another user")
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        raise ConfigError(
            f"the server secrets {kind} {path} is open to other users (mode {mode:04o})",
            hint=f"chmod {'700' if kind == 'directory' else '600'} {path}, and find out how it "
            "changed",
        )
