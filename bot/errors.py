"""The root of Sanad's own errors outside ``crypto/``.

Every error a person may see derives from :class:`SanadError` (or is a ``crypto.CryptoError``,
whose package cannot import this one); its message is fixed and free of content and identifiers,
and the CLI prints it as one line.
"""


class SanadError(Exception):
    """Something Sanad was asked to do cannot be done; the message says what and why."""

    hint: str | None = None

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint
