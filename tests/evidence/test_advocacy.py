"""Advocacy statistics: counted from consented reports only, right, and safe to publish.

60 consented and 15 non-consented reports across platforms, countries and months. The published
files are checked against a ground truth counted by the test itself; every hidden cell is
checked, from the published JSON alone, to have more than one possible value (tests/evidence/
audit.py); no free text, no non-consented report and no case reference may appear anywhere.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image

from crypto.body import Answer, ReportBody
from desk.advocacy.about import CAVEAT
from desk.advocacy.counts import DuplicateCase, count
from desk.advocacy.export import write_statistics
from desk.advocacy.records import NOT_ANSWERED, UNRECOGNISED, Dimension, advocacy_record
from desk.advocacy.suppression import HIDDEN, TooFewReports
from tests.evidence.advocacy_data import FREE_TEXT, ONLY_UNCONSENTED, make_cases, truth
from tests.evidence.audit import cross_values, one_way_values

CASES = make_cases(60, 15)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("statistics")
    records = [r for c in CASES if (r := advocacy_record(c.reference, c.body)) is not None]
    write_statistics(count(records), out, hxl=True)
    return out


def published(out: Path) -> dict:  # type: ignore[type-arg]
    return json.loads((out / "statistics.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def test_only_consented_reports_are_counted(exported: Path) -> None:
    statistics = published(exported)
    assert statistics["reports"] == 60
    assert ONLY_UNCONSENTED["platform"] not in statistics["by"]["platform"]["counts"]
    assert ONLY_UNCONSENTED["country"] not in statistics["by"]["country"]["counts"]


def test_no_free_text_non_consented_value_or_case_reference_in_any_file(exported: Path) -> None:
    forbidden = [FREE_TEXT, "example.org", "they found my name", *ONLY_UNCONSENTED.values()]
    forbidden += [case.reference for case in CASES]
    files = [p for p in exported.iterdir() if p.suffix in {".json", ".csv", ".svg"}]
    assert len(files) >= 16
    for path in files:
        text = path.read_text(encoding="utf-8")
        for value in forbidden:
            assert f'"{value}"' not in text, (path.name, value)
            assert f">{value}<" not in text, (path.name, value)
            if len(value) > 2:
                assert value not in text, (path.name, value)


def test_every_shown_count_is_the_truth_and_every_small_one_is_hidden(exported: Path) -> None:
    statistics = published(exported)
    one_way_truth, cross_truth = truth(CASES)
    hidden_categories = {}
    for dimension, table in statistics["by"].items():
        expected = one_way_truth[dimension]
        assert table["total"] == 60 == sum(expected.values())
        assert set(table["counts"]) == set(expected)
        for category, shown in table["counts"].items():
            real = expected[category]
            if isinstance(shown, int):
                assert shown == real, (dimension, category)
                assert not 1 <= real < 5, (dimension, category)
            else:
                assert shown == ("<5" if 1 <= real < 5 else "x"), (dimension, category)
        hidden_categories[dimension] = {c for c, s in table["counts"].items() if s in ("<5", "x")}
    for name, table in statistics["by_pair"].items():
        first, second = name.split("/")
        combined: Counter[tuple[str, str]] = Counter()
        for (x, y), n in cross_truth[name].items():
            row = HIDDEN if x in hidden_categories[first] else x
            column = HIDDEN if y in hidden_categories[second] else y
            combined[row, column] += n
        assert not table["withheld"], name
        assert {(r, c): s for r, c, s in table["counts"]}.keys() == combined.keys()
        for row, column, shown in table["counts"]:
            real = combined[row, column]
            if isinstance(shown, int):
                assert shown == real, (name, row, column)
                assert not 1 <= real < 5, (name, row, column)
            else:
                assert shown == ("<5" if 1 <= real < 5 else "x"), (name, row, column)
        assert sum(table["row_totals"].values()) == 60


def test_no_hidden_cell_can_be_worked_out_from_the_published_totals(exported: Path) -> None:
    statistics = published(exported)
    hidden_cells = 0
    for dimension, table in statistics["by"].items():
        for category, values in one_way_values(table["counts"], table["total"]).items():
            hidden_cells += 1
            assert len(values) > 1, f"{dimension} {category} can only be {values}"
    for name, table in statistics["by_pair"].items():
        found = cross_values(table["counts"], table["row_totals"], table["column_totals"])
        for cell, values in found.items():
            hidden_cells += 1
            assert len(values) > 1, f"{name} {cell} can only be {values}"
    assert hidden_cells > 20  # the data do have small cells to protect


def test_csv_files_carry_the_hxl_row_and_what_they_count(exported: Path) -> None:
    with (exported / "by-platform.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["platform", "reports"]
    assert rows[1] == ["#meta+platform", "#indicator+reports+num"]
    assert published(exported)["hxl"]["platform"] == "#meta+platform"
    assert ["total", "60"] in rows
    assert any(CAVEAT in row[0] for row in rows if row)


def test_charts_exist_as_svg_and_png_and_name_their_range_and_count(exported: Path) -> None:
    statistics = published(exported)
    months = statistics["incident_months"]
    assert (months["first"], months["last"]) == ("2024-01", "2025-12")
    for dimension in statistics["by"]:
        svg = (exported / f"chart-{dimension}.svg").read_text(encoding="utf-8")
        for needed in ("60 reports", "incidents from 2024-01 to 2025-12", CAVEAT):
            assert needed in svg, (dimension, needed)
        with Image.open(exported / f"chart-{dimension}.png") as png:
            assert png.format == "PNG"
            description = png.text["Description"]  # type: ignore[attr-defined]
        assert "60 consented reports" in description
        assert CAVEAT in description


def test_fewer_than_five_consented_reports_publish_nothing(tmp_path: Path) -> None:
    few = make_cases(4, 10)
    records = [r for c in few if (r := advocacy_record(c.reference, c.body)) is not None]
    with pytest.raises(TooFewReports):
        write_statistics(count(records), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_case_opened_twice_is_refused() -> None:
    record = advocacy_record(CASES[0].reference, CASES[0].body)
    assert record is not None
    with pytest.raises(DuplicateCase):
        count([record, record])


def test_a_value_that_is_not_a_code_is_never_exported() -> None:
    body = ReportBody(
        [Answer("incident.platform", "Ahmed from Cairo"), Answer("consent.advocacy", "yes")]
    )
    record = advocacy_record("K00-AAAA", body)
    assert record is not None
    assert record.value(Dimension.PLATFORM) == UNRECOGNISED
    assert record.value(Dimension.INCIDENT_TYPE) == NOT_ANSWERED
    assert "Ahmed" not in repr(record)
