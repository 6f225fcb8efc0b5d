"""Published statistics as files: JSON, CSV (optionally with an HXL hashtag row), and charts.

Only :class:`~desk.advocacy.suppression.Published` tables reach these files, and of a hidden
cell only how it is shown (``<5`` or ``x``), never its value. Every file says what it counts: the
number of reports, the incident months they span, and :data:`CAVEAT`.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from dataclasses import dataclass
from pathlib import Path

from desk.advocacy.about import CAVEAT, About
from desk.advocacy.charts import chart_files
from desk.advocacy.counts import Counts
from desk.advocacy.records import Dimension
from desk.advocacy.suppression import (
    COMPLEMENT,
    HIDDEN,
    PRIMARY,
    SMALL,
    CrossTable,
    OneWayTable,
    Published,
    publish,
)

LEGEND = {
    PRIMARY: f"fewer than {SMALL} reports: hidden so that no one can be singled out",
    COMPLEMENT: f"hidden so that a total cannot reveal a number below {SMALL}",
    HIDDEN: "categories whose own count is hidden, combined",
}
# Humanitarian Exchange Language hashtags (hxlstandard.org), for tools that read HXL.
HXL = {
    Dimension.INCIDENT_TYPE: "#event+type",
    Dimension.PLATFORM: "#meta+platform",
    Dimension.COUNTRY: "#country+code",
    Dimension.MONTH: "#date+month",
    Dimension.PLATFORM_RESPONSE: "#status+platform_response",
}
HXL_COUNT = "#indicator+reports+num"


@dataclass(frozen=True)
class Statistics:
    """What an export publishes: the suppressed tables, what they count, and each file's bytes
    by name (``statistics.json``, ``by-*.csv``, ``chart-*.svg``/``.png``)."""

    published: Published
    about: About
    files: dict[str, bytes]


def make_statistics(counts: Counts, *, hxl: bool = False, charts: bool = True) -> Statistics:
    """Suppress ``counts`` and make every file in memory (``charts=False`` leaves the charts
    out, for a page that draws them one at a time).

    Raises :class:`~desk.advocacy.suppression.TooFewReports` below 5 reports.
    """
    published = publish(counts)
    span = counts.date_range()
    about = About(
        counts.total, span[0] if span else None, span[1] if span else None, dt.date.today()
    )
    document = statistics_json(published, about, hxl=hxl)
    files = {"statistics.json": json.dumps(document, ensure_ascii=False, indent=1).encode()}
    for table in published.one_way.values():
        name = f"by-{table.dimension.value}.csv"
        files[name] = _one_way_csv(table, about, hxl).encode()
    for cross in published.cross.values():
        name = f"by-{cross.rows.value}-and-{cross.columns.value}.csv"
        files[name] = _cross_csv(cross, about, hxl).encode()
    if charts:
        files.update(chart_files(published, about))
    return Statistics(published, about, files)


def write_statistics(counts: Counts, out: Path, *, hxl: bool = False) -> list[Path]:
    """Suppress ``counts`` and write every file into ``out`` (created); returns their paths.

    Raises :class:`~desk.advocacy.suppression.TooFewReports` below 5 reports, before writing.
    """
    statistics = make_statistics(counts, hxl=hxl)
    out.mkdir(mode=0o700, parents=True, exist_ok=True)
    written = []
    for name, content in statistics.files.items():
        (out / name).write_bytes(content)
        written.append(out / name)
    return written


def statistics_json(published: Published, about: About, *, hxl: bool = False) -> dict[str, object]:
    """Every table as JSON: shown values only (numbers as numbers, hidden cells as strings); with
    ``hxl``, the HXL hashtag of each dimension and of the counts."""
    tags = {"hxl": {**{d.value: tag for d, tag in HXL.items()}, "reports": HXL_COUNT}}
    return {
        **(tags if hxl else {}),
        "reports": about.reports,
        "incident_months": {"first": about.first_month, "last": about.last_month},
        "made_on": about.made_on.isoformat(),
        "caveat": CAVEAT,
        "legend": LEGEND,
        "by": {
            table.dimension.value: {
                "withheld": table.withheld,
                "counts": {c: _json_cell(cell.shown) for c, cell in table.cells.items()},
                "total": table.total,
            }
            for table in published.one_way.values()
        },
        "by_pair": {
            f"{cross.rows.value}/{cross.columns.value}": {
                "withheld": cross.withheld,
                "counts": [[r, c, _json_cell(cell.shown)] for (r, c), cell in cross.cells.items()],
                "row_totals": cross.row_totals,
                "column_totals": cross.column_totals,
                "total": cross.total,
            }
            for cross in published.cross.values()
        },
    }


def _json_cell(shown: str) -> int | str:
    return int(shown) if shown.isdigit() else shown


def _one_way_csv(table: OneWayTable, about: About, hxl: bool) -> str:
    rows: list[list[str]] = [[table.dimension.value, "reports"]]
    if hxl:
        rows.append([HXL[table.dimension], HXL_COUNT])
    rows += [[category, cell.shown] for category, cell in table.cells.items()]
    rows.append(["total", str(table.total)])
    return _csv(rows, about, table.withheld)


def _cross_csv(cross: CrossTable, about: About, hxl: bool) -> str:
    rows: list[list[str]] = [[cross.rows.value, cross.columns.value, "reports"]]
    if hxl:
        rows.append([HXL[cross.rows], HXL[cross.columns], HXL_COUNT])
    rows += [[r, c, cell.shown] for (r, c), cell in cross.cells.items()]
    rows += [[r, "total", str(n)] for r, n in sorted(cross.row_totals.items())]
    rows += [["total", c, str(n)] for c, n in sorted(cross.column_totals.items())]
    rows.append(["total", "total", str(cross.total)])
    return _csv(rows, about, cross.withheld)


def _csv(rows: list[list[str]], about: About, withheld: bool) -> str:
    """The table's rows, then a blank line and what it counts (read by people, skipped by
    tools that stop at the first blank line)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerows(rows)
    writer.writerow([])
    if withheld:
        writer.writerow(
            [
                f"withheld: no pattern of hidden cells kept every number below {SMALL} "
                "from being worked out"
            ]
        )
    writer.writerow([about.caption])
    for mark, meaning in LEGEND.items():
        writer.writerow([f"{mark}: {meaning}"])
    return buffer.getvalue()
