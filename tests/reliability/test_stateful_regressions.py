"""Sequences the state machine found failing, kept as plain tests (tests/reliability/
test_stateful_bot.py). Each replays Hypothesis's printed steps; invariants run as it ran them."""

from __future__ import annotations

from tests.reliability.test_stateful_bot import USERS, ReporterMachine


def _check(state: ReporterMachine) -> None:
    state.no_exception_reached_the_error_handler()
    state.other_users_drafts_are_untouched()
    state.the_bot_is_alive_and_polling()


def test_a_report_after_five_reports_and_a_message_from_two_users_at_once() -> None:
    state = ReporterMachine()
    try:
        state.no_step_yet()
        _check(state)
        for _ in range(5):
            state.file_whole_report(user=USERS[0])
            _check(state)
        state.users_at_once(text="\u202e", users=[USERS[0], USERS[1]])
        _check(state)
        state.file_whole_report(user=USERS[0])
    finally:
        state.teardown()
