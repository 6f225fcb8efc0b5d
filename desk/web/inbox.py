"""The inbox and the case list (``/``), files dropped onto it (``POST /drop``), and the lock:
the unlock page, ``POST /lock`` and ``POST /alive`` (the page saying someone is still there).

Opening ``/`` looks in the inbox folder again (:mod:`desk.inbox_folder`), so a file saved from
Telegram appears by reloading; a dropped file is posted as its raw bytes, and one over
:data:`desk.casebook.MAX_FILE_BYTES` is refused (413) without reading it past the bound, and listed
as a file in the folder over it is (the page does not send the bytes of one it knows is over).
Otherwise it goes through :meth:`desk.casebook.CaseBook.take`: verified before anything is
decrypted, refused with the reason otherwise. A part of a large file is held until the file is
complete, and the page lists it as waiting, with how many of its parts are there.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import unquote

from tornado.httputil import HTTPHeaders
from tornado.web import stream_request_body

from crypto.keyfile import WrongPassphrase
from crypto.report_fields import KEY_COUNTRY as COUNTRY
from crypto.report_fields import KEY_LANGUAGE as LANGUAGE
from crypto.report_fields import KEY_PLATFORM as PLATFORM
from crypto.report_fields import KEY_TYPE as INCIDENT_TYPE
from desk.casebook import MAX_FILE_BYTES, Refusal, Taken
from desk.i18n import N_
from desk.parts import Waiting
from desk.web.base import UNLOCK_PATH, DeskHandler
from desk.web.registry import Registry


class InboxPage(DeskHandler):
    """The case list, the refused files, and where to drop new ones."""

    def get(self) -> None:
        desk = self.desk
        desk.scan_inbox()
        self.render(
            "inbox.html",
            cases=desk.book.cases(),
            refused=list(desk.book.refused),
            refusals_not_listed=desk.book.refusals_not_listed,
            waiting=desk.book.waiting(),
            inbox=str(desk.settings.inbox),
            columns=(LANGUAGE, INCIDENT_TYPE, COUNTRY, PLATFORM),
            max_file_bytes=MAX_FILE_BYTES,
        )


@stream_request_body
class DropHandler(DeskHandler):
    """``POST /drop``: one file's bytes; its name in ``X-File-Name`` (URL-encoded).

    The body is streamed, not buffered by Tornado: a file declared over
    :data:`~desk.casebook.MAX_FILE_BYTES` (by the body's ``Content-Length``, or by the page's
    ``X-File-Size`` when it sends no bytes of a file it knows is too large) is refused before
    any of it is read, and a body of unknown length (chunked) is refused as soon as it passes
    the bound; the connection is then closed, so the rest is never read.
    """

    def prepare(self) -> None:
        self._chunks: list[bytes] = []
        self._received = 0
        super().prepare()
        if not self._finished and _declared_size(self.request.headers) > MAX_FILE_BYTES:
            self._refuse_too_large()

    def data_received(self, chunk: bytes) -> None:
        if self._finished:
            return
        self._received += len(chunk)
        if self._received > MAX_FILE_BYTES:
            self._chunks.clear()
            self._refuse_too_large()
        else:
            self._chunks.append(chunk)

    def post(self) -> None:
        body = b"".join(self._chunks)
        self._answer(lambda: self.desk.take(self._name, body))

    @property
    def _name(self) -> str:
        return unquote(self.request.headers.get("X-File-Name", "dropped file"))[:200]

    def _refuse_too_large(self) -> None:
        self.set_status(413)
        self._answer(lambda: self.desk.book.refuse_too_large(self._name))

    def _answer(self, outcome: Callable[[], Taken | Waiting | Refusal]) -> None:
        """What ``outcome`` did with the file, for the page; the unlock page instead if the desk
        was locked (from another tab) while the file arrived."""
        if self.desk.locked:
            self.redirect(UNLOCK_PATH)
            return
        result = outcome()
        if isinstance(result, Refusal):
            self.finish({"ok": False, "reason": result.reason, "detail": result.detail})
        elif isinstance(result, Waiting):
            self.finish(
                {"ok": True, "case": result.reference, "waiting": True, "held": result.held,
                 "count": result.count}
            )  # fmt: skip
        else:
            self.finish({"ok": True, "case": result.reference, "repeat": result.repeat})


def _declared_size(headers: HTTPHeaders) -> int:
    """The larger of the sizes a drop's headers declare (0 for none, or one not a number:
    Tornado refuses a malformed ``Content-Length`` itself)."""
    sizes = (headers.get(name, "") for name in ("Content-Length", "X-File-Size"))
    return max((int(size) for size in sizes if size.isascii() and size.isdigit()), default=0)


class UnlockPage(DeskHandler):
    """The passphrase form shown once the desk has locked itself."""

    needs_unlocked = False

    def get(self) -> None:
        if not self.desk.locked:
            self.redirect("/")
            return
        self.render("unlock.html", wrong=False)

    def post(self) -> None:
        try:
            self.desk.unlock(self.get_body_argument("passphrase", ""))
        except WrongPassphrase:
            self.set_status(403)
            self.render("unlock.html", wrong=True)
            return
        self.redirect("/")


class LockHandler(DeskHandler):
    """``POST /lock``: lock now (the top bar's button, and the page when it sat idle)."""

    needs_unlocked = False

    def post(self) -> None:
        self.desk.lock()
        self.redirect(UNLOCK_PATH)


class AliveHandler(DeskHandler):
    """``POST /alive``: the page says the caseworker is using it (typing a long reply makes no
    request); 204 while unlocked, 401 once locked, so the page goes to the lock page."""

    needs_unlocked = False

    def post(self) -> None:
        self.set_status(401 if self.desk.locked else 204)
        self.finish()


def register(registry: Registry) -> None:
    """The inbox and lock pages."""
    registry.route(r"/", InboxPage)
    registry.route(r"/drop", DropHandler)
    registry.route(r"/alive", AliveHandler)
    registry.route(r"/lock", LockHandler)
    registry.route(UNLOCK_PATH, UnlockPage)
    registry.link("/", N_("Cases"))
