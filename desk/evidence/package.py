"""An evidence package: one case in a zip a lawyer or a trust-and-safety team can check offline.

The Berkeley Protocol on digital open-source investigations asks for hashes taken at collection
and a chain of custody. A package holds:

* ``files/``: the cleaned files, as the caseworker received them;
* ``answers.json``: the reporter's answers, in order (free text included: the case is the point);
* ``delivery/``: the sealed file the bot delivered, still sealed — it carries the bot's signature
  and certificate, so anyone can check again, offline, that the organisation's bot sent it;
* ``manifest.json``: each file's SHA-256 and size; the record the bot sealed of each file as
  received (its SHA-256 before cleaning, size, type, what cleaning removed — docs/crypto.md,
  "Original files"); the result of checking the bot's signature; every time the case was opened
  and packaged on this computer, from its sealed custody log (:mod:`.custody`); the caseworker's
  keys and fingerprint and the organisation's;
* ``manifest.sig``: the caseworker's signature of ``manifest.json`` (docs/crypto.md, "Caseworker
  statements").

The manifest names every other member by its SHA-256, so the one signature covers them all.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Sequence

from crypto.body import Attachment
from crypto.caseworker_statements import EVIDENCE_MANIFEST, sign_statement
from crypto.file_names import delivery_file_name
from crypto.fingerprint import caseworker_fingerprint, organisation_signing_fingerprint
from crypto.keyfile import CaseworkerIdentity
from crypto.keys import ORG_SIGNING_PREFIX
from crypto.originals import describe_change
from crypto.sealed_file import OpenedFile, SealedFile
from desk.evidence.custody import CustodyEvent

FORMAT = "sanad-evidence-package"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
ANSWERS = "answers.json"
# Zip entries carry a time; a fixed one keeps the package's bytes free of this computer's clock
# (the manifest states the custody times that matter, signed).
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def build_package(
    opened: OpenedFile,
    sealed: SealedFile,
    delivered: bytes,
    identity: CaseworkerIdentity,
    custody: Sequence[CustodyEvent],
) -> bytes:
    """The zip of the case ``opened`` from the ``delivered`` file (verified as ``sealed``),
    signed with ``identity``'s signing key."""
    members: dict[str, bytes] = {}
    answers = [{"key": a.key, "value": a.value} for a in opened.body.answers]
    members[ANSWERS] = json.dumps(answers, ensure_ascii=False, indent=1).encode()
    delivery_path = f"delivery/{delivery_file_name(opened.case_reference, opened.sequence)}"
    members[delivery_path] = delivered
    files = []
    for path, attachment in zip(
        _file_paths(opened.body.attachments), opened.body.attachments, strict=True
    ):
        members[path] = attachment.data
        files.append(
            {
                **_member(path, attachment.data),
                "media_type": attachment.media_type,
                "original": _original(attachment),
            }
        )
    keys = identity.keys.public
    manifest = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "case_reference": opened.case_reference,
        "sequence": opened.sequence,
        "files": files,
        "answers": _member(ANSWERS, members[ANSWERS]),
        "delivery": {
            **_member(delivery_path, delivered),
            "bot_signature": "verified",
            "bot_key": sealed.bot.key.to_text(),
            "bot_certificate_serial": sealed.bot.serial,
            "verified_on": custody[-1].at.date().isoformat(),
        },
        "custody": [{"event": c.event, "at": c.at.isoformat(timespec="seconds")} for c in custody],
        "caseworker": {
            "label": identity.label,
            "encryption_key": keys.encryption.to_text(),
            "signing_key": keys.signing.to_text(),
            "fingerprint": caseworker_fingerprint(keys),
        },
        "organisation": {
            "signing_key": identity.organisation.to_text(ORG_SIGNING_PREFIX),
            "fingerprint": organisation_signing_fingerprint(identity.organisation),
        },
    }
    document = json.dumps(manifest, ensure_ascii=False, indent=1).encode()
    members[MANIFEST] = document
    members[SIGNATURE] = sign_statement(EVIDENCE_MANIFEST, identity.keys.signing, document)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(members):
            archive.writestr(zipfile.ZipInfo(name, _ZIP_TIME), members[name])
    return buffer.getvalue()


def _file_paths(attachments: Sequence[Attachment]) -> list[str]:
    """``files/<name>`` for each attachment; names are safe (crypto.body) and made unique."""
    paths: list[str] = []
    for index, attachment in enumerate(attachments, start=1):
        path = f"files/{attachment.file_name}"
        paths.append(path if path not in paths else f"files/{index}-{attachment.file_name}")
    return paths


def _member(path: str, data: bytes) -> dict[str, object]:
    return {"path": path, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}


def _original(attachment: Attachment) -> dict[str, object] | None:
    original = attachment.original
    if original is None:
        return None
    return {
        "sha256": original.sha256_hex,
        "size": original.size,
        "media_type": original.media_type,
        "cleaning": [{"code": c, "meaning": describe_change(c)} for c in original.changes],
    }
