"""Fingerprints: 30 digits in six groups, bound to both keys and to their role."""

from __future__ import annotations

import re

from crypto.fingerprint import caseworker_fingerprint, organisation_fingerprint
from crypto.keys import (
    CaseworkerKeys,
    CaseworkerPublicKeys,
    Ed25519PublicKey,
    Ed25519SigningKey,
    X25519PublicKey,
)

_SHAPE = re.compile(r"\d{5}( \d{5}){5}\Z")


def _keys_usable_in_both_roles() -> tuple[bytes, bytes]:
    candidates = (Ed25519SigningKey(bytes([seed]) * 32).public_key.raw for seed in range(256))
    usable = (raw for raw in candidates if raw[31] < 0x80)
    return next(usable), next(usable)


def test_caseworker_fingerprint_is_six_groups_of_five_digits() -> None:
    public = CaseworkerKeys.generate().public
    fingerprint = caseworker_fingerprint(public)
    assert _SHAPE.match(fingerprint)
    assert fingerprint.isascii()
    assert caseworker_fingerprint(public) == fingerprint


def test_fingerprint_changes_with_either_key() -> None:
    public = CaseworkerKeys.generate().public
    other = CaseworkerKeys.generate().public
    base = caseworker_fingerprint(public)
    assert caseworker_fingerprint(CaseworkerPublicKeys(other.encryption, public.signing)) != base
    assert caseworker_fingerprint(CaseworkerPublicKeys(public.encryption, other.signing)) != base


def test_caseworker_and_organisation_fingerprints_are_domain_separated() -> None:
    # The same 32 bytes in both roles: two Ed25519 public keys whose top bit is clear, so that
    # each is also a usable X25519 public key (keys are checked when built).
    raw_a, raw_b = _keys_usable_in_both_roles()
    as_caseworker = caseworker_fingerprint(
        CaseworkerPublicKeys(X25519PublicKey(raw_a), Ed25519PublicKey(raw_b))
    )
    as_organisation = organisation_fingerprint(Ed25519PublicKey(raw_a), X25519PublicKey(raw_b))
    assert _SHAPE.match(as_organisation)
    assert as_caseworker != as_organisation


def test_fingerprints_spread_over_the_digit_space() -> None:
    # A rendering bug (a truncated digest, a constant group) would repeat groups across keys.
    first_groups = {
        caseworker_fingerprint(CaseworkerKeys.generate().public)[:5] for _ in range(200)
    }
    assert len(first_groups) > 190
