"""Webhook delivery: POST each pending update, in order, until the receiver takes it.

As Telegram does, the update is sent as a JSON body with the
``X-Telegram-Bot-Api-Secret-Token`` header when a secret was set; any answer outside 2xx, or
no answer, is recorded for ``getWebhookInfo`` and retried after a growing delay. Delivery is
one update at a time so the order is kept. Only loopback receivers are accepted (see
:func:`bot.local_api.methods.set_webhook`): reports must not leave the machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import httpx

from bot.local_api.state import BotState, Webhook, World

logger = logging.getLogger(__name__)


class WebhookDelivery:
    """One delivery task per bot with a webhook."""

    def __init__(self, world: World, *, retry_delay: float, max_retry_delay: float,
                 timeout: float) -> None:
        self._world = world
        self._retry_delay = retry_delay
        self._max_retry_delay = max_retry_delay
        self._timeout = timeout
        self._tasks: dict[int, asyncio.Task[None]] = {}

    def start(self, bot: BotState) -> None:
        """(Re)start delivering ``bot``'s updates to its current webhook."""
        self.stop(bot)
        if bot.webhook is not None:
            self._tasks[bot.id] = asyncio.create_task(self._deliver(bot, bot.webhook))

    def stop(self, bot: BotState) -> None:
        """Stop delivering for ``bot``; undelivered updates stay pending."""
        task = self._tasks.pop(bot.id, None)
        if task is not None:
            task.cancel()

    async def close(self) -> None:
        """Stop every delivery and wait for the tasks to end."""
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _deliver(self, bot: BotState, webhook: Webhook) -> None:
        headers = {"Content-Type": "application/json"}
        if webhook.secret_token is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = webhook.secret_token
        delay = self._retry_delay
        # trust_env=False: a proxy from the environment must never see a loopback update.
        async with httpx.AsyncClient(trust_env=False, timeout=self._timeout) as client:
            while bot.webhook is webhook:
                if not bot.pending:
                    await bot.updates_changed.wait()
                    continue
                update = bot.pending[0]
                try:
                    response = await client.post(webhook.url, json=update, headers=headers)
                except httpx.HTTPError as exc:
                    error = f"Connection failed: {type(exc).__name__}"
                else:
                    if response.is_success:
                        bot.pending = [
                            u for u in bot.pending if u["update_id"] != update["update_id"]
                        ]
                        delay = self._retry_delay
                        continue
                    error = f"Wrong response from the webhook: {response.status_code}"
                    error += f" {response.reason_phrase}".rstrip()
                webhook.last_error_date = self._world.now()
                webhook.last_error_message = error
                logger.info("local_api.webhook_retry")
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._max_retry_delay)
