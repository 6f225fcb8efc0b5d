"""Bounds-checked reading of Sanad's binary formats.

Every format module parses with a :class:`Reader` that raises that format's own error class on any
shortfall or leftover, so a truncated or padded input can never be half-read.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from crypto.errors import CryptoError
from crypto.keys import MalformedKey

_Key = TypeVar("_Key")
_PUBLIC_KEY_BYTES = 32


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

    def view(self, size: int) -> memoryview:
        """The next ``size`` bytes without copying them (for chunks of tens of megabytes)."""
        if size > len(self._data) - self._pos:
            raise self.fail()
        chunk = memoryview(self._data)[self._pos : self._pos + size]
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

    def public_key(self, kind: Callable[[bytes], _Key]) -> _Key:
        """The next 32 bytes as a public key of ``kind`` (``X25519PublicKey``, ...).

        A key no honest key pair has (docs/crypto.md, "Keys") is this format's error, so a file
        naming one is refused where it is read, like any other damage.
        """
        raw = self.take(_PUBLIC_KEY_BYTES)
        try:
            return kind(raw)
        except MalformedKey as exc:
            raise self._error(
                f"{self._message}: a public key in it is not usable (low-order or non-canonical)"
            ) from exc

    def end(self) -> None:
        """Refuse leftover bytes: every format has exactly one encoding of each value."""
        if self._pos != len(self._data):
            raise self.fail()
