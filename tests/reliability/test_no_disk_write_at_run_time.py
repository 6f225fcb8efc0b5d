"""I1 at run time: a whole report with evidence, through the real bot, opens no file to write.

An audit hook (PEP 578) sees every ``open`` the interpreter makes — builtin ``open``, ``os.open``,
``io.FileIO``, Pillow's and pdfium's Python-level opens — and every ``tempfile`` call, whoever
makes it. While the conversation runs, no file may be opened for writing and no temporary file
made. The database is written by SQLite's C code, which opens its files without an audit event:
what reaches it is sealed, and the canary tests check it byte by byte.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bot.local_api import LocalBotApi, UserChat
from tests.handlers import samples
from tests.handlers.conftest import Reporter, answer_to_narrative, begin
from tests.reliability.conftest import make_deployment, polling_bot

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
_TEMPFILE_EVENTS = {"tempfile.mkstemp", "tempfile.mkdtemp"}
# An audit hook cannot be removed: one is installed per process, and records only while a test
# asks it to.
_recording: list[list[str]] = []


def _writes(event: str, args: tuple[Any, ...]) -> str | None:
    """What a write-capable event opened, or None for reads and unrelated events."""
    if event in _TEMPFILE_EVENTS:
        return event
    if event != "open" or len(args) < 3:
        return None
    path, mode, flags = args[0], args[1], args[2]
    writing = any(letter in mode for letter in "wax+") if isinstance(mode, str) else bool(
        isinstance(flags, int) and flags & _WRITE_FLAGS)
    if not writing or isinstance(path, int) or path == os.devnull:
        # A descriptor was opened before (a pipe to the cleaning worker, or a file this hook saw
        # then); /dev/null takes the worker's stderr. Neither stores anything.
        return None
    if str(path).endswith(".pyc"):  # the import system's bytecode cache
        return None
    return f"{event} {mode or flags!r} {path!r}"


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if _recording and (found := _writes(event, args)) is not None:
        _recording[-1].append(found)


_hook_installed = False


@contextmanager
def file_writes() -> Iterator[list[str]]:
    """Collect every file opened for writing (and every temporary file) while inside."""
    global _hook_installed
    if not _hook_installed:
        sys.addaudithook(_hook)
        _hook_installed = True
    found: list[str] = []
    _recording.append(found)
    try:
        yield found
    finally:
        _recording.remove(found)


def test_the_audit_hook_sees_a_write_made_anywhere_in_the_process(tmp_path: Path) -> None:
    with file_writes() as writes:
        (tmp_path / "a").write_bytes(b"x")
        os.close(os.open(tmp_path / "b", os.O_WRONLY | os.O_CREAT))
        (tmp_path / "a").read_bytes()
    assert len(writes) == 2


async def test_a_whole_report_with_evidence_writes_no_file(tmp_path: Path) -> None:
    evidence: list[Callable[[UserChat], Awaitable[object]]] = [
        lambda chat: chat.send_photo(samples.jpeg_with_gps()),
        lambda chat: chat.send_document(samples.pdf_with_author(), "evidence.pdf", "x/y"),
        lambda chat: chat.send_voice(samples.voice_note(), 3),
    ]
    async with LocalBotApi.running() as api:
        token = api.add_bot()
        async with polling_bot(make_deployment(api, tmp_path / "deployment"), token):
            chat = api.open_chat(5_550_001, "Rana", language_code="en")
            reporter = Reporter(chat)
            await begin(reporter)
            with file_writes() as writes:
                await answer_to_narrative(reporter)
                await reporter.say("What happened, in words.", until=lambda m: bool(m.buttons))
                await reporter.press("Skip")  # no links
                for send in evidence:  # each file is downloaded, cleaned and kept in memory
                    await send(chat)
                    await chat.wait_for(lambda m: bool(m.buttons))
                await reporter.press("Done")
                for label in ("I don't know", "No reply needed", "No"):
                    await reporter.press(label)
                receipt = await reporter.press("Submit")
                await chat.press_button(receipt.message_id, text=reporter._("I have saved it"))
                await chat.wait_until(lambda: not chat.messages(), timeout=15)
    assert writes == [], "\n".join(writes)
