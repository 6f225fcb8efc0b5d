"""Small-cell suppression: no published number lets anyone learn a count between 1 and 4.

A count of 1 to 4 in a table of documented cases can point at a person ("the one report from
Jordan about a dating app"). Such a cell is shown as ``<5`` (primary suppression). Hiding it is
not enough when its total is published: a total minus the other cells gives it back. So more
cells are hidden (secondary suppression, shown as ``x``) until no hidden cell can be worked out
from what is published.

"Cannot be worked out" is checked, not hoped for. Published totals are linear equations over the
hidden cells; a hidden cell is protected when another table that agrees with everything
published, and with what a reader knows of each hidden cell (a ``<5`` cell is 1 to 4; an ``x``
cell 0 or at least 5, since only cells of 5 or more are chosen as ``x``), gives it a different
value. :class:`_Graph` looks for such a table (a cycle of one-step changes first, then a bounded
exhaustive search); extra cells are hidden, smallest first, until every hidden cell has one.

The tables of one export share their margins: the count by platform is the margin of every
platform cross-tabulation. So margins are settled once, in the one-way tables (one line whose
total, the number of reports, is published), and a cross-tabulation never breaks a category whose
own count is hidden: those categories are shown there only combined, as :data:`HIDDEN`, whose
total is published anyway (the number of reports minus the categories shown). Each
cross-tabulation's margins are then all known, its hidden cells appear in no other table, and its
check is its own.

Zeros are shown: that nobody reported something is not a person. Fewer than :data:`SMALL`
reports in all publish nothing (:class:`TooFewReports`).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from desk.advocacy.counts import PAIRS, Counts
from desk.advocacy.records import Dimension

SMALL = 5
PRIMARY = "<5"
COMPLEMENT = "x"
# The row (or column) of a cross-tabulation that combines every category whose count is hidden.
HIDDEN = "hidden_combined"

Key = tuple[str, str]


class TooFewReports(ValueError):
    """Fewer than 5 consented reports: no table can be published without pointing at them."""


@dataclass(frozen=True)
class Cell:
    """One published number: its true value (never exported when hidden) and what is shown."""

    value: int
    shown: str

    @property
    def hidden(self) -> bool:
        """Whether the value is hidden (``<5`` or ``x``)."""
        return self.shown in (PRIMARY, COMPLEMENT)


@dataclass(frozen=True)
class OneWayTable:
    """Counts by one dimension: each category's cell and the total (always shown);
    ``withheld`` when no safe pattern existed (then ``cells`` is empty)."""

    dimension: Dimension
    cells: dict[str, Cell]
    total: int
    withheld: bool = False


@dataclass(frozen=True)
class CrossTable:
    """Counts by two dimensions. ``row_totals`` and ``column_totals`` are the one-way tables'
    shown categories plus :data:`HIDDEN`; ``withheld`` when no safe pattern existed (then
    ``cells`` is empty)."""

    rows: Dimension
    columns: Dimension
    cells: dict[Key, Cell]
    row_totals: dict[str, int]
    column_totals: dict[str, int]
    total: int
    withheld: bool = False


@dataclass(frozen=True)
class Published:
    """Every table of an export, suppressed."""

    total: int
    one_way: dict[Dimension, OneWayTable]
    cross: dict[tuple[Dimension, Dimension], CrossTable]


def publish(counts: Counts) -> Published:
    """The suppressed tables of ``counts``; raises :class:`TooFewReports` below 5 reports."""
    if counts.total < SMALL:
        raise TooFewReports("fewer than 5 consented reports: no statistics can be published")
    one_way = {d: _one_way(d, counts.one_way[d], counts.total) for d in Dimension}
    cross = {pair: _cross(pair, counts, one_way) for pair in PAIRS}
    return Published(counts.total, one_way, cross)


def _shown(value: int, hidden: set[Key], key: Key) -> Cell:
    if key not in hidden:
        return Cell(value, str(value))
    return Cell(value, PRIMARY if 1 <= value < SMALL else COMPLEMENT)


def _one_way(dimension: Dimension, counter: Counter[str], total: int) -> OneWayTable:
    """Primary and secondary suppression on one line whose total is published."""
    values = {(category, ""): n for category, n in counter.items()}
    hidden = _suppress(values, {key: (_LINE, _FREE) for key in values})
    if hidden is None:
        return OneWayTable(dimension, {}, total, withheld=True)
    cells = {key[0]: _shown(n, hidden, key) for key, n in sorted(values.items())}
    return OneWayTable(dimension, cells, total)


def _cross(
    pair: tuple[Dimension, Dimension], counts: Counts, one_way: Mapping[Dimension, OneWayTable]
) -> CrossTable:
    first, second = pair
    row_of = _category_map(one_way[first])
    column_of = _category_map(one_way[second])
    values: Counter[Key] = Counter()
    for (x, y), n in counts.cross[pair].items():
        values[row_of(x), column_of(y)] += n
    row_totals: Counter[str] = Counter()
    column_totals: Counter[str] = Counter()
    for (row, column), n in values.items():
        row_totals[row] += n
        column_totals[column] += n
    hidden = _suppress(values, {key: (f"r:{key[0]}", f"c:{key[1]}") for key in values})
    cells = {} if hidden is None else {k: _shown(n, hidden, k) for k, n in sorted(values.items())}
    return CrossTable(
        first,
        second,
        cells,
        dict(row_totals),
        dict(column_totals),
        counts.total,
        withheld=hidden is None,
    )


def _category_map(table: OneWayTable) -> Callable[[str], str]:
    """Each category to itself, or to :data:`HIDDEN` when its own count is hidden."""
    hidden = {c for c, cell in table.cells.items() if cell.hidden}

    def category(value: str) -> str:
        return HIDDEN if table.withheld or value in hidden else value

    return category


_LINE = "line"
_FREE = "free"  # the end of a one-way cell that no published total constrains


def _suppress(values: Mapping[Key, int], ends: Mapping[Key, tuple[str, str]]) -> set[Key] | None:
    """The cells to hide: every 1–4, then extra cells of 5 or more — on a line of the exposed
    cell first, smallest first — until each hidden cell is protected (module docstring).

    ``ends`` gives each cell's two lines, row side first (``r:...``/``c:...``; for a one-way
    table the line and :data:`_FREE`). Returns None when no choice protects every cell.
    """
    hidden = {key for key, n in values.items() if 1 <= n < SMALL}
    candidates = sorted((n, key) for key, n in values.items() if n >= SMALL)
    graph = _Graph(values, ends)
    # Hiding more cells only adds ways to fill the table: a protected cell stays protected.
    safe: set[Key] = set()
    while True:
        exposed = None
        for key in sorted(hidden - safe):
            if not graph.protected(key, hidden):
                exposed = key
                break
            safe.add(key)
        if exposed is None:
            return hidden
        free = [(n, key) for n, key in candidates if key not in hidden]
        if not free:
            return None
        near = [(n, key) for n, key in free if graph.shares_line(key, exposed)] or free
        # The cheap test picks among candidates; the loop then checks with the full one.
        choice = next(
            (key for _, key in near if graph.cycle_through(exposed, hidden | {key})), near[0][1]
        )
        hidden.add(choice)


class _Graph:
    """Hidden cells on the lines whose totals are published, and the test of their protection.

    A hidden cell is protected when some assignment of every hidden cell — a ``<5`` cell 1 to 4,
    an ``x`` cell 0 or 5 and more — meets every published line total and gives that cell a value
    other than its own. Two ways to find one, the fast one first:

    * a cycle (:meth:`cycle_through`): raise the cell by one and offset it on each of its lines,
      so the changes alternate around a cycle of hidden cells, each staying in its range (an
      ``x`` cell kept at 5 or more: a narrower range than a reader allows, so a cycle found is a
      real alternative). Orienting each hidden cell row→column if it can rise and column→row if
      it can fall makes this a path search;
    * an exhaustive search (:meth:`_search`) that also lets an ``x`` cell drop to 0, within a
      budget of steps: past it the cell counts as unprotected, which only hides more.
    """

    _BUDGET = 5_000  # search steps per question: tables stay fast whatever their size

    def __init__(self, values: Mapping[Key, int], ends: Mapping[Key, tuple[str, str]]) -> None:
        self._values = values
        self._ends = ends

    def shares_line(self, a: Key, b: Key) -> bool:
        """Whether cells ``a`` and ``b`` lie on a common line."""
        return bool((set(self._ends[a]) & set(self._ends[b])) - {_FREE})

    def protected(self, key: Key, hidden: set[Key]) -> bool:
        """Whether a table agreeing with everything published gives ``key`` another value."""
        return self.cycle_through(key, hidden) or self._search(key, hidden)

    def cycle_through(self, key: Key, hidden: set[Key]) -> bool:
        """Whether a cycle of one-step changes through ``key`` keeps every total (class doc)."""
        row, column = self._ends[key]
        value = self._values[key]
        return (_can_rise(value) and self._path(column, row, key, hidden)) or (
            _can_fall(value) and self._path(row, column, key, hidden)
        )

    def _path(self, source: str, target: str, skip: Key, hidden: set[Key]) -> bool:
        """A directed path from ``source`` to ``target`` over the hidden cells but ``skip``."""
        arcs: dict[str, list[str]] = defaultdict(list)
        for cell in hidden - {skip}:
            row, column = self._ends[cell]
            if _can_rise(self._values[cell]):
                arcs[row].append(column)
            if _can_fall(self._values[cell]):
                arcs[column].append(row)
        seen, frontier = {source}, [source]
        while frontier:
            node = frontier.pop()
            if node == target:
                return True
            for following in arcs[node]:
                if following not in seen:
                    seen.add(following)
                    frontier.append(following)
        return False

    def _search(self, key: Key, hidden: set[Key]) -> bool:
        cells = sorted(hidden, key=lambda k: (self._ends[k], k))
        lacking: dict[str, int] = defaultdict(int)
        # The least the cells from each position on must still add to each line (<5 cells are
        # at least 1): a branch that leaves a line short of it is cut at once.
        floor: list[dict[str, int]] = [{} for _ in range(len(cells) + 1)]
        for index in range(len(cells) - 1, -1, -1):
            floor[index] = dict(floor[index + 1])
            if 1 <= self._values[cells[index]] < SMALL:
                for line in self._lines(cells[index]):
                    floor[index][line] = floor[index].get(line, 0) + 1
        for cell in cells:
            for line in self._lines(cell):
                lacking[line] += self._values[cell]
        last = {line: index for index, cell in enumerate(cells) for line in self._lines(cell)}

        steps = [self._BUDGET]

        def search(index: int) -> bool:
            steps[0] -= 1
            if steps[0] < 0:
                return False
            if index == len(cells):
                return all(v == 0 for v in lacking.values())
            cell = cells[index]
            lines = self._lines(cell)
            bound = min(lacking[line] for line in lines)
            if cell == key:
                options = [v for v in _domain(self._values[cell], bound) if v != self._values[cell]]
            else:
                options = _domain(self._values[cell], bound)
            closing = [line for line in lines if last[line] == index]
            if closing:  # a line's last hidden cell takes what the line still lacks
                options = [v for v in options if v == lacking[closing[0]]]
            for option in options:
                for line in lines:
                    lacking[line] -= option
                still = floor[index + 1]
                fits = all(lacking[line] >= still.get(line, 0) for line in lines)
                if fits and all(lacking[line] == 0 for line in closing) and search(index + 1):
                    return True
                for line in lines:
                    lacking[line] += option
            return False

        return search(0)

    def _lines(self, key: Key) -> tuple[str, ...]:
        return tuple(line for line in self._ends[key] if line != _FREE)


def _can_rise(value: int) -> bool:
    """Whether a hidden cell may be one more: a ``<5`` cell below 4, any ``x`` cell."""
    return value < SMALL - 1 or value >= SMALL


def _can_fall(value: int) -> bool:
    """Whether a hidden cell may be one less: a ``<5`` cell above 1, an ``x`` cell above 5."""
    return 1 < value < SMALL or value > SMALL


def _domain(value: int, bound: int) -> list[int]:
    """What a reader knows a hidden cell may be: 1 to 4 if shown ``<5``, else 0 or 5 and more."""
    if 1 <= value < SMALL:
        return [v for v in range(1, SMALL) if v <= bound]
    return [0, *range(SMALL, bound + 1)]
