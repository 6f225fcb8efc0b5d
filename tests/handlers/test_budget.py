"""Bounds across reporters: draft memory, reports per person and day, free disk."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from handlers.budget import FreeDisk, MemoryBudget, ReportQuota
from handlers.draft import AttachmentKind, Draft, DraftAttachment


def test_memory_budget_refuses_what_would_pass_the_limit_and_takes_back_what_is_released() -> None:
    budget = MemoryBudget(100)
    first = budget.reserve(60)
    assert first is not None
    assert budget.reserve(50) is None  # 110 > 100
    second = budget.reserve(40)
    assert second is not None
    assert budget.held == 100
    first.release()
    first.release()  # twice gives back once
    assert budget.held == 40
    assert budget.reserve(60) is not None


def test_a_reservation_shrinks_to_the_cleaned_size_and_cannot_grow_past_the_limit() -> None:
    budget = MemoryBudget(100)
    reservation = budget.reserve(80)
    assert reservation is not None
    assert reservation.resize(30)
    assert budget.held == 30
    assert budget.reserve(60) is not None
    assert not reservation.resize(50)  # 60 + 50 > 100: it keeps what it held
    assert budget.held == 90


def test_wiping_a_draft_gives_its_files_place_back() -> None:
    budget = MemoryBudget(1000)
    draft = Draft()
    for _ in range(3):
        reservation = budget.reserve(300)
        assert reservation is not None
        draft.attachments.append(
            DraftAttachment(
                AttachmentKind.IMAGE, "image/jpeg", "e.jpg", bytearray(300), reservation
            )
        )
    assert budget.reserve(300) is None
    draft.wipe()
    assert budget.held == 0


def test_a_draft_dropped_without_being_wiped_still_gives_its_place_back() -> None:
    budget = MemoryBudget(1000)
    reservation = budget.reserve(700)
    assert reservation is not None
    draft = Draft()
    draft.attachments.append(
        DraftAttachment(AttachmentKind.PDF, "application/pdf", "e.pdf", bytearray(10), reservation)
    )
    del draft, reservation
    gc.collect()
    assert budget.held == 0


def test_free_disk_needs_the_minimum_left_after_what_is_written(tmp_path: Path) -> None:
    free = {tmp_path: 1000}
    disk = FreeDisk((tmp_path,), 600, free_bytes=lambda path: free[path])
    assert disk.has_room(400)
    assert not disk.has_room(401)
    free[tmp_path] = 100
    assert not disk.has_room()


def test_free_disk_checks_a_path_not_made_yet_at_its_parent(tmp_path: Path) -> None:
    asked: list[Path] = []

    def free_bytes(path: Path) -> int:
        asked.append(path)
        return 10**12

    assert FreeDisk((tmp_path / "state" / "db",), 1, free_bytes=free_bytes).has_room()
    assert asked == [tmp_path]


def test_free_disk_that_cannot_be_asked_is_no_room(tmp_path: Path) -> None:
    def broken(_path: Path) -> int:
        raise OSError("gone")

    assert not FreeDisk((tmp_path,), 1, free_bytes=broken).has_room()


def test_free_disk_on_the_real_filesystem(tmp_path: Path) -> None:
    assert FreeDisk((tmp_path,), 1).has_room()
    assert not FreeDisk((tmp_path,), 2**62).has_room()


def test_report_quota_counts_per_person_and_day_under_pseudonyms() -> None:
    now = [86_400.0 * 20_000 + 10]
    quota = ReportQuota(2, clock=lambda: now[0])
    user = 987654321012
    for _ in range(2):
        assert quota.allows(user)
        quota.record(user)
    assert not quota.allows(user)
    assert quota.allows(user + 1)  # another person
    held = b"".join(quota._counts)
    assert str(user).encode() not in held
    assert str(user) not in repr(quota)
    now[0] += 86_400  # a new UTC day: yesterday's counts are gone with their key
    assert quota.allows(user)
    assert quota.tracked == 0


def test_budgets_refuse_nonsense_limits() -> None:
    with pytest.raises(ValueError, match="limit_bytes"):
        MemoryBudget(0)
    with pytest.raises(ValueError, match="per_day"):
        ReportQuota(0)
