"""Text from a file, made inert before a terminal shows it (DESIGN.md §4, inert output).

A sealed report's answers, its attachments' names and a key file's label come from someone else:
the reporter typed them, and a forged or damaged file could carry anything. A terminal obeys
what it prints: ESC sequences move the cursor, rewrite earlier lines (hiding a warning), set the
window title or, on some terminals, write files; bidi overrides make ``evil.exe`` read as
``exe.live``. So everything a caseworker-side command prints from a file goes through
:func:`inert` first.

The server's command line uses it too, for the paths it prints (a folder chosen by a caseworker
may hold a name that came out of a sealed file).
"""

from __future__ import annotations

import re

# C0 controls (tab and newline included: a caller that keeps lines splits on newlines first),
# DEL, C1 controls, and the bidi controls Unicode defines: embeddings and overrides
# (U+202A-U+202E), isolates (U+2066-U+2069), the implicit marks LRM/RLM (U+200E, U+200F) and
# the Arabic letter mark (U+061C); and the Unicode line and paragraph separators (U+2028,
# U+2029), which would break a one-line field into lines that look like the command's own.
_NOT_INERT = re.compile(
    "[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c\u2028\u2029]"
)


def inert(text: str) -> str:
    """``text`` with every control character and bidi control removed, so it cannot drive the
    terminal or reorder what is printed around it. The result holds no line break."""
    return _NOT_INERT.sub("", text)


def inert_lines(text: str) -> list[str]:
    """The lines of a multi-line ``text`` (an answer), each made :func:`inert`; at least one."""
    return [inert(line) for line in text.splitlines()] or [""]
