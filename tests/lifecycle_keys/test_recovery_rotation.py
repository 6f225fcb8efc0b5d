"""Recovery key rotation on SQLite and PostgreSQL: every body moves to the new key, batch by
batch, with exactly one recovery wrap per body at every commit, and resumes after a stop."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from bot.services import key_lifecycle as lifecycle
from crypto.keys import OrganisationKeys, X25519SecretKey
from storage.engine import Database
from storage.models import Wrap as WrapRow

from .conftest import TODAY, Part, opens, recovery_wraps_per_body, store_case, wraps_under


class Stop(Exception):
    """Raised from the progress callback to stop a rotation between two batches."""


async def _cases(db: Database, org: OrganisationKeys, count: int) -> list[Part]:
    parts: list[Part] = []
    for _ in range(count):
        parts += (await store_case(db, [org.recovery.public_key], addenda=1))[1]
    return parts


async def test_after_rotation_only_the_new_recovery_key_opens_anything(
    db: Database, org: OrganisationKeys
) -> None:
    parts = await _cases(db, org, 5)
    new = X25519SecretKey.generate()
    seen: list[int] = []

    result = await lifecycle.rotate_recovery(
        db,
        old_key=org.recovery,
        new_public=new.public_key,
        today=TODAY,
        batch_size=3,
        on_batch=lambda batch: seen.append(batch.rewrapped),
    )

    assert result.rewrapped == len(parts) == 10
    assert result.complete
    assert seen == [3, 3, 3, 1]
    for part in parts:
        assert await opens(db, part, new)
        assert not await opens(db, part, org.recovery)
    assert await wraps_under(db, org.recovery.public_key) == 0
    async with db.sessionmaker() as session:
        assert await lifecycle.unwrapped_for_recovery(session, new.public_key) == 0
        assert await lifecycle.unwrapped_for_recovery(session, org.recovery.public_key) == 10


async def test_interrupted_rotation_never_leaves_a_body_without_a_recovery_wrap_and_resumes(
    db: Database, org: OrganisationKeys
) -> None:
    parts = await _cases(db, org, 6)
    new = X25519SecretKey.generate()
    batches = 0

    def stop_after_two(_batch: lifecycle.RecoveryRotation) -> None:
        nonlocal batches
        batches += 1
        if batches == 2:
            raise Stop

    with pytest.raises(Stop):
        await lifecycle.rotate_recovery(
            db,
            old_key=org.recovery,
            new_public=new.public_key,
            today=TODAY,
            batch_size=4,
            on_batch=stop_after_two,
        )
    keys = [org.recovery.public_key, new.public_key]
    assert sorted(await recovery_wraps_per_body(db, keys)) == [1] * 12
    assert await wraps_under(db, new.public_key) == 8
    with pytest.raises(lifecycle.RecoveryRotationUnfinished, match="rotation is unfinished") as err:
        await lifecycle.check_recovery_wraps(db, new.public_key)
    assert err.value.hint is not None
    assert "sanad admin rotate-recovery" in err.value.hint

    resumed = await lifecycle.rotate_recovery(
        db, old_key=org.recovery, new_public=new.public_key, today=TODAY, batch_size=4
    )

    assert (resumed.rewrapped, resumed.already_new) == (4, 8)
    for part in parts:
        assert await opens(db, part, new)
    assert await wraps_under(db, org.recovery.public_key) == 0
    await lifecycle.check_recovery_wraps(db, new.public_key)


async def test_a_body_whose_old_wrap_does_not_open_keeps_it_and_is_counted(
    db: Database, org: OrganisationKeys
) -> None:
    parts = await _cases(db, org, 2)
    stranger = X25519SecretKey.generate()
    # A wrap under the old key id that this key cannot open (damaged, or planted).
    foreign = (await store_case(db, [stranger.public_key]))[1][0]
    async with db.sessionmaker() as session, session.begin():
        await session.execute(
            update(WrapRow)
            .where(WrapRow.report_id == foreign.report_id)
            .values(recipient_key_id=org.recovery.public_key.key_id)
        )
    new = X25519SecretKey.generate()
    result = await lifecycle.rotate_recovery(
        db, old_key=org.recovery, new_public=new.public_key, today=TODAY
    )
    assert (result.rewrapped, result.unopened, result.complete) == (4, 1, False)
    assert await wraps_under(db, org.recovery.public_key) == 1
    for part in parts:
        assert await opens(db, part, new)


async def test_rotation_refuses_the_same_key_as_old_and_new(
    db: Database, org: OrganisationKeys
) -> None:
    with pytest.raises(ValueError, match="same key"):
        await lifecycle.rotate_recovery(
            db, old_key=org.recovery, new_public=org.recovery.public_key, today=TODAY
        )


async def test_after_a_finished_rotation_the_old_configuration_is_told_to_paste_the_new_line(
    db: Database, org: OrganisationKeys
) -> None:
    await _cases(db, org, 2)
    new = X25519SecretKey.generate()
    await lifecycle.rotate_recovery(
        db, old_key=org.recovery, new_public=new.public_key, today=TODAY
    )

    with pytest.raises(lifecycle.RecoveryKeyNotPasted) as err:
        await lifecycle.check_recovery_wraps(db, org.recovery.public_key)
    assert "unfinished" not in str(err.value)
    assert err.value.hint is not None
    assert "paste the new recovery key line" in err.value.hint
    await lifecycle.check_recovery_wraps(db, new.public_key)  # pasted: the bot starts
