"""Signing key rotation statements, format v2 (docs/crypto.md, "Signing key rotation")."""

from __future__ import annotations

from datetime import date

import pytest

from crypto.certificates import InvalidSignature
from crypto.errors import UnsupportedVersion
from crypto.key_rotation import (
    MalformedRotationStatement,
    RotationReason,
    issue_signing_key_rotation,
    verify_signing_key_rotation,
)
from tests.crypto.chain import ATTACKER, ORG, OTHER_ORG

DAY = date(2026, 6, 1)


@pytest.mark.parametrize("reason", list(RotationReason))
def test_a_rotation_statement_carries_its_reason(reason: RotationReason) -> None:
    data = issue_signing_key_rotation(ORG, OTHER_ORG, reason=reason, issued=DAY)
    rotation = verify_signing_key_rotation(data)
    assert (rotation.old, rotation.new, rotation.issued, rotation.reason) == (
        ORG.public_key,
        OTHER_ORG.public_key,
        DAY,
        reason,
    )


def test_a_changed_reason_fails_both_signatures() -> None:
    # A compromised rotation re-issues nothing; turning it into a scheduled one must not pass.
    data = issue_signing_key_rotation(ORG, OTHER_ORG, reason=RotationReason.COMPROMISED, issued=DAY)
    scheduled = data[:5] + bytes([RotationReason.SCHEDULED.value]) + data[6:]
    with pytest.raises(InvalidSignature):
        verify_signing_key_rotation(scheduled)


def test_an_unknown_reason_is_malformed() -> None:
    data = issue_signing_key_rotation(ORG, OTHER_ORG, issued=DAY)
    with pytest.raises(MalformedRotationStatement):
        verify_signing_key_rotation(data[:5] + b"\x09" + data[6:])


def test_a_v1_statement_is_refused_naming_the_version() -> None:
    data = issue_signing_key_rotation(ORG, ATTACKER, issued=DAY)
    with pytest.raises(UnsupportedVersion, match=r"format version 1"):
        verify_signing_key_rotation(data[:4] + b"\x01" + data[5:])
