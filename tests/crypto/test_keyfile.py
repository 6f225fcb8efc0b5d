"""Key files: round trips, one error for a wrong passphrase or damage, settings checked first."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest

from crypto import _sodium
from crypto.enrolment import InvalidLabel
from crypto.errors import OpenFailure
from crypto.keyfile import (
    MAGIC,
    MINIMUM,
    InvalidPassphrase,
    KeyFileError,
    KeyFileExists,
    KeyKind,
    MalformedKeyFile,
    UnsafeKeyFileSettings,
    WrongKeyKind,
    WrongPassphrase,
    load_caseworker_identity,
    load_caseworker_key,
    load_org_recovery_key,
    load_org_signing_key,
    read_key_file_header,
    save_caseworker_key,
    save_org_recovery_key,
    save_org_signing_key,
)
from crypto.keys import CaseworkerKeys, Ed25519SigningKey, X25519SecretKey

PASSPHRASE = "correct horse battery staple"
ORG = Ed25519SigningKey(bytes(range(100, 132))).public_key
# Offsets in the fixed header (docs/crypto.md, "Key files").
_VERSION_AT = len(MAGIC)
_OPSLIMIT_AT = len(MAGIC) + 2
_MEMLIMIT_AT = _OPSLIMIT_AT + 4


@pytest.fixture
def keys() -> CaseworkerKeys:
    return CaseworkerKeys.generate()


@pytest.fixture
def key_path(tmp_path: Path, keys: CaseworkerKeys) -> Path:
    path = tmp_path / "caseworker.key"
    save_caseworker_key(path, keys, "Amira", PASSPHRASE, organisation=ORG, kdf=MINIMUM)
    return path


@pytest.fixture
def no_derivation(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Replace Argon2id with a spy; the test asserts it was never reached."""
    calls: list[object] = []

    def spy(*args: object, **kwargs: object) -> bytes:
        calls.append(kwargs)
        return bytes(32)

    monkeypatch.setattr(_sodium, "argon2id", spy)
    return calls


def _patched(path: Path, offset: int, fmt: str, value: int) -> Path:
    data = bytearray(path.read_bytes())
    struct.pack_into(fmt, data, offset, value)
    out = path.with_name("patched.key")
    out.write_bytes(bytes(data))
    return out


def test_caseworker_key_round_trip(key_path: Path, keys: CaseworkerKeys) -> None:
    label, loaded = load_caseworker_key(key_path, PASSPHRASE)
    assert label == "Amira"
    assert loaded.encryption.raw == keys.encryption.raw
    assert loaded.signing.seed == keys.signing.seed


def test_caseworker_key_file_pins_the_organisation_key(key_path: Path) -> None:
    assert load_caseworker_identity(key_path, PASSPHRASE).organisation == ORG
    assert read_key_file_header(key_path).organisation == ORG


def test_a_swapped_pinned_organisation_key_is_refused(key_path: Path, tmp_path: Path) -> None:
    # I9: whoever can write to the caseworker's disk cannot make them trust another organisation
    # without the passphrase: the pinned key is in the authenticated header.
    intruder = Ed25519SigningKey(bytes(range(132, 164))).public_key
    swapped = tmp_path / "swapped.key"
    swapped.write_bytes(key_path.read_bytes().replace(ORG.raw, intruder.raw))
    assert read_key_file_header(swapped).organisation == intruder
    with pytest.raises(WrongPassphrase):
        load_caseworker_identity(swapped, PASSPHRASE)


def test_organisation_keys_round_trip(tmp_path: Path) -> None:
    signing, recovery = Ed25519SigningKey.generate(), X25519SecretKey.generate()
    save_org_signing_key(tmp_path / "s.key", signing, "org", b"bytes passphrase", kdf=MINIMUM)
    save_org_recovery_key(tmp_path / "r.key", recovery, "org", b"bytes passphrase", kdf=MINIMUM)
    assert load_org_signing_key(tmp_path / "s.key", b"bytes passphrase")[1].seed == signing.seed
    assert load_org_recovery_key(tmp_path / "r.key", b"bytes passphrase")[1].raw == recovery.raw


def test_header_is_readable_without_the_passphrase(key_path: Path, keys: CaseworkerKeys) -> None:
    header = read_key_file_header(key_path)
    assert header.kind is KeyKind.CASEWORKER
    assert header.label == "Amira"
    assert header.settings == MINIMUM
    assert header.public_keys == keys.public.encryption.raw + keys.public.signing.raw


def test_private_keys_are_not_in_the_file(key_path: Path, keys: CaseworkerKeys) -> None:
    data = key_path.read_bytes()
    assert keys.encryption.raw not in data
    assert keys.signing.seed not in data
    assert PASSPHRASE.encode() not in data


def test_wrong_passphrase_is_one_clear_error(key_path: Path) -> None:
    with pytest.raises(WrongPassphrase) as info:
        load_caseworker_key(key_path, PASSPHRASE + "!")
    assert str(info.value) == "wrong passphrase or damaged key file"
    assert isinstance(info.value, OpenFailure)


def test_unicode_passphrase_is_normalised(tmp_path: Path, keys: CaseworkerKeys) -> None:
    path = tmp_path / "k.key"
    save_caseworker_key(path, keys, "Amira", "caf\u00e9 كلمة", organisation=ORG, kdf=MINIMUM)
    assert load_caseworker_key(path, "cafe\u0301 كلمة")[1].encryption.raw == keys.encryption.raw


def test_empty_passphrase_is_refused(tmp_path: Path, keys: CaseworkerKeys, key_path: Path) -> None:
    with pytest.raises(InvalidPassphrase):
        save_caseworker_key(
            tmp_path / "empty.key", keys, "Amira", "", organisation=ORG, kdf=MINIMUM
        )
    assert not (tmp_path / "empty.key").exists()
    with pytest.raises(InvalidPassphrase):
        load_caseworker_key(key_path, b"")


def test_every_flipped_bit_is_refused(key_path: Path, tmp_path: Path) -> None:
    data = key_path.read_bytes()
    header_end = len(data) - 64 - _sodium.AEAD_TAG_BYTES
    flipped = tmp_path / "flipped.key"
    outcomes: set[type[Exception]] = set()
    for index in range(len(data)):
        for bit in range(8):
            damaged = bytearray(data)
            damaged[index] ^= 1 << bit
            flipped.write_bytes(bytes(damaged))
            with pytest.raises((WrongPassphrase, KeyFileError)) as info:
                load_caseworker_key(flipped, PASSPHRASE)
            outcomes.add(type(info.value))
            if index >= header_end:  # ciphertext and tag: only ever the one opaque error
                assert type(info.value) is WrongPassphrase
    # Header flips show both paths: caught by range checks, or by the AEAD over the header.
    assert {WrongPassphrase, UnsafeKeyFileSettings, MalformedKeyFile} <= outcomes


def test_truncated_file_is_refused(key_path: Path, tmp_path: Path) -> None:
    data = key_path.read_bytes()
    cut = tmp_path / "cut.key"
    for length in (0, 4, len(MAGIC) + 1, 40, len(data) - 1):
        cut.write_bytes(data[:length])
        with pytest.raises(MalformedKeyFile):
            load_caseworker_key(cut, PASSPHRASE)
    cut.write_bytes(data + b"\x00")
    with pytest.raises(MalformedKeyFile):
        load_caseworker_key(cut, PASSPHRASE)


@pytest.mark.parametrize(
    ("offset", "fmt", "value", "what"),
    [
        (_MEMLIMIT_AT, ">Q", 64 << 30, "memlimit"),  # 64 GiB
        (_MEMLIMIT_AT, ">Q", (1 << 30) + 1024, "memlimit"),  # just above SENSITIVE
        (_MEMLIMIT_AT, ">Q", 4096, "memlimit"),  # below libsodium's minimum
        (_OPSLIMIT_AT, ">I", 1 << 31, "opslimit"),
        (_OPSLIMIT_AT, ">I", 5, "opslimit"),
        (_OPSLIMIT_AT, ">I", 0, "opslimit"),
    ],
)
def test_out_of_range_settings_are_refused_before_deriving(
    key_path: Path, no_derivation: list[object], offset: int, fmt: str, value: int, what: str
) -> None:
    patched = _patched(key_path, offset, fmt, value)
    with pytest.raises(UnsafeKeyFileSettings, match=what):
        load_caseworker_key(patched, PASSPHRASE)
    with pytest.raises(UnsafeKeyFileSettings):
        read_key_file_header(patched)
    assert no_derivation == []


def test_a_v1_key_file_is_refused_by_name(key_path: Path, no_derivation: list[object]) -> None:
    patched = _patched(key_path, _VERSION_AT, ">B", 1)
    with pytest.raises(MalformedKeyFile, match=r"format version 1; .* reads version 2 only"):
        load_caseworker_key(patched, PASSPHRASE)
    assert no_derivation == []


def test_a_label_with_direction_marks_is_refused_before_it_is_shown(
    key_path: Path, tmp_path: Path
) -> None:
    data = key_path.read_bytes()
    # "Amira" -> RIGHT-TO-LEFT OVERRIDE + "ra": the same five bytes, so only the label changes.
    crafted = data.replace(b"Amira", "\u202era".encode(), 1)
    assert crafted != data
    assert len(crafted) == len(data)
    path = tmp_path / "crafted.key"
    path.write_bytes(crafted)
    with pytest.raises(MalformedKeyFile, match="label"):
        read_key_file_header(path)


def test_not_a_key_file_is_refused(tmp_path: Path) -> None:
    other = tmp_path / "notes.txt"
    other.write_bytes(b"hello, this is not a key")
    with pytest.raises(MalformedKeyFile, match="not a Sanad key file"):
        load_caseworker_key(other, PASSPHRASE)


def test_wrong_kind_is_named_before_deriving(tmp_path: Path) -> None:
    path = tmp_path / "recovery.key"
    save_org_recovery_key(path, X25519SecretKey.generate(), "org", PASSPHRASE, kdf=MINIMUM)
    with pytest.raises(WrongKeyKind, match="organisation recovery key file, not a caseworker"):
        load_caseworker_key(path, "not even the right passphrase")


def test_file_is_created_mode_0600_whatever_the_umask(tmp_path: Path, keys: CaseworkerKeys) -> None:
    old = os.umask(0)
    try:
        path = tmp_path / "k.key"
        save_caseworker_key(path, keys, "Amira", PASSPHRASE, organisation=ORG, kdf=MINIMUM)
        assert path.stat().st_mode & 0o777 == 0o600
        save_caseworker_key(
            path, keys, "Amira", PASSPHRASE, organisation=ORG, kdf=MINIMUM, force=True
        )
        assert path.stat().st_mode & 0o777 == 0o600
    finally:
        os.umask(old)


def test_existing_file_is_not_overwritten_without_force(
    key_path: Path, tmp_path: Path, no_derivation: list[object]
) -> None:
    before = key_path.read_bytes()
    with pytest.raises(KeyFileExists):
        save_caseworker_key(
            key_path, CaseworkerKeys.generate(), "Other", "x", organisation=ORG, kdf=MINIMUM
        )
    assert key_path.read_bytes() == before
    assert no_derivation == []  # refused before spending a derivation on it
    assert sorted(p.name for p in tmp_path.iterdir()) == ["caseworker.key"]


def test_force_replaces_atomically_and_leaves_no_temporary_file(
    key_path: Path, tmp_path: Path
) -> None:
    replacement = CaseworkerKeys.generate()
    save_caseworker_key(
        key_path, replacement, "Amira", "new", force=True, organisation=ORG, kdf=MINIMUM
    )
    assert load_caseworker_key(key_path, "new")[1].encryption.raw == replacement.encryption.raw
    assert sorted(p.name for p in tmp_path.iterdir()) == ["caseworker.key"]


def test_invalid_label_is_refused(tmp_path: Path, keys: CaseworkerKeys) -> None:
    with pytest.raises(InvalidLabel):
        save_caseworker_key(
            tmp_path / "k.key", keys, "bad\u202elabel", PASSPHRASE, organisation=ORG, kdf=MINIMUM
        )
    assert not (tmp_path / "k.key").exists()
