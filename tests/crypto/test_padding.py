"""Padding (docs/crypto.md, "Padding"): canonical, length-hiding, unambiguous."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto.errors import OpenFailure
from crypto.padding import MIN_PADDED_SIZE, pad, padded_size, unpad


@settings(max_examples=50, deadline=None)
@given(st.binary(max_size=20_000))
def test_unpad_inverts_pad(data: bytes) -> None:
    assert unpad(pad(data)) == data


@settings(max_examples=50, deadline=None)
@given(st.integers(min_value=0, max_value=2**31))
def test_padded_size_is_bounded_and_monotonic(length: int) -> None:
    size = padded_size(length)
    assert size >= max(MIN_PADDED_SIZE, length + 4)
    # PADMÉ's bound: the overhead never exceeds 1/2**floor(log2(bit length)) (< 12 % here).
    assert size - (length + 4) <= max(MIN_PADDED_SIZE, (length + 4) // 8)
    assert padded_size(length + 1) >= size


def test_small_bodies_share_the_minimum_size() -> None:
    assert {len(pad(b"x" * n)) for n in (0, 1, 100, MIN_PADDED_SIZE - 4)} == {MIN_PADDED_SIZE}


def test_bucket_boundaries_follow_padme() -> None:
    # 4093 + 4 = 4097: bit length e = 12, keep floor(log2 12) + 1 = 4 bits, so round to 2**8.
    assert padded_size(MIN_PADDED_SIZE - 3) == 4096 + 256
    # 1 MiB exactly: already a bucket; one more byte goes to the next multiple of 2**15.
    assert padded_size(2**20 - 4) == 2**20
    assert padded_size(2**20 - 3) == 2**20 + 2**15


@pytest.mark.parametrize("octave", range(12, 26))
def test_each_doubling_of_length_has_at_most_32_sizes(octave: int) -> None:
    # PADMÉ leaks O(log log n) bits: below 4 GiB at most 2**5 sizes per power of two.
    low, high = 2**octave, 2 ** (octave + 1)
    step = max(1, (high - low) // 4000)
    assert len({padded_size(n) for n in range(low, high, step)}) <= 32


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(lambda b: b[:-1], id="truncated"),
        pytest.param(lambda b: b + b"\x00", id="extended"),
        pytest.param(lambda b: b[:-1] + b"\x01", id="nonzero-filler"),
        pytest.param(lambda b: (5000).to_bytes(4, "big") + b[4:], id="length-past-end"),
        pytest.param(lambda b: (0).to_bytes(4, "big") + b[4:], id="content-in-filler"),
        pytest.param(lambda b: b[:100], id="shorter-than-minimum"),
        pytest.param(lambda b: pad(b"") + bytes(256), id="non-canonical-size"),
    ],
)
def test_unpad_rejects_malformed_blocks(mutate: object) -> None:
    block = pad(b"hello")
    with pytest.raises(OpenFailure):
        unpad(mutate(block))  # type: ignore[operator]
