"""Trusting and opening sealed files with a caseworker's (or the recovery) key file (I9).

The order is the safety: the key file's public header is read without its passphrase; a file is
checked — bot signature, bot certificate, pinned organisation key, sealed to this key — before
any passphrase is asked or anything decrypted; only then is the key file opened. The command
line and the desk both go through here, and :func:`refusals` turns what the cryptography refuses
into one :class:`DeskError` each of them shows (the desk beside a refused file, the command line
as its one line).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from crypto.errors import NotForThisKey, OpenFailure, UnsupportedVersion
from crypto.keyfile import (
    CaseworkerIdentity,
    KeyFileHeader,
    KeyKind,
    WrongPassphrase,
    load_caseworker_identity,
    load_org_recovery_key,
    read_key_file_header,
    refuse_exposed_key_file,
)
from crypto.keys import ORG_SIGNING_PREFIX, Ed25519PublicKey, MalformedKey, X25519SecretKey
from crypto.sealed_file import SealedFile, UntrustedFile, read_sealed_file
from crypto.sealed_parts import PartsDoNotJoin, is_sealed_part, join_sealed_parts
from desk.errors import DeskError
from desk.evidence.custody import OPENED, OPENED_WITH_RECOVERY_KEY, CustodyLog


def organisation_key(text: str) -> Ed25519PublicKey:
    """The organisation signing key from its ``sanad-sign1:...`` text, or one clear refusal."""
    try:
        return Ed25519PublicKey.from_text(
            text.strip(), ORG_SIGNING_PREFIX, "the organisation signing key"
        )
    except MalformedKey as exc:
        raise DeskError(
            "--org is not an organisation signing key",
            hint="copy the signing_public_key value (sanad-sign1:...) the admin gave you",
        ) from exc


@dataclass(frozen=True)
class OpeningKey:
    """A key file that may open sealed files, and the organisation key files must chain to."""

    path: Path
    header: KeyFileHeader
    organisation: Ed25519PublicKey


def key_file_header(key_file: Path, *, caseworker_only: bool = False) -> KeyFileHeader:
    """The public header of a caseworker key file, or the recovery key file (unless
    ``caseworker_only``), read without a passphrase; a key file other accounts may read is
    refused first, and the organisation signing key, which opens nothing, after."""
    header = read_key_file_header(key_file)
    refuse_exposed_key_file(key_file)
    if caseworker_only and header.kind is not KeyKind.CASEWORKER:
        raise DeskError("replies are signed with a caseworker key file")
    if header.encryption_key is None:
        raise DeskError(
            "this is the organisation signing key, which cannot open reports",
            hint="use your caseworker key file or the organisation's recovery key file",
        )
    return header


def opening_key(key_file: Path, org: str | None, *, caseworker_only: bool) -> OpeningKey:
    """The key file's public header and the organisation key to verify files against.

    A caseworker key file pins that key (``init --org``); the recovery key file pins none, so
    whoever opens with it names the organisation key with ``--org`` (unless ``caseworker_only``,
    for replies, which only a caseworker signs). Read without a passphrase, so that an untrusted
    file is refused before Argon2id runs; a key file other accounts may read is refused first.
    """
    header = key_file_header(key_file, caseworker_only=caseworker_only)
    given = organisation_key(org) if org is not None else None
    pinned = header.organisation
    if pinned is not None and given is not None and given != pinned:
        raise DeskError(
            "--org is not the organisation key your key file pins",
            hint="leave out --org: your key file already names your organisation",
        )
    organisation = pinned or given
    if organisation is None:
        raise DeskError(
            "the recovery key file pins no organisation key",
            hint="pass the organisation signing key as --org sanad-sign1:...",
        )
    return OpeningKey(key_file, header, organisation)


def whole_file(given: list[bytes], key: OpeningKey) -> bytes:
    """The sealed report file given as itself, or put back together from its parts.

    Every part must be signed by the organisation's bot, and the parts must make exactly one
    file (docs/crypto.md, "Parts of a sealed report file"); the file is then checked as a whole
    file is. A part given twice byte for byte (I8's repeat) counts once.
    """
    parts = [data for data in given if is_sealed_part(data)]
    if not parts and len(given) == 1:
        return given[0]
    if len(parts) != len(given):
        raise DeskError(
            "give one sealed report file, or the parts of one",
            hint="a file sent in parts is named case-...-N.partKofM.sanad; pass every part",
        )
    return join_sealed_parts(parts, key.organisation)


def trusted_file(data: bytes, key: OpeningKey) -> SealedFile:
    """The sealed file, once its bot signature chains to the organisation key (I9) and it is
    sealed to ``key``; checked before any passphrase is asked or anything decrypted."""
    sealed = read_sealed_file(data, key.organisation)
    if key.header.encryption_key is None or key.header.encryption_key.key_id != sealed.wrap.key_id:
        raise NotForThisKey
    return sealed


def caseworker_identity(key: OpeningKey, passphrase: str) -> CaseworkerIdentity:
    """The opened caseworker key file, if its authenticated organisation key is the one the
    file was verified against (the header read earlier could have been swapped since)."""
    return _identity(key.path, passphrase, key.organisation)


def _identity(
    key_file: Path, passphrase: str, organisation: Ed25519PublicKey | None
) -> CaseworkerIdentity:
    identity = load_caseworker_identity(key_file, passphrase)
    if organisation is not None and identity.organisation != organisation:
        raise DeskError(
            "your key file changed while this command ran: nothing was opened",
            hint="run the command again",
        )
    return identity


def decryption_key(key: OpeningKey, passphrase: str) -> X25519SecretKey:
    """The X25519 key of a caseworker or recovery key file (see :func:`opening_key`)."""
    if key.header.kind is KeyKind.CASEWORKER:
        return caseworker_identity(key, passphrase).keys.encryption
    return load_org_recovery_key(key.path, passphrase)[1]


@dataclass(frozen=True)
class UnlockedKey:
    """A caseworker or recovery key file opened with its passphrase: the key that decrypts,
    its custody log, and the event an open with it records there."""

    encryption: X25519SecretKey
    custody: CustodyLog
    opened: str


def unlock(
    key_file: Path,
    header: KeyFileHeader,
    passphrase: str,
    *,
    organisation: Ed25519PublicKey | None = None,
) -> UnlockedKey:
    """The key file whose ``header`` (:func:`key_file_header`) was read, opened: a caseworker's
    keys log to ``custody.log`` beside it, the recovery key to ``recovery-custody.log`` beside
    it. ``organisation``, when files were verified against it, must still be the one a
    caseworker key file pins (see :func:`caseworker_identity`)."""
    if header.kind is KeyKind.CASEWORKER:
        keys = _identity(key_file, passphrase, organisation).keys
        return UnlockedKey(keys.encryption, CustodyLog.beside(key_file, keys), OPENED)
    recovery = load_org_recovery_key(key_file, passphrase)[1]
    log = CustodyLog.beside_recovery_key(key_file, recovery)
    return UnlockedKey(recovery, log, OPENED_WITH_RECOVERY_KEY)


@contextlib.contextmanager
def refusals(what: str) -> Iterator[None]:
    """Turn what the cryptography refuses into one line about ``what`` (the file given)."""
    try:
        yield
    except UntrustedFile as exc:
        # I9: a file that does not chain to the organisation key may be an entrapment tool.
        raise DeskError(
            f"refused: {exc}", hint="do not act on this file; tell an admin how you received it"
        ) from exc
    except NotForThisKey as exc:
        raise DeskError(
            f"{what} was not sealed to this key",
            hint="open it with the key file it was sent for, or the organisation recovery key",
        ) from exc
    except UnsupportedVersion as exc:
        raise DeskError(str(exc), hint="update sanad, or ask for the file again") from exc
    except PartsDoNotJoin as exc:
        raise DeskError(
            f"refused: {exc}",
            hint="pass every part of one file (case-...-N.partKofM.sanad), as the bot sent them",
        ) from exc
    except WrongPassphrase:
        raise  # its own message, "wrong passphrase or damaged key file", is the right one
    except OpenFailure as exc:
        raise DeskError(f"{what} could not be opened: it is damaged") from exc
