"""Length-hiding padding (docs/crypto.md, "Padding").

A report's size says a lot about it (a voice note, a long story, a screenshot), so every body is
padded before encryption: a 4-byte big-endian length prefix, the data, then zero bytes up to at
least :data:`MIN_PADDED_SIZE`, and beyond that up to a PADMÉ bucket (Nikitin et al., "Reducing
Metadata Leakage from Encrypted Files and Communication with PURBs", PETS 2019), which leaks
O(log log n) bits of the length and costs at most about 12 % of overhead.

Unpadding runs only on authenticated plaintext, so its precise checks are not an oracle; it still
raises the one :class:`~crypto.errors.OpenFailure`, because a well-formed sender never produces a
malformed block.
"""

from __future__ import annotations

from crypto.errors import OpenFailure

MIN_PADDED_SIZE = 4096
_LENGTH_BYTES = 4
MAX_UNPADDED_SIZE = 2**32 - 1 - _LENGTH_BYTES


def padded_size(length: int) -> int:
    """The size of the padded block for ``length`` bytes of content (prefix included).

    At least :data:`MIN_PADDED_SIZE`; above it, ``length + 4`` is rounded up so that only the
    top ``floor(log2(e)) + 1`` bits of its bit length ``e`` vary (PADMÉ).
    """
    if not 0 <= length <= MAX_UNPADDED_SIZE:
        raise ValueError("content too large to pad")
    needed = length + _LENGTH_BYTES
    if needed <= MIN_PADDED_SIZE:
        return MIN_PADDED_SIZE
    exponent = needed.bit_length() - 1  # floor(log2(needed))
    kept_bits = exponent.bit_length()  # floor(log2(exponent)) + 1
    mask = (1 << (exponent - kept_bits)) - 1
    return (needed + mask) & ~mask


def pad(data: bytes) -> bytes:
    """``data`` with its length prefix, zero-filled to :func:`padded_size`."""
    size = padded_size(len(data))
    block = len(data).to_bytes(_LENGTH_BYTES, "big") + data
    return block + bytes(size - len(block))


def unpad(block: bytes) -> bytes:
    """The content of a padded block; raises OpenFailure unless the block is exactly canonical.

    Canonical means: the prefix fits, every filler byte is zero and the block has the size
    :func:`pad` gives for that length, so there is exactly one padded form of any content.
    """
    if len(block) < MIN_PADDED_SIZE:
        raise OpenFailure
    length = int.from_bytes(block[:_LENGTH_BYTES], "big")
    end = _LENGTH_BYTES + length
    if end > len(block) or padded_size(length) != len(block):
        raise OpenFailure
    if block[end:].count(0) != len(block) - end:
        raise OpenFailure
    return block[_LENGTH_BYTES:end]
