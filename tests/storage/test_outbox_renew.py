"""Renewing a claim: a delivery sent in parts keeps its row for as long as its parts take, and
only while its worker still holds it (storage.outbox.renew_claim)."""

from __future__ import annotations

import datetime as dt

from storage.engine import Database
from storage.outbox import COARSE, claim_batch, mark_sent, renew_claim

from .conftest import NOW
from .helpers import pending_deliveries
from .test_outbox import LEASE

# A claim lapses at ``now + lease`` rounded up onto the delivery grid (I3).
LAPSE = COARSE.coarse(NOW + LEASE)


async def test_a_renewed_claim_is_not_taken_by_another_worker(db: Database) -> None:
    [delivery_id] = await pending_deliveries(db, 1)
    await claim_batch(db, worker="a", now=NOW, limit=1, lease=LEASE)
    later = LAPSE - dt.timedelta(seconds=1)
    assert await renew_claim(db, delivery_id, worker="a", now=later, lease=LEASE)
    # Past the first lapse, within the renewed one: still a's.
    assert await claim_batch(db, worker="b", now=LAPSE, limit=1, lease=LEASE) == []
    assert await mark_sent(db, delivery_id, worker="a", now=LAPSE)


async def test_a_claim_that_ran_out_or_is_held_by_another_is_not_renewed(db: Database) -> None:
    [delivery_id] = await pending_deliveries(db, 1)
    await claim_batch(db, worker="a", now=NOW, limit=1, lease=LEASE)
    assert not await renew_claim(db, delivery_id, worker="b", now=NOW, lease=LEASE)
    assert not await renew_claim(db, delivery_id, worker="a", now=LAPSE, lease=LEASE)
    await claim_batch(db, worker="b", now=LAPSE, limit=1, lease=LEASE)
    assert not await renew_claim(db, delivery_id, worker="a", now=LAPSE, lease=LEASE)
