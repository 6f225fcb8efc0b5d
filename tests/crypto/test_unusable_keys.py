"""Public keys no honest key pair has are refused wherever one is decoded (docs/crypto.md, "Keys").

The keys come from ``tests/vectors/wycheproof_low_order.json`` (made by
``tests/vectors/generate_unusable_keys.py``; X25519 keys copied from Wycheproof, Ed25519 keys
derived there). Each refused key is tried on its own and inside every format that carries a key:
an enrolment code, a caseworker certificate, a key file header, a configuration line, a sealed
file's reply-to key and a signing key rotation statement. A usable key still passes each of them.
"""

from __future__ import annotations

import base64
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from bot.config import ConfigError, load_config
from crypto import _sodium
from crypto._signed import sign
from crypto.bot_certificate import BotCertificate, issue_bot_certificate
from crypto.certificates import (
    Certificate,
    MalformedCertificate,
    issue_certificate,
    verify_certificate,
)
from crypto.enrolment import PREFIX, VERSION, EnrolmentCodeError, _checksum, decode_enrolment_code
from crypto.envelope import seal_report
from crypto.errors import CryptoError
from crypto.header import EnvelopeKind
from crypto.key_rotation import (
    MalformedRotationStatement,
    issue_signing_key_rotation,
    verify_signing_key_rotation,
)
from crypto.keyfile import (
    MINIMUM,
    KeyFileHeader,
    KeyKind,
    MalformedKeyFile,
    _seal_key_file_from_parts,
    read_key_file_header,
)
from crypto.keys import (
    ED25519_PREFIX,
    ORG_SIGNING_PREFIX,
    X25519_PREFIX,
    CaseworkerKeys,
    Ed25519PublicKey,
    Ed25519SigningKey,
    MalformedKey,
    X25519PublicKey,
    X25519SecretKey,
)
from crypto.sealed_file import MalformedSealedFile, read_sealed_file, write_sealed_file
from tests.config.conftest import minimal_toml

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parents[1] / "vectors" / "wycheproof_low_order.json").read_text("utf-8")
)
REFUSED = {"low_order", "non_canonical", "mixed_order", "not_on_curve"}

ORG = Ed25519SigningKey(bytes(range(32)))
CASEWORKER = CaseworkerKeys(
    X25519SecretKey(bytes(range(2, 34))), Ed25519SigningKey(bytes(range(3, 35)))
)
GOOD_X25519 = CASEWORKER.public.encryption.raw
GOOD_ED25519 = CASEWORKER.public.signing.raw
DAY = date(2026, 6, 1)
BOT = Ed25519SigningKey(bytes(range(5, 37)))
BOT_CERTIFICATE = issue_bot_certificate(
    BotCertificate(BOT.public_key, 1, date(2026, 1, 1), date(2027, 1, 1)), ORG
)


def _cases(kind: str, *, refused: bool) -> list[Any]:
    return [
        pytest.param(
            bytes.fromhex(case["public"]),
            id=f"{case.get('tcId', index)}-{case['expect']}",
        )
        for index, case in enumerate(VECTORS[kind])
        if (case["expect"] in REFUSED) == refused
    ]


BAD_X25519 = _cases("x25519", refused=True)
BAD_ED25519 = _cases("ed25519", refused=True)


def _text(prefix: str, raw: bytes) -> str:
    return prefix + base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


@pytest.mark.parametrize("kind", ["x25519", "ed25519"])
def test_every_vector_has_a_known_expectation(kind: str) -> None:
    expectations = {case["expect"] for case in VECTORS[kind]}
    assert expectations <= REFUSED | {"ok"}
    assert "ok" in expectations
    assert "low_order" in expectations


def test_the_fourteen_low_order_x25519_keys_of_wycheproof_are_all_there() -> None:
    low_order = {case["public"] for case in VECTORS["x25519"] if case["expect"] == "low_order"}
    assert len(low_order) == 14


@pytest.mark.parametrize("raw", BAD_X25519)
def test_x25519_public_key_refuses_low_order_and_non_canonical(raw: bytes) -> None:
    with pytest.raises(MalformedKey, match="not a usable X25519 public key"):
        X25519PublicKey(raw)
    with pytest.raises(MalformedKey, match=r"^the recovery key is not a usable X25519"):
        X25519PublicKey.from_text(_text(X25519_PREFIX, raw), what="the recovery key")


@pytest.mark.parametrize("raw", BAD_ED25519)
def test_ed25519_public_key_refuses_small_order_mixed_order_and_non_canonical(raw: bytes) -> None:
    with pytest.raises(MalformedKey, match="not a usable Ed25519 public key"):
        Ed25519PublicKey(raw)
    with pytest.raises(MalformedKey, match="not a usable Ed25519 public key"):
        Ed25519PublicKey.from_text(_text(ED25519_PREFIX, raw))


@pytest.mark.parametrize("raw", _cases("x25519", refused=False))
def test_x25519_public_key_accepts_usable_keys(raw: bytes) -> None:
    key = X25519PublicKey.from_text(_text(X25519_PREFIX, raw))
    assert key.raw == raw


@pytest.mark.parametrize("raw", _cases("ed25519", refused=False))
def test_ed25519_public_key_accepts_usable_keys(raw: bytes) -> None:
    key = Ed25519PublicKey.from_text(_text(ED25519_PREFIX, raw))
    assert key.raw == raw


def test_generated_keys_are_always_usable() -> None:
    for _ in range(200):
        keys = CaseworkerKeys.generate().public
        assert _sodium.x25519_public_is_usable(keys.encryption.raw)
        assert _sodium.ed25519_public_is_usable(keys.signing.raw)


@pytest.mark.parametrize("raw", BAD_X25519[:3])
def test_sealing_to_raw_low_order_bytes_is_a_crypto_error_not_a_nacl_error(raw: bytes) -> None:
    # Only reachable by bypassing X25519PublicKey; the error must still be Sanad's own
    # (nacl's exceptions do not derive from crypto.CryptoError).
    with pytest.raises(CryptoError):
        _sodium.seal(raw, b"data key")


# Enrolment codes -------------------------------------------------------------------------------


def _enrolment_code(encryption: bytes, signing: bytes, label: str = "Amira") -> str:
    """An enrolment code built byte by byte (docs/crypto.md, "Enrolment codes")."""
    encoded = label.encode("utf-8")
    body = bytes([VERSION, len(encoded)]) + encoded + encryption + signing
    raw = body + _checksum(body)
    return PREFIX + base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def test_hand_built_enrolment_code_with_usable_keys_decodes() -> None:
    label, keys = decode_enrolment_code(_enrolment_code(GOOD_X25519, GOOD_ED25519))
    assert (label, keys) == ("Amira", CASEWORKER.public)


@pytest.mark.parametrize("raw", BAD_X25519)
def test_enrolment_code_with_unusable_encryption_key_is_refused(raw: bytes) -> None:
    with pytest.raises(EnrolmentCodeError, match="holds a key that is not usable"):
        decode_enrolment_code(_enrolment_code(raw, GOOD_ED25519))


@pytest.mark.parametrize("raw", BAD_ED25519)
def test_enrolment_code_with_unusable_signing_key_is_refused(raw: bytes) -> None:
    with pytest.raises(EnrolmentCodeError, match="holds a key that is not usable"):
        decode_enrolment_code(_enrolment_code(GOOD_X25519, raw))


# Certificates ----------------------------------------------------------------------------------


def _certificate_with(encryption: bytes, signing: bytes) -> bytes:
    """A caseworker certificate signed by ORG whose keys are replaced, then signed again."""
    certificate = Certificate(
        caseworker_id="cw-17",
        label="Amal",
        delivery_chat_id=6_100_200_300,
        keys=CASEWORKER.public,
        serial=4,
        not_before=date(2026, 1, 1),
        expires=date(2027, 1, 1),
    )
    body = issue_certificate(certificate, ORG)[: -_sodium.ED25519_SIGNATURE_BYTES]
    keys = GOOD_X25519 + GOOD_ED25519
    assert body.count(keys) == 1
    return sign(body.replace(keys, encryption + signing), ORG)


def test_certificate_with_usable_keys_verifies() -> None:
    data = _certificate_with(GOOD_X25519, GOOD_ED25519)
    assert verify_certificate(data, ORG.public_key, today=DAY).keys == CASEWORKER.public


@pytest.mark.parametrize("raw", BAD_X25519)
def test_certificate_with_unusable_encryption_key_is_malformed(raw: bytes) -> None:
    with pytest.raises(MalformedCertificate, match="public key in it is not usable"):
        verify_certificate(_certificate_with(raw, GOOD_ED25519), ORG.public_key, today=DAY)


@pytest.mark.parametrize("raw", BAD_ED25519)
def test_certificate_with_unusable_signing_key_is_malformed(raw: bytes) -> None:
    with pytest.raises(MalformedCertificate, match="public key in it is not usable"):
        verify_certificate(_certificate_with(GOOD_X25519, raw), ORG.public_key, today=DAY)


# Key files -------------------------------------------------------------------------------------


def _key_file(tmp_path: Path, kind: KeyKind, public_keys: bytes) -> Path:
    private = {
        KeyKind.ORG_SIGNING: ORG.seed,
        KeyKind.ORG_RECOVERY: CASEWORKER.encryption.raw,
        KeyKind.CASEWORKER: CASEWORKER.encryption.raw + CASEWORKER.signing.seed,
    }[kind]
    organisation = ORG.public_key if kind is KeyKind.CASEWORKER else None
    header = KeyFileHeader(kind, "Amal", MINIMUM, bytes(16), bytes(24), public_keys, organisation)
    path = tmp_path / "key.sanadkey"
    path.write_bytes(_seal_key_file_from_parts(header, private, "passphrase"))
    return path


def test_key_file_header_with_usable_keys_is_read(tmp_path: Path) -> None:
    path = _key_file(tmp_path, KeyKind.CASEWORKER, GOOD_X25519 + GOOD_ED25519)
    header = read_key_file_header(path)
    assert header.encryption_key == CASEWORKER.public.encryption


@pytest.mark.parametrize("raw", BAD_X25519)
def test_key_file_header_with_unusable_encryption_key_is_malformed(
    tmp_path: Path, raw: bytes
) -> None:
    for kind, public_keys in (
        (KeyKind.ORG_RECOVERY, raw),
        (KeyKind.CASEWORKER, raw + GOOD_ED25519),
    ):
        with pytest.raises(MalformedKeyFile, match="public key in this key file is not usable"):
            read_key_file_header(_key_file(tmp_path, kind, public_keys))


@pytest.mark.parametrize("raw", BAD_ED25519)
def test_key_file_header_with_unusable_signing_key_is_malformed(tmp_path: Path, raw: bytes) -> None:
    for kind, public_keys in (
        (KeyKind.ORG_SIGNING, raw),
        (KeyKind.CASEWORKER, GOOD_X25519 + raw),
    ):
        with pytest.raises(MalformedKeyFile, match="public key in this key file is not usable"):
            read_key_file_header(_key_file(tmp_path, kind, public_keys))


# Configuration ---------------------------------------------------------------------------------


def _config_error(tmp_path: Path, *, signing: str, recovery: str) -> str:
    path = tmp_path / "config.toml"
    path.write_text(minimal_toml(("", ""), signing=signing, recovery=recovery), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return str(caught.value)


@pytest.mark.parametrize("raw", BAD_X25519)
def test_config_names_an_unusable_recovery_key_in_one_line(tmp_path: Path, raw: bytes) -> None:
    message = _config_error(
        tmp_path,
        signing=ORG.public_key.to_text(ORG_SIGNING_PREFIX),
        recovery=_text(X25519_PREFIX, raw),
    )
    assert "\n" not in message
    assert message.startswith(f"{tmp_path / 'config.toml'}: organisation.recovery_public_key: ")
    assert ("not a usable X25519 public key" in message) or ("placeholder" in message)


@pytest.mark.parametrize("raw", BAD_ED25519)
def test_config_names_an_unusable_signing_key_in_one_line(tmp_path: Path, raw: bytes) -> None:
    message = _config_error(
        tmp_path,
        signing=_text(ORG_SIGNING_PREFIX, raw),
        recovery=CASEWORKER.public.encryption.to_text(),
    )
    assert "\n" not in message
    assert message.startswith(f"{tmp_path / 'config.toml'}: organisation.signing_public_key: ")
    assert ("not a usable Ed25519 public key" in message) or ("placeholder" in message)


# Sealed report files and rotation statements ---------------------------------------------------


def _sealed_file_with_reply_to(raw: bytes) -> bytes:
    mailbox = X25519SecretKey(bytes(range(65, 97))).public_key
    report_id = bytes(range(16))
    sealed = seal_report(
        b"body",
        report_id=report_id,
        sequence=0,
        kind=EnvelopeKind.REPORT,
        recipients=[CASEWORKER.public.encryption],
        reply_to=mailbox,
    )
    data = write_sealed_file(
        kind=EnvelopeKind.REPORT,
        case_reference="K7Q-4M2P",
        report_id=report_id,
        sequence=0,
        reply_to=mailbox,
        wrap=sealed.wraps[0],
        body_sealed=sealed.body_sealed,
        bot_key=BOT,
        bot_certificate=BOT_CERTIFICATE,
    )
    marker = b"\x01" + mailbox.raw
    assert data.count(marker) == 1
    assert read_sealed_file(data, ORG.public_key, today=DAY).reply_to == mailbox
    return data.replace(marker, b"\x01" + raw)


@pytest.mark.parametrize("raw", BAD_X25519)
def test_sealed_file_with_unusable_reply_to_key_is_malformed(raw: bytes) -> None:
    # The reply-to key is parsed before the bot's signature is checked: an unusable key is
    # refused as damage, whoever signed the file.
    with pytest.raises(MalformedSealedFile, match="public key in it is not usable"):
        read_sealed_file(_sealed_file_with_reply_to(raw), ORG.public_key, today=DAY)


@pytest.mark.parametrize("raw", BAD_ED25519)
def test_rotation_statement_naming_an_unusable_key_is_malformed(raw: bytes) -> None:
    new = Ed25519SigningKey(bytes(range(40, 72)))
    data = issue_signing_key_rotation(ORG, new, issued=DAY)
    assert verify_signing_key_rotation(data).new == new.public_key
    assert data.count(new.public_key.raw) == 1
    with pytest.raises(MalformedRotationStatement, match="public key in it is not usable"):
        verify_signing_key_rotation(data.replace(new.public_key.raw, raw))
