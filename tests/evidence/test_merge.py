"""Combining caseworkers: three signed exports merged, a case counted twice and a tampered file
refused, suppression applied to the merged totals only.

Each caseworker holds a third of 60 consented and 15 non-consented reports, sealed to them and
signed by the organisation's bot; `sanad caseworker export --signed` and `--merge` run as
subprocesses.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.test_key_commands import sanad
from tests.evidence.advocacy_data import make_cases, truth
from tests.evidence.support import Caseworker, Organisation

pytestmark = pytest.mark.slow

CASES = make_cases(60, 15)


def export_of(org: Organisation, me: Caseworker, cases: list, folder: Path) -> Path:  # type: ignore[type-arg]
    inbox = folder / me.label
    inbox.mkdir(parents=True)
    files = []
    for case in cases:
        path = inbox / f"{case.reference}.sanad"
        path.write_bytes(org.deliver(case.body, case.reference, me.keys.public.encryption))
        files.append(path)
    out = folder / f"{me.label}-export.json"
    result = sanad(
        "caseworker", "export", "--signed", *files, "--key", me.key_file,
        "--certificate", me.certificate, "--out", out,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return out


def test_three_caseworkers_merge_and_duplicates_and_tampering_are_refused(tmp_path: Path) -> None:
    org = Organisation.generate()
    people = [org.caseworker(tmp_path / "keys", name) for name in ("Amira", "Bilal", "Chadi")]
    thirds = [CASES[0::3], CASES[1::3], CASES[2::3]]
    exports = [export_of(org, p, cases, tmp_path) for p, cases in zip(people, thirds, strict=True)]
    merger = people[0]

    out = tmp_path / "merged"
    merged = sanad("caseworker", "export", "--merge", *exports, "--key", merger.key_file,
                   "--out", out)  # fmt: skip
    assert merged.returncode == 0, merged.stderr
    assert merged.stdout.count("signature and certificate verified") == 3
    statistics = json.loads((out / "statistics.json").read_text(encoding="utf-8"))
    assert statistics["reports"] == 60
    one_way, _ = truth(CASES)
    for dimension, table in statistics["by"].items():
        for category, shown in table["counts"].items():
            real = one_way[dimension][category]
            assert shown == (real if real >= 5 or real == 0 else "<5") or shown == "x"
    # Suppression is on the merged totals: a platform small in each part is shown when the sum
    # reaches 5, and a part's exact small counts never reach the published files.
    exact = json.loads(json.loads(exports[0].read_text())["document"])["counts"]["one_way"]
    assert any(0 < n < 5 for table in exact.values() for n in table.values())

    duplicate_folder = tmp_path / "dup"
    duplicate = export_of(org, people[2], [CASES[0], *CASES[2::3][:5]], duplicate_folder)
    refused = sanad("caseworker", "export", "--merge", exports[0], duplicate, "--key",
                    merger.key_file, "--out", tmp_path / "refused")  # fmt: skip
    assert refused.returncode == 1
    assert f"case {CASES[0].reference} is counted twice" in refused.stderr
    assert not (tmp_path / "refused").exists()

    outer = json.loads(exports[1].read_text())
    outer["document"] = outer["document"].replace('"facebook": ', '"facebook": 1', 1)
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(outer))
    rejected = sanad("caseworker", "export", "--merge", exports[0], tampered, "--key",
                     merger.key_file, "--out", tmp_path / "rejected")  # fmt: skip
    assert rejected.returncode == 1
    assert f"refused {tampered}" in rejected.stderr
    assert "altered after signing" in rejected.stderr
    assert not (tmp_path / "rejected").exists()

    # A caseworker of another organisation: their export is signed and certified, by others.
    elsewhere = Organisation.generate()
    stranger = elsewhere.caseworker(tmp_path / "elsewhere", "Dalia")
    foreign = export_of(elsewhere, stranger, CASES[3:9], tmp_path / "foreign")
    outsider = sanad("caseworker", "export", "--merge", exports[0], foreign, "--key",
                     merger.key_file, "--out", tmp_path / "outsider")  # fmt: skip
    assert outsider.returncode == 1
    assert f"refused {foreign}" in outsider.stderr
