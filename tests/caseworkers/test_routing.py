"""Routing: a new report goes to an eligible caseworker who reads its language, then the least
loaded; when nobody reads it, to the least loaded of all eligible caseworkers.

Service tests run on SQLite and PostgreSQL (the ``db`` fixture); loads are real stored reports.
The command-line tests run ``sanad admin approve|languages|caseworkers`` as subprocesses against
a SQLite deployment (the admin CLI tests' fixture).
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.services import caseworkers as service
from bot.services.caseworkers import CaseworkerError
from crypto.keys import OrganisationKeys
from storage.engine import Database
from storage.models import Caseworker, CaseworkerStatus, Language
from tests.storage.helpers import store_opaque_report

from .conftest import (
    TODAY,
    approve_enrolment,
    approved,
    code_of,
    enrolled,
    insert_by_hand,
    new_chat_id,
)
from .test_admin_cli import Deployment, _one_line_failure, _plain_rows, deployment

__all__ = ["deployment"]


async def _reader(
    db: Database, org: OrganisationKeys, label: str, languages: str, *, open_cases: int = 0
) -> int:
    """An approved caseworker reading ``languages`` with ``open_cases`` reports assigned."""
    caseworker_id, _ = await approved(db, org, label)
    await service.set_languages(
        db, who=label, languages=service.parse_languages(languages), today=TODAY
    )
    for _ in range(open_cases):
        await store_opaque_report(db, caseworker_id=caseworker_id)
    return caseworker_id


async def _chosen(db: Database, org: OrganisationKeys, language: Language) -> int | None:
    async with db.sessionmaker() as session, session.begin():
        chosen = await service.choose_caseworker(
            session, org.signing.public_key, TODAY, language, min_serial=0
        )
    return None if chosen is None else chosen.caseworker_id


async def test_arabic_report_goes_to_the_arabic_reader_even_when_more_loaded(
    db: Database, org: OrganisationKeys
) -> None:
    arabic = await _reader(db, org, "Amal", "ar", open_cases=2)
    french = await _reader(db, org, "Fatima", "fr")
    assert await _chosen(db, org, Language.AR) == arabic
    assert await _chosen(db, org, Language.FR) == french


async def test_french_report_without_a_french_reader_goes_to_the_least_loaded(
    db: Database, org: OrganisationKeys
) -> None:
    await _reader(db, org, "Amal", "ar", open_cases=1)
    lighter = await _reader(db, org, "John", "en")  # the higher id: load decides, not the tie
    assert await _chosen(db, org, Language.FR) == lighter


async def test_readers_of_any_language_are_candidates_for_every_language(
    db: Database, org: OrganisationKeys
) -> None:
    anyone = await _reader(db, org, "Nour", "any")
    arabic = await _reader(db, org, "Amal", "ar", open_cases=1)
    french = await _reader(db, org, "Fatima", "fr", open_cases=1)
    for language in Language:
        assert await _chosen(db, org, language) == anyone
    await store_opaque_report(db, caseworker_id=anyone)
    await store_opaque_report(db, caseworker_id=anyone)
    # Now busier than the others: each specific reader wins their own language back.
    assert await _chosen(db, org, Language.AR) == arabic
    assert await _chosen(db, org, Language.FR) == french
    assert await _chosen(db, org, Language.EN) == anyone


async def test_equal_loads_go_to_the_lowest_id(db: Database, org: OrganisationKeys) -> None:
    first = await _reader(db, org, "Amal", "ar,fr")
    await _reader(db, org, "Salma", "ar")
    assert await _chosen(db, org, Language.AR) == first


async def test_an_ineligible_reader_of_the_language_is_never_chosen(
    db: Database, org: OrganisationKeys
) -> None:
    # I4: the languages column steers among recipients; a forged row reading Arabic is not one.
    intruder, _ = await insert_by_hand(db, "Intruder", status=CaseworkerStatus.VERIFIED)
    await service.set_languages(db, who="Intruder", languages=frozenset({Language.AR}), today=TODAY)
    french = await _reader(db, org, "Fatima", "fr", open_cases=3)
    assert await _chosen(db, org, Language.AR) == french
    assert intruder != french


async def test_no_eligible_caseworker_chooses_nobody(db: Database, org: OrganisationKeys) -> None:
    await enrolled(db, "Pending")
    assert await _chosen(db, org, Language.AR) is None


async def test_renewing_a_certificate_keeps_the_languages(
    db: Database, org: OrganisationKeys
) -> None:
    chat_id = new_chat_id()
    first, keys = await enrolled(db, "Amal", chat_id=chat_id)
    await approve_enrolment(db, org, first)
    await service.set_languages(
        db, who="Amal", languages=service.parse_languages("ar,en"), today=TODAY
    )
    renewal, _ = await enrolled(db, "Amal", chat_id=chat_id, keys=keys)  # a fresh code
    approval = await approve_enrolment(db, org, renewal)
    assert approval.languages == {Language.AR, Language.EN}
    async with db.sessionmaker() as session:
        stored = await session.scalar(
            select(Caseworker.languages).where(Caseworker.id == first.caseworker_id)
        )
    assert stored == "ar,en"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ar,fr", {Language.AR, Language.FR}),
        (" FR , ar ", {Language.AR, Language.FR}),
        ("en", {Language.EN}),
        ("any", set()),
        ("", set()),
    ],
)
def test_parse_languages_accepts_known_codes_and_any(text: str, expected: set[Language]) -> None:
    assert service.parse_languages(text) == expected


@pytest.mark.parametrize("text", ["ar,de", "arabic", "any,ar"])
def test_parse_languages_refuses_unknown_codes(text: str) -> None:
    with pytest.raises(CaseworkerError, match="unknown language"):
        service.parse_languages(text)


async def test_cli_sets_and_shows_languages(deployment: Deployment) -> None:
    enrolment, _ = await deployment.enrol("Salma")

    approved_run = deployment.sanad(
        "admin", "approve", "Salma", "--org-key", str(deployment.signing_key),
        "--confirm", enrolment.confirmation_code, "--languages", "fr,ar",
    )  # fmt: skip
    assert approved_run.returncode == 0, approved_run.stderr
    assert "languages: ar,fr" in approved_run.stdout
    listed = deployment.sanad("admin", "caseworkers", "--plain")
    assert listed.returncode == 0, listed.stderr
    assert _plain_rows(listed.stdout)["Salma"]["languages"] == "ar,fr"

    changed = deployment.sanad("admin", "languages", "Salma", "en")
    assert changed.returncode == 0, changed.stderr
    table = deployment.sanad("admin", "caseworkers")
    assert table.returncode == 0, table.stderr
    [salma] = [block for block in table.stdout.split("\n\n") if "  label        Salma" in block]
    assert "  languages    en\n" in salma + "\n"
    assert "ar,fr" not in table.stdout

    reset = deployment.sanad("admin", "languages", "Salma", "any")
    assert reset.returncode == 0, reset.stderr
    listed = deployment.sanad("admin", "caseworkers", "--plain")
    assert _plain_rows(listed.stdout)["Salma"]["languages"] == "any"


async def test_cli_refuses_an_unknown_language_in_one_line_before_signing(
    deployment: Deployment,
) -> None:
    enrolment, _ = await deployment.enrol("Salma")

    result = deployment.sanad(
        "admin", "approve", "Salma", "--org-key", str(deployment.signing_key),
        "--confirm", code_of(enrolment), "--languages", "ar,de",
    )  # fmt: skip

    _one_line_failure(result, "unknown language 'de'")
    assert "hint: use codes among ar, fr, en" in result.stderr
    async with deployment.db.sessionmaker() as session:
        row = await session.scalar(select(Caseworker).where(Caseworker.label == "Salma"))
    assert row is not None
    assert row.status is CaseworkerStatus.PENDING
    assert row.certificate is None
    _one_line_failure(deployment.sanad("admin", "languages", "Salma", "xx"), "unknown language")
