"""Write ``tests/vectors/wycheproof_low_order.json``: public keys Sanad must refuse, and a few it
must accept.

Run from the repository root: ``python tests/vectors/generate_unusable_keys.py``.

X25519: the public keys are copied from Project Wycheproof, C2SP/wycheproof,
``testvectors_v1/x25519_test.json`` (commit 085c118977b371141b626a7a1aff6fe86f6433bc), with their
test case ids: the 14 low-order keys of tcId 69-82 (every low-order u-coordinate, canonical or
not, that the file lists with one fixed private key), the non-canonical keys of tcId 87-99, and a
normal key, the RFC 7748 key and a key on the twist that must still be accepted.

Ed25519: Wycheproof's ``ed25519_test.json`` has no small-order or non-canonical public keys, so
they are derived here with plain integer arithmetic on edwards25519 (RFC 8032, section 5.1):
the eight points of order dividing 8, every non-canonical encoding of a point (y >= p, or x = 0
with the sign bit set), a point of mixed order (the base point plus a point of order 8) and
an encoding that is not on the curve. The accepted keys are RFC 8032's first test key and
Wycheproof's ``ed25519_test.json`` key.

Nothing here calls libsodium: the vectors check Sanad's use of it against independent values.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
OUTPUT = HERE / "wycheproof_low_order.json"

P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
D = -121665 * pow(121666, -1, P) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)

X25519_SOURCE = (
    "C2SP/wycheproof testvectors_v1/x25519_test.json "
    "(commit 085c118977b371141b626a7a1aff6fe86f6433bc)"
)
# (tcId, public key) as in the Wycheproof file.
X25519_LOW_ORDER = [
    (69, "0000000000000000000000000000000000000000000000000000000000000000"),
    (70, "0100000000000000000000000000000000000000000000000000000000000000"),
    (71, "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
    (72, "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157"),
    (73, "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
    (74, "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
    (75, "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
    (76, "0000000000000000000000000000000000000000000000000000000000000080"),
    (77, "0100000000000000000000000000000000000000000000000000000000000080"),
    (78, "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"),
    (79, "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f11d7"),
    (80, "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b880"),
    (81, "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"),
    (82, "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"),
]
X25519_NON_CANONICAL = [
    (87, "efffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
    (88, "f0ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
    (89, "f1ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
    (90, "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
    (91, "0200000000000000000000000000000000000000000000000000000000000080"),
    (92, "0300000000000000000000000000000000000000000000000000000000000080"),
    (93, "0400000000000000000000000000000000000000000000000000000000000080"),
    (94, "daffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"),
    (95, "dbffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"),
    (96, "dcffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"),
    (97, "eaffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"),
    (98, "ebffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"),
    (99, "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"),
]
X25519_OK = [
    (1, "504a36999f489cd2fdbc08baff3d88fa00569ba986cba22548ffde80f9806829", "normal case"),
    (100, "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c", "RFC 7748"),
    # A point on the twist is not low-order: X25519 is defined for it and nothing is leaked
    # (Wycheproof: "acceptable"). Sanad accepts it; no key Sanad makes is one.
    (2, "63aa40c6e38346c5caf23a6df0a5e6c80889a08647e551b3563449befcfc9733", "on the twist"),
]

ED25519_OK = [
    ("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "RFC 8032 test 1"),
    (
        "7d4d0e7f6153a69b6242b522abbee685fda4420f8834b108c3bdae369ef549fa",
        "C2SP/wycheproof testvectors_v1/ed25519_test.json, first group's key",
    ),
]

Point = tuple[int, int]


def _on_curve(x: int, y: int) -> bool:
    return (-x * x + y * y - 1 - D * x * x * y * y) % P == 0


def _x_from_y(y: int, sign: int) -> int | None:
    """RFC 8032 5.1.3: the x with this sign bit, or None when y is on no point."""
    u, v = (y * y - 1) % P, (D * y * y + 1) % P
    x = u * pow(v, 3, P) * pow(u * pow(v, 7, P), (P - 5) // 8, P) % P
    if (v * x * x - u) % P != 0:
        x = x * SQRT_M1 % P
    if (v * x * x - u) % P != 0:
        return None
    if x == 0 and sign:
        return None
    return P - x if x & 1 != sign else x


def _add(a: Point, b: Point) -> Point:
    (x1, y1), (x2, y2) = a, b
    t = D * x1 * x2 * y1 * y2 % P
    return (
        (x1 * y2 + y1 * x2) * pow(1 + t, -1, P) % P,
        (y1 * y2 + x1 * x2) * pow(1 - t, -1, P) % P,
    )


def _multiply(k: int, point: Point) -> Point:
    result = (0, 1)
    while k:
        if k & 1:
            result = _add(result, point)
        point, k = _add(point, point), k >> 1
    return result


def _encode(point: Point) -> str:
    x, y = point
    return (y | (x & 1) << 255).to_bytes(32, "little").hex()


def _order(point: Point) -> int:
    order, current = 1, point
    while current != (0, 1):
        current, order = _add(current, point), order + 1
    return order


def _ed25519_cases() -> list[dict[str, Any]]:
    base_y = 4 * pow(5, -1, P) % P
    base = (_x_from_y(base_y, 0) or 0, base_y)
    # Every point of order dividing 8 is L*Q for some point Q; walk small y until all 8 appear.
    torsion: set[Point] = set()
    y = 2
    while len(torsion) < 8:
        x = _x_from_y(y, 0)
        if x is not None:
            torsion.add(_multiply(L, (x, y)))
        y += 1
    cases: list[dict[str, Any]] = []
    for point in sorted(torsion, key=lambda q: (_order(q), _encode(q))):
        cases.append(
            {
                "public": _encode(point),
                "comment": f"point of order {_order(point)}",
                "expect": "low_order",
            }
        )
    # Non-canonical: y + p still fits in 255 bits only for y < 19; x = 0 with the sign bit set.
    for y in range(19):
        for sign in (0, 1):
            x = _x_from_y(y, sign)
            if x is None or not _on_curve(x, y):
                continue
            cases.append(
                {
                    "public": ((y + P) | sign << 255).to_bytes(32, "little").hex(),
                    "comment": f"y = {y} + p, sign {sign}",
                    "expect": "non_canonical",
                }
            )
    for point in sorted(torsion):
        if point[0] == 0:
            cases.append(
                {
                    "public": (point[1] | 1 << 255).to_bytes(32, "little").hex(),
                    "comment": f"x = 0 with the sign bit set (point of order {_order(point)})",
                    "expect": "non_canonical",
                }
            )
    order_8 = next(q for q in sorted(torsion) if _order(q) == 8)
    cases.append(
        {
            "public": _encode(_add(base, order_8)),
            "comment": "base point plus a point of order 8 (mixed order)",
            "expect": "mixed_order",
        }
    )
    off_curve = next(y for y in range(2, 100) if _x_from_y(y, 0) is None)
    cases.append(
        {
            "public": off_curve.to_bytes(32, "little").hex(),
            "comment": f"y = {off_curve}: no x makes it a point of the curve",
            "expect": "not_on_curve",
        }
    )
    cases.append({"public": _encode(base), "comment": "the base point", "expect": "ok"})
    for public, comment in ED25519_OK:
        cases.append({"public": public, "comment": comment, "expect": "ok"})
    return cases


def _x25519_cases() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = []
    for tc_id, public in X25519_LOW_ORDER:
        cases.append({"tcId": tc_id, "public": public, "expect": "low_order"})
    for tc_id, public in X25519_NON_CANONICAL:
        cases.append({"tcId": tc_id, "public": public, "expect": "non_canonical"})
    for tc_id, public, comment in X25519_OK:
        cases.append({"tcId": tc_id, "public": public, "comment": comment, "expect": "ok"})
    return cases


def main() -> None:
    vectors = {
        "source": {
            "x25519": (
                f"{X25519_SOURCE}: low-order public keys tcId 69-82 (flag LowOrderPublic), "
                "non-canonical public keys tcId 87-99 (flag NonCanonicalPublic), accepted keys "
                "tcId 1, 2 and 100"
            ),
            "ed25519": (
                "derived by tests/vectors/generate_unusable_keys.py with integer arithmetic on "
                "edwards25519 (RFC 8032 section 5.1): Wycheproof's ed25519_test.json has no "
                "small-order or non-canonical public keys. Accepted keys: RFC 8032 test 1 and "
                "C2SP/wycheproof testvectors_v1/ed25519_test.json"
            ),
        },
        "expect": {
            "ok": "accepted",
            "low_order": "refused: every shared secret or signature check involving it is void",
            "non_canonical": "refused: a second encoding of a key",
            "mixed_order": "refused: not in the prime-order subgroup",
            "not_on_curve": "refused: not a point",
        },
        "x25519": _x25519_cases(),
        "ed25519": _ed25519_cases(),
    }
    OUTPUT.write_text(json.dumps(vectors, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
