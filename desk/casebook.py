"""The cases on the desk: sealed files verified, opened in memory, grouped by case reference.

A file enters the desk only through :meth:`CaseBook.take`, which verifies it exactly as
``sanad caseworker open`` does (:mod:`desk.opening`: bot signature, certificate, the pinned
organisation key, sealed to this key — I9) before anything is decrypted; a file that fails is
refused with the reason and never opened. What a file holds is decrypted into memory only, for
as long as the desk is unlocked. I8's one repeat (the same file sent twice) is recognised by its
case, sequence and sealed body, and counted once. A large file's parts are held
(:mod:`desk.parts`) until all are there, then the joined file is taken as one.

A file larger than :data:`MAX_FILE_BYTES` is refused, not taken
(:meth:`CaseBook.refuse_too_large`; the inbox folder does not even read one,
:mod:`desk.inbox_folder`): the bot never sends one, and anyone who can put a file into the inbox
folder could otherwise make the desk hold gigabytes.

What a session refuses is listed on the inbox page; a flood of refused files (anything saved
into the inbox folder is read) keeps only the newest :data:`MAX_REFUSALS` and counts the rest.
A file refused as damaged leaves the list when a file of the same name is taken: it was that
file cut short (a download read before it finished). Other refusals stay: a genuine file under
the name of a forged one does not make the forgery less worth telling an admin about.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from crypto.errors import CryptoError, NotForThisKey, UnsupportedVersion
from crypto.keyfile import CaseworkerIdentity
from crypto.sealed_file import OpenedFile, SealedFile, UntrustedFile, open_sealed_file
from crypto.sealed_parts import PartsDoNotJoin, is_sealed_part
from desk.errors import DeskError
from desk.i18n import N_
from desk.opening import OpeningKey, refusals, trusted_file
from desk.parts import HeldParts, TooManyParts, Waiting
from desk.store import CaseRecord, CaseState, DeskState, DeskStore


@dataclass(frozen=True)
class Refusal:
    """A file the desk would not open: the name it came under, why (a message id of the desk's
    catalogue), and the precise line the command line prints for it."""

    name: str
    reason: str
    detail: str


#: Why a file was refused, in words for the caseworker, by the refusal the opening gave.
FORGED = N_("Not sent by your organisation's bot: it may be forged.")
NOT_FOR_THIS_KEY = N_("Sealed to another key than yours.")
OTHER_VERSION = N_("Made by another version of Sanad.")
DAMAGED = N_("Damaged, or not a sealed report file.")
PARTS_DO_NOT_JOIN = N_("A part that does not fit with the other parts of its file.")
TOO_MANY_PARTS = N_(
    "Too many parts are waiting for the rest of their files: this part was not kept. "
    "Give the missing parts of the files waiting, then this one again."
)
TOO_LARGE = N_("Larger than any file the bot sends: it was not read.")
#: The largest file the desk takes, dropped or saved into the inbox folder: a sealed file or a
#: part is at most one Telegram upload (50 MB; the bot's chunks are at most 45 MiB, plus a
#: part's header and certificate).
MAX_FILE_BYTES = 50_000_000
#: The refused files the inbox page lists (the newest); older ones are only counted.
MAX_REFUSALS = 100


class _Refused(Exception):
    """Why :meth:`CaseBook._open` would not open a file (caught in :meth:`CaseBook.take`)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.detail = reason, detail


def _reason(cause: BaseException | None) -> str:
    """The caseworker's words for what :func:`desk.opening.refusals` turned into a line."""
    if isinstance(cause, UntrustedFile):
        return FORGED
    if isinstance(cause, NotForThisKey):
        return NOT_FOR_THIS_KEY
    if isinstance(cause, UnsupportedVersion):
        return OTHER_VERSION
    if isinstance(cause, PartsDoNotJoin):
        return PARTS_DO_NOT_JOIN
    return DAMAGED


@contextlib.contextmanager
def _refusing(what: str) -> Iterator[None]:
    """:func:`desk.opening.refusals` for ``what``, raising :class:`_Refused` in the
    caseworker's words."""
    try:
        with refusals(what):
            yield
    except DeskError as exc:
        raise _Refused(_reason(exc.__cause__), str(exc)) from exc
    except TooManyParts as exc:
        raise _Refused(TOO_MANY_PARTS, "too many parts are held") from exc
    except CryptoError as exc:  # not a sealed file or part at all: refusals() lets it through
        raise _Refused(DAMAGED, str(exc) or DAMAGED) from exc


@dataclass
class Case:
    """One case: its report (sequence 0) and its additions in order, and the desk's record."""

    reference: str
    record: CaseRecord
    files: dict[int, OpenedFile] = field(default_factory=dict)

    @property
    def report(self) -> OpenedFile | None:
        return self.files.get(0)

    @property
    def additions(self) -> list[OpenedFile]:
        return [self.files[n] for n in sorted(self.files) if n > 0]

    @property
    def unread_additions(self) -> int:
        return sum(1 for addition in self.additions if addition.sequence not in self.record.read)

    def answer(self, key: str) -> str:
        """The report's first answer to ``key``, or "" (an addition-only case has none)."""
        report = self.report
        if report is None:
            return ""
        return next((a.value for a in report.body.answers if a.key == key), "")


@dataclass(frozen=True)
class Taken:
    """What :meth:`CaseBook.take` did with a file: kept it (``repeat`` if already there)."""

    reference: str
    sequence: int
    repeat: bool


class CaseBook:
    """The unlocked desk's cases; ``today`` is the clock's seam (UTC day, as ISO text)."""

    def __init__(
        self,
        store: DeskStore,
        opening: OpeningKey,
        identity: CaseworkerIdentity,
        *,
        today: Callable[[], str] = lambda: dt.datetime.now(dt.UTC).date().isoformat(),
    ) -> None:
        self._store = store
        self._opening = opening
        self._identity = identity
        self._today = today
        self.state: DeskState = store.load_state(identity.keys.encryption)
        self._cases: dict[str, Case] = {}
        self._seen: set[tuple[str, int, str]] = set()
        self._parts = HeldParts(opening, kept=store.kept)
        self.refused: deque[Refusal] = deque(maxlen=MAX_REFUSALS)
        self.refusals_not_listed = 0
        for data in store.sealed_files():
            self._open(data)

    @property
    def identity(self) -> CaseworkerIdentity:
        return self._identity

    def _open(self, data: bytes) -> tuple[OpenedFile, bool]:
        """Verify and decrypt ``data``; returns the opened file and whether it repeats one.

        Raises :class:`_Refused` with the reason in the caseworker's words.
        """
        with _refusing("this file"):
            sealed = trusted_file(data, self._opening)
            opened = open_sealed_file(
                data, self._identity.keys.encryption, self._opening.organisation
            )
        seen = (
            sealed.case_reference,
            sealed.sequence,
            hashlib.sha256(sealed.body_sealed).hexdigest(),
        )
        repeat = seen in self._seen
        self._seen.add(seen)
        record = self.state.cases.setdefault(
            opened.case_reference, CaseRecord(received=self._today())
        )
        case = self._cases.setdefault(opened.case_reference, Case(opened.case_reference, record))
        case.files.setdefault(opened.sequence, opened)
        return opened, repeat

    def _whole(self, data: bytes) -> bytes | Waiting:
        """``data`` itself, or, for a part, the joined file once every part is held.

        Raises :class:`_Refused` for a part that is refused.
        """
        if not is_sealed_part(data):
            return data
        with _refusing("this part"):
            return self._parts.add(data)

    def take(self, name: str, data: bytes) -> Taken | Waiting | Refusal:
        """Verify, open and keep a file that arrived (dropped, or found in the inbox folder); a
        part is held until its file is complete. The caller keeps ``data`` within
        :data:`MAX_FILE_BYTES` (:meth:`refuse_too_large` otherwise).

        A refused file is remembered for this session's inbox page with its reason; nothing of
        it is kept. A file taken under a name refused as damaged takes that refusal's place.
        """
        try:
            taken = self._take(data)
        except _Refused as exc:
            return self._refuse(Refusal(name, exc.reason, exc.detail))
        self.refused = deque(
            (r for r in self.refused if (r.name, r.reason) != (name, DAMAGED)), MAX_REFUSALS
        )
        return taken

    def refuse_too_large(self, name: str) -> Refusal:
        """Refuse a file over :data:`MAX_FILE_BYTES`, unread, and list it as any refusal."""
        megabytes = MAX_FILE_BYTES // 1_000_000
        detail = f"refused: this file is over {megabytes} MB, larger than any sealed file"
        return self._refuse(Refusal(name, TOO_LARGE, detail))

    def _take(self, data: bytes) -> Taken | Waiting:
        """What :meth:`take` does with a file it does not refuse (raises :class:`_Refused`)."""
        whole = self._whole(data)
        if isinstance(whole, Waiting):
            return whole
        opened, repeat = self._open(whole)
        if not repeat:
            self._store.keep(whole)
            self.save()
        return Taken(opened.case_reference, opened.sequence, repeat)

    def _refuse(self, refusal: Refusal) -> Refusal:
        """List ``refusal`` once; past :data:`MAX_REFUSALS`, the oldest are only counted."""
        if refusal not in self.refused:
            if len(self.refused) == self.refused.maxlen:
                self.refusals_not_listed += 1
            self.refused.append(refusal)
        return refusal

    def delivered(self, reference: str, sequence: int = 0) -> tuple[bytes, SealedFile] | None:
        """The sealed file of ``reference`` #``sequence`` as the bot delivered it, verified
        again (an evidence package carries it, with the bot's signature), or None."""
        for data in self._store.sealed_files():
            if is_sealed_part(data):
                continue
            sealed = trusted_file(data, self._opening)
            if (sealed.case_reference, sealed.sequence) == (reference, sequence):
                return data, sealed
        return None

    def waiting(self) -> list[Waiting]:
        """The files some of whose parts are held, waiting for the others."""
        return self._parts.waiting()

    def cases(self) -> list[Case]:
        """Every case, the most recently received first, then by reference."""
        return sorted(
            self._cases.values(), key=lambda c: (c.record.received, c.reference), reverse=True
        )

    def case(self, reference: str) -> Case | None:
        return self._cases.get(reference)

    def mark_read(self, case: Case) -> None:
        """The caseworker has the case page open: its files are read, a new case is read."""
        unread = [n for n in case.files if n not in case.record.read]
        if not unread and case.record.state != CaseState.NEW:
            return
        case.record.read = sorted({*case.record.read, *unread})
        if case.record.state == CaseState.NEW:
            case.record.state = CaseState.READ
        self.save()

    def save(self) -> None:
        """Seal the desk's state to the caseworker's key and store it."""
        self._store.save_state(self.state, self._identity.keys.public.encryption)
