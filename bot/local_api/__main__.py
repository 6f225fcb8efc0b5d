"""``python -m bot.local_api --port N --token T``: serve the local Bot API by hand.

Prints the URL to use as ``telegram.api_base_url`` (and the token, when it made one up), then
serves until interrupted. It binds 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib

from bot.local_api.limits import RateLimits
from bot.local_api.server import LocalBotApi


async def _serve(port: int, tokens: list[str], rate_limits: bool) -> None:
    api = LocalBotApi(port=port, rate_limits=RateLimits(enabled=rate_limits))
    for token in tokens:
        api.add_bot(token)
    if not tokens:
        print(f"token: {api.add_bot()}", flush=True)
    async with contextlib.AsyncExitStack() as stack:
        await api.start()
        stack.push_async_callback(api.stop)
        print(api.url, flush=True)
        await asyncio.Event().wait()  # until interrupted


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and serve until Ctrl-C."""
    parser = argparse.ArgumentParser(prog="python -m bot.local_api", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free)")
    parser.add_argument("--token", action="append", default=[],
                        help="a bot token to accept (repeatable; one is made up if none)")
    parser.add_argument("--rate-limits", action="store_true",
                        help="answer 429 like Telegram when a bot sends too fast")
    options = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(options.port, options.token, options.rate_limits))


if __name__ == "__main__":
    main()
