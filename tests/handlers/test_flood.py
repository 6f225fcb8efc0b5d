"""Flood limit: a weighted token bucket per daily pseudonym, a burst, and an honest minute."""

from __future__ import annotations

import datetime as dt

from telegram import CallbackQuery, Chat, Message, PhotoSize, Update, User

from handlers.flood import FILE_COST, MESSAGE_COST, QUIET_SECONDS, FloodLimiter, update_cost
from handlers.report_flow import ERASE as REPORT_ERASE
from handlers.report_flow import asks_to_erase
from handlers.status_flow import ERASE as STATUS_ERASE


class FakeClock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_updates_past_the_burst_are_refused_and_only_the_first_refusal_is_answered() -> None:
    limiter = FloodLimiter(3, clock=FakeClock())
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


# A whole report pressed through quickly, as an honest reporter does: /start, language, notice,
# danger, incident, platform, country, year, month, the statement, a link, Done; ten files sent
# as one album; Done, platform response, reply, advocacy, Submit, "I have saved it"; then /status
# and the receipt.
HONEST_REPORT = [MESSAGE_COST] * 12 + [FILE_COST] * 10 + [MESSAGE_COST] * 8


def test_a_whole_report_with_an_album_and_status_inside_a_minute_goes_through() -> None:
    clock = FakeClock()
    # The deployment defaults ([limits] max_messages_per_minute and flood_burst).
    limiter = FloodLimiter(20, burst=60, clock=clock)
    for cost in HONEST_REPORT:
        assert limiter.check(7, cost).allowed
        clock.now += 1.5  # 30 updates in 45 seconds
    assert clock.now - 1_000_000.0 < 60


def test_a_sustained_flood_is_held_to_the_rate_after_its_burst() -> None:
    clock = FakeClock()
    limiter = FloodLimiter(20, burst=60, clock=clock)
    accepted = 0
    for _ in range(600):  # two a second for five minutes
        accepted += limiter.check(9).allowed
        clock.now += 0.5
    # The burst, then at most the rate over the five minutes (less: quiet minutes take nothing).
    assert accepted <= 60 + 20 * 5
    assert accepted >= 60


def test_files_weigh_more_so_a_file_flood_is_cut_off_sooner() -> None:
    limiter = FloodLimiter(20, burst=60, clock=FakeClock())
    texts = sum(limiter.check(1, MESSAGE_COST).allowed for _ in range(100))
    files = sum(limiter.check(2, FILE_COST).allowed for _ in range(100))
    assert texts == 60
    assert files == 30


def test_after_the_minute_asked_for_the_reporter_continues_whatever_arrived_meanwhile() -> None:
    # The reporter is told to wait a minute; meanwhile the updates they had already sent (the
    # rest of an album, a queue held up by a slow file, an impatient "hello?") keep reaching the
    # limiter. A sliding window admitted each of them as an older message left it, so after the
    # minute the window was full again and the reporter was refused again.
    clock = FakeClock(0.0)
    limiter = FloodLimiter(20, clock=clock)
    for _ in range(20):  # one every three seconds: within the limit
        assert limiter.check(5).allowed
        clock.now += 3
    told_at = None
    while told_at is None:  # a quick burst: refused, and told to wait a minute
        verdict = limiter.check(5)
        if verdict.first_refusal:
            told_at = clock.now
    clock.now += 1
    while clock.now < told_at + QUIET_SECONDS:  # what was already on its way
        limiter.check(5)
        clock.now += 1
    clock.now = told_at + QUIET_SECONDS
    continued = [limiter.check(5).allowed for _ in range(20)]
    assert all(continued)


def test_refused_updates_take_nothing_from_the_bucket() -> None:
    clock = FakeClock()
    limiter = FloodLimiter(60, clock=clock)
    for _ in range(60):
        limiter.check(3)
    for _ in range(1000):  # a flood during the quiet minute
        assert not limiter.check(3).allowed
    clock.now += QUIET_SECONDS
    assert sum(limiter.check(3).allowed for _ in range(100)) == 60


def _message_update(**content: object) -> Update:
    chat = Chat(1, Chat.PRIVATE)
    message = Message(1, dt.datetime.now(dt.UTC), chat, from_user=User(1, "x", False), **content)
    return Update(1, message=message)


def test_a_file_costs_more_than_a_text() -> None:
    photo = (PhotoSize("id", "unique", 10, 10),)
    assert update_cost(_message_update(photo=photo)) == FILE_COST
    assert update_cost(_message_update(text="hello")) == MESSAGE_COST


def test_no_user_id_is_held_in_the_clear() -> None:
    user_id = 987654321012
    limiter = FloodLimiter(5, clock=FakeClock())
    limiter.check(user_id)
    held = b"".join(limiter._buckets)  # the only map the limiter keeps
    assert str(user_id).encode() not in held
    assert user_id.to_bytes(8, "big") not in held
    assert str(user_id) not in repr(limiter)


def test_daily_rotation_changes_the_pseudonym_and_forgets_the_day() -> None:
    clock = FakeClock(86_400 * 20_000 + 100)
    limiter = FloodLimiter(1, clock=clock)
    limiter.check(5)
    before = set(limiter._buckets)
    assert not limiter.check(5).allowed
    clock.now += 86_400
    assert limiter.check(5).allowed
    assert set(limiter._buckets).isdisjoint(before)
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


def test_erasing_is_not_held_by_the_quiet_minute_but_a_flood_of_it_is_held_to_the_rate() -> None:
    clock = FakeClock()
    limiter = FloodLimiter(20, clock=clock)
    while limiter.check(4).allowed:
        pass
    clock.now += 3  # one unit refilled; still inside the quiet minute
    assert not limiter.check(4).allowed
    assert limiter.check(4, erasing=True).allowed  # /forget goes through within seconds (I7)
    assert not limiter.check(4, erasing=True).allowed  # ...but only as the bucket refills
    assert not limiter.check(4, erasing=True).first_refusal  # and it is not answered again


def _press(data: str) -> Update:
    chat = Chat(1, Chat.PRIVATE)
    user = User(1, "x", False)
    message = Message(2, dt.datetime.now(dt.UTC), chat, from_user=user, text="question")
    return Update(1, callback_query=CallbackQuery("q", user, "chat", message=message, data=data))


def test_forget_and_both_flows_erase_buttons_count_as_erasing() -> None:
    assert asks_to_erase(_message_update(text="/forget"))
    assert asks_to_erase(_message_update(text="/forget@sanad_bot"))
    assert asks_to_erase(_press(REPORT_ERASE))
    assert asks_to_erase(_press(STATUS_ERASE))
    assert not asks_to_erase(_message_update(text="/forgetful"))
    assert not asks_to_erase(_message_update(text="please /forget"))
    assert not asks_to_erase(_press("incident:doxxing"))
