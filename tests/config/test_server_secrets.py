"""Server secrets: made once, private, never overwritten, refused when anything is off."""

from __future__ import annotations

import os
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bot.config import ConfigError
from bot.server_secrets import (
    SECRETS_DIRNAME,
    ServerSecrets,
    find_server_secrets,
    load_or_create_server_secrets,
)

NAMES = ("receipt-salt", "receipt-pepper")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_created_once_private_and_reloaded_identical(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    created = load_or_create_server_secrets(state_dir)
    assert mode(state_dir) == 0o700
    assert mode(state_dir / SECRETS_DIRNAME) == 0o700
    sizes = {name: (state_dir / SECRETS_DIRNAME / name).stat().st_size for name in NAMES}
    assert sizes == {"receipt-salt": 16, "receipt-pepper": 32}
    assert all(mode(state_dir / SECRETS_DIRNAME / name) == 0o600 for name in NAMES)
    assert sorted(os.listdir(state_dir)) == [SECRETS_DIRNAME]  # no staging leftovers
    assert load_or_create_server_secrets(state_dir) == created
    assert find_server_secrets(state_dir) == created


def test_existing_secrets_are_never_overwritten(tmp_path: Path) -> None:
    first = load_or_create_server_secrets(tmp_path / "state")
    salt = tmp_path / "state" / SECRETS_DIRNAME / "receipt-salt"
    inode = salt.stat().st_ino
    load_or_create_server_secrets(tmp_path / "state")
    assert salt.stat().st_ino == inode
    assert salt.read_bytes() == first.receipt_salt


def test_find_does_not_create(tmp_path: Path) -> None:
    assert find_server_secrets(tmp_path / "state") is None
    assert not (tmp_path / "state").exists()


def test_concurrent_first_use_agrees_on_one_set(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: load_or_create_server_secrets(state_dir), range(8)))
    assert all(result == results[0] for result in results)
    assert sorted(os.listdir(state_dir)) == [SECRETS_DIRNAME]


def test_group_readable_secret_is_refused(tmp_path: Path) -> None:
    load_or_create_server_secrets(tmp_path / "state")
    pepper = tmp_path / "state" / SECRETS_DIRNAME / "receipt-pepper"
    pepper.chmod(0o640)
    with pytest.raises(ConfigError, match=r"receipt-pepper is open to other users \(mode 0640\)"):
        load_or_create_server_secrets(tmp_path / "state")


def test_group_readable_secrets_directory_is_refused(tmp_path: Path) -> None:
    load_or_create_server_secrets(tmp_path / "state")
    (tmp_path / "state" / SECRETS_DIRNAME).chmod(0o750)
    with pytest.raises(ConfigError, match=r"directory .* is open to other users"):
        find_server_secrets(tmp_path / "state")


@pytest.mark.parametrize("size", [0, 15, 17])
def test_wrong_size_is_refused(tmp_path: Path, size: int) -> None:
    load_or_create_server_secrets(tmp_path / "state")
    salt = tmp_path / "state" / SECRETS_DIRNAME / "receipt-salt"
    salt.write_bytes(bytes(size))
    with pytest.raises(ConfigError, match=r"receipt-salt has the wrong size .*expected 16"):
        load_or_create_server_secrets(tmp_path / "state")


def test_missing_secret_is_refused_not_regenerated(tmp_path: Path) -> None:
    load_or_create_server_secrets(tmp_path / "state")
    (tmp_path / "state" / SECRETS_DIRNAME / "receipt-salt").unlink()
    with pytest.raises(ConfigError, match="receipt-salt is missing") as caught:
        load_or_create_server_secrets(tmp_path / "state")
    assert "backup" in (caught.value.hint or "")
    assert not (tmp_path / "state" / SECRETS_DIRNAME / "receipt-salt").exists()


def test_symlinked_secret_is_refused(tmp_path: Path) -> None:
    load_or_create_server_secrets(tmp_path / "state")
    pepper = tmp_path / "state" / SECRETS_DIRNAME / "receipt-pepper"
    planted = tmp_path / "planted"
    planted.write_bytes(bytes(32))
    planted.chmod(0o600)
    pepper.unlink()
    pepper.symlink_to(planted)
    with pytest.raises(ConfigError, match="receipt-pepper cannot be read"):
        load_or_create_server_secrets(tmp_path / "state")


def test_a_housekeeping_seed_left_by_earlier_versions_is_ignored(tmp_path: Path) -> None:
    # Earlier versions also made a housekeeping-seed; such a state directory loads as before,
    # whatever the file holds, and the file is left where it is.
    created = load_or_create_server_secrets(tmp_path / "state")
    legacy = tmp_path / "state" / SECRETS_DIRNAME / "housekeeping-seed"
    legacy.write_bytes(b"not even 32 bytes")
    legacy.chmod(0o644)
    assert find_server_secrets(tmp_path / "state") == created
    assert legacy.read_bytes() == b"not even 32 bytes"


def test_world_writable_state_dir_is_refused_before_creating(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    state_dir.chmod(0o777)
    with pytest.raises(ConfigError, match="can be written by other users"):
        load_or_create_server_secrets(state_dir)
    assert os.listdir(state_dir) == []


def test_repr_is_redacted(tmp_path: Path) -> None:
    secrets = load_or_create_server_secrets(tmp_path / "state")
    assert repr(secrets) == "ServerSecrets(<redacted>)"
    assert secrets.receipt_pepper.hex() not in f"{secrets!r} {secrets}"


def test_wrong_size_cannot_be_constructed() -> None:
    with pytest.raises(ConfigError):
        ServerSecrets(bytes(16), bytes(31))
