"""Errors raised by ``storage/``; their messages are fixed and never quote SQL or values.

``storage`` does not import ``bot`` (DESIGN.md §3), so its root is its own ``StorageError``; the
command line translates it into a one-line message. Driver exceptions are translated at this
boundary with ``raise ... from exc`` because their text carries statements and bound values.
"""


class StorageError(Exception):
    """The database could not be used as asked; ``hint`` is an optional next step for a person."""

    hint: str | None = None

    def __init__(self, *args: object, hint: str | None = None) -> None:
        super().__init__(*args)
        self.hint = hint


class UnsupportedDatabase(StorageError):
    """The database URL names a backend Sanad does not support (use sqlite or postgresql)."""


class DatabaseUnavailable(StorageError):
    """The database could not be opened or reached."""
