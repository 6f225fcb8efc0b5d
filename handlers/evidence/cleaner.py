"""Recognise a file by its first bytes and hand it to the cleaner of its kind.

Never by the name or MIME type the sender claims. This runs inside a sandbox worker
(:mod:`handlers.evidence.sandbox`); calling it in the bot's own process gives up the memory,
CPU and time limits that make hostile files harmless.
"""

from __future__ import annotations

from handlers.evidence.images import clean_image
from handlers.evidence.ogg import MAGIC as OGG_MAGIC
from handlers.evidence.ogg import clean_ogg
from handlers.evidence.pdf import clean_pdf
from handlers.evidence.results import UNREADABLE, UNSUPPORTED, CleanedEvidence, too_big
from handlers.i18n import Refused

_JPEG = b"\xff\xd8\xff"
_PNG = b"\x89PNG\r\n\x1a\n"
_PDF = b"%PDF-"
# ISO base media brands of HEIC/HEIF still images (iPhone photos); AVIF is not among them.
_HEIF_BRANDS = frozenset({b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"})
# PDF readers look for the PDF header anywhere in the first kilobyte.
_PDF_WINDOW = 1024


def clean_evidence(data: bytes, *, max_bytes: int) -> CleanedEvidence | Refused:
    """Recognise ``data`` by content and return a cleaned copy, or the reason it is refused.

    Never raises for hostile input: parsers fed crafted bytes raise a wide range of exceptions,
    and each of them means the same thing to the reporter (the file could not be read).
    """
    if len(data) > max_bytes:
        return too_big(max_bytes)
    # A polyglot (an image that a PDF reader also opens, say) is refused rather than guessed:
    # which of its faces the sender meant, and which one hides something, is unknowable.
    if _PDF in data[1:_PDF_WINDOW]:
        return UNREADABLE
    if data.startswith(OGG_MAGIC):
        return clean_ogg(data)
    if data.startswith(_PDF):
        return clean_pdf(data, max_bytes=max_bytes)
    if data.startswith(_JPEG):
        return clean_image(data, "JPEG", max_bytes=max_bytes)
    if data.startswith(_PNG):
        return clean_image(data, "PNG", max_bytes=max_bytes)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return clean_image(data, "WEBP", max_bytes=max_bytes)
    if data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS:
        return clean_image(data, "HEIF", max_bytes=max_bytes)
    return UNSUPPORTED
