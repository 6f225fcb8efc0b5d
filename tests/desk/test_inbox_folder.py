"""What the desk reads from its inbox folder — the Downloads folder, where anything can land (a
browser's download, a synced or shared folder): no more than the largest file it takes, nothing
that is still being written, and a file again whenever it may have changed.

Most tests run the real ``sanad desk`` (tests/desk/conftest.py). Those that must catch the desk
between looking at a file and reading it run the desk in this process, as
tests/desk/test_session.py does, and change the file on disk at that moment.
"""

from __future__ import annotations

import json
import os
import time
import tracemalloc
import urllib.error
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import pytest

from crypto.file_names import delivery_file_name, part_file_name
from crypto.keys import OrganisationKeys
from desk.casebook import DAMAGED, FORGED, MAX_FILE_BYTES, TOO_LARGE
from desk.i18n import LANGUAGES, translator
from desk.inbox_folder import SETTLE_NS, InboxFolder
from desk.session import Desk, DeskSettings
from tests.desk.conftest import PASSPHRASE, Browser, Caseworker, RunningDesk, refused
from tests.support.signed_files import BotSigner

CASE = "K7Q-4M2P"
OTHER = "AB2-CDEF"
HOUR_NS = 3600 * 10**9
slow = pytest.mark.slow


def _peak_memory(desk: RunningDesk) -> int:
    """The most memory the desk's process has held so far (Linux's VmHWM), in bytes."""
    status = Path(f"/proc/{desk.process.pid}/status").read_text()
    kilobytes = next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM"))
    return int(kilobytes) * 1024


def _in_process_desk(caseworker: Caseworker, tmp_path: Path) -> Desk:
    settings = DeskSettings(caseworker.key_file, tmp_path / "data", tmp_path / "inbox", 600)
    settings.inbox.mkdir()
    desk = Desk(settings)
    desk.unlock(PASSPHRASE)
    return desk


class _ChangedOnClose:
    """A file opened for reading that ``change`` rewrites on disk as soon as it is closed."""

    def __init__(self, file: IO[bytes], change: Callable[[], None]) -> None:
        self._file, self._change = file, change

    def __enter__(self) -> IO[bytes]:
        return self._file

    def __exit__(self, *exc: object) -> None:
        self._file.close()
        self._change()


def _change_while_read(
    monkeypatch: pytest.MonkeyPatch, path: Path, change: Callable[[], None], *, when: str
) -> None:
    """Run ``change`` on ``path`` once, when the desk has just opened it (``when="opened"``: after
    it looked at its size) or just closed it (``"closed"``: after it read it)."""
    real_open = Path.open
    pending = [change]

    def opening(self: Path, *args: Any, **kwargs: Any) -> Any:
        file = real_open(self, *args, **kwargs)
        if self != path or not pending:
            return file
        change = pending.pop()
        if when == "opened":
            change()
            return file
        return _ChangedOnClose(file, change)

    monkeypatch.setattr(Path, "open", opening)


@contextmanager
def _python_memory() -> Iterator[list[int]]:
    """The most memory Python allocated within the block, in bytes (as a one-item list)."""
    peak: list[int] = []
    tracemalloc.start()
    try:
        yield peak
        peak.append(tracemalloc.get_traced_memory()[1])
    finally:
        tracemalloc.stop()


@slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads Linux's /proc")
def test_a_file_over_the_bound_is_refused_unread_in_the_desks_languages(
    caseworker: Caseworker, desk: RunningDesk, signed_in: Browser
) -> None:
    signed_in.get("/")  # the desk at work before the file comes
    before = _peak_memory(desk)
    huge = desk.inbox / delivery_file_name(CASE, 0)
    with huge.open("wb") as file:
        file.truncate(1 << 30)  # a gigabyte (sparse: it takes no room on the disk)
    caseworker.save(desk.inbox, OTHER, caseworker.sealed(OTHER, [("incident.type", "blackmail")]))
    _, page = signed_in.get("/")
    assert _peak_memory(desk) - before < MAX_FILE_BYTES  # the gigabyte was not read
    assert f'data-reference="{OTHER}"' in page  # the files beside it are read as before
    for language in LANGUAGES:
        _, page = signed_in.get(f"/?lang={language}")
        assert refused(page) == [(huge.name, translator(language)(TOO_LARGE))], language
    assert translator("fr")(TOO_LARGE) != TOO_LARGE != translator("ar")(TOO_LARGE)

    # A dropped file meets the same bound, and is listed the same way (the page sends only the
    # name and size of a file it knows is too large; tests/desk/test_drop_bound.py sends bodies).
    signed_in.get("/?lang=en")
    with pytest.raises(urllib.error.HTTPError) as dropped:
        signed_in.drop("big.sanad", b"", size=MAX_FILE_BYTES + 1)
    assert dropped.value.code == 413
    assert json.loads(dropped.value.read())["reason"] == TOO_LARGE
    _, page = signed_in.get("/")
    assert refused(page) == [(huge.name, TOO_LARGE), ("big.sanad", TOO_LARGE)]
    assert len(list((desk.data / "files").iterdir())) == 1  # only the genuine file is kept


def test_a_file_that_grows_after_the_desk_looked_is_read_no_further_than_the_bound(
    caseworker: Caseworker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    desk = _in_process_desk(caseworker, tmp_path)
    path = caseworker.save(desk.settings.inbox, CASE, caseworker.sealed(CASE, [("a", "b")]))
    _change_while_read(monkeypatch, path, lambda: os.truncate(path, 1 << 30), when="opened")
    with _python_memory() as peak:
        desk.scan_inbox()
    assert peak[0] < 2 * MAX_FILE_BYTES
    assert [(r.name, r.reason) for r in desk.book.refused] == [(path.name, TOO_LARGE)]


def test_a_file_completed_just_after_it_was_read_is_left_for_the_next_look(
    caseworker: Caseworker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    desk = _in_process_desk(caseworker, tmp_path)
    whole = caseworker.sealed(CASE, [("incident.type", "blackmail")])
    path = caseworker.save(desk.settings.inbox, CASE, whole[: len(whole) // 2])
    _change_while_read(monkeypatch, path, lambda: path.write_bytes(whole), when="closed")
    desk.scan_inbox()
    assert list(desk.book.refused) == []  # not judged on half a file
    assert desk.book.cases() == []
    desk.scan_inbox()
    assert [case.reference for case in desk.book.cases()] == [CASE]
    assert list(desk.book.refused) == []


@slow
def test_a_download_in_progress_is_not_refused_and_opens_once_complete(
    caseworker: Caseworker, desk: RunningDesk, signed_in: Browser
) -> None:
    whole = caseworker.sealed(CASE, [("incident.type", "blackmail")])
    name = delivery_file_name(CASE, 0)
    other = delivery_file_name(OTHER, 0)
    # Firefox keeps the name with an empty file and writes into NAME.part; Chrome and Edge write
    # NAME.crdownload; Safari writes inside a NAME.download folder.
    (desk.inbox / name).write_bytes(b"")
    (desk.inbox / f"{name}.part").write_bytes(whole[:1000])
    (desk.inbox / f"{other}.crdownload").write_bytes(whole[:1000])
    (desk.inbox / f"{other}.download").mkdir()
    (desk.inbox / f"{other}.download" / other).write_bytes(whole[:1000])
    _, page = signed_in.get("/")
    assert refused(page) == []
    assert "No cases yet." in page
    (desk.inbox / f"{name}.part").write_bytes(whole)
    (desk.inbox / f"{name}.part").replace(desk.inbox / name)
    _, page = signed_in.get("/")
    assert f'data-reference="{CASE}"' in page
    assert refused(page) == []


@slow
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_named_pipe_under_a_case_files_name_is_not_read(
    caseworker: Caseworker, desk: RunningDesk, signed_in: Browser
) -> None:
    # Reading a pipe waits for a writer that never comes: the desk would hang for good.
    os.mkfifo(desk.inbox / delivery_file_name(CASE, 0))
    caseworker.save(desk.inbox, OTHER, caseworker.sealed(OTHER, [("incident.type", "blackmail")]))
    _, page = signed_in.get("/")
    assert f'data-reference="{OTHER}"' in page
    assert refused(page) == []


@slow
def test_a_file_refused_as_cut_short_leaves_the_list_once_it_is_taken(
    caseworker: Caseworker, desk: RunningDesk, signed_in: Browser
) -> None:
    whole = caseworker.sealed(CASE, [("incident.type", "blackmail")])
    path = desk.inbox / delivery_file_name(CASE, 0)
    path.write_bytes(whole[: len(whole) // 2])  # a download that stalled half-way
    assert refused(signed_in.get("/")[1]) == [(path.name, DAMAGED)]
    path.write_bytes(whole)  # and then finished
    _, page = signed_in.get("/")
    assert f'data-reference="{CASE}"' in page
    assert refused(page) == []

    # The same when the finished file is one the desk already has (a repeat) ...
    addition = caseworker.sealed(CASE, [("addendum.text", "later")], sequence=1)
    assert signed_in.drop("addition.sanad", addition)["ok"] is True
    cut = desk.inbox / delivery_file_name(CASE, 1)
    cut.write_bytes(addition[:200])
    assert refused(signed_in.get("/")[1]) == [(cut.name, DAMAGED)]
    cut.write_bytes(addition)
    assert refused(signed_in.get("/")[1]) == []
    # ... or a part, held until its file is complete.
    parts = caseworker.parts(caseworker.sealed(OTHER, [("incident.type", "blackmail")]), 2)
    part = desk.inbox / part_file_name(OTHER, 0, 0, 2)
    part.write_bytes(parts[0][:300])
    assert refused(signed_in.get("/")[1]) == [(part.name, DAMAGED)]
    part.write_bytes(parts[0])
    assert refused(signed_in.get("/")[1]) == []

    # A forged file stays listed when a genuine one later takes its name: what it says about
    # where it came from still holds.
    impostor = BotSigner.certified_by(OrganisationKeys.generate().signing)
    forged = desk.inbox / delivery_file_name(OTHER, 1)
    forged.write_bytes(caseworker.sealed(OTHER, [("addendum.text", "x")], sequence=1,
                                         bot=impostor))  # fmt: skip
    assert refused(signed_in.get("/")[1]) == [(forged.name, FORGED)]
    forged.write_bytes(caseworker.sealed(OTHER, [("addendum.text", "y")], sequence=1))
    assert refused(signed_in.get("/")[1]) == [(forged.name, FORGED)]


@slow
def test_a_file_replaced_by_one_of_the_same_size_and_time_is_read_again(
    caseworker: Caseworker, desk: RunningDesk, signed_in: Browser
) -> None:
    signed_in.drop("report.sanad", caseworker.sealed(CASE, [("incident.type", "blackmail")]))
    signed_in.get(f"/case/{CASE}")  # read
    first = caseworker.sealed(CASE, [("addendum.text", "first")], sequence=1)
    second = caseworker.sealed(CASE, [("addendum.text", "other")], sequence=2)
    assert len(first) == len(second)
    path = desk.inbox / delivery_file_name(CASE, 1)
    settled = time.time_ns() - HOUR_NS  # saved well before the desk looks
    path.write_bytes(first)
    os.utime(path, ns=(settled, settled))
    assert '<td class="unread">1</td>' in signed_in.get("/")[1]
    # A browser finishing a download renames it over the name: same size, same time, new file.
    download = desk.inbox / "download.tmp"
    download.write_bytes(second)
    os.utime(download, ns=(settled, settled))
    download.replace(path)
    assert (path.stat().st_size, path.stat().st_mtime_ns) == (len(first), settled)
    assert '<td class="unread">2</td>' in signed_in.get("/")[1]


def test_a_file_rewritten_within_its_time_tick_is_read_again_and_a_settled_one_once(
    tmp_path: Path,
) -> None:
    written = 1_700_000_000 * 10**9
    now = [written + SETTLE_NS // 2]  # the desk looks in the same tick as the file was written
    folder = InboxFolder(tmp_path, clock=lambda: now[0])
    path = tmp_path / "case-K7Q4M2P-0.sanad"
    path.write_bytes(b"A" * 100)
    os.utime(path, ns=(written, written))
    assert list(folder.new_files()) == [(path.name, b"A" * 100)]
    path.write_bytes(b"B" * 100)  # in place: the same file, size and time
    os.utime(path, ns=(written, written))
    assert list(folder.new_files()) == [(path.name, b"B" * 100)]
    now[0] = written + 10 * SETTLE_NS
    assert list(folder.new_files()) == [(path.name, b"B" * 100)]  # seen settled once more
    assert list(folder.new_files()) == []  # and then not read again until it changes
    path.write_bytes(b"C" * 101)
    assert list(folder.new_files()) == [(path.name, b"C" * 101)]
