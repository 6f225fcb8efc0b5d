"""``sanad run``: the bot itself."""

from __future__ import annotations

import typer

from bot.cli.config_cmd import DEFAULT_CONFIG_PATH, ConfigOption
from bot.lifecycle import hold_stop_signals


def register(app: typer.Typer) -> None:
    """Add ``run`` to the main application."""
    app.command("run")(run)


def run(config: ConfigOption = DEFAULT_CONFIG_PATH) -> None:
    """Run the bot: apply pending migrations, then poll Telegram (or serve the webhook).

    Refuses to start without a valid bot certificate (`sanad admin certify-bot`): caseworkers
    would refuse every file it sent. Stops cleanly on Ctrl-C or SIGTERM after the update in hand.
    """
    # First: a stop signal from here on is a clean stop, during the heavy imports too.
    hold_stop_signals()
    from bot.runtime import run as run_bot  # the bot's imports are heavy; only `run` needs them

    run_bot(config)
