"""Passphrase-protected key files (docs/crypto.md, "Key files").

Private keys of caseworkers and of the organisation live only in these files, on their owners'
machines (I5). A file is::

    magic "SANADKEY" | version (2) | kind | opslimit | memlimit | salt | nonce
    | label length | label | public key(s) [| pinned organisation signing key]
    | XChaCha20-Poly1305(private key material)

and everything before the ciphertext is the AEAD's associated data, so the public keys, the kind,
the label, the pinned organisation key and the Argon2id settings cannot be altered without the
passphrase noticing. A caseworker's file pins the organisation signing key the admin read out at
``sanad caseworker init --org``: every file the caseworker opens must chain to it (I9). The
Argon2id settings are range-checked before any derivation: a tampered file must not be able to
ask for 64 GiB. A wrong passphrase and a damaged ciphertext are one error, deliberately.
"""

from __future__ import annotations

import enum
import os
import secrets
import stat
import struct
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from crypto import _sodium
from crypto.enrolment import InvalidLabel, validate_label
from crypto.errors import CryptoError, OpenFailure
from crypto.keys import (
    CaseworkerKeys,
    Ed25519PublicKey,
    Ed25519SigningKey,
    MalformedKey,
    X25519PublicKey,
    X25519SecretKey,
)

MAGIC = b"SANADKEY"
VERSION = 2
FILE_MODE = 0o600
# magic, version, kind, opslimit (u32), memlimit (u64), salt, nonce, label length
_FIXED_HEADER = struct.Struct(
    f">{len(MAGIC)}sBBIQ{_sodium.ARGON2ID_SALT_BYTES}s{_sodium.AEAD_NONCE_BYTES}sB"
)
_KEY_BYTES = 32


class KeyKind(enum.IntEnum):
    """What a key file holds; the number is the kind byte in the file."""

    ORG_SIGNING = 1  # Ed25519 seed; public: Ed25519 public key
    ORG_RECOVERY = 2  # X25519 secret; public: X25519 public key
    CASEWORKER = 3  # X25519 secret + Ed25519 seed; public: both public keys

    @property
    def description(self) -> str:
        return {
            KeyKind.ORG_SIGNING: "an organisation signing key file",
            KeyKind.ORG_RECOVERY: "an organisation recovery key file",
            KeyKind.CASEWORKER: "a caseworker key file",
        }[self]

    @property
    def key_count(self) -> int:
        return 2 if self is KeyKind.CASEWORKER else 1

    @property
    def pins_organisation(self) -> bool:
        """A caseworker's file carries the organisation signing key it trusts."""
        return self is KeyKind.CASEWORKER


@dataclass(frozen=True)
class Argon2idSettings:
    """Argon2id cost: ``opslimit`` passes over ``memlimit`` bytes (libsodium's crypto_pwhash)."""

    opslimit: int
    memlimit: int


MINIMUM = Argon2idSettings(_sodium.ARGON2ID_OPSLIMIT_MIN, _sodium.ARGON2ID_MEMLIMIT_MIN)
INTERACTIVE = Argon2idSettings(*_sodium.ARGON2ID_INTERACTIVE)
MODERATE = Argon2idSettings(*_sodium.ARGON2ID_MODERATE)
SENSITIVE = Argon2idSettings(*_sodium.ARGON2ID_SENSITIVE)
# What a file may ask for. Sanad never writes more than SENSITIVE (4 passes over 1 GiB), so
# anything above it was not written by Sanad and is refused before deriving: a tampered header
# must not make the machine allocate or grind for as long as it asks.
_MAXIMUM = SENSITIVE


class KeyFileError(CryptoError):
    """This key file cannot be used."""


class MalformedKeyFile(KeyFileError):
    """This is not a Sanad key file, or it is truncated, or of an unsupported version."""


class WrongKeyKind(KeyFileError):
    """This key file holds a different kind of key than the one asked for."""


class UnsafeKeyFileSettings(MalformedKeyFile):
    """This key file asks for Argon2id settings outside the range Sanad writes."""


class KeyFileExists(KeyFileError):
    """A key file already exists at this path and would be overwritten."""


class ExposedKeyFile(KeyFileError):
    """This key file can be read by other accounts of this computer; the message says the fix."""


class InvalidPassphrase(KeyFileError):
    """This passphrase cannot be used (it is empty)."""


class WrongPassphrase(OpenFailure):
    """Wrong passphrase or damaged key file."""

    def __init__(self) -> None:
        super().__init__("wrong passphrase or damaged key file")


@dataclass(frozen=True)
class KeyFileHeader:
    """The authenticated, unencrypted part of a key file: readable without the passphrase."""

    kind: KeyKind
    label: str
    settings: Argon2idSettings
    salt: bytes
    nonce: bytes
    public_keys: bytes
    organisation: Ed25519PublicKey | None = None

    @property
    def encryption_key(self) -> X25519PublicKey | None:
        """The X25519 public key this file's secret opens wraps for; None for a signing key."""
        if self.kind is KeyKind.ORG_SIGNING:
            return None
        return X25519PublicKey(self.public_keys[:_KEY_BYTES])


def _passphrase_bytes(passphrase: str | bytes) -> bytes:
    # NFC so the same passphrase typed on two keyboards (precomposed or combining accents) is
    # the same bytes.
    if isinstance(passphrase, str):
        passphrase = unicodedata.normalize("NFC", passphrase).encode("utf-8")
    if not passphrase:
        raise InvalidPassphrase("the passphrase is empty")
    return passphrase


def _check_settings(settings: Argon2idSettings) -> None:
    if not MINIMUM.opslimit <= settings.opslimit <= _MAXIMUM.opslimit:
        raise UnsafeKeyFileSettings(
            f"key file asks for Argon2id opslimit {settings.opslimit}, outside "
            f"{MINIMUM.opslimit}..{_MAXIMUM.opslimit}; refusing to derive"
        )
    if not MINIMUM.memlimit <= settings.memlimit <= _MAXIMUM.memlimit:
        raise UnsafeKeyFileSettings(
            f"key file asks for Argon2id memlimit {settings.memlimit} bytes, outside "
            f"{MINIMUM.memlimit}..{_MAXIMUM.memlimit}; refusing to derive"
        )


def _header_bytes(header: KeyFileHeader) -> bytes:
    label = header.label.encode("utf-8")
    return (
        _FIXED_HEADER.pack(
            MAGIC,
            VERSION,
            header.kind,
            header.settings.opslimit,
            header.settings.memlimit,
            header.salt,
            header.nonce,
            len(label),
        )
        + label
        + header.public_keys
        + (header.organisation.raw if header.organisation else b"")
    )


def _seal_key_file_from_parts(
    header: KeyFileHeader, private_keys: bytes, passphrase: str | bytes
) -> bytes:
    """The bytes of a key file with the given salt and nonce. Tests call this; code calls save_*."""
    _check_settings(header.settings)
    if len(header.public_keys) != len(private_keys) or len(private_keys) != (
        header.kind.key_count * _KEY_BYTES
    ):
        raise KeyFileError("key material does not match the key kind")
    if (header.organisation is not None) != header.kind.pins_organisation:
        raise KeyFileError("only a caseworker key file pins the organisation key")
    associated_data = _header_bytes(header)
    key = _sodium.argon2id(
        _passphrase_bytes(passphrase),
        header.salt,
        opslimit=header.settings.opslimit,
        memlimit=header.settings.memlimit,
        size=_sodium.AEAD_KEY_BYTES,
    )
    return associated_data + _sodium.aead_encrypt(key, header.nonce, private_keys, associated_data)


def parse_key_file_header(data: bytes) -> tuple[KeyFileHeader, bytes]:
    """The header of a key file and its ciphertext, checked without any derivation.

    Raises :class:`MalformedKeyFile` (not a key file, truncated, unknown version or kind, bad
    label) and :class:`UnsafeKeyFileSettings` (Argon2id settings out of range).
    """
    if not data.startswith(MAGIC):
        raise MalformedKeyFile("this is not a Sanad key file")
    if len(data) < len(MAGIC) + 1:
        raise MalformedKeyFile("this key file is truncated")
    version = data[len(MAGIC)]
    if version != VERSION:  # checked before anything else is parsed
        raise MalformedKeyFile(
            f"this key file is format version {version}; this version of Sanad reads version "
            f"{VERSION} only"
        )
    if len(data) < _FIXED_HEADER.size:
        raise MalformedKeyFile("this key file is truncated")
    _magic, _version, kind_byte, opslimit, memlimit, salt, nonce, label_length = (
        _FIXED_HEADER.unpack_from(data)
    )
    try:
        kind = KeyKind(kind_byte)
    except ValueError as exc:
        raise MalformedKeyFile(f"key file kind {kind_byte} is not known") from exc
    settings = Argon2idSettings(opslimit, memlimit)
    _check_settings(settings)
    label_end = _FIXED_HEADER.size + label_length
    keys_end = label_end + kind.key_count * _KEY_BYTES
    public_end = keys_end + (_KEY_BYTES if kind.pins_organisation else 0)
    if len(data) != public_end + kind.key_count * _KEY_BYTES + _sodium.AEAD_TAG_BYTES:
        raise MalformedKeyFile("this key file is truncated or has trailing bytes")
    try:
        label = data[_FIXED_HEADER.size : label_end].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedKeyFile("the label in this key file is not text") from exc
    # Shown before any passphrase: a crafted label must not carry control or direction marks.
    try:
        valid = validate_label(label) == label
    except InvalidLabel:
        valid = False
    if not valid:
        raise MalformedKeyFile("the label in this key file is not a valid label")
    try:
        organisation = (
            Ed25519PublicKey(data[keys_end:public_end]) if kind.pins_organisation else None
        )
    except MalformedKey as exc:
        raise MalformedKeyFile("the organisation key in this key file is not usable") from exc
    header = KeyFileHeader(
        kind, label, settings, salt, nonce, data[label_end:keys_end], organisation
    )
    _check_public_keys(header)
    return header, data[public_end:]


def _check_public_keys(header: KeyFileHeader) -> None:
    # The header's public keys are shown and used without the passphrase: refuse one that no
    # honest key pair has (docs/crypto.md, "Keys"), as the key types do everywhere else.
    first, second = header.public_keys[:_KEY_BYTES], header.public_keys[_KEY_BYTES:]
    try:
        if header.kind is KeyKind.ORG_SIGNING:
            Ed25519PublicKey(first)
        else:
            X25519PublicKey(first)
        if header.kind is KeyKind.CASEWORKER:
            Ed25519PublicKey(second)
    except MalformedKey as exc:
        raise MalformedKeyFile(
            "a public key in this key file is not usable (low-order or non-canonical)"
        ) from exc


def _open_key_file(
    data: bytes, passphrase: str | bytes, kind: KeyKind
) -> tuple[KeyFileHeader, bytes]:
    """Authenticated header and private key material of a key file of ``kind``; see load_*."""
    header, ciphertext = parse_key_file_header(data)
    if header.kind is not kind:
        raise WrongKeyKind(f"this is {header.kind.description}, not {kind.description}")
    key = _sodium.argon2id(
        _passphrase_bytes(passphrase),
        header.salt,
        opslimit=header.settings.opslimit,
        memlimit=header.settings.memlimit,
        size=_sodium.AEAD_KEY_BYTES,
    )
    try:
        private_keys = _sodium.aead_decrypt(
            key, header.nonce, ciphertext, data[: len(data) - len(ciphertext)]
        )
    except OpenFailure as exc:
        raise WrongPassphrase from exc
    # The header's public keys are authenticated, but only a writer holding the passphrase could
    # have paired them with other private keys; refuse such a file rather than trust either half.
    if _public_keys_of(kind, private_keys) != header.public_keys:
        raise WrongPassphrase
    return header, private_keys


def _public_keys_of(kind: KeyKind, private_keys: bytes) -> bytes:
    """The public half, as stored in the header, of a kind's private key material."""
    if kind is KeyKind.ORG_SIGNING:
        return Ed25519SigningKey(private_keys).public_key.raw
    if kind is KeyKind.ORG_RECOVERY:
        return X25519SecretKey(private_keys).public_key.raw
    keys = _caseworker_keys(private_keys)
    return keys.public.encryption.raw + keys.public.signing.raw


def _caseworker_keys(private_keys: bytes) -> CaseworkerKeys:
    return CaseworkerKeys(
        X25519SecretKey(private_keys[:_KEY_BYTES]), Ed25519SigningKey(private_keys[_KEY_BYTES:])
    )


def write_private_file(path: Path, data: bytes, *, replace: bool = False) -> None:
    """Write ``data`` to ``path``, readable by its owner only from the first byte, and durably.

    Without ``replace``, O_CREAT|O_EXCL makes "the file exists" atomic (no check-then-write race)
    and an existing file raises :class:`FileExistsError`. With ``replace``, a private temporary
    file in the same folder is renamed over the old one, so the old contents survive a crash
    mid-write and nothing is readable by others even briefly.

    Portable (Windows, macOS, Linux): O_BINARY where it exists (without it Windows would turn
    every newline byte into two), ``fchmod`` only where it exists (the mode given to ``os.open``
    already applies; on Windows a file's privacy comes from its folder's access list, not a
    mode), and the folder's fsync only where a folder can be opened (not on Windows, whose
    renames are durable once the file is).
    """
    flags = (
        os.O_WRONLY
        | os.O_CREAT
        | os.O_EXCL
        | getattr(os, "O_NOFOLLOW", 0)
        | getattr(os, "O_BINARY", 0)
    )
    target = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp") if replace else path
    fd = os.open(target, flags, FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as handle:
            if hasattr(os, "fchmod"):
                os.fchmod(handle.fileno(), FILE_MODE)  # the umask may only have removed bits
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if replace:
            os.replace(target, path)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    _sync_folder(path.parent)


def _sync_folder(folder: Path) -> None:
    """Make a new name in ``folder`` survive a power cut, or the only copy of a key could vanish.

    Where a folder cannot be opened (Windows refuses, with PermissionError) or synced (some
    network file systems), the file's own fsync is all the platform offers.
    """
    try:
        directory = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(directory)
    except OSError:
        pass
    finally:
        os.close(directory)


def refuse_exposed_key_file(path: Path | str) -> None:
    """Raise :class:`ExposedKeyFile` if other accounts of this computer may read ``path``.

    A key file is only as strong as its passphrase once someone copies it: on a shared or seized
    machine, group- or world-readable means copied. Checked on POSIX systems only: Windows keeps
    a file private with its folder's access list, which a mode does not describe.
    """
    if os.name != "posix":
        return
    mode = stat.S_IMODE(Path(path).stat().st_mode)
    if mode & 0o077:
        raise ExposedKeyFile(
            f"{path} can be read by other accounts of this computer (mode {mode:04o}): "
            f"run chmod 600 {path}"
        )


def _save(
    path: Path | str,
    kind: KeyKind,
    label: str,
    private_keys: bytes,
    passphrase: str | bytes,
    *,
    force: bool,
    kdf: Argon2idSettings,
    organisation: Ed25519PublicKey | None = None,
) -> None:
    path = Path(path)
    if path.exists() and not force:  # early and friendly; write_private_file is the real check
        raise KeyFileExists(f"{path} already exists")
    header = KeyFileHeader(
        kind,
        validate_label(label),
        kdf,
        _sodium.random_bytes(_sodium.ARGON2ID_SALT_BYTES),
        _sodium.random_bytes(_sodium.AEAD_NONCE_BYTES),
        _public_keys_of(kind, private_keys),
        organisation,
    )
    data = _seal_key_file_from_parts(header, private_keys, passphrase)
    try:
        write_private_file(path, data, replace=force)
    except FileExistsError as exc:
        raise KeyFileExists(f"{path} already exists") from exc


def read_key_file_header(path: Path | str) -> KeyFileHeader:
    """The kind, label, settings and public keys of a key file, without its passphrase."""
    return parse_key_file_header(Path(path).read_bytes())[0]


@dataclass(frozen=True)
class CaseworkerIdentity:
    """What a caseworker's key file holds once opened: their keys and whom they trust."""

    label: str
    keys: CaseworkerKeys
    organisation: Ed25519PublicKey


def save_caseworker_key(
    path: Path | str,
    keys: CaseworkerKeys,
    label: str,
    passphrase: str | bytes,
    *,
    organisation: Ed25519PublicKey,
    force: bool = False,
    kdf: Argon2idSettings = MODERATE,
) -> None:
    """Write a caseworker key file (mode 0600) pinning ``organisation``, the organisation
    signing key the admin read out. Raises KeyFileExists unless ``force``."""
    private = keys.encryption.raw + keys.signing.seed
    _save(
        path,
        KeyKind.CASEWORKER,
        label,
        private,
        passphrase,
        force=force,
        kdf=kdf,
        organisation=organisation,
    )


def load_caseworker_identity(path: Path | str, passphrase: str | bytes) -> CaseworkerIdentity:
    """The label, keys and pinned organisation key in a caseworker key file.

    Raises :class:`WrongPassphrase` for a wrong passphrase or any damage to the protected part,
    and a precise :class:`KeyFileError` for anything found before deriving.
    """
    header, private = _open_key_file(Path(path).read_bytes(), passphrase, KeyKind.CASEWORKER)
    if header.organisation is None:  # parse_key_file_header reads it for every caseworker file
        raise MalformedKeyFile("this caseworker key file pins no organisation key")
    return CaseworkerIdentity(header.label, _caseworker_keys(private), header.organisation)


def load_caseworker_key(path: Path | str, passphrase: str | bytes) -> tuple[str, CaseworkerKeys]:
    """The label and keys in a caseworker key file (errors as :func:`load_caseworker_identity`)."""
    identity = load_caseworker_identity(path, passphrase)
    return identity.label, identity.keys


def save_org_signing_key(
    path: Path | str,
    key: Ed25519SigningKey,
    label: str,
    passphrase: str | bytes,
    *,
    force: bool = False,
    kdf: Argon2idSettings = SENSITIVE,
) -> None:
    """Write the organisation signing key file (mode 0600); KeyFileExists unless ``force``."""
    _save(path, KeyKind.ORG_SIGNING, label, key.seed, passphrase, force=force, kdf=kdf)


def load_org_signing_key(
    path: Path | str, passphrase: str | bytes
) -> tuple[str, Ed25519SigningKey]:
    """The label and key in an organisation signing key file (errors as load_caseworker_key)."""
    header, private = _open_key_file(Path(path).read_bytes(), passphrase, KeyKind.ORG_SIGNING)
    return header.label, Ed25519SigningKey(private)


def save_org_recovery_key(
    path: Path | str,
    key: X25519SecretKey,
    label: str,
    passphrase: str | bytes,
    *,
    force: bool = False,
    kdf: Argon2idSettings = SENSITIVE,
) -> None:
    """Write the organisation recovery key file (mode 0600); KeyFileExists unless ``force``."""
    _save(path, KeyKind.ORG_RECOVERY, label, key.raw, passphrase, force=force, kdf=kdf)


def load_org_recovery_key(path: Path | str, passphrase: str | bytes) -> tuple[str, X25519SecretKey]:
    """The label and key in an organisation recovery key file (errors as load_caseworker_key)."""
    header, private = _open_key_file(Path(path).read_bytes(), passphrase, KeyKind.ORG_RECOVERY)
    return header.label, X25519SecretKey(private)
