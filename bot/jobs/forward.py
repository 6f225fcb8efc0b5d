"""The forward job: sealed report files from the outbox to caseworkers' chats (DESIGN.md §6).

A run drains what is due, one claimed batch at a time (``storage.outbox``):

1. claim up to ``claim_size`` due rows in a transaction of their own (the claim is the lock, so
   several instances on PostgreSQL never send one row twice);
2. check who may still receive (I4, :func:`eligible_recipients`) and build
   each caseworker's sealed report file, signed with the bot key (I9,
   :func:`bot.services.delivery.build_parcels`);
3. send each file as a document, outside any transaction, one at a time, interleaving chats;
   a file over Telegram's upload limit goes as its signed parts, one after another, the claim
   renewed before each (:data:`bot.services.delivery.MAX_DOCUMENT_BYTES`);
4. record each outcome in its own commit right after Telegram answers (for parts: the last).

Only a process that dies between Telegram's acknowledgement and step 4's commit can make a file
arrive twice; the repeat carries the same case reference and sequence number in its name, caption
and content (I8). With one send in flight at a time, a crash repeats at most that one file. A
delivery in parts is made once all its parts are acknowledged: a failure or a crash between two
parts sends every part again later, byte for byte the same parts (recognisable, and
``sanad caseworker open`` counts a part given twice once).

Runs are spaced ``delivery.batch_interval_seconds`` plus a uniformly random delay of up to
``delivery.jitter_seconds`` (drawn from the OS's generator), each gap drawn afresh, so when a file
reaches a caseworker says little about when it was submitted (I3). Each run schedules the next
when it ends, so a long drain never overlaps the following run.

Telegram's answers, as Telegram defines them:

- ``RetryAfter``: that chat gets nothing more until ``retry_after`` has passed; its rows go back
  untried (no attempt counted). A second chat refused in a row means the bot as a whole is over
  its limit, and everything waits. The run waits out a short ``retry_after`` itself.
- ``NetworkError`` (``TimedOut`` and 5xx answers included) and other Telegram errors: tried again
  after exponential backoff, ``failed`` after ``delivery.max_attempts``.
- ``Forbidden`` (the caseworker blocked the bot), ``BadRequest``, ``ChatMigrated``: a retry cannot
  help, so ``failed`` at once, counted by error class in ``sanad admin status``
  (:func:`bot.services.status.gather_status`); once the cause is gone an admin queues them again
  with ``sanad admin redeliver`` (:mod:`bot.services.redelivery`).
- ``UploadTooLarge`` (HTTP 413, :mod:`bot.upload_limit`): the same bytes would be refused again,
  so ``failed`` at once too, and logged (``forward.upload_too_large``): a limit smaller than
  Telegram's stands between the bot and the Bot API server (a proxy's body limit), or a server
  with a smaller limit, and every large file will meet it until an administrator raises it.
- ``InvalidToken``: the bot itself is refused; everything goes back untried and the run ends.

When the application stops, the run gives back the rows it holds and returns; rows held by a
process that died come back when their lease runs out. On PostgreSQL the worker is the instance:
it claims under its registered name and claims and sends only while the registry lists it, so
the leader releases a dead instance's rows at once instead (:mod:`bot.leadership.claims`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import secrets
import warnings
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from itertools import zip_longest
from typing import Any

from telegram import Bot, InputFile
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    RetryAfter,
    TelegramError,
)
from telegram.ext import Application, CallbackContext
from telegram.warnings import PTBDeprecationWarning

from bot import metrics
from bot.bot_identity import BotIdentity
from bot.config import DeliverySection
from bot.jobs import job_queue_of
from bot.leadership.fence import SINGLE_INSTANCE, Role
from bot.logs import event, get_logger
from bot.revocation_mark import revocation_floor
from bot.runtime import Runtime
from bot.services.caseworkers import eligible_caseworkers_among
from bot.services.delivery import (
    MAX_DOCUMENT_BYTES,
    Document,
    Parcel,
    Recipient,
    build_parcels,
)
from bot.upload_limit import UploadTooLarge
from crypto.keys import Ed25519PublicKey
from storage import outbox
from storage.engine import Database
from storage.models import DeliveryStatus
from storage.outbox import Delivery, DeliverySchedule, RetryPolicy

JOB_NAME = "forward"
_log = get_logger("forward")
# Jitter must be unpredictable to whoever watches delivery times (I3): the OS's generator.
_random = secrets.SystemRandom()
# A refusal a retry cannot fix is failed at its first attempt.
_FAIL_NOW = RetryPolicy(max_attempts=1)
# Send timeouts are counted this many times against the remaining lease: connecting, writing the
# upload and reading the answer each have their own timeout.
_TIMEOUTS_PER_SEND = 3
# How often a run waiting out a RetryAfter checks whether the application is stopping.
_WAIT_SLICE_SECONDS = 0.5

Clock = Callable[[], dt.datetime]
KeepGoing = Callable[[], bool]


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class ForwardSettings:
    """How the forward job paces itself; :meth:`from_config` reads ``[delivery]``."""

    batch_interval: float
    jitter: float
    retry: RetryPolicy
    claim_size: int = 30
    lease: dt.timedelta = dt.timedelta(minutes=10)
    send_timeout: float = 60.0
    # A RetryAfter up to this long is waited out within the run; a longer one is left to the
    # next run, so a run never sits idle for long holding the job.
    longest_wait: float = 60.0
    # The lowest revocation list serial to accept (bot.revocation_mark), read at each pass. No
    # default: a caller that forgot it would accept a list a database writer rolled back.
    revocation_floor: Callable[[], int] = field(kw_only=True, repr=False, compare=False)
    # A sealed file larger than this is sent in parts (a seam: tests lower it).
    max_document_bytes: int = MAX_DOCUMENT_BYTES

    def __post_init__(self) -> None:
        if self.batch_interval <= 0 or self.jitter < 0 or self.claim_size < 1:
            raise ValueError("forward settings need interval > 0, jitter >= 0, claim_size >= 1")
        if self.max_document_bytes < 1:
            raise ValueError("a document holds at least one byte")
        if self.lease <= dt.timedelta(seconds=_TIMEOUTS_PER_SEND * self.send_timeout):
            raise ValueError("the claim lease must outlast one send with all its timeouts")

    @classmethod
    def from_config(
        cls, delivery: DeliverySection, revocation_floor: Callable[[], int]
    ) -> ForwardSettings:
        """Settings from the configuration's ``[delivery]`` table and ``revocation_floor``,
        defaults for the rest."""
        cap = dt.timedelta(seconds=delivery.backoff_cap_seconds)
        return cls(
            revocation_floor=revocation_floor,
            batch_interval=delivery.batch_interval_seconds,
            jitter=delivery.jitter_seconds,
            retry=RetryPolicy(
                base=min(dt.timedelta(seconds=30), cap),
                cap=cap,
                max_attempts=delivery.max_attempts,
            ),
        )

    @property
    def schedule(self) -> DeliverySchedule:
        """The grid stored times are rounded onto: this job's interval and jitter (I3)."""
        return DeliverySchedule.from_seconds(self.batch_interval, self.jitter)

    def next_delay(self) -> float:
        """Seconds until the next run: the interval plus a fresh uniform jitter (I3)."""
        return self.batch_interval + _random.uniform(0.0, self.jitter)


@dataclass
class RunCounts:
    """What one run did, for the log line (counts only, never which case or chat)."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0
    deferred: int = 0


def _retry_after(error: RetryAfter) -> dt.timedelta:
    # PTB 22 hands out an int unless PTB_TIMEDELTA is set, with a deprecation warning.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = error.retry_after
    return value if isinstance(value, dt.timedelta) else dt.timedelta(seconds=value)


def _interleave(deliveries: list[Delivery], chat_of: Callable[[Delivery], int]) -> list[Delivery]:
    """Round-robin over chats, each chat's deliveries in claim order.

    Telegram allows a chat about one message a second; alternating chats spends the bot's
    overall rate on those not yet throttled.
    """
    by_chat: dict[int, list[Delivery]] = defaultdict(list)
    for delivery in deliveries:
        by_chat[chat_of(delivery)].append(delivery)
    rounds = zip_longest(*by_chat.values())
    return [delivery for round_ in rounds for delivery in round_ if delivery is not None]


async def eligible_recipients(
    db: Database,
    caseworker_ids: set[int],
    *,
    org_key: Ed25519PublicKey,
    today: dt.date,
    min_serial: int,
) -> dict[int, Recipient]:
    """The caseworkers among ``caseworker_ids`` who may receive a sealed file today, each with
    the chat their certificate names.

    The verdict is :func:`bot.services.caseworkers.eligible_caseworkers_among` (I4, I9):
    verified, a certificate signed by the pinned ``org_key`` that names this row and its keys,
    in force ``today`` and not revoked by a list at or above the high-water mark
    ``min_serial``. A row an intruder inserted or edited is not a recipient, and a rewritten
    ``delivery_chat_id`` column sends nothing to the chat it names.
    """
    async with db.sessionmaker() as session, session.begin():
        found = await eligible_caseworkers_among(
            session, caseworker_ids, org_key, today, min_serial=min_serial
        )
    return {
        r.caseworker_id: Recipient(r.caseworker_id, r.delivery_chat_id, r.keys.encryption.key_id)
        for r in found
    }


class _Pass:
    """The bookkeeping of one claimed batch: what is settled, and when the rest may go again."""

    def __init__(self, deliveries: list[Delivery], now: dt.datetime) -> None:
        self.unsettled = {d.id: d for d in deliveries}
        self.chat_of: dict[int, int] = {}
        self.paused: dict[int, dt.datetime] = {}  # chat id -> not before
        self.everything_paused: dt.datetime | None = None
        self.last_refused_chat: int | None = None
        self.now = now

    def settle(self, delivery: Delivery) -> None:
        del self.unsettled[delivery.id]

    def not_before_of(self, delivery_id: int) -> dt.datetime:
        if self.everything_paused is not None:
            return self.everything_paused
        chat = self.chat_of.get(delivery_id)
        return self.paused.get(chat, self.now) if chat is not None else self.now

    def earliest_pause(self) -> dt.datetime | None:
        pauses = list(self.paused.values())
        if self.everything_paused is not None:
            pauses.append(self.everything_paused)
        return min(pauses, default=None)


class Forwarder:
    """Sends what the outbox owes caseworkers, for one bot process (its worker token)."""

    worker: str

    def __init__(
        self,
        db: Database,
        bot: Bot,
        settings: ForwardSettings,
        *,
        org_key: Ed25519PublicKey,
        identity: BotIdentity,
        role: Role = SINGLE_INSTANCE,
        clock: Clock = _utc_now,
    ) -> None:
        """``identity`` is the certified bot key every file is signed with (I9). ``role`` names
        the claims: an instance among several claims under its registered name, and only while
        it is registered; a process alone claims under a random token of its own."""
        self._db = db
        self._bot = bot
        self.settings = settings
        self._org_key = org_key
        self._identity = identity
        self._clock = clock
        self._role = role
        self.worker = role.registered_name or outbox.new_worker_token()
        # The earliest moment rows held back by a RetryAfter in this run may go again.
        self._pending_pause: dt.datetime | None = None

    async def run(self, keep_going: KeepGoing = lambda: True) -> RunCounts:
        """Deliver everything due now, waiting out short RetryAfters; return what happened.

        ``keep_going`` is checked before each send; once it is false the run gives back the rows
        it holds and returns. Raises what the database raises; rows then held come back when
        their lease runs out.
        """
        counts = RunCounts()
        while keep_going():
            claimed = await self._pass(counts, keep_going)
            if claimed:
                continue
            # Nothing due now. Rows a RetryAfter held back may be due in a moment: wait for them
            # if that is soon, else leave them to the next run.
            resume_at = self._pending_pause
            self._pending_pause = None
            wait = (resume_at - self._clock()).total_seconds() if resume_at else 0.0
            if resume_at is None or wait > self.settings.longest_wait:
                break
            if not await self._sleep(wait, keep_going):
                break
        return counts

    async def _sleep(self, seconds: float, keep_going: KeepGoing) -> bool:
        """Sleep ``seconds`` unless the application stops first; True if it slept it all."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while (remaining := deadline - loop.time()) > 0:
            if not keep_going():
                return False
            await asyncio.sleep(min(remaining, _WAIT_SLICE_SECONDS))
        return keep_going()

    async def _pass(self, counts: RunCounts, keep_going: KeepGoing) -> bool:
        """Claim one batch and settle it; False when nothing was due (or this instance is not
        registered, so may not claim)."""
        if not self._role.registered():
            return False
        now = self._clock()
        deliveries = await outbox.claim_batch(
            self._db,
            worker=self.worker,
            now=now,
            limit=self.settings.claim_size,
            lease=self.settings.lease,
            schedule=self.settings.schedule,
            while_registered=self._role.registered_name is not None,
        )
        if not deliveries:
            return False
        batch = _Pass(deliveries, now)
        # Stop sending on this claim while a send with all its timeouts still fits in the lease,
        # so no other instance can take a row back while this one is sending it.
        send_until = (
            now
            + self.settings.lease
            - dt.timedelta(seconds=_TIMEOUTS_PER_SEND * self.settings.send_timeout)
        )
        try:
            recipients = await eligible_recipients(
                self._db,
                {d.caseworker_id for d in deliveries},
                org_key=self._org_key,
                today=now.date(),
                min_serial=self.settings.revocation_floor(),
            )
            # A delivery is to the chat its recipient's certificate names; one without an
            # eligible recipient is settled first (building it reads no body).
            sendable = [d for d in deliveries if d.caseworker_id in recipients]
            for delivery in sendable:
                batch.chat_of[delivery.id] = recipients[delivery.caseworker_id].chat_id
            await self._settle_unbuildable(
                batch, [d for d in deliveries if d not in sendable], recipients, counts
            )
            for delivery in _interleave(sendable, lambda d: batch.chat_of[d.id]):
                if not keep_going() or self._clock() >= send_until:
                    break
                # Unregistered, its claims may be released by the leader: send none of them.
                if not self._role.registered():
                    break
                if batch.everything_paused is not None:
                    break
                if batch.chat_of[delivery.id] in batch.paused:
                    continue
                # Built just before it is sent: a batch of large reports is never all in memory
                # at once (only one file, or its parts, is).
                [item] = await build_parcels(
                    self._db,
                    [delivery],
                    recipients,
                    bot=self._identity,
                    max_document_bytes=self.settings.max_document_bytes,
                )
                if isinstance(item, Parcel):
                    await self._deliver(batch, item, counts)
                else:
                    await self._record_failure(batch, delivery, item[1], _FAIL_NOW, counts)
        finally:
            await self._give_back_unsettled(batch, counts)
        return True

    async def _settle_unbuildable(
        self,
        batch: _Pass,
        deliveries: list[Delivery],
        recipients: Mapping[int, Recipient],
        counts: RunCounts,
    ) -> None:
        """Record why each of ``deliveries`` (no eligible recipient) cannot be made."""
        if not deliveries:
            return
        built = await build_parcels(self._db, deliveries, recipients, bot=self._identity)
        for item in built:
            if not isinstance(item, Parcel):
                delivery, problem = item
                await self._record_failure(batch, delivery, problem, _FAIL_NOW, counts)

    async def _deliver(self, batch: _Pass, parcel: Parcel, counts: RunCounts) -> None:
        """Send one file (or all its parts, in order) and record what Telegram said, in its own
        commit."""
        delivery = parcel.delivery
        try:
            for number, document in enumerate(parcel.documents):
                if number and not await outbox.renew_claim(
                    self._db,
                    delivery.id,
                    worker=self.worker,
                    now=self._clock(),
                    lease=self.settings.lease,
                    schedule=self.settings.schedule,
                ):
                    # Another worker may hold the row now and sends every part again (I8).
                    batch.settle(delivery)
                    event(_log, "forward.claim_lost", logging.WARNING)
                    return
                await self._send(parcel.chat_id, document)
        except RetryAfter as error:
            until = self._clock() + _retry_after(error)
            if batch.last_refused_chat not in (None, parcel.chat_id):
                batch.everything_paused = until  # two chats refused in a row: the bot's limit
            batch.paused[parcel.chat_id] = until
            batch.last_refused_chat = parcel.chat_id
            return
        except InvalidToken:
            event(_log, "forward.token_refused", logging.ERROR)
            # Beyond the longest wait, so this run ends instead of trying the same rows at once.
            batch.everything_paused = self._clock() + dt.timedelta(
                seconds=self.settings.batch_interval + self.settings.longest_wait
            )
            return
        except UploadTooLarge as error:
            event(_log, "forward.upload_too_large", logging.ERROR)
            await self._record_failure(batch, delivery, error, _FAIL_NOW, counts)
            return
        except (Forbidden, BadRequest, ChatMigrated) as error:
            await self._record_failure(batch, delivery, error, _FAIL_NOW, counts)
            return
        except TelegramError as error:  # NetworkError, TimedOut, 5xx: worth another try later
            await self._record_failure(batch, delivery, error, self.settings.retry, counts)
            return
        batch.last_refused_chat = None
        batch.settle(delivery)
        recorded = await outbox.mark_sent(
            self._db, delivery.id, worker=self.worker, now=self._clock()
        )
        # Counted once the outcome is committed (or known to be lost), never before: Telegram
        # has the file either way, so a lost claim is a send too.
        metrics.delivery_sent()
        if recorded:
            counts.sent += 1
        else:
            # The lease ran out mid-send and another worker may send it again (I8's repeat).
            event(_log, "forward.claim_lost", logging.WARNING)

    async def _send(self, chat_id: int, document: Document) -> None:
        """Upload one document; raises what Telegram answers."""
        await self._bot.send_document(
            chat_id=chat_id,
            document=InputFile(document.content, filename=document.file_name),
            caption=document.caption,
            # A sealed file is opaque bytes: Telegram must not try to treat it as media.
            disable_content_type_detection=True,
            connect_timeout=self.settings.send_timeout,
            write_timeout=self.settings.send_timeout,
            read_timeout=self.settings.send_timeout,
            pool_timeout=self.settings.send_timeout,
        )

    async def _record_failure(
        self,
        batch: _Pass,
        delivery: Delivery,
        error: Exception,
        policy: RetryPolicy,
        counts: RunCounts,
    ) -> None:
        """Record a delivery that failed (refused by Telegram, or impossible to build); count it."""
        batch.settle(delivery)
        # Only the class name is stored: Telegram's description may quote a chat (never content,
        # but the outbox keeps no free text at all).
        status = await outbox.release(
            self._db,
            delivery.id,
            worker=self.worker,
            now=self._clock(),
            error_class=type(error).__name__,
            policy=policy,
            schedule=self.settings.schedule,
        )
        metrics.delivery_failed()
        if status is DeliveryStatus.FAILED:
            counts.failed += 1
        elif status is not None:
            counts.retrying += 1

    async def _give_back_unsettled(self, batch: _Pass, counts: RunCounts) -> None:
        """Return every row of the batch not sent nor recorded, each due when it may go again.

        I3: due times are stored on the schedule's grid, and the run waits for the same rounded
        time, so the rows it waits for are due when it claims again.
        """
        schedule = self.settings.schedule
        groups: dict[dt.datetime, list[int]] = defaultdict(list)
        for delivery_id in batch.unsettled:
            groups[batch.not_before_of(delivery_id)].append(delivery_id)
        for not_before, ids in groups.items():
            returned = await outbox.give_back(
                self._db, ids, worker=self.worker, not_before=not_before, schedule=schedule
            )
            if not_before > batch.now:
                counts.deferred += returned
        earliest = batch.earliest_pause()
        pause = None if earliest is None else schedule.coarse(earliest)
        if pause is not None and (self._pending_pause is None or pause < self._pending_pause):
            self._pending_pause = pause


def schedule_forward_job(
    application: Application[Any, Any, Any, Any, Any, Any], forwarder: Forwarder
) -> None:
    """Run ``forwarder`` from the application's JobQueue, each run scheduling the next."""
    job_queue = job_queue_of(application, JOB_NAME)

    async def forward(context: CallbackContext[Any, Any, Any, Any]) -> None:
        running = context.application
        try:
            counts = await forwarder.run(keep_going=lambda: running.running)
            if counts.sent or counts.retrying or counts.failed or counts.deferred:
                event(
                    _log,
                    "forward.run",
                    sent=counts.sent,
                    retrying=counts.retrying,
                    failed=counts.failed,
                    deferred=counts.deferred,
                )
        except Exception:  # the job must outlive a bad run: the next one tries again
            event(_log, "forward.run_failed", logging.WARNING)
        finally:
            if running.running:
                job_queue.run_once(forward, when=forwarder.settings.next_delay(), name=JOB_NAME)

    job_queue.run_once(forward, when=forwarder.settings.next_delay(), name=JOB_NAME)


def register_forward_job(
    application: Application[Any, Any, Any, Any, Any, Any],
    runtime: Runtime,
    role: Role = SINGLE_INSTANCE,
) -> Forwarder:
    """Deliver the outbox from ``application`` as ``runtime.config`` says, claiming as ``role``
    says; for :mod:`bot.app`."""
    forwarder = Forwarder(
        runtime.database,
        application.bot,
        ForwardSettings.from_config(
            runtime.config.delivery,
            partial(
                revocation_floor,
                runtime.config.server.state_dir,
                runtime.config.organisation.min_revocation_serial,
            ),
        ),
        org_key=runtime.config.organisation.signing_public_key,
        identity=runtime.bot,
        role=role,
    )
    schedule_forward_job(application, forwarder)
    return forwarder
