"""Certificates and revocation list (docs/crypto.md, "Certificates and revocation list")."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from crypto.certificates import (
    Certificate,
    CertificateExpired,
    CertificateNotYetValid,
    CertificateRevoked,
    InvalidSignature,
    MalformedCertificate,
    RevocationListRollback,
    SignedByAnotherKey,
    UnsignedCertificate,
    issue_certificate,
    issue_revocation_list,
    verify_certificate,
    verify_revocation_list,
)
from crypto.errors import UnsupportedVersion
from crypto.keys import CaseworkerKeys, Ed25519SigningKey, X25519SecretKey

ORG = Ed25519SigningKey(bytes(range(32)))
FOREIGN = Ed25519SigningKey(bytes(range(1, 33)))
CASEWORKER = CaseworkerKeys(
    X25519SecretKey(bytes(range(2, 34))), Ed25519SigningKey(bytes(range(3, 35)))
)
CERTIFICATE = Certificate(
    caseworker_id="cw-17",
    label="Amal (Beirut desk)",
    delivery_chat_id=-1001234567890,
    keys=CASEWORKER.public,
    serial=4,
    not_before=date(2026, 1, 1),
    expires=date(2027, 1, 1),
)
DAY = date(2026, 6, 1)


def _verify(data: bytes, **kwargs: object) -> Certificate:
    kwargs.setdefault("today", DAY)
    return verify_certificate(data, ORG.public_key, **kwargs)  # type: ignore[arg-type]


def test_verify_certificate_returns_what_was_issued() -> None:
    assert _verify(issue_certificate(CERTIFICATE, ORG)) == CERTIFICATE


def test_certificate_is_valid_from_not_before_until_the_day_before_expiry() -> None:
    data = issue_certificate(CERTIFICATE, ORG)
    assert _verify(data, today=date(2026, 1, 1)) == CERTIFICATE
    assert _verify(data, today=date(2026, 12, 31)) == CERTIFICATE
    with pytest.raises(CertificateNotYetValid):
        _verify(data, today=date(2025, 12, 31))
    with pytest.raises(CertificateExpired):
        _verify(data, today=date(2027, 1, 1))


def test_verify_certificate_rejects_unsigned() -> None:
    data = issue_certificate(CERTIFICATE, ORG)
    with pytest.raises(UnsignedCertificate):
        _verify(data[:-64])


def test_verify_certificate_rejects_foreign_signer() -> None:
    with pytest.raises(SignedByAnotherKey):
        _verify(issue_certificate(CERTIFICATE, FOREIGN))


def test_verify_certificate_rejects_foreign_signature_under_our_key_id() -> None:
    # An intruder copies the pinned key's id into a certificate they signed themselves.
    forged = issue_certificate(CERTIFICATE, FOREIGN)
    forged = forged[:5] + ORG.public_key.key_id + forged[21:]
    with pytest.raises(InvalidSignature):
        _verify(forged)


def test_verify_certificate_rejects_any_altered_byte() -> None:
    data = issue_certificate(CERTIFICATE, ORG)
    for position in range(21, len(data)):
        altered = bytearray(data)
        altered[position] ^= 0x01
        with pytest.raises((InvalidSignature, MalformedCertificate)):
            _verify(bytes(altered))


def test_verify_certificate_rejects_a_certificate_moved_to_another_chat() -> None:
    # I9: a database writer cannot point a caseworker's deliveries at a chat of their own.
    data = issue_certificate(CERTIFICATE, ORG)
    moved = data.replace((-1001234567890).to_bytes(8, "big", signed=True), (42).to_bytes(8, "big"))
    assert moved != data
    with pytest.raises(InvalidSignature):
        _verify(moved)


def test_verify_certificate_rejects_swapped_encryption_key() -> None:
    data = issue_certificate(CERTIFICATE, ORG)
    intruder = X25519SecretKey(bytes(range(9, 41))).public_key.raw
    with pytest.raises(InvalidSignature):
        _verify(data.replace(CASEWORKER.public.encryption.raw, intruder))


def test_verify_certificate_rejects_bad_version_and_foreign_data() -> None:
    data = issue_certificate(CERTIFICATE, ORG)
    with pytest.raises(UnsupportedVersion, match=r"format version 1; .* reads version 2 only"):
        _verify(data[:4] + b"\x01" + data[5:])
    with pytest.raises(MalformedCertificate):
        _verify(b"-----BEGIN CERTIFICATE-----")
    with pytest.raises(MalformedCertificate):
        _verify(data + b"\x00")


@pytest.mark.parametrize(
    ("caseworker_ids", "key_ids"),
    [
        (["cw-17"], []),
        ([], [CASEWORKER.public.encryption.key_id]),
        ([], [CASEWORKER.public.signing.key_id]),
    ],
)
def test_verify_certificate_rejects_revoked(
    caseworker_ids: list[str], key_ids: list[bytes]
) -> None:
    revocations = verify_revocation_list(
        issue_revocation_list(
            ORG, serial=2, caseworker_ids=caseworker_ids, key_ids=key_ids, issued=DAY
        ),
        ORG.public_key,
        min_serial=1,
    )
    with pytest.raises(CertificateRevoked):
        _verify(issue_certificate(CERTIFICATE, ORG), revocations=revocations)


def test_certificate_not_on_the_list_stays_valid() -> None:
    revocations = verify_revocation_list(
        issue_revocation_list(ORG, serial=1, caseworker_ids=["cw-18"], issued=DAY),
        ORG.public_key,
        min_serial=0,
    )
    assert _verify(issue_certificate(CERTIFICATE, ORG), revocations=revocations) == CERTIFICATE


def test_revocation_list_round_trips_and_is_canonical() -> None:
    first = issue_revocation_list(
        ORG, serial=7, caseworker_ids=["b", "a", "a"], key_ids=[bytes(16)], issued=DAY
    )
    second = issue_revocation_list(
        ORG, serial=7, caseworker_ids=["a", "b"], key_ids=[bytes(16)], issued=DAY
    )
    assert first == second
    revocations = verify_revocation_list(first, ORG.public_key, min_serial=7)
    assert (revocations.serial, revocations.issued) == (7, DAY)
    assert revocations.caseworker_ids == {"a", "b"}
    assert revocations.key_ids == {bytes(16)}


def test_verify_revocation_list_refuses_lower_serial() -> None:
    old = issue_revocation_list(ORG, serial=3, caseworker_ids=["cw-17"], issued=DAY)
    with pytest.raises(RevocationListRollback):
        verify_revocation_list(old, ORG.public_key, min_serial=4)


def test_verify_revocation_list_rejects_foreign_unsigned_and_altered_lists() -> None:
    data = issue_revocation_list(ORG, serial=3, caseworker_ids=["cw-17"], issued=DAY)
    with pytest.raises(SignedByAnotherKey):
        verify_revocation_list(
            issue_revocation_list(FOREIGN, serial=3, issued=DAY), ORG.public_key, min_serial=0
        )
    with pytest.raises(UnsignedCertificate):
        verify_revocation_list(data[:-64], ORG.public_key, min_serial=0)
    with pytest.raises(InvalidSignature):
        verify_revocation_list(data.replace(b"cw-17", b"cw-18"), ORG.public_key, min_serial=0)


def test_a_certificate_is_not_accepted_as_a_revocation_list() -> None:
    with pytest.raises(MalformedCertificate, match="not a Sanad revocation list"):
        verify_revocation_list(issue_certificate(CERTIFICATE, ORG), ORG.public_key, min_serial=0)


@pytest.mark.parametrize(
    "change",
    [
        {"caseworker_id": "../x"},
        {"label": ""},
        {"serial": -1},
        {"delivery_chat_id": 2**63},
        {"expires": date(2026, 1, 1)},
    ],
)
def test_certificate_rejects_invalid_fields(change: dict[str, object]) -> None:
    with pytest.raises(MalformedCertificate):
        replace(CERTIFICATE, **change)  # type: ignore[arg-type]
