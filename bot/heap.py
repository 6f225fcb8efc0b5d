"""The bot's Python heap, settled once start-up is done.

Python's cyclic garbage collector looks at its oldest generation only once the objects that
survived into it since the last full collection number a quarter of those it held then, and a
full collection walks all of it. After start-up that generation holds python-telegram-bot,
SQLAlchemy, Babel's CLDR data and the rest: some 145,000 objects that live as long as the
process, walked again by every full collection for nothing.

:func:`settle_heap`, called by ``sanad run`` once the application is built (never by the tests'
in-process applications), collects once and freezes what is left (:func:`gc.freeze`): the
start-up heap moves to the permanent generation, which collections skip. Measured in the soak,
the collector's CPU fell by a third (docs/RELIABILITY.md, "Memory"). Frozen objects are still
freed by reference counting; only a reference cycle among them would stay, and start-up leaves
none that matters once it is over.
"""

from __future__ import annotations

import gc


def settle_heap() -> None:
    """Collect what start-up left, then keep the start-up heap out of later collections."""
    gc.collect()
    gc.freeze()
