"""Known-answer tests for the libsodium primitives Sanad relies on, called through crypto._sodium.

The vectors are copied from the published documents named in each file's ``source`` field
(tests/vectors/kat_*.json), so a broken or substituted libsodium build fails here first.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from crypto import _sodium
from crypto.errors import OpenFailure

VECTORS = Path(__file__).parent.parent / "vectors"


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((VECTORS / name).read_text())
    assert data["source"]
    return data


def _h(text: str) -> bytes:
    return bytes.fromhex(text)


@pytest.mark.parametrize("case", _load("kat_x25519.json")["scalar_mult"], ids=lambda c: c["name"])
def test_x25519_matches_rfc7748_section_5_2(case: dict[str, str]) -> None:
    assert _sodium.x25519(_h(case["scalar"]), _h(case["u"])) == _h(case["output"])


def test_x25519_diffie_hellman_matches_rfc7748_section_6_1() -> None:
    case = _load("kat_x25519.json")["diffie_hellman"]
    alice, bob = _h(case["alice_private"]), _h(case["bob_private"])
    assert _sodium.x25519_public_from_secret(alice) == _h(case["alice_public"])
    assert _sodium.x25519_public_from_secret(bob) == _h(case["bob_public"])
    assert _sodium.x25519(alice, _h(case["bob_public"])) == _h(case["shared"])
    assert _sodium.x25519(bob, _h(case["alice_public"])) == _h(case["shared"])


@pytest.mark.parametrize("case", _load("kat_ed25519.json")["cases"], ids=lambda c: c["name"])
def test_ed25519_matches_rfc8032_section_7_1(case: dict[str, str]) -> None:
    public, secret = _sodium.ed25519_keypair_from_seed(_h(case["secret_key"]))
    assert public == _h(case["public_key"])
    message, signature = _h(case["message"]), _h(case["signature"])
    assert _sodium.ed25519_sign(secret, message) == signature
    assert _sodium.ed25519_verify(public, message, signature)
    assert not _sodium.ed25519_verify(public, message + b"\x00", signature)


@pytest.mark.parametrize(
    "case", _load("kat_xchacha20poly1305.json")["cases"], ids=lambda c: c["name"]
)
def test_xchacha20poly1305_matches_draft_irtf_cfrg_xchacha_a_3_1(case: dict[str, str]) -> None:
    key, nonce, aad = _h(case["key"]), _h(case["nonce"]), _h(case["aad"])
    sealed = _h(case["ciphertext"]) + _h(case["tag"])
    assert _sodium.aead_encrypt(key, nonce, _h(case["plaintext"]), aad) == sealed
    assert _sodium.aead_decrypt(key, nonce, sealed, aad) == _h(case["plaintext"])
    with pytest.raises(OpenFailure):
        _sodium.aead_decrypt(key, nonce, sealed, aad + b"\x00")


@pytest.mark.parametrize("case", _load("kat_blake2b.json")["cases"], ids=lambda c: c["name"])
def test_blake2b_matches_rfc7693_appendix_a(case: dict[str, Any]) -> None:
    digest = _sodium.blake2b(_h(case["message"]), key=_h(case["key"]), size=case["size"])
    assert digest == _h(case["digest"])
