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


def test_a_press_from_one_user_right_after_another_users_start() -> None:
    """The answer to /start is sent before its handler stores the new draft: the next step's
    comparison of other users' drafts must wait for every handler to return (the tail of the
    sequence a full run found)."""
    state = ReporterMachine()
    try:
        state.no_step_yet()
        state.status_with_receipt(user=USERS[2], which="garbage")
        _check(state)
        state.send_command(command="start", user=USERS[2])
        _check(state)
        state.press_forged_button(data="3X", on_latest=False, user=USERS[1])
        _check(state)
    finally:
        state.teardown()
