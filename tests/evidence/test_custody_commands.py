"""The commands that read the custody log, with the log damaged: ``caseworker package`` refuses
in one line and writes no package; ``caseworker open`` still shows the report, warns in one line
that the open was not recorded. Neither touches the log. Run as processes, with real keys."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from desk.evidence.custody import LOG_NAME
from tests.cli.test_key_commands import assert_one_line_failure, sanad
from tests.desk.conftest import PASSPHRASE, Caseworker, caseworker  # noqa: F401 (fixture)
from tests.evidence.custody_damage import DAMAGES, damaged_log_beside

pytestmark = pytest.mark.slow

CASE = "K7Q-4M2P"
ANSWERS = [("incident.type", "blackmail")]


@dataclass(frozen=True)
class Damaged:
    """A caseworker's key file, the log beside it damaged, its bytes, and a report of the case."""

    key_file: Path
    log: Path
    data: bytes
    report: Path


@pytest.fixture
def damaged(
    request: pytest.FixtureRequest,
    caseworker: Caseworker,  # noqa: F811 (the fixture)
    tmp_path: Path,
) -> Damaged:
    """The log damaged in the way the test names (``indirect`` parameter)."""
    log = damaged_log_beside(caseworker.key_file, caseworker.keys, CASE, request.param)
    report = caseworker.save(tmp_path, CASE, caseworker.sealed(CASE, ANSWERS))
    return Damaged(caseworker.key_file, log, log.read_bytes(), report)


def _unverified(log: Path) -> str:
    return f"the custody log {log} could not be verified: it was changed or damaged"


@pytest.mark.parametrize("damaged", list(DAMAGES), indirect=True)
def test_package_refuses_a_damaged_log_in_one_line_and_writes_nothing(
    damaged: Damaged, tmp_path: Path
) -> None:
    out = tmp_path / "package.zip"
    result = sanad(
        "caseworker", "package", CASE, "--key", damaged.key_file, "--from", damaged.report,
        "--out", out, passphrase=PASSPHRASE,
    )  # fmt: skip
    assert_one_line_failure(result, f"{_unverified(damaged.log)}: no package was written")
    assert result.stderr.splitlines()[1] == (
        "hint: do not package or export this case until an admin has looked; keep the log as it is"
    )
    assert not out.exists()
    assert damaged.log.read_bytes() == damaged.data


@pytest.mark.parametrize("damaged", ["cut short", "record signed by another key"], indirect=True)
def test_open_shows_the_report_and_warns_that_the_open_was_not_recorded(damaged: Damaged) -> None:
    result = sanad(
        "caseworker", "open", damaged.report, "--key", damaged.key_file, passphrase=PASSPHRASE
    )
    assert result.returncode == 0, result.stderr
    assert f"Case: {CASE}" in result.stdout
    warning = f"warning: {_unverified(damaged.log)}: this open was not recorded"
    assert result.stderr.splitlines() == [warning]
    assert damaged.log.read_bytes() == damaged.data


def test_package_with_a_log_that_cannot_be_written_says_so_and_writes_no_package(
    caseworker: Caseworker,  # noqa: F811 (the fixture)
    tmp_path: Path,
) -> None:
    log = caseworker.key_file.parent / LOG_NAME
    log.symlink_to(log.parent / "unplugged" / LOG_NAME)  # a drive that was taken out
    report = caseworker.save(tmp_path, CASE, caseworker.sealed(CASE, ANSWERS))
    out = tmp_path / "package.zip"
    result = sanad(
        "caseworker", "package", CASE, "--key", caseworker.key_file, "--from", report,
        "--out", out, passphrase=PASSPHRASE,
    )  # fmt: skip
    assert_one_line_failure(
        result,
        f"the custody log {log} could not be written (no such file or directory): "
        "no package was written",
    )
    assert not out.exists()
