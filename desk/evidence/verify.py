"""Checking an evidence package offline: one line per member, each OK or FAILED.

What is checked, in order: the caseworker's signature of ``manifest.json`` (and that the keys it
names give the fingerprint it states, to be compared with the caseworker's by voice or in
person); the organisation key (the one given, else the one the manifest names, whose fingerprint
is printed for the same comparison); each member's SHA-256 and size against the manifest;
the bot's signature on the delivered file against the organisation key, on the day the case was
packaged (a bot certificate is short-lived; it was checked valid that day); and that nothing in
the zip goes unnamed. Nothing needs the network or any key but public ones.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from typing import Any

from crypto.caseworker_statements import EVIDENCE_MANIFEST, verify_statement
from crypto.errors import CryptoError
from crypto.fingerprint import caseworker_fingerprint, organisation_signing_fingerprint
from crypto.keys import (
    ORG_SIGNING_PREFIX,
    CaseworkerPublicKeys,
    Ed25519PublicKey,
    MalformedKey,
    X25519PublicKey,
)
from crypto.sealed_file import read_sealed_file
from desk.evidence.package import FORMAT, MANIFEST, SIGNATURE
from desk.inert import inert

# A package holds a few files of a few megabytes: a member claiming more is refused unread.
MAX_MEMBER_BYTES = 512 * 1024 * 1024


@dataclass(frozen=True)
class Check:
    """One line of the verdict."""

    ok: bool
    text: str

    def __str__(self) -> str:
        return f"{'OK    ' if self.ok else 'FAILED'} {self.text}"


def verify_package(data: bytes, organisation: Ed25519PublicKey | None = None) -> list[Check]:
    """Every check of the package in ``data`` (module docstring); it is sound if all are OK."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = {info.filename: info for info in archive.infolist()}
    except (zipfile.BadZipFile, ValueError):
        return [Check(False, "this is not a zip file")]
    if any(info.file_size > MAX_MEMBER_BYTES for info in members.values()):
        return [Check(False, "a member of this zip is too large for an evidence package")]
    if MANIFEST not in members or SIGNATURE not in members:
        return [Check(False, f"{MANIFEST} or {SIGNATURE} is missing")]
    document = archive.read(MANIFEST)
    checks = [_manifest_signature(document, archive.read(SIGNATURE))]
    try:
        manifest = json.loads(document)
        if manifest["format"] != FORMAT:
            raise ValueError
        org, org_check = _organisation(manifest, organisation)
        checks.append(org_check)
        named = [*manifest["files"], manifest["answers"], manifest["delivery"]]
        for entry in named:
            checks.append(_member(archive, members, entry))
        if org is not None:
            checks.append(_bot_signature(archive, manifest, org))
        unnamed = set(members) - {MANIFEST, SIGNATURE} - {e["path"] for e in named}
        checks += [
            Check(False, f"{name}: in the zip but not in the manifest") for name in sorted(unnamed)
        ]
    except (ValueError, KeyError, TypeError) as exc:
        checks.append(Check(False, f"{MANIFEST}: not a Sanad evidence manifest ({exc})"))
    return checks


def _manifest_signature(document: bytes, statement: bytes) -> Check:
    try:
        signer = verify_statement(EVIDENCE_MANIFEST, statement, document)
        person = json.loads(document)["caseworker"]
        keys = CaseworkerPublicKeys(
            X25519PublicKey.from_text(person["encryption_key"]),
            Ed25519PublicKey.from_text(person["signing_key"]),
        )
    except (CryptoError, ValueError, KeyError, TypeError) as exc:
        return Check(False, f"{MANIFEST}: {exc}")
    fingerprint = caseworker_fingerprint(keys)
    if keys.signing != signer or fingerprint != person.get("fingerprint"):
        return Check(False, f"{MANIFEST}: signed by a key other than the caseworker it names")
    return Check(
        True,
        f"{MANIFEST}: signed by caseworker {_inert(person.get('label'))}, "
        f"fingerprint {fingerprint}",
    )


def _organisation(
    manifest: dict[str, Any], given: Ed25519PublicKey | None
) -> tuple[Ed25519PublicKey | None, Check]:
    try:
        named = Ed25519PublicKey.from_text(
            manifest["organisation"]["signing_key"], ORG_SIGNING_PREFIX
        )
    except (MalformedKey, KeyError, TypeError) as exc:
        return None, Check(False, f"organisation key: {exc}")
    if given is not None and given != named:
        return None, Check(False, "organisation key: the manifest names another organisation")
    how = "as given" if given is not None else "as the manifest names it: compare"
    return named, Check(
        True, f"organisation key {how} fingerprint {organisation_signing_fingerprint(named)}"
    )


def _member(archive: zipfile.ZipFile, members: dict[str, Any], entry: dict[str, Any]) -> Check:
    path = str(entry["path"])
    if path not in members:
        return Check(False, f"{_inert(path)}: missing")
    content = archive.read(path)
    digest = hashlib.sha256(content).hexdigest()
    if digest != entry["sha256"] or len(content) != entry["size"]:
        return Check(False, f"{_inert(path)}: altered (SHA-256 {digest})")
    text = f"{_inert(path)}: SHA-256 {digest}"
    original = entry.get("original")
    if original:
        text += f"; as the reporter sent it, SHA-256 {_inert(original['sha256'])}"
    return Check(True, text)


def _bot_signature(
    archive: zipfile.ZipFile, manifest: dict[str, Any], org: Ed25519PublicKey
) -> Check:
    delivery = manifest["delivery"]
    path = str(delivery["path"])
    try:
        on = dt.date.fromisoformat(delivery["verified_on"])
        sealed = read_sealed_file(archive.read(path), org, today=on)
    except (CryptoError, KeyError, ValueError) as exc:
        return Check(False, f"{_inert(path)}: bot signature: {exc}")
    if sealed.case_reference != manifest["case_reference"]:
        return Check(False, f"{_inert(path)}: delivered for another case")
    return Check(
        True,
        f"{_inert(path)}: signed by the organisation's bot (certificate valid on {on})",
    )


def _inert(value: object) -> str:
    """A value from the package, printable: no control or direction characters (DESIGN.md §4)."""
    return inert(str(value))
