"""The submission service counts a report for monitoring only once its transaction committed."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bot import metrics
from bot.services import report_submission
from handlers.draft import Draft
from handlers.ports import SubmissionError
from tests.handlers.e2e import deployment


def _draft() -> Draft:
    return Draft(language="en", incident_type="doxxing", what_happened="They posted my address")


async def test_a_report_is_counted_after_its_commit_and_a_failed_one_is_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    committed_when_counted: list[int] = []
    async with deployment(tmp_path) as deployed:

        def count() -> None:
            # Another connection sees only committed rows: the count must come after the commit.
            with sqlite3.connect(deployed.path) as other:
                (rows,) = other.execute("SELECT count(*) FROM reports").fetchone()
            committed_when_counted.append(rows)

        monkeypatch.setattr(metrics, "report_submitted", count)
        await deployed.service.submit(_draft())
        assert committed_when_counted == [1]

        async def failing_store(*_args: object, **_kwargs: object) -> object:
            raise RuntimeError("the disk is full")

        monkeypatch.setattr(report_submission, "store_report", failing_store)
        with pytest.raises(SubmissionError):
            await deployed.service.submit(_draft())
    assert committed_when_counted == [1]
