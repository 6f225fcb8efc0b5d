"""Signed, unsuppressed counts: how caseworkers of one organisation combine their statistics.

Each caseworker sees only the reports sealed to them, so the organisation's figures are the sum
of everyone's. Summing published tables would not work — their small cells are hidden — so each
caseworker exports the unsuppressed counts (:mod:`desk.advocacy.counts`) with the case
references they cover, signed with their key (docs/crypto.md, "Caseworker statements") and
carrying their certificate. Whoever merges checks every file before using it: the certificate
against the organisation key pinned in their own key file, the signature against the
certificate's key; then refuses any case counted in two files, and suppresses only the merged
totals.

These files hold exact small counts and case references: they stay inside the organisation,
like the reports themselves.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass

from crypto.caseworker_statements import ADVOCACY_EXPORT, sign_statement, verify_statement
from crypto.certificates import Certificate, verify_certificate
from crypto.errors import CryptoError
from crypto.keyfile import CaseworkerIdentity
from crypto.keys import Ed25519PublicKey
from desk.advocacy.counts import Counts, counts_from_json, counts_to_json, merge

FORMAT = "sanad-advocacy-counts"


class UntrustedExport(ValueError):
    """This export is damaged, altered, or not signed by a caseworker of this organisation."""


@dataclass(frozen=True)
class SignedExport:
    """A verified export: whose it is and what it counts."""

    certificate: Certificate
    counts: Counts


def sign_export(counts: Counts, identity: CaseworkerIdentity, certificate: bytes) -> bytes:
    """The signed export file of ``counts`` by ``identity``, carrying their ``certificate``."""
    document = json.dumps(
        {
            "format": FORMAT,
            "version": 1,
            "caseworker": identity.label,
            "certificate": certificate.hex(),
            "counts": counts_to_json(counts),
        },
        ensure_ascii=False,
        sort_keys=True,
    )
    statement = sign_statement(ADVOCACY_EXPORT, identity.keys.signing, document.encode())
    return json.dumps({"document": document, "signature": statement.hex()}, indent=1).encode()


def read_export(
    data: bytes, organisation: Ed25519PublicKey, *, today: dt.date | None = None
) -> SignedExport:
    """The export in ``data``, once its certificate chains to ``organisation`` and its signature
    to the certificate's key; raises :class:`UntrustedExport` (with the reason) otherwise."""
    try:
        outer = json.loads(data)
        document = str(outer["document"]).encode()
        signer = verify_statement(ADVOCACY_EXPORT, bytes.fromhex(outer["signature"]), document)
        inner = json.loads(document)
        if inner["format"] != FORMAT:
            raise ValueError("not an advocacy export")
        certificate = verify_certificate(
            bytes.fromhex(inner["certificate"]), organisation, today=today
        )
    except CryptoError as exc:
        raise UntrustedExport(str(exc)) from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise UntrustedExport("this is not a Sanad advocacy export") from exc
    if certificate.keys.signing != signer:
        raise UntrustedExport("signed by a key other than the certificate's")
    try:
        counts = counts_from_json(inner["counts"])
    except (ValueError, KeyError) as exc:
        raise UntrustedExport(str(exc)) from exc
    return SignedExport(certificate, counts)


def merge_exports(exports: Sequence[SignedExport]) -> Counts:
    """The organisation's counts; raises :class:`~desk.advocacy.counts.DuplicateCase` when a
    case is in two exports (the same report sealed to two caseworkers, or one file twice)."""
    return merge(export.counts for export in exports)
