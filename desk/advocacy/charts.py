"""Charts of the published one-way tables, as SVG and PNG, drawn with Matplotlib.

Each chart names what it shows in its own pixels and text — the number of reports, the incident
months they span, and that these are documented cases, not a measure of prevalence — so a chart
copied into a slide or a post keeps its caveat. A hidden category gets no bar, only its mark
(``<5`` or ``x``): a bar's height would give its number away.

Matplotlib is imported when a chart is drawn, not when the desk starts: it is large, and most of
the desk never draws.
"""

from __future__ import annotations

from pathlib import Path

from desk.advocacy.about import CAVEAT, About
from desk.advocacy.suppression import OneWayTable, Published

_TITLES = {
    "incident_type": "Reports by type of incident",
    "platform": "Reports by platform",
    "country": "Reports by country",
    "month": "Reports by month of the incident",
    "platform_response": "Reports by what the platform did when told",
}


def write_charts(published: Published, about: About, out: Path) -> list[Path]:
    """One SVG and one PNG per dimension into ``out``; returns their paths."""
    written = []
    for table in published.one_way.values():
        for extension in ("svg", "png"):
            path = out / f"chart-{table.dimension.value}.{extension}"
            draw_chart(table, about, path)
            written.append(path)
    return written


def draw_chart(table: OneWayTable, about: About, path: Path) -> None:
    """Draw ``table`` as a horizontal bar chart into ``path`` (format from its extension)."""
    from matplotlib import rc_context  # lazy: see the module docstring
    from matplotlib.figure import Figure

    title = _TITLES[table.dimension.value]
    categories = list(table.cells)
    # Text stays text in the SVG (searchable, and readable by screen readers); fixed ids and no
    # date make the file the same for the same tables.
    with rc_context({"svg.fonttype": "none", "svg.hashsalt": "sanad"}):
        figure = Figure(figsize=(8, 1.6 + 0.4 * max(len(categories), 1)), layout="constrained")
        axes = figure.add_subplot()
        heights = [0 if cell.hidden else cell.value for cell in table.cells.values()]
        bars = axes.barh(categories, heights, color="#3b6ea5")
        for bar, cell in zip(bars, table.cells.values(), strict=True):
            axes.annotate(
                cell.shown,
                (bar.get_width(), bar.get_y() + bar.get_height() / 2),
                xytext=(4, 0),
                textcoords="offset points",
                va="center",
            )
        if table.withheld:
            axes.text(
                0.5,
                0.5,
                "withheld: too few reports to show safely",
                ha="center",
                transform=axes.transAxes,
            )
        axes.invert_yaxis()
        axes.set_xlabel("reports")
        axes.set_title(f"{title}\n{about.reports} reports; {about.date_range}", fontsize=11)
        figure.text(0.01, 0.005, CAVEAT, fontsize=8, ha="left", va="bottom")
        metadata = {"Title": title, "Description": about.caption}
        if path.suffix == ".png":
            figure.savefig(path, format="png", dpi=120, metadata=metadata)
        else:
            figure.savefig(path, format="svg", metadata={**metadata, "Date": None})
