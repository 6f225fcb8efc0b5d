"""The root of the caseworker side's own errors (it may not import ``bot.errors``).

Like ``bot.errors.SanadError``, a :class:`DeskError`'s message is fixed and free of content; the
command line prints it as one line, with its optional hint below.
"""


class DeskError(Exception):
    """Something the caseworker asked for cannot be done; the message says what and why."""

    hint: str | None = None

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint
