"""Sealed report files as caseworkers' chats show them: the neutral name and caption.

The forward job names and captions each file it sends (:mod:`bot.services.delivery`). The names
are defined in :mod:`crypto.file_names`, which the caseworker's side reads too (it finds a case's
report file by that name); the captions are the bot's own.
"""

from __future__ import annotations

from crypto.file_names import delivery_file_name, part_file_name

__all__ = ["delivery_caption", "delivery_file_name", "part_caption", "part_file_name"]

# The only words a caseworker's chat shows beside the file (STYLE.md: one place per module).
# Neutral on purpose: no date, language, kind or content, so a glance at an unlocked phone, or
# Telegram's own view of the chat, learns a case reference and a number and nothing else.
_CAPTION = "{reference} #{sequence}"
_PART_CAPTION = "{reference} #{sequence} (part {number}/{count})"


def delivery_caption(case_reference: str, sequence: int) -> str:
    """``K7Q-4M2P #0``: a repeat (I8) shows the same caption as the file it repeats."""
    return _CAPTION.format(reference=case_reference, sequence=sequence)


def part_caption(case_reference: str, sequence: int, index: int, count: int) -> str:
    """``K7Q-4M2P #0 (part 1/3)``: as neutral as a whole file's caption, plus which part."""
    return _PART_CAPTION.format(
        reference=case_reference, sequence=sequence, number=index + 1, count=count
    )
