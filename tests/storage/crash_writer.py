"""Child process for the group-commit crash test: submits reports until it is killed.

    python -m tests.storage.crash_writer SQLITE_PATH CASEWORKER_ID

Sixteen tasks store reports concurrently through ``store_report``, as reporters do; each prints
the hex id of its report on a line of its own as soon as its call returns, which is the moment
the bot would show a receipt. The parent kills this process with SIGKILL at some point and then
expects every printed id in the database (I8).
"""

from __future__ import annotations

import asyncio
import secrets
import sys

from storage.engine import open_database
from storage.models import Language
from storage.reports import NewMailbox, store_report

from .conftest import NOW, TODAY

SUBMITTERS = 16


async def main(path: str, caseworker_id: int) -> None:
    db = open_database(f"sqlite:///{path}")

    async def submitter() -> None:
        while True:
            report_id = secrets.token_bytes(16)
            await store_report(
                db,
                report_id=report_id,
                language=Language.AR,
                body_sealed=secrets.token_bytes(4176),
                wraps={secrets.token_bytes(16): secrets.token_bytes(120) for _ in range(2)},
                mailbox=NewMailbox(secrets.token_bytes(32), secrets.token_bytes(32), 1),
                today=TODAY,
                assigned_caseworker_id=caseworker_id,
                deliver_not_before=NOW,
            )
            # Unbuffered write: the parent must see the id no later than a receipt would be shown.
            sys.stdout.write(report_id.hex() + "\n")
            sys.stdout.flush()

    await asyncio.gather(*(submitter() for _ in range(SUBMITTERS)))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
