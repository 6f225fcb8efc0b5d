"""A report too large for one upload reaches the desk as numbered parts (docs/crypto.md, "Parts
of a sealed report file"): dropped or saved into the inbox folder in any order, each part is
checked as it arrives (I9), held in memory until every part is there, and the joined file is
verified and opened as ``sanad caseworker open`` does. Until then the inbox lists it as waiting.

The desk runs as the real command; parts are cut and signed by a certified bot as the bot's
delivery does (:meth:`tests.desk.conftest.Caseworker.parts`).
"""

from __future__ import annotations

import os
import re

import pytest

from crypto import Attachment, AttachmentKind
from crypto.keys import Ed25519SigningKey, OrganisationKeys
from desk.casebook import FORGED, PARTS_DO_NOT_JOIN
from desk.opening import opening_key
from desk.parts import HeldParts, TooManyParts, Waiting
from tests.desk.conftest import PASSPHRASE, Browser, Caseworker, RunningDesk, page_text
from tests.support.signed_files import BotSigner

pytestmark = pytest.mark.slow

CASE = "K7Q-4M2P"
CANARY = "canary-parts-desk-91ad"
WAITING = {"en": "{held} of {count} parts", "fr": "{held} parties sur {count}",
           "ar": "{held} من {count} أجزاء"}  # fmt: skip


def _report(caseworker: Caseworker, reference: str = CASE, words: str = CANARY) -> bytes:
    proof = Attachment("proof.bin", "application/octet-stream", AttachmentKind.DOCUMENT,
                       os.urandom(12_000))  # fmt: skip
    return caseworker.sealed(
        reference, [("incident.type", "blackmail"), ("incident.description", words)], [proof]
    )


def _kept(desk: RunningDesk) -> list[bytes]:
    return [path.read_bytes() for path in (desk.data / "files").iterdir()]


def _section(page: str, name: str) -> str:
    """The inbox's section of class ``name``, or ""."""
    start = f'<section class="{name}">'
    return page.split(start)[1].split("</section>")[0] if start in page else ""


def _waiting(page: str) -> list[str]:
    """The inbox's waiting lines, as text."""
    lines = re.findall(r'<li class="waiting-file">(.*?)</li>', _section(page, "waiting"), re.S)
    return [page_text(line) for line in lines]


def _refusals(page: str) -> list[str]:
    return [page_text(reason) for reason in re.findall(r'<span class="reason">(.*?)</span>', page)]


def test_parts_dropped_in_any_order_wait_then_open_as_one_case(
    caseworker: Caseworker, desk: RunningDesk, signed_in: Browser
) -> None:
    whole = _report(caseworker)
    parts = caseworker.parts(whole, 3)

    assert signed_in.drop("case-K7Q4M2P-0.part3of3.sanad", parts[2]) == {
        "ok": True, "case": CASE, "waiting": True, "held": 1, "count": 3}  # fmt: skip
    # The same part again (a browser's "(1)" copy) counts once.
    assert signed_in.drop("case-K7Q4M2P-0.part3of3 (1).sanad", parts[2])["held"] == 1
    assert signed_in.drop("case-K7Q4M2P-0.part1of3.sanad", parts[0])["held"] == 2
    for language, words in WAITING.items():
        _, page = signed_in.get(f"/?lang={language}")
        assert _waiting(page) == [f"{CASE} #0: " + words.format(held=2, count=3)], language
        assert f'data-reference="{CASE}"' not in page
    assert _kept(desk) == []  # nothing of an incomplete file is written

    assert signed_in.drop("case-K7Q4M2P-0.part2of3.sanad", parts[1]) == {
        "ok": True, "case": CASE, "repeat": False}  # fmt: skip
    signed_in.get("/?lang=en")
    _, page = signed_in.get("/")
    assert f'data-reference="{CASE}"' in page
    assert _waiting(page) == []
    assert "Refused files" not in page
    _, page = signed_in.get(f"/case/{CASE}")
    assert CANARY in page
    # The desk keeps the joined file as the bot sealed it, once; a part given after is a repeat.
    assert _kept(desk) == [whole]
    assert signed_in.drop("late.sanad", parts[0]) == {"ok": True, "case": CASE, "repeat": True}
    assert _kept(desk) == [whole]
    assert CANARY not in desk.log.read_text()


def test_parts_saved_into_the_inbox_open_without_a_restart_and_outlast_the_lock(
    caseworker: Caseworker, desk: RunningDesk, signed_in: Browser
) -> None:
    parts = caseworker.parts(_report(caseworker), 2)
    caseworker.save_part(desk.inbox, CASE, parts, 1)
    _, page = signed_in.get("/")
    assert _waiting(page) == [f"{CASE} #0: 1 of 2 parts"]
    # Locking forgets what is held; a part in the inbox folder is read again on unlocking.
    signed_in.post("/lock")
    _, page = signed_in.post("/unlock", passphrase=PASSPHRASE)
    assert _waiting(page) == [f"{CASE} #0: 1 of 2 parts"]
    caseworker.save_part(desk.inbox, CASE, parts, 0)
    _, page = signed_in.get("/")
    assert f'data-reference="{CASE}"' in page
    assert _waiting(page) == []
    assert len(_kept(desk)) == 1


@pytest.mark.parametrize("forger", ["copied certificate", "other organisation", "no signature"])
def test_a_forged_part_is_refused_and_not_held(
    caseworker: Caseworker, desk: RunningDesk, signed_in: Browser, forger: str
) -> None:
    whole = _report(caseworker)
    parts = caseworker.parts(whole, 3)
    signers = {
        "copied certificate": BotSigner(Ed25519SigningKey.generate(), caseworker.bot.certificate),
        "other organisation": BotSigner.certified_by(OrganisationKeys.generate().signing),
        "no signature": caseworker.bot,
    }
    forged = caseworker.parts(_report(caseworker, words="forged words"), 3,
                              bot=signers[forger])[1]  # fmt: skip
    if forger == "no signature":
        forged = forged[:-64] + bytes(64)
    signed_in.drop("case-K7Q4M2P-0.part1of3.sanad", parts[0])
    result = signed_in.drop("case-K7Q4M2P-0.part2of3.sanad", forged)
    assert result["ok"] is False
    assert result["reason"] == FORGED
    assert str(result["detail"]).startswith("refused: ")
    _, page = signed_in.get("/")
    assert _refusals(page) == [FORGED]
    assert _waiting(page) == [f"{CASE} #0: 1 of 3 parts"]  # the forged part is not counted
    # The real parts still join: the forgery took no place of theirs.
    signed_in.drop("2.sanad", parts[1])
    assert signed_in.drop("3.sanad", parts[2]) == {"ok": True, "case": CASE, "repeat": False}
    assert _kept(desk) == [whole]


def test_parts_that_do_not_join_are_refused_with_the_reason(
    caseworker: Caseworker, desk: RunningDesk, signed_in: Browser
) -> None:
    mine = caseworker.parts(_report(caseworker), 3)
    # Another file under the same case and sequence: its parts name another whole file.
    other = caseworker.parts(_report(caseworker, words="another file"), 3)
    # The same part signed by the bot with other bytes: a duplicate that is not a repeat.
    changed = bytearray(mine[1][:-64])
    changed[len(changed) // 2] ^= 1
    twin = bytes(changed) + caseworker.bot.key.sign(bytes(changed))

    signed_in.drop("1.sanad", mine[0])
    signed_in.drop("2.sanad", mine[1])
    mixed = signed_in.drop("other-3.sanad", other[2])
    assert (mixed["ok"], mixed["reason"]) == (False, PARTS_DO_NOT_JOIN)
    assert "different files" in str(mixed["detail"])
    twice = signed_in.drop("2-again.sanad", twin)
    assert (twice["ok"], twice["reason"]) == (False, PARTS_DO_NOT_JOIN)
    assert "part 2 of 3 is given twice with different contents" in str(twice["detail"])
    _, page = signed_in.get("/?lang=fr")
    assert _waiting(page) == [f"{CASE} #0: 2 parties sur 3"]
    assert _refusals(page) == [
        "Une partie qui ne va pas avec les autres parties de son fichier."
    ] * 2
    assert _kept(desk) == []


def test_a_full_set_that_does_not_make_its_file_is_refused_and_let_go(
    caseworker: Caseworker, desk: RunningDesk, signed_in: Browser
) -> None:
    parts = caseworker.parts(_report(caseworker), 2)
    changed = bytearray(parts[1][:-64])
    changed[len(changed) // 2] ^= 1  # signed by the bot, but not the bytes of its file
    signed_in.drop("1.sanad", parts[0])
    result = signed_in.drop("2.sanad", bytes(changed) + caseworker.bot.key.sign(bytes(changed)))
    assert (result["ok"], result["reason"]) == (False, PARTS_DO_NOT_JOIN)
    assert "do not join into the file they name" in str(result["detail"])
    _, page = signed_in.get("/")
    assert _waiting(page) == []  # not left waiting for ever
    assert signed_in.drop("1.sanad", parts[0])["held"] == 1
    assert signed_in.drop("2.sanad", parts[1])["ok"] is True


def test_a_flood_of_bogus_parts_is_refused_and_listed_within_bounds(
    caseworker: Caseworker, desk: RunningDesk, signed_in: Browser
) -> None:
    bogus = caseworker.parts(_report(caseworker), 2, bot=BotSigner.certified_by(
        OrganisationKeys.generate().signing))[0]  # fmt: skip
    for number in range(150):
        assert signed_in.drop(f"flood-{number}.sanad", bogus)["ok"] is False
    _, page = signed_in.get("/")
    assert len(_refusals(page)) == 100
    assert "flood-149.sanad" in page  # the newest are shown
    assert "50 more refused files are not listed." in page
    assert _waiting(page) == []


def test_held_parts_are_capped_and_the_cap_is_said(caseworker: Caseworker) -> None:
    opening = opening_key(caseworker.key_file, None, caseworker_only=True)
    files = [caseworker.parts(_report(caseworker, f"AB{n}-CDEF"), 2) for n in range(3)]
    size = len(files[0][0])
    held = HeldParts(opening, kept=lambda digest: None, max_bytes=int(size * 2.5))
    assert held.add(files[0][0]) == Waiting("AB0-CDEF", 0, 1, 2)
    assert held.add(files[1][0]) == Waiting("AB1-CDEF", 0, 1, 2)
    with pytest.raises(TooManyParts):
        held.add(files[2][0])
    assert held.held_bytes <= int(size * 2.5)
    assert [(w.reference, w.held) for w in held.waiting()] == [("AB0-CDEF", 1), ("AB1-CDEF", 1)]
    # The last part of a file is taken even at the cap, and the joined file frees its room.
    assert isinstance(held.add(files[0][1]), bytes)
    assert held.held_bytes == len(files[1][0])
    assert held.add(files[2][0]) == Waiting("AB2-CDEF", 0, 1, 2)
