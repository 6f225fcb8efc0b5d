"""Flood limit: a sliding minute per user, keyed by a daily pseudonym, never by the user id."""

from __future__ import annotations

from handlers.flood import FloodLimiter


class FakeClock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_messages_past_the_limit_within_a_minute_are_refused_and_answered_once() -> None:
    clock = FakeClock()
    limiter = FloodLimiter(3, clock=clock)
    assert all(limiter.check(42).allowed for _ in range(3))
    first, second = limiter.check(42), limiter.check(42)
    assert not first.allowed
    assert first.first_refusal
    assert not second.allowed
    assert not second.first_refusal


def test_one_users_flood_does_not_limit_another_user() -> None:
    limiter = FloodLimiter(2, clock=FakeClock())
    for _ in range(5):
        limiter.check(1)
    assert limiter.check(2).allowed


def test_the_window_slides_so_messages_are_accepted_again_after_a_minute() -> None:
    clock = FakeClock()
    limiter = FloodLimiter(2, clock=clock)
    limiter.check(7)
    clock.now += 30
    limiter.check(7)
    assert not limiter.check(7).allowed
    clock.now += 31  # the first message is now older than a minute
    assert limiter.check(7).allowed


def test_no_user_id_is_held_in_the_clear() -> None:
    user_id = 987654321012
    limiter = FloodLimiter(5, clock=FakeClock())
    limiter.check(user_id)
    held = b"".join(limiter._recent)  # the only map the limiter keeps
    assert str(user_id).encode() not in held
    assert user_id.to_bytes(8, "big") not in held
    assert str(user_id) not in repr(limiter)


def test_daily_rotation_changes_the_pseudonym_and_forgets_the_day() -> None:
    clock = FakeClock(86_400 * 20_000 + 100)
    limiter = FloodLimiter(1, clock=clock)
    limiter.check(5)
    before = set(limiter._recent)
    assert not limiter.check(5).allowed
    clock.now += 86_400
    assert limiter.check(5).allowed
    assert set(limiter._recent).isdisjoint(before)
    assert limiter.tracked == 1


def test_idle_pseudonyms_are_swept() -> None:
    clock = FakeClock()
    limiter = FloodLimiter(3, clock=clock)
    for user in range(10):
        limiter.check(user)
    clock.now += 61
    limiter.check(99)
    assert limiter.sweep() == 10
    assert limiter.tracked == 1
