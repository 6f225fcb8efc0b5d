"""The bounded Argon2id pool: two lanes, bounded memory, Busy past a bound, the loop left free."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from functools import partial

import pytest

from crypto.kdf_pool import Busy, KdfPool, Lane
from crypto.receipts import derive_mailbox, generate_receipt

SALT = bytes(16)
PEPPER = bytes(32)


class Instrumented:
    """A stand-in derivation that records how many copies run at once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.running = 0
        self.max_running = 0

    def work(self, value: int) -> int:
        with self._lock:
            self.running += 1
            self.max_running = max(self.max_running, self.running)
        time.sleep(0.01)
        with self._lock:
            self.running -= 1
        return value * value


async def _until(predicate: Callable[[], bool]) -> None:
    for _ in range(500):
        if predicate():
            return
        await asyncio.sleep(0.002)
    pytest.fail("condition not reached")


async def test_derivations_run_one_at_a_time() -> None:
    probe = Instrumented()
    async with KdfPool(max_waiting=20) as pool:
        results = await asyncio.gather(*(pool.run(partial(probe.work, v)) for v in range(12)))
    assert results == [v * v for v in range(12)]
    assert probe.max_running == 1


async def test_busy_past_the_bound_and_depth_is_visible() -> None:
    gate = threading.Event()
    async with KdfPool(max_waiting=2) as pool:
        assert pool.queue_depth == 0
        running = asyncio.ensure_future(pool.run(gate.wait))
        waiting = [asyncio.ensure_future(pool.run(lambda: 7)) for _ in range(2)]
        await _until(lambda: pool.queue_depth == 3)
        started = time.monotonic()
        with pytest.raises(Busy):
            await pool.run(lambda: 0)
        assert time.monotonic() - started < 0.05  # refused at once, not after waiting
        assert pool.queue_depth == 3  # a refused request takes no slot
        gate.set()
        assert await running is True
        assert await asyncio.gather(*waiting) == [7, 7]
        assert pool.queue_depth == 0
        assert await pool.run(lambda: 1) == 1  # room again once the queue drained


async def test_cancelled_waiter_frees_its_slot() -> None:
    gate = threading.Event()
    async with KdfPool(max_waiting=1) as pool:
        running = asyncio.ensure_future(pool.run(gate.wait))
        waiter = asyncio.ensure_future(pool.run(lambda: "never"))
        await _until(lambda: pool.queue_depth == 2)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        await _until(lambda: pool.queue_depth == 1)
        gate.set()
        await running
        await _until(lambda: pool.queue_depth == 0)


async def test_event_loop_keeps_running_during_a_derivation() -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.005)

    task = asyncio.ensure_future(ticker())
    async with KdfPool(max_waiting=1) as pool:
        await pool.run(lambda: time.sleep(0.2))
    task.cancel()
    assert ticks > 10  # the loop was free while the worker thread slept


async def test_failure_in_work_propagates_and_frees_the_slot() -> None:
    def broken() -> None:
        raise RuntimeError("boom")

    async with KdfPool(max_waiting=0) as pool:
        with pytest.raises(RuntimeError):
            await pool.run(broken)
        assert pool.queue_depth == 0


async def test_concurrent_mailbox_derivations_give_the_direct_results() -> None:
    receipts = [generate_receipt() for _ in range(3)]
    async with KdfPool(max_waiting=5) as pool:
        opened = await asyncio.gather(
            *(pool.derive_mailbox(r, salt=SALT, pepper=PEPPER) for r in receipts)
        )
    for receipt, mailbox in zip(receipts, opened, strict=True):
        direct = derive_mailbox(receipt, salt=SALT, pepper=PEPPER)
        assert mailbox.lookup_tag == direct.lookup_tag
        assert mailbox.key.raw == direct.key.raw


def test_negative_bound_is_refused() -> None:
    with pytest.raises(ValueError, match="max_waiting"):
        KdfPool(max_waiting=-1)


# -- two lanes: submissions never wait for a flood of look-ups ------------------------------------


async def test_a_submission_runs_while_a_flood_of_lookups_fills_their_lane() -> None:
    gate = threading.Event()
    async with KdfPool(max_waiting=3, workers=2) as pool:
        lookups = [asyncio.ensure_future(pool.run(gate.wait)) for _ in range(4)]
        await _until(lambda: pool.lane_depth(Lane.LOOKUP) == 4)
        with pytest.raises(Busy):  # look-ups keep their bound
            await pool.run(lambda: 0)
        # The look-up running and those waiting do not hold the submission up.
        assert await asyncio.wait_for(pool.run(lambda: "sealed", lane=Lane.SUBMISSION), 2) == (
            "sealed"
        )
        gate.set()
        assert await asyncio.gather(*lookups) == [True] * 4


async def test_a_burst_of_thirty_submissions_waits_in_line_and_none_is_busy() -> None:
    probe = Instrumented()
    async with KdfPool(max_waiting=0, workers=2) as pool:
        results = await asyncio.gather(
            *(pool.run(partial(probe.work, v), lane=Lane.SUBMISSION) for v in range(30)),
            return_exceptions=True,
        )
    assert results == [v * v for v in range(30)]
    assert probe.max_running <= 2  # the memory bound: two Argon2id instances at most


async def test_lookups_never_take_the_worker_kept_for_submissions() -> None:
    probe = Instrumented()
    async with KdfPool(max_waiting=20, workers=2) as pool:
        await asyncio.gather(*(pool.run(partial(probe.work, v)) for v in range(12)))
    assert probe.max_running == 1


async def test_with_one_worker_a_submission_goes_before_waiting_lookups() -> None:
    gate = threading.Event()
    order: list[str] = []
    async with KdfPool(max_waiting=5, workers=1) as pool:
        running = asyncio.ensure_future(pool.run(gate.wait))
        await _until(lambda: pool.queue_depth == 1)
        waiting = [
            asyncio.ensure_future(pool.run(lambda: order.append("lookup"))) for _ in range(3)
        ]
        submission = asyncio.ensure_future(
            pool.run(lambda: order.append("submission"), lane=Lane.SUBMISSION)
        )
        await _until(lambda: pool.queue_depth == 5)
        gate.set()
        await asyncio.gather(running, submission, *waiting)
    assert order == ["submission", "lookup", "lookup", "lookup"]


async def test_lookups_are_rate_limited_across_all_callers_and_submissions_are_not() -> None:
    now = [100.0]
    async with KdfPool(max_waiting=50, lookups_per_minute=3, clock=lambda: now[0]) as pool:
        assert [await pool.run(lambda: 1) for _ in range(3)] == [1, 1, 1]
        with pytest.raises(Busy):
            await pool.run(lambda: 1)
        assert await pool.run(lambda: 2, lane=Lane.SUBMISSION) == 2
        now[0] += 20  # a minute holds three: one more after a third of it
        assert await pool.run(lambda: 3) == 3
        with pytest.raises(Busy):
            await pool.run(lambda: 1)


async def test_the_submission_line_has_its_own_bound() -> None:
    gate = threading.Event()
    async with KdfPool(max_waiting=0, workers=1, max_waiting_submissions=1) as pool:
        running = asyncio.ensure_future(pool.run(gate.wait, lane=Lane.SUBMISSION))
        waiting = asyncio.ensure_future(pool.run(lambda: 1, lane=Lane.SUBMISSION))
        await _until(lambda: pool.lane_depth(Lane.SUBMISSION) == 2)
        with pytest.raises(Busy):
            await pool.run(lambda: 0, lane=Lane.SUBMISSION)
        gate.set()
        assert await asyncio.gather(running, waiting) == [True, 1]


async def test_close_drops_waiting_work() -> None:
    gate = threading.Event()
    pool = KdfPool(max_waiting=2, workers=1)
    running = asyncio.ensure_future(pool.run(gate.wait))
    waiter = asyncio.ensure_future(pool.run(lambda: "never"))
    await _until(lambda: pool.queue_depth == 2)
    pool.close()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    gate.set()
    assert await running is True
    with pytest.raises(Busy):
        await pool.run(lambda: 0)
