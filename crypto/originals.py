"""What the bot received before it cleaned an evidence file (docs/crypto.md, "Original files").

The bot never keeps a reporter's original file (I1: its metadata can name them), so a lawyer or a
platform's trust-and-safety team could not tell that a cleaned screenshot is the one the reporter
sent. The bot therefore seals, beside every cleaned copy, an :class:`OriginalFile`: the SHA-256 of
the bytes exactly as it downloaded them, their size, the media type recognised from their
content, and the list of what cleaning removed or changed, as codes of :data:`CLEANING_CHANGES`.
Anyone who holds the original (the reporter's phone, a platform's copy) can hash it and compare.

The vocabulary lives here, in the one package both the bot (which writes the codes) and a
caseworker's computer (which explains them) may import. A code the reader does not know is shown
as it is: a newer bot may find more than an older desk can name.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from crypto.errors import CryptoError

SHA256_BYTES = 32
MAX_CHANGES = 32
MAX_CODE_CHARS = 64
MAX_MEDIA_TYPE_CHARS = 127
_CODE_RE = re.compile(r"[a-z0-9][a-z0-9_.-]*\Z")
_MEDIA_TYPE_RE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*\Z")

# What cleaning can find and remove, or change, in a file: code → what it means, for a caseworker.
# "removed.*" says the original carried it (so the reporter's copy still does); "changed.*" says
# what the cleaned copy does differently from the original.
CLEANING_CHANGES: dict[str, str] = {
    "removed.exif": "EXIF metadata (camera, settings, dates)",
    "removed.exif_gps": "a GPS location in the EXIF metadata",
    "removed.xmp": "XMP metadata",
    "removed.icc_profile": "an ICC colour profile (colours may look slightly different)",
    "removed.comment": "comments or text chunks",
    "removed.frames": "every frame of the animation after the first",
    "removed.trailing_data": "bytes hidden after the end of the file",
    "removed.pdf_info": "the PDF's document information (author, title, software, dates)",
    "removed.pdf_xmp": "the PDF's XMP metadata",
    "removed.pdf_attachments": "files attached inside the PDF",
    "removed.pdf_javascript": "JavaScript inside the PDF",
    "removed.pdf_signatures": "digital signatures of the PDF (check them on the original)",
    "removed.audio_tags": "the audio's tags and the name of the recording app",
    "removed.audio_picture": "a picture (cover art) inside the audio's tags",
    "changed.rotated": "turned upright as its EXIF orientation asked",
    "changed.reencoded": "re-encoded from its pixels: same picture, different bytes",
    "changed.pages_as_pictures": "each page became a picture; its text is no longer text",
    "changed.stream_rebuilt": "the audio packets were copied into a new stream, unchanged",
}


class MalformedOriginal(CryptoError):
    """This record of an original file breaks the report body's rules."""


def is_code(text: str) -> bool:
    """Whether ``text`` is a code of the report body: 1 to 64 of ``a-z 0-9 _ . -``, not starting
    with a symbol (answer keys and cleaning changes alike)."""
    return len(text) <= MAX_CODE_CHARS and _CODE_RE.match(text) is not None


def is_media_type(text: str) -> bool:
    """Whether ``text`` is a lower-case ``type/subtype`` of at most 127 characters."""
    return len(text) <= MAX_MEDIA_TYPE_CHARS and _MEDIA_TYPE_RE.match(text) is not None


def describe_change(code: str) -> str:
    """What ``code`` means in words, or the code itself when this version does not know it."""
    return CLEANING_CHANGES.get(code, code)


@dataclass(frozen=True)
class OriginalFile:
    """The file as the bot received it: SHA-256, size in bytes, media type, cleaning changes.

    ``changes`` are codes (:data:`CLEANING_CHANGES`), in the order cleaning reported them, each
    once. Raises :class:`MalformedOriginal` for a field out of the format's bounds.
    """

    sha256: bytes
    size: int
    media_type: str
    changes: tuple[str, ...] = ()

    def __init__(
        self, sha256: bytes, size: int, media_type: str, changes: Sequence[str] = ()
    ) -> None:
        object.__setattr__(self, "sha256", bytes(sha256))
        object.__setattr__(self, "size", size)
        object.__setattr__(self, "media_type", media_type)
        object.__setattr__(self, "changes", tuple(changes))
        if len(self.sha256) != SHA256_BYTES:
            raise MalformedOriginal("an original file's SHA-256 must be 32 bytes")
        if not 0 <= size < 1 << 64:
            raise MalformedOriginal("an original file's size must fit in 64 bits")
        if not is_media_type(media_type):
            raise MalformedOriginal("an original file's media type must look like 'type/subtype'")
        if len(self.changes) > MAX_CHANGES or len(set(self.changes)) != len(self.changes):
            raise MalformedOriginal("an original file lists at most 32 distinct changes")
        if not all(is_code(code) for code in self.changes):
            raise MalformedOriginal("a cleaning change must be 1 to 64 of a-z, 0-9, _ . -")

    @property
    def sha256_hex(self) -> str:
        """The SHA-256 as 64 lower-case hex digits, as ``sha256sum`` prints it."""
        return self.sha256.hex()
