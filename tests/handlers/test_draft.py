"""The draft: bounded in memory, wiped on demand, never shown in a repr."""

from __future__ import annotations

import sys
from typing import Any

from handlers.draft import MAX_TRACKED_MESSAGES, AttachmentKind, Draft, DraftAttachment
from handlers.text_input import MAX_LINK_CHARS, MAX_LINKS

MAX_TEXT_CHARS = 4096


def deep_size(obj: Any, seen: set[int] | None = None) -> int:
    """Bytes held by ``obj`` and everything it references (interned small objects included)."""
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return 0
    seen.add(id(obj))
    size = sys.getsizeof(obj)
    if isinstance(obj, dict):
        size += sum(deep_size(k, seen) + deep_size(v, seen) for k, v in obj.items())
    elif isinstance(obj, list | tuple | set | frozenset):
        size += sum(deep_size(item, seen) for item in obj)
    elif hasattr(obj, "__dict__"):
        size += deep_size(vars(obj), seen)
    return size


def full_draft() -> Draft:
    draft = Draft(
        language="ar",
        in_danger=True,
        incident_type="blackmail",
        platform="facebook",
        country="EG",
        year="2026",
        month=3,
        wants_reply=True,
        advocacy_consent=False,
        platform_response="not_against_rules",
    )
    # Worst case for CPython: a code point outside the BMP costs 4 bytes.
    draft.what_happened = "\U0001f600" * MAX_TEXT_CHARS
    draft.links = [
        f"https://example.org/{i}/" + "a" * (MAX_LINK_CHARS - 30) for i in range(MAX_LINKS)
    ]
    for message_id in range(MAX_TRACKED_MESSAGES):
        draft.remember(10_000_000 + message_id)
    return draft


def test_full_draft_without_attachments_stays_under_50_kib() -> None:
    assert deep_size(full_draft()) <= 50 * 1024


def test_wipe_forgets_answers_zeroes_attachments_and_drops_message_ids() -> None:
    draft = full_draft()
    buffer = bytearray(b"CanarySecretPhoto")
    draft.attachments.append(DraftAttachment(AttachmentKind.IMAGE, "image/jpeg", "e.jpg", buffer))
    view = memoryview(buffer)  # sees the same memory the attachment held, and pins it
    draft.wipe()
    assert bytes(view) == bytes(len(b"CanarySecretPhoto"))
    assert draft.what_happened is None
    assert draft.links == []
    assert draft.attachments == []
    assert draft.incident_type is None
    assert draft.country is None
    assert draft.year is None
    assert draft.message_count == 0
    view.release()


def test_repr_shows_shape_not_content() -> None:
    draft = Draft(what_happened="CanaryStatement", links=["https://canary.example/"])
    draft.remember(123456789)
    text = repr(draft)
    assert "Canary" not in text
    assert "canary" not in text
    assert "123456789" not in text


def test_remember_reports_full_and_take_empties_in_order() -> None:
    draft = Draft()
    results = [draft.remember(i) for i in range(MAX_TRACKED_MESSAGES)]
    assert results[-1] is True
    assert not any(results[:-1])
    draft.remember(5)  # already recorded: not counted twice
    assert draft.take_messages() == list(range(MAX_TRACKED_MESSAGES))
    assert draft.message_count == 0
