"""An attacker's view of published statistics: which hidden cells the published numbers fix.

Written apart from the code under test, from statistics.json alone: for each hidden cell, every
value it could take in a table that agrees with everything published — a ``<5`` cell between 1
and 4, an ``x`` cell 0 or at least 5, every total as published — found by exhaustive search.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

SMALL = 5


def domain(shown: int | str, bound: int) -> list[int]:
    if shown == "<5":
        return [1, 2, 3, 4]
    if shown == "x":
        return [0, *range(SMALL, bound + 1)]
    raise AssertionError(f"not a hidden cell: {shown!r}")


def one_way_values(counts: Mapping[str, int | str], total: int) -> dict[str, set[int]]:
    """For each hidden category, the values consistent with the shown ones and the total."""
    hidden = [c for c, shown in counts.items() if isinstance(shown, str)]
    rest = total - sum(v for v in counts.values() if isinstance(v, int))
    found = {}
    for category in hidden:
        others = [c for c in hidden if c != category]
        sums = {0}
        for other in others:
            sums = {s + v for s in sums for v in domain(counts[other], total) if s + v <= rest}
        found[category] = {v for v in domain(counts[category], total) if rest - v in sums}
    return found


def cross_values(
    cells: Sequence[tuple[str, str, int | str]],
    row_totals: Mapping[str, int],
    column_totals: Mapping[str, int],
) -> dict[tuple[str, str], set[int]]:
    """For each hidden cell, the values (found by search) consistent with every total."""
    rows = dict(row_totals)
    columns = dict(column_totals)
    hidden = []
    for row, column, shown in cells:
        if isinstance(shown, int):
            rows[row] -= shown
            columns[column] -= shown
        else:
            hidden.append((row, column, shown))
    hidden.sort()
    last_in_column = {column: index for index, (_, column, _) in enumerate(hidden)}
    found: dict[tuple[str, str], set[int]] = {(r, c): set() for r, c, _ in hidden}

    def feasible(fixed: tuple[str, str], value: int) -> bool:
        remaining_rows, remaining_columns = dict(rows), dict(columns)

        def search(index: int) -> bool:
            if index == len(hidden):
                return all(v == 0 for v in remaining_rows.values()) and all(
                    v == 0 for v in remaining_columns.values()
                )
            row, column, shown = hidden[index]
            last_in_row = index + 1 == len(hidden) or hidden[index + 1][0] != row
            bound = min(remaining_rows[row], remaining_columns[column])
            choices = [value] if (row, column) == fixed else domain(shown, bound)
            if last_in_row:
                choices = [v for v in choices if v == remaining_rows[row]]
            for choice in choices:
                if choice > bound:
                    continue
                remaining_rows[row] -= choice
                remaining_columns[column] -= choice
                closes = last_in_column[column] == index
                if (not closes or remaining_columns[column] == 0) and search(index + 1):
                    return True
                remaining_rows[row] += choice
                remaining_columns[column] += choice
            return False

        return search(0)

    for row, column, shown in hidden:
        bound = min(row_totals[row], column_totals[column])
        for value in domain(shown, bound):
            if feasible((row, column), value):
                found[row, column].add(value)
                if len(found[row, column]) > 1:
                    break
    return found
