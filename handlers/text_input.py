"""Hygiene for what a reporter types: normalise, strip or refuse hostile Unicode, bound length.

Text reaches a caseworker's screen and, through advocacy, possibly print, so what we keep must be
what the reporter saw. Each class of hostile character gets one named treatment:

* **Refused** — bidi *overrides* (U+202D LRO, U+202E RLO). They reorder how characters are
  displayed, so the text the reporter read is not the text we would store (the "Trojan Source"
  trick). Removing them silently would change the meaning; we ask the reporter to type it again.
* **Removed, with an explanation** — bidi embeddings and isolates (U+202A–U+202C,
  U+2066–U+2069), marks (U+200E, U+200F, U+061C), zero-width characters (U+200B–U+200D, U+2060,
  U+FEFF), every other format (Cf) and control (Cc) character but newline and tab, lone surrogates
  and private-use code points. None of them carries meaning a caseworker needs, and each can hide
  or disguise text; the reporter is told that invisible characters were removed.

Length is counted in code points after cleaning, against the configured ``max_text_chars``; an
over-long text is refused with the limit stated, never truncated (a cut statement can mislead).
Links are extracted and validated here too: only ``http``/``https`` with a host, at most
:data:`MAX_LINK_CHARS` long.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import urlsplit

from handlers.i18n import N_, Notice, Refused

# Trojan Source (CVE-2021-42574): these reorder the display of the characters that follow.
_BIDI_OVERRIDES = frozenset({"\u202d", "\u202e"})
_KEPT_CONTROLS = frozenset({"\n", "\t"})
# Categories removed outright: control, format (this includes zero-width joiners, so an emoji
# family falls apart into its members: meaning kept, glyph lost), lone surrogates (they cannot be
# encoded) and private use. Unassigned code points (Cn) are kept: emoji newer than this Python's
# Unicode tables are unassigned to it.
_REMOVED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co"})

MAX_LINK_CHARS = 1024
MAX_LINKS = 10
_URL_PATTERN = re.compile(r"\S+")


@dataclass(frozen=True)
class CleanText:
    """Text that is safe to keep: NFC, no hostile characters, within the limit.

    ``notice`` is set when characters were removed, so the flow can tell the reporter.
    """

    text: str
    notice: Notice | None = None


def too_long(limit: int, length: int) -> Refused:
    """The refusal of a text of ``length`` characters where at most ``limit`` are kept."""
    return Refused(
        Notice(
            N_(
                "That message is too long. Maximum length: {limit} characters. Length of "
                "your message: {length}. Please shorten it."
            ),
            {"limit": limit, "length": length},
        )
    )


def clean_text(raw: str, *, max_chars: int) -> CleanText | Refused:
    """Normalise ``raw`` to NFC and apply the treatments named in the module docstring.

    Returns :class:`Refused` for bidi overrides, text that is empty after cleaning, or text longer
    than ``max_chars`` code points; otherwise :class:`CleanText`.
    """
    if any(ch in _BIDI_OVERRIDES for ch in raw):
        return Refused(
            Notice(
                N_(
                    "Your message contains invisible characters that reverse the direction of "
                    "text, so what you see is not what we would keep. Please type it again "
                    "instead of pasting it."
                )
            )
        )
    normalised = unicodedata.normalize("NFC", raw.replace("\r\n", "\n").replace("\r", "\n"))
    kept = "".join(
        ch
        for ch in normalised
        if ch in _KEPT_CONTROLS or unicodedata.category(ch) not in _REMOVED_CATEGORIES
    )
    removed = len(normalised) - len(kept)
    kept = kept.strip()
    if not kept:
        return Refused(Notice(N_("That message has no text we can keep. Please write it again.")))
    if len(kept) > max_chars:
        return too_long(max_chars, len(kept))
    if removed:
        return CleanText(
            kept,
            Notice(
                N_(
                    "Some invisible characters (such as direction marks or zero-width spaces) "
                    "were removed from your message. The rest was kept as you wrote it."
                )
            ),
        )
    return CleanText(kept)


@dataclass(frozen=True)
class Links:
    """The outcome of reading a message of links: the valid ones, and how many were refused."""

    valid: tuple[str, ...]
    refused: int


def is_acceptable_link(candidate: str) -> bool:
    """True for an ``http``/``https`` URL with a host, no credentials, within the length limit.

    Other schemes (``javascript:``, ``file:``, ``tg:``, ``data:``) are refused: a caseworker may
    click the link, and only web pages are evidence here.
    """
    if len(candidate) > MAX_LINK_CHARS:
        return False
    try:
        parts = urlsplit(candidate)
        host = parts.hostname
        _ = parts.port  # raises ValueError for a malformed port
    except ValueError:
        return False
    return (
        parts.scheme in {"http", "https"}
        and bool(host)
        and parts.username is None
        and parts.password is None
    )


def extract_links(text: str) -> Links:
    """Split already-cleaned ``text`` on white space and keep each acceptable link.

    Bare domains (``example.org/page``) are read as ``https://``; anything else that is not an
    acceptable link is counted as refused.
    """
    valid: list[str] = []
    refused = 0
    for token in _URL_PATTERN.findall(text):
        candidate = token.rstrip(".,;)»")
        if "://" not in candidate and "." in candidate.split("/", 1)[0] and ":" not in candidate:
            candidate = "https://" + candidate
        if is_acceptable_link(candidate) and candidate not in valid:
            valid.append(candidate)
        else:
            refused += 1
    return Links(tuple(valid), refused)
