"""Golden vectors of the parts of a sealed report file (tests/vectors/parts.json).

Each case names what must happen (``expect``); an unknown ``expect`` fails, so a vector cannot be
silently skipped. ``ok`` cases must join to the recorded file, and the first is also re-split with
the fixed bot key, which must give the recorded parts: a change of format shows up here.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from crypto.errors import CryptoError, UnsupportedVersion
from crypto.keys import Ed25519PublicKey, Ed25519SigningKey
from crypto.sealed_file import MalformedSealedFile, UntrustedFile, read_sealed_file
from crypto.sealed_parts import PartsDoNotJoin, join_sealed_parts, split_sealed_file

CASES: list[dict[str, Any]] = json.loads(
    (Path(__file__).parent.parent / "vectors" / "parts.json").read_text()
)["cases"]
FAILURES: dict[str, type[CryptoError]] = {
    "untrusted": UntrustedFile,
    "bad_version": UnsupportedVersion,
    "malformed": MalformedSealedFile,
    "parts_do_not_join": PartsDoNotJoin,
}


def _join(case: dict[str, Any]) -> bytes:
    return join_sealed_parts(
        [bytes.fromhex(part) for part in case["parts"]],
        Ed25519PublicKey(bytes.fromhex(case["org_public"])),
        today=date.fromisoformat(case["today"]),
    )


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_parts_vector(case: dict[str, Any]) -> None:
    expect = case["expect"]
    if expect == "ok":
        assert _join(case).hex() == case["file"]
    elif expect in FAILURES:
        with pytest.raises(FAILURES[expect]):
            _join(case)
    else:
        pytest.fail(f"unknown expect {expect!r}")


def test_split_gives_the_recorded_parts() -> None:
    [case] = [case for case in CASES if "part_size" in case]
    whole = bytes.fromhex(case["file"])
    org_public = Ed25519PublicKey(bytes.fromhex(case["org_public"]))
    today = date.fromisoformat(case["today"])
    sealed = read_sealed_file(whole, org_public, today=today)
    bot_key = Ed25519SigningKey(bytes.fromhex(case["bot_seed"]))
    assert sealed.bot.key == bot_key.public_key
    parts = split_sealed_file(
        whole,
        case_reference=sealed.case_reference,
        report_id=sealed.report_id,
        sequence=sealed.sequence,
        part_size=case["part_size"],
        bot_key=bot_key,
        bot_certificate=bytes.fromhex(case["bot_certificate"]),
    )
    assert [part.hex() for part in parts] == case["parts"]


def test_vectors_cover_every_failure_kind() -> None:
    assert {case["expect"] for case in CASES} == {"ok", *FAILURES}
