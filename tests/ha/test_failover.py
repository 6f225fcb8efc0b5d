"""SIGKILL the leader of three ``sanad run`` under steady reporters: a standby takes over.

Three reporters send whole reports one after another; two more are in the middle of a report,
its messages stored by the erase journal, when the leader is killed outright. Then:

- a standby receives updates within the configured takeover time;
- every report whose receipt was shown is stored and reaches the caseworker within seconds
  (what the killed leader had claimed is released at the takeover), each file at most
  twice (the one repeat DESIGN.md I8 allows: a crash between Telegram's acknowledgement and the
  commit, which only the killed leader can have had);
- no update was handled twice: each submission showed one receipt, each reporter whose draft
  was lost is told so exactly once;
- the dead leader's open conversations are erased from the reporters' chats, and those
  reporters are told, in their language, that the unfinished report was lost;
- a leader stopped cleanly (SIGTERM) hands over too: its open report is erased by the next
  leader, which tells that reporter.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import secrets
import time
from collections import defaultdict

import pytest
from sqlalchemy import select

from bot.local_api import UserChat
from bot.services.housekeeping import Housekeeping, HousekeepingKeyring
from handlers.i18n import translator
from handlers.lost_draft import LOST_DRAFT
from storage.models import RecentUpdate, Report
from tests.e2e.conftest import receipt_in
from tests.handlers.conftest import Reporter, answer_to_narrative, begin, finish_from_links
from tests.support.processes import kill, stop, until

from .conftest import TAKEOVER_SECONDS, Cluster

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

_CASE = re.compile(r"Case reference: \W*([0-9A-Z]+-[0-9A-Z]+)")
STEADY_REPORTERS = 3
INTERRUPTED_REPORTERS = 2
#: How far ahead of the steady reporters' updates the probe's update id is reserved.
RESERVED_UPDATE_IDS = 1000


def reporter_chat(cluster: Cluster, language: str = "en") -> UserChat:
    chat_id = 7_400_000_000_000 + secrets.randbelow(10**9)
    return cluster.deployment.api.open_chat(chat_id, "Rana", language_code=language)


async def one_report(reporter: Reporter, references: list[str]) -> None:
    """A whole report: its case reference goes to ``references`` once the receipt is shown, then
    the reporter leaves with "I have saved it", which ends the conversation so the next report
    can begin (until then the bot answers a /start with "you already have a report")."""
    await begin(reporter)
    narrative = await answer_to_narrative(reporter)
    assert narrative.buttons
    await reporter.say("They threatened to publish my photos.", until=lambda m: bool(m.buttons))
    await finish_from_links(reporter)
    receipt = await reporter.press("Submit")
    receipt_in(receipt)
    match = _CASE.search(receipt.text or "")
    assert match is not None
    references.append(match.group(1))
    saved = translator(reporter.language)("I have saved it")
    await reporter.chat.press_button(receipt.message_id, text=saved)
    await reporter.chat.wait_until(
        lambda: all(m.message_id != receipt.message_id for m in reporter.chat.messages())
    )


async def steady(reporter: Reporter, references: list[str], enough: asyncio.Event) -> None:
    """Reports one after another until ``enough``.

    A report cut short — by the kill, or by a step slower than the reporter waits on a loaded
    machine — is dropped with /forget, as the bot itself advises, and begun again: a leader still
    holding that conversation would otherwise answer every new /start that one is in progress.
    """
    while not enough.is_set():
        try:
            await one_report(reporter, references)
        except Exception:  # whatever the kill did to this report, the reporter starts again
            await reporter.chat.send_command("forget")
            await asyncio.sleep(0.2)


async def journaled(housekeeping: Housekeeping, reporters: list[Reporter]) -> bool:
    """Whether the erase journal has stored every message now in these reporters' chats, as
    ids of an open conversation (it stores every few seconds): a successor can erase them all
    and knows those drafts were lost."""
    due, _damaged = await housekeeping.due(limit=1000)
    stored: dict[int, set[int]] = defaultdict(set)
    for erasure in due:
        if erasure.conversation:
            stored[erasure.target.chat_id].update(erasure.target.message_ids)
    return all(
        {m.message_id for m in r.chat.messages()} <= stored[r.chat.chat_id] for r in reporters
    )


async def test_sigkill_of_the_leader_loses_and_doubles_nothing(cluster: Cluster) -> None:
    deployment = cluster.deployment
    caseworker_chat = deployment.api.open_chat(5_400_000_000 + secrets.randbelow(10**8), "Case")
    await deployment.enroll_and_approve(caseworker_chat, "ha-caseworker")

    interrupted = [
        Reporter(reporter_chat(cluster, language), language)
        for language in ("fr", "ar")[:INTERRUPTED_REPORTERS]
    ]
    for reporter in interrupted:
        await begin(reporter)
        await reporter.press("Blackmail or extortion")
    keyring = HousekeepingKeyring.of_state_dir(deployment.directory / "state")
    async with deployment.database() as db:
        housekeeping = Housekeeping(db, keyring, retention=dt.timedelta(hours=24))
        await until(lambda: journaled(housekeeping, interrupted), timeout=30)

    enough = asyncio.Event()
    references: list[list[str]] = [[] for _ in range(STEADY_REPORTERS)]
    steady_reporters = [Reporter(reporter_chat(cluster)) for _ in range(STEADY_REPORTERS)]
    load = [
        asyncio.create_task(steady(reporter, found, enough))
        for reporter, found in zip(steady_reporters, references, strict=True)
    ]
    try:

        async def each_reported() -> bool:
            return all(references)

        await until(each_reported, timeout=60)  # the load runs through the first leader
        leader = await cluster.leader()
        polls = deployment.calls["getUpdates"]
        killed_at = time.monotonic()
        await kill(cluster.processes[leader])
        successor = await cluster.leader(other_than=leader)
        await deployment.calls.wait_for("getUpdates", polls + 1, timeout=TAKEOVER_SECONDS * 5)
        takeover = time.monotonic() - killed_at
        assert takeover <= TAKEOVER_SECONDS * 2, takeover
        assert successor != leader

        # An update the dead leader had taken but not yet confirmed to Telegram comes again to
        # the successor: its id is in recent_updates (written here as the dead leader would
        # have, before the update exists, so no timing decides it), and it is not handled twice.
        # The steady reporters go on sending meanwhile, so the probe's id is reserved ahead of
        # theirs (Telegram's update ids grow, not necessarily by one) and taken by its /help,
        # which is queued at once, with no other task running in between.
        probe = reporter_chat(cluster)
        bot = deployment.api.world.bots[deployment.token]
        taken = bot.next_update_id + RESERVED_UPDATE_IDS
        async with deployment.database() as db, db.sessionmaker() as session, session.begin():
            session.add(RecentUpdate(update_id=taken))
        assert bot.next_update_id <= taken
        bot.next_update_id = taken
        await probe.send_command("help")
        with pytest.raises(TimeoutError):
            await probe.wait_for(lambda m: "/start" in (m.text or ""), timeout=3)
        await probe.send_command("help")
        await probe.wait_for(lambda m: "/start" in (m.text or ""), timeout=10)
        assert "update.skipped" in cluster.logs[successor].read_text()

        # The dead leader's open conversations are erased from the phones...
        for reporter in interrupted:
            await reporter.chat.wait_until(lambda r=reporter: not r.chat.messages(), timeout=15)
        # ...and each of those reporters is told once, in their language, on their next message.
        for reporter in interrupted:
            await reporter.chat.send_text("hello?")
            told = translator(reporter.language)(LOST_DRAFT)
            await reporter.chat.wait_for(lambda m, t=told: m.text == t, timeout=10)

        # The load goes on through the successor: one more report each, at least.
        before = [len(found) for found in references]

        async def each_reported_again() -> bool:
            for task in load:
                if task.done():
                    task.result()  # a reporter that stopped says why
            return all(len(f) > b for f, b in zip(references, before, strict=True))

        await until(each_reported_again, timeout=40)
    finally:
        enough.set()
        await asyncio.gather(*load, return_exceptions=True)

    shown = [reference for found in references for reference in found]
    assert len(shown) == len(set(shown)), "a submission showed two receipts"
    async with deployment.database() as db, db.sessionmaker() as session:
        stored = set(await session.scalars(select(Report.case_reference)))
    assert set(shown) <= stored

    async def all_delivered() -> bool:
        sent = {m.caption for m in caseworker_chat.bot_messages() if m.document is not None}
        return all(f"{reference} #0" in sent for reference in shown)

    # Within seconds, not the claim's ten-minute lease: a delivery the killed leader had claimed
    # was released by the takeover (bot.leadership.claims, tests/ha/test_dead_claims.py).
    await until(all_delivered, timeout=30)
    captions = [m.caption for m in caseworker_chat.bot_messages() if m.document is not None]
    assert all(captions.count(c) <= 2 for c in captions)
    for reporter in interrupted:
        told = translator(reporter.language)(LOST_DRAFT)
        assert sum(m.text == told for m in reporter.chat.bot_messages()) == 1
    assert len(cluster.live()) == 2

    # A clean stop (SIGTERM, as for an upgrade) hands the open report over: it too is erased by
    # the last instance, which tells its reporter.
    cut_short = Reporter(reporter_chat(cluster))
    await begin(cut_short)
    assert await stop(cluster.processes[successor]) == 0
    last = await cluster.leader(other_than=successor)
    assert last not in (leader, successor)
    await cut_short.chat.wait_until(lambda: not cut_short.chat.messages(), timeout=15)
    await cut_short.chat.send_text("hello?")
    await cut_short.chat.wait_for(lambda m: m.text == translator("en")(LOST_DRAFT), timeout=10)
