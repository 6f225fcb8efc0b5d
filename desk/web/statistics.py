"""The statistics page (``/statistics``), its files, and the case page's "Package this case".

Statistics are made from the consented reports on this desk (:mod:`desk.advocacy`): the page
shows each one-way table with its chart and links every file ``sanad caseworker export
--advocacy`` would write, made in memory on each request and never kept. A package is made the
same way as ``sanad caseworker package`` (:mod:`desk.evidence`), recorded in the custody log
beside the key file, and sent as a download; when that log cannot be verified, the caseworker gets
a page saying so and what to do instead, and the log is left as it is. When the log cannot be
written once the package is made (a read-only folder, a full disk, a drive taken out), the package
is not sent — a package whose making the log does not hold would state a history the log cannot
back — and a page says so and what to do.
"""

from __future__ import annotations

import datetime as dt

from tornado.web import HTTPError

from crypto.report_fields import KEY_COUNTRY, KEY_PLATFORM, KEY_PLATFORM_RESPONSE, KEY_TYPE
from desk.advocacy.about import CAVEAT
from desk.advocacy.charts import ChartText, draw_chart
from desk.advocacy.counts import count
from desk.advocacy.export import Statistics, make_statistics
from desk.advocacy.records import Dimension, advocacy_record
from desk.advocacy.suppression import HIDDEN, TooFewReports
from desk.evidence.custody import CustodyLog, CustodyLogError, UnverifiedCustodyLog
from desk.evidence.package import build_package
from desk.i18n import N_
from desk.labels import value_label
from desk.web.base import DeskHandler
from desk.web.case import CASE_PATH, CaseHandler
from desk.web.registry import Registry

#: The answer whose labels name each dimension's values on the page (months are shown as is).
ANSWER_OF = {
    Dimension.INCIDENT_TYPE: KEY_TYPE,
    Dimension.PLATFORM: KEY_PLATFORM,
    Dimension.COUNTRY: KEY_COUNTRY,
    Dimension.PLATFORM_RESPONSE: KEY_PLATFORM_RESPONSE,
}
TITLES = {
    Dimension.INCIDENT_TYPE: N_("By type of incident"),
    Dimension.PLATFORM: N_("By platform"),
    Dimension.COUNTRY: N_("By country"),
    Dimension.MONTH: N_("By month of the incident"),
    Dimension.PLATFORM_RESPONSE: N_("By what the platform did"),
}
_FILE = r"([a-z_-]{1,80}\.(?:json|csv|svg|png))"
_TYPES = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "svg": "image/svg+xml",
    "png": "image/png",
}


class StatisticsHandler(DeskHandler):
    """What the statistics page and its files share: the statistics of this desk's cases."""

    def statistics(self, *, charts: bool) -> Statistics | None:
        """None below 5 consented reports (nothing may be shown then)."""
        records = []
        for case in self.desk.book.cases():
            if case.report is not None:
                record = advocacy_record(case.reference, case.report.body)
                if record is not None:
                    records.append(record)
        try:
            return make_statistics(count(records), hxl=True, charts=charts)
        except TooFewReports:
            return None


class StatisticsPage(StatisticsHandler):
    """The tables, their charts and a download of each file."""

    def get(self) -> None:
        statistics = self.statistics(charts=False)
        self.render(
            "statistics.html",
            statistics=statistics,
            titles=TITLES,
            answer_of=ANSWER_OF,
            hidden=HIDDEN,
            files=sorted(statistics.files) if statistics else [],
        )


class StatisticsFile(StatisticsHandler):
    """``/statistics/files/NAME``: one file of the export, made now. A chart the page shows
    (not ``?download``) is drawn in the page's language; downloads are the exported files."""

    def get(self, name: str) -> None:
        download = self.get_query_argument("download", None) is not None
        statistics = self.statistics(charts=False)
        if statistics is None:
            raise HTTPError(404)
        content = statistics.files.get(name) or self._chart(
            statistics, name, translated=not download
        )
        self.set_header("Content-Type", _TYPES[name.rsplit(".", 1)[1]])
        if download:
            self.set_header("Content-Disposition", f'attachment; filename="{name}"')
        self.finish(content)

    def _chart(self, statistics: Statistics, name: str, *, translated: bool) -> bytes:
        stem, _, extension = name.partition(".")
        for dimension, table in statistics.published.one_way.items():
            if stem == f"chart-{dimension.value}":
                text = self._chart_text(statistics, dimension) if translated else None
                return draw_chart(table, statistics.about, extension, text)
        raise HTTPError(404)

    def _chart_text(self, statistics: Statistics, dimension: Dimension) -> ChartText:
        _, about, table = self.translate, statistics.about, statistics.published.one_way[dimension]
        subtitle = _("{count} consented reports").format(count=about.reports)
        if about.first_month:  # isolated left to right, as the marks (ChartText.isolate)
            subtitle += f" — \u2066{about.first_month} – {about.last_month}\u2069"
        key = ANSWER_OF.get(dimension)
        return ChartText(
            title=_(TITLES[dimension]),
            subtitle=subtitle,
            caveat=_(CAVEAT),
            axis=_("Reports"),
            withheld=_("Withheld: too few reports to show safely."),
            categories={
                code: value_label(key, code, self.language, _) for code in table.cells if key
            },
            isolate=True,
        )


class PackageHandler(CaseHandler):
    """``POST /case/REF/package``: the case's signed evidence package, as a download, or the
    page that says the custody log could not be verified (409) or written (500)."""

    def post(self, reference: str) -> None:
        case = self.case_of(reference)
        delivered = self.desk.book.delivered(reference)
        if case.report is None or delivered is None:
            raise HTTPError(404)
        data, sealed = delivered
        identity = self.desk.book.identity
        log = CustodyLog.beside(self.desk.settings.key_file, identity.keys)
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        try:
            custody = log.with_packaging(reference, now)
        except UnverifiedCustodyLog as exc:
            self.set_status(409)
            self.render("custody.html", reference=reference, log=str(exc.path))
            return
        package = build_package(case.report, sealed, data, identity, custody)
        try:
            log.record_packaging(reference, now)
        except CustodyLogError as exc:
            self.set_status(500)
            self.render(
                "custody_unwritten.html", reference=reference, log=str(exc.path), detail=str(exc)
            )
            return
        self.set_header("Content-Type", "application/zip")
        self.set_header("Content-Disposition", f'attachment; filename="{reference}-evidence.zip"')
        self.finish(package)


def register(registry: Registry) -> None:
    """The statistics page and its files, and the case page's package button."""
    registry.route(r"/statistics", StatisticsPage)
    registry.route(r"/statistics/files/" + _FILE, StatisticsFile)
    registry.route(CASE_PATH + "/package", PackageHandler)
    registry.link("/statistics", N_("Statistics"))
    registry.case_action("/case/{reference}/package", N_("Package this case"))
