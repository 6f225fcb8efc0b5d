"""Charts of the published one-way tables, as SVG and PNG, drawn with Matplotlib.

Each chart names what it shows in its own pixels and text — the number of reports, the incident
months they span, and that these are documented cases, not a measure of prevalence — so a chart
copied into a slide or a post keeps its caveat. A hidden category gets no bar, only its mark
(``<5`` or ``x``): a bar's height would give its number away.

Matplotlib is imported when a chart is drawn, not when the desk starts: it is large, and most of
the desk never draws.
"""

from __future__ import annotations

import io

from desk.advocacy.about import CAVEAT, About
from desk.advocacy.suppression import OneWayTable, Published

_TITLES = {
    "incident_type": "Reports by type of incident",
    "platform": "Reports by platform",
    "country": "Reports by country",
    "month": "Reports by month of the incident",
    "platform_response": "Reports by what the platform did when told",
}


def chart_files(published: Published, about: About) -> dict[str, bytes]:
    """One SVG and one PNG per dimension, by file name (``chart-platform.svg``, ...)."""
    return {
        chart_name(table, extension): draw_chart(table, about, extension)
        for table in published.one_way.values()
        for extension in ("svg", "png")
    }


def chart_name(table: OneWayTable, extension: str) -> str:
    """The file name of ``table``'s chart in format ``extension`` (``svg`` or ``png``)."""
    return f"chart-{table.dimension.value}.{extension}"


def draw_chart(table: OneWayTable, about: About, extension: str) -> bytes:
    """``table`` as a horizontal bar chart, in format ``extension`` (``svg`` or ``png``)."""
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
        out = io.BytesIO()
        if extension == "png":
            figure.savefig(out, format="png", dpi=120, metadata=metadata)
        else:
            figure.savefig(out, format="svg", metadata={**metadata, "Date": None})
    return out.getvalue()
