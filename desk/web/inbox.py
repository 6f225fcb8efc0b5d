"""The inbox and the case list (``/``), files dropped onto it (``POST /drop``), and the lock:
the unlock page, ``POST /lock`` and ``POST /alive`` (the page saying someone is still there).

Opening ``/`` looks in the inbox folder again (:mod:`desk.inbox_folder`), so a file saved from
Telegram appears by reloading; a dropped file is posted as its raw bytes, and one over
:data:`desk.casebook.MAX_FILE_BYTES` is refused (413) and listed as a file in the folder over it
is. Otherwise it goes through :meth:`desk.casebook.CaseBook.take`: verified before anything is
decrypted, refused with the reason otherwise. A part of a large file is held until the file is
complete, and the page lists it as waiting, with how many of its parts are there.
"""

from __future__ import annotations

from urllib.parse import unquote

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
        )


class DropHandler(DeskHandler):
    """``POST /drop``: one file's bytes; its name in ``X-File-Name`` (URL-encoded)."""

    def post(self) -> None:
        name = unquote(self.request.headers.get("X-File-Name", "dropped file"))[:200]
        if len(self.request.body) > MAX_FILE_BYTES:
            self.set_status(413)
            result: Taken | Waiting | Refusal = self.desk.book.refuse_too_large(name)
        else:
            result = self.desk.take(name, self.request.body)
        if isinstance(result, Refusal):
            self.finish({"ok": False, "reason": result.reason, "detail": result.detail})
        elif isinstance(result, Waiting):
            self.finish(
                {"ok": True, "case": result.reference, "waiting": True, "held": result.held,
                 "count": result.count}
            )  # fmt: skip
        else:
            self.finish({"ok": True, "case": result.reference, "repeat": result.repeat})


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
