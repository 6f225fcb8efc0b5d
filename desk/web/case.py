"""A case page (``/case/REF``) and what is done from it: reply, note, close or reopen.

The reply composer writes the signed, sealed reply file (:mod:`desk.replies`) with the next
reply number into the inbox folder — where the caseworker's files from Telegram already are —
and the page says which file to drag into the bot's chat. Notes go into the desk's sealed state.
Nothing here writes plaintext to disk.

The case page's first view in a session is logged as an open in the custody log
(:meth:`desk.session.Desk.log_open`): a case is on the desk only once one of its files was
opened (its report, or an addition that came first, whose open the command logs too), so every
case page shows something decrypted. A log that cannot be verified or written does not hide the
case — the report still needs reading, as with ``sanad caseworker open`` — but the page says this
view was not recorded, where the log is, and, for one that cannot be verified, not to package or
export the case until an admin has looked.
"""

from __future__ import annotations

import datetime as dt

from tornado.web import HTTPError

from crypto.keyfile import write_private_file
from crypto.report_fields import KEY_LINK as LINK
from crypto.sealed_file import OpenedFile
from desk.casebook import Case
from desk.errors import DeskError
from desk.evidence.custody import CustodyLogError, UnverifiedCustodyLog
from desk.labels import FREE_TEXT
from desk.pdf_pages import page_count
from desk.replies import reply_file_name, signed_reply_file
from desk.store import CaseState, Note
from desk.web.base import DeskHandler
from desk.web.registry import Registry

CASE_PATH = r"/case/([A-Z0-9-]{1,32})"
_MAX_REPLY_NUMBER = 2**32  # as ``sanad caseworker reply --number``


class CaseHandler(DeskHandler):
    """A handler of one case's paths: ``self.case_of(reference)`` or 404."""

    def case_of(self, reference: str) -> Case:
        case = self.desk.book.case(reference)
        if case is None:
            raise HTTPError(404)
        return case


class CasePage(CaseHandler):
    """The case: answers with their labels, the narrative, additions, files, replies, notes."""

    def get(self, reference: str) -> None:
        case = self.case_of(reference)
        self.desk.book.mark_read(case)
        try:
            self.desk.log_open(case.reference)
            unrecorded: CustodyLogError | None = None
        except CustodyLogError as exc:
            unrecorded = exc
        written = self.get_query_argument("written", None)
        self.render(
            "case.html",
            case=case,
            files=[case.files[n] for n in sorted(case.files)],
            free_text=FREE_TEXT,
            link_key=LINK,
            pdf_pages=_pdf_pages,
            written=reply_file_name(case.reference, int(written)) if written else None,
            inbox=str(self.desk.settings.inbox),
            actions=self.context.registry.case_actions,
            states=CaseState,
            empty_reply=self.get_query_argument("error", None) == "empty",
            unrecorded_log=str(unrecorded.path) if unrecorded else None,
            unverified_log=isinstance(unrecorded, UnverifiedCustodyLog),
        )


def _pdf_pages(opened: OpenedFile, index: int) -> int:
    try:
        return page_count(opened.body.attachments[index].data)
    except DeskError:
        return 0


class ReplyHandler(CaseHandler):
    """``POST /case/REF/reply``: write reply file number N+1 into the inbox folder."""

    def post(self, reference: str) -> None:
        case = self.case_of(reference)
        if case.report is None:
            raise HTTPError(409)
        number = _reply_number(self.get_body_argument("number", ""), case.record.replies + 1)
        try:
            data = signed_reply_file(
                case.report, self.desk.book.identity.keys, self.get_body_argument("text", ""),
                number,
            )
        except DeskError:  # the page offers no composer without a mailbox: the text was empty
            self.redirect(f"/case/{reference}?error=empty#reply")
            return
        inbox = self.desk.settings.inbox
        inbox.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Sealed to the reporter's mailbox and signed: nothing readable reaches the disk.
        write_private_file(inbox / reply_file_name(reference, number), data, replace=True)
        case.record.replies = max(case.record.replies, number)
        case.record.state = CaseState.REPLIED
        self.desk.book.save()
        self.redirect(f"/case/{reference}?written={number}")


def _reply_number(given: str, next_number: int) -> int:
    """The number the caseworker chose (the bot names the one it expects when a number is taken,
    for instance after a /reply in the chat), or the next one."""
    if given.isdigit() and 1 <= int(given) <= _MAX_REPLY_NUMBER:
        return int(given)
    return next_number


class NoteHandler(CaseHandler):
    """``POST /case/REF/note``: a private note, kept in the sealed state."""

    def post(self, reference: str) -> None:
        case = self.case_of(reference)
        text = self.get_body_argument("text", "").strip()
        if text:
            written = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
            case.record.notes.append(Note(written, text))
            self.desk.book.save()
        self.redirect(f"/case/{reference}#notes")


class StateHandler(CaseHandler):
    """``POST /case/REF/state``: close the case, or reopen it (as read)."""

    def post(self, reference: str) -> None:
        case = self.case_of(reference)
        state = self.get_body_argument("state", "")
        if state not in (CaseState.CLOSED, CaseState.READ):
            raise HTTPError(400)
        case.record.state = state
        self.desk.book.save()
        self.redirect(f"/case/{reference}")


def register(registry: Registry) -> None:
    """The case page and its forms."""
    registry.route(CASE_PATH, CasePage)
    registry.route(CASE_PATH + "/reply", ReplyHandler)
    registry.route(CASE_PATH + "/note", NoteHandler)
    registry.route(CASE_PATH + "/state", StateHandler)
