"""The names sealed report files travel under (docs/crypto.md, "Parts of a sealed report file").

The bot names each file it sends by these, and the caseworker's side finds a case's report file by
the same name; both sides import ``crypto`` and neither may import the other, so the one
definition lives here. Neutral on purpose: a case reference and a number, nothing else, so a
glance at an unlocked phone, or Telegram's own view of the chat, learns no date, language, kind
or content.
"""

from __future__ import annotations

_FILE_NAME = "case-{reference}-{sequence}.sanad"
_PART_FILE_NAME = "case-{reference}-{sequence}.part{number}of{count}.sanad"


def delivery_file_name(case_reference: str, sequence: int) -> str:
    """``case-K7Q4M2P-0.sanad``: the case reference and sequence number, nothing else."""
    return _FILE_NAME.format(reference=case_reference.replace("-", ""), sequence=sequence)


def part_file_name(case_reference: str, sequence: int, index: int, count: int) -> str:
    """``case-K7Q4M2P-0.part1of3.sanad`` for the first of three parts: parts are counted from 1,
    as people count them."""
    return _PART_FILE_NAME.format(
        reference=case_reference.replace("-", ""),
        sequence=sequence,
        number=index + 1,
        count=count,
    )
