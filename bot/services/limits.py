"""Defaults and bounds the services enforce and ``sanad ... --help`` shows.

Kept apart from the services themselves so that the command line can build its help texts
without loading the database layer (``sanad --help`` imports no SQLAlchemy).
"""

from __future__ import annotations

#: How long a caseworker's certificate is valid when ``sanad admin approve`` is not told.
DEFAULT_CERTIFICATE_DAYS = 365
#: Report parts re-wrapped per transaction by a recovery key rotation, unless told otherwise.
DEFAULT_BATCH_SIZE = 500
# Each batch binds two parameters per body in one statement; PostgreSQL allows 32767 in all.
MAX_BATCH_SIZE = 5000
