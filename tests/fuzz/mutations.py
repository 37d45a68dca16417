"""Hypothesis strategies that damage a valid file the way storage, transfer or a hostile
author would: truncation, bit flips, overwritten bytes, header fields set to boundary
values, inserted, deleted and repeated spans."""

from __future__ import annotations

from hypothesis import strategies as st

INTERESTING_32 = (0, 1, 2, 3, 5, 9, 10, 28, 34, 127, 128, 255, 256, 700, 1000, 10_000, 60_000,
                  0x7FFF, 0x8000, 0xFFFF, 0x10000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF)


@st.composite
def mutated(draw, base: bytes, fields: tuple[tuple[int, int], ...] = (),
            max_ops: int = 3) -> bytes:
    """``base`` after 1 to ``max_ops`` damaging operations. ``fields`` are ``(offset,
    size)`` of big-endian header integers worth setting to boundary values."""
    data = bytearray(base)
    kinds = ["truncate", "flip", "byte", "insert", "delete", "repeat"]
    if fields:
        kinds += ["field", "field"]
    for _ in range(draw(st.integers(1, max_ops))):
        kind = draw(st.sampled_from(kinds))
        n = len(data)
        if kind == "truncate":
            data = data[:draw(st.integers(0, max(n - 1, 0)))]
        elif kind == "flip" and n:
            pos = draw(st.integers(0, n - 1))
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif kind == "byte" and n:
            data[draw(st.integers(0, n - 1))] = draw(st.sampled_from(
                [0, 1, 0x7F, 0x80, 0xFF, draw(st.integers(0, 255))]))
        elif kind == "insert":
            pos = draw(st.integers(0, n))
            data[pos:pos] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "delete" and n:
            pos = draw(st.integers(0, n - 1))
            del data[pos:pos + draw(st.integers(1, 16))]
        elif kind == "repeat" and n:
            pos = draw(st.integers(0, n - 1))
            span = data[pos:pos + draw(st.integers(1, 64))]
            data[pos:pos] = span * draw(st.integers(1, 4))
        elif kind == "field":
            offset, size = draw(st.sampled_from(fields))
            if offset + size <= len(data):
                value = draw(st.one_of(st.sampled_from(INTERESTING_32),
                                       st.integers(0, 2 ** (8 * size) - 1)))
                data[offset:offset + size] = (value % 2 ** (8 * size)).to_bytes(size, "big")
    return bytes(data)
