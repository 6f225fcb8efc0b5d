"""Charts of the published one-way tables, as SVG and PNG, drawn with Matplotlib.

Each chart names what it shows in its own pixels and text — the number of reports, the incident
months they span, and that these are documented cases, not a measure of prevalence — so a chart
copied into a slide or a post keeps its caveat. A hidden category gets no bar, only its mark
(``<5`` or ``x``): a bar's height would give its number away.

The words are English unless a :class:`ChartText` gives others: the desk draws its page's SVG
charts in the page's language (a browser shapes and orders Arabic text in an SVG, which
Matplotlib's own PNG rendering cannot), while exported files stay in English.

Matplotlib is imported when a chart is drawn, not when the desk starts: it is large, and most of
the desk never draws.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

from desk.advocacy.about import CAVEAT, About
from desk.advocacy.suppression import OneWayTable, Published

_TITLES = {
    "incident_type": "Reports by type of incident",
    "platform": "Reports by platform",
    "country": "Reports by country",
    "month": "Reports by month of the incident",
    "platform_response": "Reports by what the platform did when told",
}


@dataclass(frozen=True)
class ChartText:
    """The words of a chart: title, the line under it (count and dates), the caveat, the axis,
    the withheld notice, and each category's label (a category not given is shown as its code)."""

    title: str
    subtitle: str
    caveat: str
    axis: str = "reports"
    withheld: str = "withheld: too few reports to show safely"
    categories: dict[str, str] = field(default_factory=dict)
    # Right-to-left text: numbers and marks such as "<5" are isolated left to right (Unicode
    # LRI ... PDI), or "<5" would read "5>". Only for SVG shown by a browser: Matplotlib's own
    # rendering has no glyph for the isolates.
    isolate: bool = False

    def mark(self, shown: str) -> str:
        """How a cell's shown value is written on the chart."""
        return f"\u2066{shown}\u2069" if self.isolate else shown

    @classmethod
    def english(cls, table: OneWayTable, about: About) -> ChartText:
        """The words of the exported charts."""
        return cls(
            _TITLES[table.dimension.value],
            f"{about.reports} reports; {about.date_range}",
            CAVEAT,
        )


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


def draw_chart(
    table: OneWayTable, about: About, extension: str, text: ChartText | None = None
) -> bytes:
    """``table`` as a horizontal bar chart, in format ``extension`` (``svg`` or ``png``), with
    ``text``'s words (English by default)."""
    from matplotlib import rc_context  # lazy: see the module docstring
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    words = text or ChartText.english(table, about)
    categories = [words.categories.get(code, code) for code in table.cells]
    # Text stays text in the SVG (searchable, and readable by screen readers); fixed ids and no
    # date make the file the same for the same tables.
    with rc_context({"svg.fonttype": "none", "svg.hashsalt": "sanad"}):
        figure = Figure(figsize=(8, 1.6 + 0.4 * max(len(categories), 1)), layout="constrained")
        axes = figure.add_subplot()
        heights = [0 if cell.hidden else cell.value for cell in table.cells.values()]
        bars = axes.barh(categories, heights, color="#3b6ea5")
        for bar, cell in zip(bars, table.cells.values(), strict=True):
            axes.annotate(
                words.mark(cell.shown),
                (bar.get_width(), bar.get_y() + bar.get_height() / 2),
                xytext=(4, 0),
                textcoords="offset points",
                va="center",
            )
        if table.withheld:
            axes.text(0.5, 0.5, words.withheld, ha="center", transform=axes.transAxes)
        # From zero, even when every bar is hidden (an axis around 0 would suggest negatives).
        axes.set_xlim(0, max([*heights, 1]) * 1.15)
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))  # reports come whole
        axes.invert_yaxis()
        axes.set_xlabel(words.axis)
        axes.set_title(f"{words.title}\n{words.subtitle}", fontsize=11)
        figure.text(0.01, 0.005, words.caveat, fontsize=8, ha="left", va="bottom")
        metadata = {"Title": words.title, "Description": about.caption}
        out = io.BytesIO()
        if extension == "png":
            figure.savefig(out, format="png", dpi=120, metadata=metadata)
        else:
            figure.savefig(out, format="svg", metadata={**metadata, "Date": None})
    return out.getvalue()
