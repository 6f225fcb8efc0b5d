"""Floods that must not grow the bot: receipt guesses, and large files from many reporters.

- ``/status`` attempts, again and again from the same accounts: once each account has been
  seen, more attempts hold no more memory — no per-attempt record, no conversation left behind,
  no growing table (the wrong-receipt limit keeps one bucket per daily pseudonym).
- Large files from many reporters at once: the cleaned evidence all open drafts hold together
  stays within ``limits.draft_memory_bytes`` (handlers.budget.MemoryBudget), and the files past
  it are refused with an answer while the drafts keep what they had.

Memory is measured with tracemalloc over everything but the local Bot API server (which keeps
every chat's history, as a test double must), this test and the log records the test runner
keeps; structure sizes are read directly.
"""

from __future__ import annotations

import asyncio
import io
import random
import tracemalloc
from pathlib import Path
from typing import Any

from PIL import Image
from telegram.ext import ConversationHandler

from bot.local_api import LocalBotApi, UserChat
from crypto.receipts import generate_receipt
from handlers.budget import shared_memory_budget
from handlers.draft import Draft
from handlers.report_flow import DRAFT_KEY
from tests.handlers.conftest import Reporter, answer_to_narrative, begin
from tests.reliability.conftest import LIMITS, App, make_deployment, polling_bot

GUESSERS = 6
# What 36 more attempts may add to the bot's own memory: caches that fill once (SQLAlchemy's
# compiled statements) and what is in flight at the moment of measuring (about 150 KB here),
# never anything per attempt: a leak of 30 KB an attempt fails it.
ROUND_GROWTH_BYTES = 1024 * 1024
# A budget no other test uses: shared_memory_budget keeps one budget per limit, per process.
DRAFT_BUDGET = 2_345_678


def _traced_bytes() -> int:
    snapshot = tracemalloc.take_snapshot().filter_traces([
        tracemalloc.Filter(False, "*/bot/local_api/*", all_frames=True),
        tracemalloc.Filter(False, __file__, all_frames=True),
        # Log records the test runner captures and keeps; a deployment writes them out.
        tracemalloc.Filter(False, "*/logging/__init__.py", all_frames=True),
        tracemalloc.Filter(False, "*/_pytest/*", all_frames=True),
        tracemalloc.Filter(False, tracemalloc.__file__),
    ])
    return sum(stat.size for stat in snapshot.statistics("filename"))


def _per_user_state(app: App) -> dict[str, int]:
    conversations = sum(
        len(handler._conversations)  # PTB's own table: its size is the point
        for group in app.handlers.values() for handler in group
        if isinstance(handler, ConversationHandler)
    )
    return {"user_data": len(app.user_data), "chat_data": len(app.chat_data),
            "conversations": conversations}


async def _guess(chat: UserChat, typed: str) -> None:
    await chat.send_command("status")
    await chat.wait_for(timeout=20)
    await chat.send_text(typed)
    await chat.wait_for(timeout=20)


async def _round(chats: list[UserChat], attempts: int) -> None:
    async def one(chat: UserChat) -> None:
        for _ in range(attempts):
            # A well-formed receipt with one wrong digit: refused before Argon2id, so the flood
            # is as fast as an attacker can make it.
            digits = generate_receipt().to_display()
            await _guess(chat, digits[:-1] + str((int(digits[-1]) + 1) % 10))

    await asyncio.gather(*(one(chat) for chat in chats))


async def test_a_flood_of_status_attempts_keeps_the_bots_memory_flat(tmp_path: Path) -> None:
    async with LocalBotApi.running() as api:
        token = api.add_bot()
        async with polling_bot(make_deployment(api, tmp_path), token) as app:
            chats = [api.open_chat(8_100_000 + n, f"G{n}") for n in range(GUESSERS)]
            await _round(chats, 2)  # every account seen, every lazy cache filled
            tracemalloc.start(8)
            try:
                await _round(chats, 2)
                before, state_before = _traced_bytes(), _per_user_state(app)
                await _round(chats, 6)
                after, state_after = _traced_bytes(), _per_user_state(app)
            finally:
                tracemalloc.stop()
    assert state_after == state_before
    assert after - before < ROUND_GROWTH_BYTES, f"{after - before} bytes more"


def _photo_bytes(size: int, seed: int) -> bytes:
    """A JPEG of noise of about ``size`` bytes: noise does not compress, so the cleaned copy
    (re-encoded) stays large too."""
    side = int((size / 1.2) ** 0.5)
    noise = random.Random(seed).randbytes(side * side * 3)
    out = io.BytesIO()
    Image.frombytes("RGB", (side, side), noise).save(out, format="JPEG", quality=90)
    return out.getvalue()


def _held_by_drafts(app: App) -> int:
    return sum(
        len(attachment.data)
        for data in app.user_data.values()
        if isinstance(draft := data.get(DRAFT_KEY), Draft)
        for attachment in draft.attachments
    )


async def test_a_flood_of_large_files_stays_within_the_draft_memory_budget(
    tmp_path: Path,
) -> None:
    limits: dict[str, Any] = {**LIMITS, "draft_memory_bytes": DRAFT_BUDGET,
                              "max_file_bytes": 900_000, "max_files": 3}
    photos = [_photo_bytes(700_000, seed) for seed in range(3)]
    async with LocalBotApi.running() as api:
        token = api.add_bot()
        async with polling_bot(make_deployment(api, tmp_path, limits=limits), token) as app:
            reporters = [Reporter(api.open_chat(8_200_000 + n, f"F{n}")) for n in range(5)]

            async def to_evidence(reporter: Reporter) -> None:
                await begin(reporter)
                await answer_to_narrative(reporter)
                await reporter.say("What happened.", until=lambda m: bool(m.buttons))
                await reporter.press("Skip")  # no links: the evidence question

            await asyncio.gather(*(to_evidence(r) for r in reporters))
            peak = 0
            for photo in photos:
                async def send(reporter: Reporter, photo: bytes = photo) -> None:
                    await reporter.chat.send_document(photo, "evidence.jpg", "image/jpeg")
                    await reporter.chat.wait_for(timeout=30)

                await asyncio.gather(*(send(r) for r in reporters))
                peak = max(peak, _held_by_drafts(app))
                assert shared_memory_budget(DRAFT_BUDGET).held <= DRAFT_BUDGET
            held = _held_by_drafts(app)
    assert peak <= DRAFT_BUDGET
    # The budget did bind: fifteen files of about 0.7 MB were sent, far fewer were kept.
    assert 0 < held < 15 * 600_000
