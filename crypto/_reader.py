"""Bounds-checked reading of Sanad's binary formats.

Every format module parses with a :class:`Reader` that raises that format's own error class on any
shortfall or leftover, so a truncated or padded input can never be half-read.
"""

from __future__ import annotations

from crypto.errors import CryptoError


class Reader:
    """A cursor over ``data``; each read past its end raises ``error(message)``."""

    def __init__(
        self, data: bytes, error: type[CryptoError], message: str, *, position: int = 0
    ) -> None:
        self._data = data
        self._error = error
        self._message = message
        self._pos = position

    @property
    def position(self) -> int:
        """How many bytes have been read (from the start of ``data``)."""
        return self._pos

    def fail(self) -> CryptoError:
        """The format's error with its fixed message, for the caller to raise."""
        return self._error(self._message)

    def take(self, size: int) -> bytes:
        if size > len(self._data) - self._pos:
            raise self.fail()
        chunk = self._data[self._pos : self._pos + size]
        self._pos += size
        return chunk

    def number(self, size: int) -> int:
        """A big-endian unsigned integer of ``size`` bytes."""
        return int.from_bytes(self.take(size), "big")

    def rest(self) -> bytes:
        """Everything not read yet (possibly nothing)."""
        chunk = self._data[self._pos :]
        self._pos = len(self._data)
        return chunk

    def end(self) -> None:
        """Refuse leftover bytes: every format has exactly one encoding of each value."""
        if self._pos != len(self._data):
            raise self.fail()
