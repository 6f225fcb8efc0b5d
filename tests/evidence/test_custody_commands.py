"""The commands that read the custody log, with the log damaged: ``caseworker package`` refuses
in one line and writes no package; ``caseworker open`` still shows the report, warns in one line
that the open was not recorded. Neither touches the log. Run as processes, with real keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from desk.evidence.custody import LOG_NAME
from tests.cli.test_key_commands import assert_one_line_failure, sanad
from tests.desk.conftest import PASSPHRASE, Caseworker, caseworker  # noqa: F401 (fixture)
from tests.evidence.custody_damage import DAMAGES, damage, write_history

pytestmark = pytest.mark.slow

CASE = "K7Q-4M2P"
ANSWERS = [("incident.type", "blackmail")]


def _damaged_log(caseworker: Caseworker, how: str) -> tuple[Path, bytes]:  # noqa: F811
    log = caseworker.key_file.parent / LOG_NAME
    write_history(log, caseworker.keys, CASE)
    return log, damage(log, caseworker.keys, how)


def _unverified(log: Path) -> str:
    return f"the custody log {log} could not be verified: it was changed or damaged"


@pytest.mark.parametrize("how", list(DAMAGES))
def test_package_refuses_a_damaged_log_in_one_line_and_writes_nothing(
    caseworker: Caseworker,  # noqa: F811 (the fixture)
    tmp_path: Path,
    how: str,
) -> None:
    log, damaged = _damaged_log(caseworker, how)
    report = caseworker.save(tmp_path, CASE, caseworker.sealed(CASE, ANSWERS))
    out = tmp_path / "package.zip"
    result = sanad(
        "caseworker", "package", CASE, "--key", caseworker.key_file, "--from", report,
        "--out", out, passphrase=PASSPHRASE,
    )  # fmt: skip
    assert_one_line_failure(result, f"{_unverified(log)}: no package was written")
    assert result.stderr.splitlines()[1] == (
        "hint: do not package or export this case until an admin has looked; keep the log as it is"
    )
    assert not out.exists()
    assert log.read_bytes() == damaged


@pytest.mark.parametrize("how", ["cut short", "record signed by another key"])
def test_open_shows_the_report_and_warns_that_the_open_was_not_recorded(
    caseworker: Caseworker,  # noqa: F811 (the fixture)
    tmp_path: Path,
    how: str,
) -> None:
    log, damaged = _damaged_log(caseworker, how)
    report = caseworker.save(tmp_path, CASE, caseworker.sealed(CASE, ANSWERS))
    result = sanad(
        "caseworker", "open", report, "--key", caseworker.key_file, passphrase=PASSPHRASE
    )
    assert result.returncode == 0, result.stderr
    assert f"Case: {CASE}" in result.stdout
    warning = f"warning: {_unverified(log)}: this open was not recorded"
    assert result.stderr.splitlines() == [warning]
    assert log.read_bytes() == damaged
