"""Report envelope and recipient wraps (docs/crypto.md, "Report envelope", "Recipient wraps")."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto.envelope import SealedReport, _seal_report_from_parts, open_report, seal_report
from crypto.errors import NotForThisKey, OpenFailure, UnsupportedVersion
from crypto.header import EnvelopeKind, new_report_id
from crypto.keys import X25519PublicKey, X25519SecretKey
from crypto.wraps import WRAP_BYTES, Wrap, rewrap

CASEWORKER = X25519SecretKey(bytes(range(32)))
RECOVERY = X25519SecretKey(bytes(range(32, 64)))
OUTSIDER = X25519SecretKey(bytes(range(64, 96)))
MAILBOX = X25519SecretKey(bytes(range(96, 128))).public_key
REPORT_ID = bytes.fromhex("00112233445566778899aabbccddeeff")
BODY = b"canary: they took my phone at the checkpoint"


def _seal(body: bytes = BODY, **overrides: object) -> SealedReport:
    arguments: dict[str, object] = {
        "report_id": REPORT_ID,
        "sequence": 0,
        "kind": EnvelopeKind.REPORT,
        "recipients": [CASEWORKER.public_key, RECOVERY.public_key],
        "reply_to": MAILBOX,
    }
    arguments.update(overrides)
    return seal_report(body, **arguments)  # type: ignore[arg-type]


def _open(sealed: SealedReport, wrap_index: int = 0, **overrides: object) -> bytes:
    arguments: dict[str, object] = {
        "report_id": REPORT_ID,
        "sequence": 0,
        "kind": EnvelopeKind.REPORT,
        "secret_key": CASEWORKER,
        "reply_to": MAILBOX,
    }
    arguments.update(overrides)
    wrap = sealed.wraps[wrap_index]
    return open_report(sealed.body_sealed, wrap, **arguments)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def sealed() -> SealedReport:
    return _seal()


def test_every_recipient_opens_the_same_body(sealed: SealedReport) -> None:
    assert [w.key_id for w in sealed.wraps] == [
        CASEWORKER.public_key.key_id,
        RECOVERY.public_key.key_id,
    ]
    assert _open(sealed) == BODY
    assert _open(sealed, 1, secret_key=RECOVERY) == BODY


@settings(max_examples=50, deadline=None)
@given(
    body=st.binary(max_size=10_000),
    sequence=st.integers(min_value=0, max_value=2**32 - 1),
    kind=st.sampled_from(EnvelopeKind),
)
def test_open_report_inverts_seal_report(body: bytes, sequence: int, kind: EnvelopeKind) -> None:
    report_id = new_report_id()
    sealed = _seal(body, report_id=report_id, sequence=sequence, kind=kind)
    assert _open(sealed, report_id=report_id, sequence=sequence, kind=kind) == body


def test_each_seal_uses_a_fresh_data_key_and_nonce() -> None:
    first, second = _seal(), _seal()
    assert first.body_sealed != second.body_sealed
    # The first wrap's key opens the second body only with the second body's own wrap.
    mixed = SealedReport(second.body_sealed, first.wraps)
    with pytest.raises(OpenFailure):
        _open(mixed)


def test_body_length_is_hidden_below_the_minimum_size() -> None:
    assert len(_seal(b"").body_sealed) == len(_seal(b"x" * 4000).body_sealed)


def test_open_report_rejects_body_moved_to_another_report(sealed: SealedReport) -> None:
    with pytest.raises(OpenFailure):
        _open(sealed, report_id=new_report_id())


def test_open_report_rejects_body_moved_with_its_wrap_re_sealed(sealed: SealedReport) -> None:
    # An intruder who can wrap (but not read) cannot relabel a body: the AEAD header differs.
    other_id = new_report_id()
    wrap = rewrap(
        sealed.wraps[1],
        kind=EnvelopeKind.REPORT,
        report_id=REPORT_ID,
        sequence=0,
        secret_key=RECOVERY,
        new_recipient=CASEWORKER.public_key,
    )
    assert _open(SealedReport(sealed.body_sealed, [wrap])) == BODY
    with pytest.raises(OpenFailure):
        _open(SealedReport(sealed.body_sealed, [wrap]), report_id=other_id)


def test_open_report_rejects_addendum_replayed_under_another_sequence() -> None:
    addendum = _seal(kind=EnvelopeKind.ADDENDUM, sequence=1)
    assert _open(addendum, kind=EnvelopeKind.ADDENDUM, sequence=1) == BODY
    with pytest.raises(OpenFailure):
        _open(addendum, kind=EnvelopeKind.ADDENDUM, sequence=2)


@pytest.mark.parametrize("kind", [EnvelopeKind.ADDENDUM, EnvelopeKind.REPLY])
def test_open_report_rejects_changed_kind(sealed: SealedReport, kind: EnvelopeKind) -> None:
    with pytest.raises(OpenFailure):
        _open(sealed, kind=kind)


def test_open_report_rejects_changed_reply_to_key(sealed: SealedReport) -> None:
    with pytest.raises(OpenFailure):
        _open(sealed, reply_to=OUTSIDER.public_key)
    with pytest.raises(OpenFailure):
        _open(sealed, reply_to=None)


def test_open_report_rejects_wrap_from_another_report(sealed: SealedReport) -> None:
    other = _seal(report_id=new_report_id())
    with pytest.raises(OpenFailure):
        _open(SealedReport(sealed.body_sealed, other.wraps))


def test_open_report_rejects_flipped_bit_anywhere_in_body() -> None:
    sealed = _seal(b"")
    for position in range(len(sealed.body_sealed)):
        damaged = bytearray(sealed.body_sealed)
        damaged[position] ^= 0x01
        with pytest.raises((OpenFailure, UnsupportedVersion)):
            _open(SealedReport(bytes(damaged), sealed.wraps))


def test_open_report_rejects_flipped_bit_anywhere_in_wrap(sealed: SealedReport) -> None:
    wrap = sealed.wraps[0]
    assert len(wrap.wrap) == WRAP_BYTES
    for position in range(len(wrap.wrap)):
        damaged = bytearray(wrap.wrap)
        damaged[position] ^= 0x80
        with pytest.raises(OpenFailure):
            _open(SealedReport(sealed.body_sealed, [Wrap(wrap.key_id, bytes(damaged))]))


def test_open_report_says_not_for_this_key_for_another_recipients_wrap(
    sealed: SealedReport,
) -> None:
    with pytest.raises(NotForThisKey):
        _open(sealed, 1)  # the recovery wrap, tried with the caseworker's key
    with pytest.raises(NotForThisKey):
        _open(sealed, secret_key=OUTSIDER)


def test_open_report_rejects_wrap_relabelled_with_our_key_id(sealed: SealedReport) -> None:
    relabelled = Wrap(CASEWORKER.public_key.key_id, sealed.wraps[1].wrap)
    with pytest.raises(OpenFailure):
        _open(SealedReport(sealed.body_sealed, [relabelled]))


@pytest.mark.parametrize("keep", [0, 4, 5, 28, 29, 44, 45, 4140])
def test_open_report_rejects_truncated_body(sealed: SealedReport, keep: int) -> None:
    with pytest.raises(OpenFailure):
        _open(replace(sealed, body_sealed=sealed.body_sealed[:keep]))


def test_open_report_rejects_truncated_wrap(sealed: SealedReport) -> None:
    wrap = sealed.wraps[0]
    for keep in (0, 31, 48, len(wrap.wrap) - 1):
        with pytest.raises(OpenFailure):
            _open(SealedReport(sealed.body_sealed, [Wrap(wrap.key_id, wrap.wrap[:keep])]))


def test_open_report_refuses_unknown_version_by_name(sealed: SealedReport) -> None:
    body = bytearray(sealed.body_sealed)
    body[4] = 2
    with pytest.raises(UnsupportedVersion):
        _open(SealedReport(bytes(body), sealed.wraps))


def test_rewrap_gives_a_new_recipient_access_without_touching_the_body(
    sealed: SealedReport,
) -> None:
    new_wrap = rewrap(
        sealed.wraps[0],
        kind=EnvelopeKind.REPORT,
        report_id=REPORT_ID,
        sequence=0,
        secret_key=CASEWORKER,
        new_recipient=OUTSIDER.public_key,
    )
    assert new_wrap.key_id == OUTSIDER.public_key.key_id
    moved = SealedReport(sealed.body_sealed, [new_wrap])
    assert _open(moved, secret_key=OUTSIDER) == BODY


def test_rewrap_refuses_a_wrap_bound_elsewhere(sealed: SealedReport) -> None:
    with pytest.raises(OpenFailure):
        rewrap(
            sealed.wraps[0],
            kind=EnvelopeKind.REPORT,
            report_id=REPORT_ID,
            sequence=1,
            secret_key=CASEWORKER,
            new_recipient=OUTSIDER.public_key,
        )


def test_seal_report_refuses_no_or_repeated_recipients() -> None:
    with pytest.raises(ValueError, match="at least one"):
        _seal(recipients=[])
    with pytest.raises(ValueError, match="twice"):
        _seal(recipients=[CASEWORKER.public_key, X25519PublicKey(CASEWORKER.public_key.raw)])


def test_seal_report_refuses_bad_report_id_or_sequence() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        _seal(report_id=b"short")
    with pytest.raises(ValueError, match="32-bit"):
        _seal(sequence=2**32)


def test_sealing_is_deterministic_given_data_key_and_nonce() -> None:
    parts = {
        "report_id": REPORT_ID,
        "sequence": 3,
        "kind": EnvelopeKind.ADDENDUM,
        "recipients": [CASEWORKER.public_key],
        "reply_to": None,
        "dek": bytes(32),
        "nonce": bytes(24),
    }
    first = _seal_report_from_parts(BODY, **parts)  # type: ignore[arg-type]
    second = _seal_report_from_parts(BODY, **parts)  # type: ignore[arg-type]
    assert first.body_sealed == second.body_sealed
    assert first.wraps[0].wrap != second.wraps[0].wrap  # crypto_box_seal is randomised
