"""Key files and the caseworker's private files on Windows, macOS and Linux.

These tests run on Linux, so they take the POSIX-only calls away (as Windows lacks them, or
refuses them) and check that what a caseworker relies on still holds: the file is written, whole,
owner-only where modes exist, and a key file's exposure is judged only where modes mean it.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import pytest

from crypto.keyfile import (
    MINIMUM,
    ExposedKeyFile,
    load_caseworker_key,
    refuse_exposed_key_file,
    save_caseworker_key,
    write_private_file,
)
from crypto.keys import CaseworkerKeys, OrganisationKeys
from desk import places
from desk.manifest import OpenedManifest

PASSPHRASE = "a long enough test passphrase"
DATA = b"line one\nline two\r\n\x00\xff"


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_private_file_is_written_without_fchmod(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delattr(os, "fchmod")  # Windows before Python 3.13
    path = tmp_path / "new.key"
    write_private_file(path, DATA)
    assert path.read_bytes() == DATA
    assert _mode(path) == 0o600  # the mode given at creation, not a later chmod


def test_private_file_is_written_where_a_folder_cannot_be_opened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_open = os.open
    refused: list[str] = []

    def windows_open(path: str | os.PathLike[str], flags: int, *args: int) -> int:
        if Path(path).is_dir():  # what Windows answers to os.open of a folder
            refused.append(str(path))
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, *args)

    monkeypatch.setattr(os, "open", windows_open)
    path = tmp_path / "new.key"
    write_private_file(path, DATA)
    write_private_file(path, DATA + b"!", replace=True)
    assert path.read_bytes() == DATA + b"!"
    assert refused == [str(tmp_path), str(tmp_path)]
    assert [p.name for p in tmp_path.iterdir()] == ["new.key"]  # no temporary file left


def test_private_file_is_opened_in_binary_mode_where_the_platform_has_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Windows' O_BINARY stops the C runtime turning b"\n" into b"\r\n"; on Linux a harmless
    # flag stands in for it, to see that it reaches os.open.
    monkeypatch.setattr(os, "O_BINARY", os.O_CLOEXEC, raising=False)
    real_open = os.open
    seen: list[int] = []

    def spy(path: str | os.PathLike[str], flags: int, *args: int) -> int:
        seen.append(flags)
        return real_open(path, flags, *args)

    monkeypatch.setattr(os, "open", spy)
    write_private_file(tmp_path / "new.key", DATA)
    assert seen[0] & os.O_CLOEXEC
    assert (tmp_path / "new.key").read_bytes() == DATA


def test_existing_private_file_is_never_replaced_unasked(tmp_path: Path) -> None:
    path = tmp_path / "taken"
    path.write_bytes(b"first")
    with pytest.raises(FileExistsError):
        write_private_file(path, DATA)
    assert path.read_bytes() == b"first"


def test_key_file_round_trips_without_posix_calls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delattr(os, "fchmod")
    monkeypatch.delattr(os, "O_NOFOLLOW")
    organisation = OrganisationKeys.generate().signing.public_key
    keys = CaseworkerKeys.generate()
    path = tmp_path / "caseworker.key"
    save_caseworker_key(path, keys, "Amal", PASSPHRASE, organisation=organisation, kdf=MINIMUM)
    label, opened = load_caseworker_key(path, PASSPHRASE)
    assert (label, opened.public) == ("Amal", keys.public)


def test_manifest_is_kept_without_fchmod(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(os, "fchmod")
    OpenedManifest(tmp_path).record("K7Q-4M2P", 0, b"sealed")
    OpenedManifest(tmp_path).record("K7Q-4M2P", 1, b"sealed")
    assert OpenedManifest(tmp_path).repeats("K7Q-4M2P", 0, b"sealed")


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o644])
def test_key_file_readable_by_others_is_refused_on_posix(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "caseworker.key"
    path.write_bytes(b"key")
    path.chmod(mode)
    with pytest.raises(ExposedKeyFile, match=r"run chmod 600 .*caseworker\.key$"):
        refuse_exposed_key_file(path)


def test_owner_only_key_file_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "caseworker.key"
    path.write_bytes(b"key")
    path.chmod(0o600)
    refuse_exposed_key_file(path)


def test_key_file_mode_is_not_judged_on_windows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Windows reports every readable file as 0o666: its privacy is the folder's access list.
    path = tmp_path / "caseworker.key"
    path.write_bytes(b"key")
    path.chmod(0o666)
    monkeypatch.setattr(os, "name", "nt")
    refuse_exposed_key_file(path)
    monkeypatch.setattr(os, "name", "posix")
    with pytest.raises(ExposedKeyFile):
        refuse_exposed_key_file(path)


def test_the_desk_keeps_its_data_where_each_system_keeps_an_applications(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(places, "os", SimpleNamespace(name="nt", environ={
        "LOCALAPPDATA": str(tmp_path / "AppData" / "Local")}))  # fmt: skip
    assert places.default_data_folder() == tmp_path / "AppData" / "Local" / "Sanad" / "desk"
    monkeypatch.setattr(places, "os", SimpleNamespace(name="posix", environ={}))
    monkeypatch.setattr(places.sys, "platform", "darwin")
    monkeypatch.setattr(Path, "home", lambda: tmp_path)
    assert places.default_data_folder() == (
        tmp_path / "Library" / "Application Support" / "Sanad" / "desk"
    )
    monkeypatch.setattr(places.sys, "platform", "linux")
    assert places.default_data_folder() == tmp_path / ".local" / "share" / "sanad" / "desk"
    monkeypatch.setattr(places, "os", SimpleNamespace(name="posix", environ={
        "XDG_DATA_HOME": str(tmp_path / "xdg")}))  # fmt: skip
    assert places.default_data_folder() == tmp_path / "xdg" / "sanad" / "desk"
    assert places.default_inbox() == tmp_path / "Downloads"
