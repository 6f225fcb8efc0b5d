"""One running desk: the key while it is unlocked, the idle lock, and what arrives.

The key file's passphrase opens the caseworker's keys into memory at start and after each unlock;
after ``idle_seconds`` without a request the desk locks — the keys and every decrypted file are
dropped, and only the passphrase brings them back — and at exit they are dropped for good.
Python cannot promise that freed memory is overwritten; dropping every reference is what it can
do, and the desk does it at once.

The span from an unlock to the next lock is one session: the first view of a case in it is an
open in the custody log (:meth:`Desk.log_open`), as ``sanad caseworker open`` is.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from desk.casebook import CaseBook, Refusal, Taken
from desk.evidence.custody import OPENED, CustodyLog
from desk.inbox_folder import InboxFolder, TooLarge
from desk.opening import OpeningKey, caseworker_identity, opening_key, refusals
from desk.parts import Waiting
from desk.store import DeskStore


@dataclass(frozen=True)
class DeskSettings:
    """Where the desk reads and keeps things, and how soon it locks."""

    key_file: Path
    data_folder: Path
    inbox: Path
    idle_seconds: float


class Desk:
    """The desk's state between requests; the web pages call it, one request at a time."""

    def __init__(
        self, settings: DeskSettings, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.settings = settings
        self._clock = clock
        self._store = DeskStore(settings.data_folder)
        self._opening: OpeningKey = opening_key(settings.key_file, None, caseworker_only=True)
        self._book: CaseBook | None = None
        self._last_request = clock()
        self._inbox = InboxFolder(settings.inbox)
        self._logged_opens: set[str] = set()  # the cases this session's views logged as opened

    @property
    def locked(self) -> bool:
        return self._book is None

    def unlock(self, passphrase: str) -> None:
        """Open the key file with ``passphrase`` and the desk's sealed state with the key.

        Raises ``WrongPassphrase`` (and the key file's precise errors) as the commands do.
        """
        with refusals("the desk's state"):
            identity = caseworker_identity(self._opening, passphrase)
            self._book = CaseBook(self._store, self._opening, identity)
        self._inbox.forget()
        self._last_request = self._clock()

    def lock(self) -> None:
        """Forget the keys and everything decrypted; the next session logs its views anew."""
        self._book = None
        self._logged_opens.clear()

    def lock_if_idle(self) -> None:
        """Lock if nothing happened for the idle time; called by a timer, so that an unused desk
        forgets the key even if no request ever comes again."""
        if self._clock() - self._last_request > self.settings.idle_seconds:
            self.lock()

    def touch(self) -> None:
        """A request arrived (a page, or the page telling the caseworker is still there): lock
        first if the desk sat idle too long."""
        self.lock_if_idle()
        self._last_request = self._clock()

    @property
    def book(self) -> CaseBook:
        """The unlocked desk's cases; callers check :attr:`locked` first."""
        if self._book is None:
            raise RuntimeError("the desk is locked")
        return self._book

    def log_open(self, reference: str) -> None:
        """Record the caseworker's first view of case ``reference`` in this session as an open in
        the custody log beside the key file, as ``sanad caseworker open`` records each open: an
        evidence package states the case's history from that log. Later views (a reload, the
        page after a reply or a note) add nothing until the desk locks.

        Raises :class:`~desk.evidence.custody.CustodyLogError`
        (:class:`~desk.evidence.custody.UnverifiedCustodyLog` for a log that cannot be verified,
        which is left as it is: nothing is added to it). The view is then not counted as logged:
        the next one tries again, so the first view once the log is usable again is recorded.
        """
        if reference in self._logged_opens:
            return
        log = CustodyLog.beside(self.settings.key_file, self.book.identity.keys)
        log.record(reference, OPENED, dt.datetime.now(dt.UTC).replace(microsecond=0))
        self._logged_opens.add(reference)

    def take(self, name: str, data: bytes) -> Taken | Waiting | Refusal:
        """A file dropped onto the page."""
        return self.book.take(name, data)

    def scan_inbox(self) -> None:
        """Take every file of the inbox folder not read since it changed
        (:mod:`desk.inbox_folder`), and refuse one over the bound unread.

        The files are left where they are: the caseworker may still want them, and the desk
        keeps its own sealed copy.
        """
        for name, found in self._inbox.new_files():
            if isinstance(found, TooLarge):
                self.book.refuse_too_large(name)
            else:
                self.take(name, found)
