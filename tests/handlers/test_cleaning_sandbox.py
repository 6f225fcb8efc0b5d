"""The cleaning sandbox: a worker that dies, overruns or is killed costs one file, never the bot;
a full queue answers "busy" at once; mutated files never crash the parent nor leak a canary."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handlers.evidence import CleanedEvidence, CleaningSandbox
from handlers.evidence.results import BUSY, NOT_CLEANED
from handlers.evidence.sandbox import WorkerLimits
from handlers.i18n import Refused
from tests.handlers import hostile, samples

LIMIT = 5_000_000


def _slow_pdf() -> bytes:
    """A valid PDF whose one page takes a worker a second or two: 400 MB of blank content."""
    return hostile.pdf_content_bomb(400)


def _workers() -> list[int]:
    """Pids of this process's live cleaning workers (children started by any of its threads)."""
    pids = []
    for task in Path("/proc/self/task").iterdir():
        with contextlib.suppress(FileNotFoundError):  # a thread or a worker that just ended
            for pid in (task / "children").read_text().split():
                with contextlib.suppress(FileNotFoundError):
                    if b"handlers.evidence.worker" in Path(f"/proc/{pid}/cmdline").read_bytes():
                        pids.append(int(pid))
    return pids


async def _when_a_worker_runs() -> int:
    for _ in range(200):
        if pids := _workers():
            return pids[0]
        await asyncio.sleep(0.01)
    raise AssertionError("no worker started")


async def test_worker_killed_mid_clean_costs_one_file_and_the_next_file_cleans() -> None:
    sandbox = CleaningSandbox()
    cleaning = asyncio.ensure_future(sandbox.clean(_slow_pdf(), max_bytes=LIMIT))
    os.kill(await _when_a_worker_runs(), signal.SIGKILL)  # as the kernel's OOM killer would
    assert await cleaning is NOT_CLEANED
    assert isinstance(
        await sandbox.clean(samples.jpeg_with_gps(), max_bytes=LIMIT), CleanedEvidence
    )
    assert not _workers()  # nothing left running


async def test_worker_over_its_wall_clock_is_killed_within_the_bound() -> None:
    sandbox = CleaningSandbox(limits=WorkerLimits(wall_seconds=0.3))
    started = time.monotonic()
    assert await sandbox.clean(_slow_pdf(), max_bytes=LIMIT) is NOT_CLEANED
    assert time.monotonic() - started < 2
    assert not _workers()


async def test_worker_over_its_cpu_limit_is_stopped_by_the_kernel() -> None:
    # Four pages that each inflate 200 MB: within the memory budget, about 1.7 s of CPU.
    slow = hostile.pdf_content_bomb(200, pages=4)
    assert isinstance(await CleaningSandbox().clean(slow, max_bytes=LIMIT), CleanedEvidence)
    sandbox = CleaningSandbox(limits=WorkerLimits(cpu_seconds=1))
    started = time.monotonic()
    assert await sandbox.clean(slow, max_bytes=LIMIT) is NOT_CLEANED
    assert time.monotonic() - started < 5


async def test_full_queue_answers_busy_at_once_and_the_file_in_hand_still_cleans() -> None:
    sandbox = CleaningSandbox(workers=1, queue=0)
    first = asyncio.ensure_future(sandbox.clean(_slow_pdf(), max_bytes=LIMIT))
    await _when_a_worker_runs()
    started = time.monotonic()
    assert await sandbox.clean(samples.jpeg_with_gps(), max_bytes=LIMIT) is BUSY
    assert time.monotonic() - started < 0.1
    assert isinstance(await first, CleanedEvidence)
    assert isinstance(
        await sandbox.clean(samples.jpeg_with_gps(), max_bytes=LIMIT), CleanedEvidence
    )


_SAMPLES = {
    "jpeg": samples.jpeg_with_gps(width=16, height=12),
    "png": samples.png_with_text(),
    "pdf": samples.pdf_with_author(),
    "ogg": hostile.tagged_voice_note("CanaryOgg"),
    "heic": hostile.heic_with_gps("CanaryHeic"),
}
_SANDBOX = CleaningSandbox()


@st.composite
def mutated_samples(draw: st.DrawFn) -> bytes:
    """A sample file with a few bytes overwritten, inserted or cut off at the end."""
    data = bytearray(_SAMPLES[draw(st.sampled_from(sorted(_SAMPLES)))])
    for _ in range(draw(st.integers(0, 6))):
        position = draw(st.integers(0, len(data) - 1))
        if draw(st.booleans()):
            data[position] = draw(st.integers(0, 255))
        else:
            data[position:position] = draw(st.binary(min_size=1, max_size=8))
    return bytes(data[: draw(st.integers(len(data) // 2, len(data)))])


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_samples())
def test_mutated_files_never_crash_the_parent_nor_carry_a_canary(data: bytes) -> None:
    result = asyncio.run(_SANDBOX.clean(data, max_bytes=LIMIT))
    assert isinstance(result, CleanedEvidence | Refused)
    if isinstance(result, CleanedEvidence):
        assert b"Canary" not in result.data
        assert b"Exif" not in result.data
        assert len(result.data) <= LIMIT
