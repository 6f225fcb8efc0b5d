"""What a cleaning worker answers, and how the parent reads it without trusting it.

The worker writes one JSON line naming a refusal, or an output type, its notes, the type the
original was recognised as and what cleaning changed, followed (for a cleaned file) by the
cleaned bytes. Only names known here (and change codes of :data:`crypto.CLEANING_CHANGES`, each
once) are accepted; the parent rebuilds
the answer from its own constants, checks the bytes start as their type must, and bounds every
read — a subverted worker can make its own file fail, nothing more. Nothing is unpickled.
"""

from __future__ import annotations

import json
from typing import IO, Final

from handlers.draft import AttachmentKind
from handlers.evidence import results
from handlers.evidence.results import SOURCE_TYPES, CleanedEvidence, too_big
from handlers.i18n import Notice, Refused

HEADER_BYTES: Final = 1024

_REFUSALS: Final[dict[str, Refused]] = {
    "unsupported": results.UNSUPPORTED,
    "unreadable": results.UNREADABLE,
    "too_many_pixels": results.TOO_MANY_PIXELS,
    "password_protected": results.PASSWORD_PROTECTED,
    "too_many_pages": results.TOO_MANY_PAGES,
    "not_cleaned": results.NOT_CLEANED,
}
_TOO_BIG: Final = "too_big"  # made per call: the parent states its own limit
_NOTES: Final[dict[str, Notice]] = {
    "pdf_pages_as_images": results.PDF_PAGES_AS_IMAGES,
    "first_frame_only": results.FIRST_FRAME_ONLY,
}
# Output type → kind, media type, neutral file name, and the first bytes its data must have.
_OUTPUTS: Final[dict[str, tuple[AttachmentKind, str, str, bytes]]] = {
    "jpeg": (AttachmentKind.IMAGE, "image/jpeg", "evidence.jpg", b"\xff\xd8\xff"),
    "png": (AttachmentKind.IMAGE, "image/png", "evidence.png", b"\x89PNG\r\n\x1a\n"),
    "pdf": (AttachmentKind.PDF, "application/pdf", "evidence.pdf", b"%PDF-"),
    "ogg": (AttachmentKind.VOICE, "audio/ogg", "voice.ogg", b"OggS"),
}


class ProtocolError(Exception):
    """The worker's answer is not one this module wrote."""


def write_answer(result: CleanedEvidence | Refused, out: IO[bytes]) -> None:
    """Worker side: writes ``result`` to ``out`` (the worker's standard output)."""
    if isinstance(result, Refused):
        name = next((n for n, known in _REFUSALS.items() if result is known), None)
        if name is None:
            name = _TOO_BIG if result.notice.message == too_big(1).notice.message else "not_cleaned"
        out.write(json.dumps({"refused": name}).encode() + b"\n")
        return
    output = next(n for n, spec in _OUTPUTS.items() if spec[1] == result.media_type)
    notes = [n for n, note in _NOTES.items() if note in result.notes]
    header = {
        "output": output,
        "notes": notes,
        "source": result.source_type,
        "changes": list(result.changes),
    }
    out.write(json.dumps(header).encode() + b"\n")
    out.write(result.data)


def read_answer(stream: IO[bytes], *, max_bytes: int) -> CleanedEvidence | Refused:
    """Parent side: the result the worker wrote on ``stream``; raises :class:`ProtocolError`
    for anything else (unknown names, wrong first bytes, more than ``max_bytes``)."""
    try:
        header = json.loads(stream.readline(HEADER_BYTES))
        if "refused" in header:
            name = header["refused"]
            return too_big(max_bytes) if name == _TOO_BIG else _REFUSALS[name]
        kind, media_type, filename, magic = _OUTPUTS[header["output"]]
        notes = tuple(_NOTES[name] for name in header["notes"])
        source, changes = header["source"], tuple(header["changes"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ProtocolError from exc
    # Only known names, each once: these are sealed with the report and shown to a caseworker.
    # Imported here, in the bot: the worker, which only writes, starts faster without crypto.
    from crypto.originals import CLEANING_CHANGES

    if not all(isinstance(code, str) and code in CLEANING_CHANGES for code in changes):
        raise ProtocolError
    if (
        not isinstance(source, str)
        or source not in SOURCE_TYPES
        or len(set(changes)) < len(changes)
    ):
        raise ProtocolError
    data = stream.read(max_bytes + 1)
    if len(data) > max_bytes or not data.startswith(magic):
        raise ProtocolError
    return CleanedEvidence(kind, media_type, filename, data, notes, source, changes)
