"""What cleaning answers: a cleaned file with its notes, or a refusal the reporter can act on.

Every refusal and note is a module-level constant with a name, so the sandbox can send a name
across the process boundary and the parent maps it back to the constant (see
:mod:`handlers.evidence.sandbox`): nothing a worker sends is unpickled or shown verbatim.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from handlers.draft import AttachmentKind
from handlers.evidence.limits import MAX_PDF_PAGES
from handlers.i18n import N_, Notice, Refused

UNSUPPORTED = Refused(
    Notice(
        N_(
            "This kind of file cannot be added. Please send photos or screenshots (JPEG, PNG, "
            "WebP or HEIC), PDF documents, or voice notes."
        )
    )
)
UNREADABLE = Refused(
    Notice(N_("This file could not be read; it may be damaged. Please send it again."))
)
TOO_MANY_PIXELS = Refused(
    Notice(N_("This image is too large to process. Please send a smaller image or a screenshot."))
)
PASSWORD_PROTECTED = Refused(
    Notice(
        N_(
            "This PDF is protected by a password, so its hidden details cannot be removed. "
            "Please send a copy without a password."
        )
    )
)
TOO_MANY_PAGES = Refused(
    Notice(
        N_(
            "This PDF has too many pages to process (at most {limit}). Please send the pages "
            "that matter as a shorter PDF or as screenshots."
        ),
        {"limit": MAX_PDF_PAGES},
    )
)
NOT_CLEANED = Refused(
    Notice(
        N_(
            "This file could not be cleaned safely, so it was not added. Please send a "
            "screenshot of it instead."
        )
    )
)
BUSY = Refused(
    Notice(
        N_(
            "Many files are being processed right now. Your report is kept: please send this "
            "file again in a minute."
        )
    )
)

# Notes shown after "File added": what cleaning changed that the reporter should know.
PDF_PAGES_AS_IMAGES = Notice(
    N_(
        "Each page of the PDF is kept as a picture, so its text can no longer be searched or "
        "copied."
    )
)
FIRST_FRAME_ONLY = Notice(N_("Only the first picture of this animation was kept."))


# The media types an original can be recognised as, by its content (never by its name): the type
# sealed with the report beside the cleaned copy.
SOURCE_JPEG: Final = "image/jpeg"
SOURCE_PNG: Final = "image/png"
SOURCE_WEBP: Final = "image/webp"
SOURCE_HEIC: Final = "image/heic"
SOURCE_PDF: Final = "application/pdf"
SOURCE_OGG: Final = "audio/ogg"
SOURCE_TYPES: Final = frozenset(
    {SOURCE_JPEG, SOURCE_PNG, SOURCE_WEBP, SOURCE_HEIC, SOURCE_PDF, SOURCE_OGG}
)


@dataclass(frozen=True)
class CleanedEvidence:
    """A file ready for the draft: its kind, media type, a neutral file name and its bytes.

    The name is made up here (``evidence.jpg``): the sender's file name can identify them.
    ``notes`` say what cleaning changed that the reporter should know (pages became pictures).
    ``source_type`` is the media type the original was recognised as by its content, and
    ``changes`` what cleaning found and removed or changed, as codes of
    :data:`crypto.CLEANING_CHANGES`: both are sealed with the report for the caseworker
    (docs/crypto.md, "Original files").
    """

    kind: AttachmentKind
    media_type: str
    filename: str
    data: bytes
    notes: tuple[Notice, ...] = field(default=())
    source_type: str = ""  # every cleaner sets it; the sandbox protocol refuses an unset one
    changes: tuple[str, ...] = field(default=())


def too_big(max_bytes: int) -> Refused:
    """The refusal for a file over ``max_bytes`` (the limit is stated in megabytes)."""
    return Refused(
        Notice(
            N_("This file is too large. Maximum size: {limit} MB."),
            {"limit": max(1, max_bytes // 1_000_000)},
        )
    )


def check_size(size: int | None, max_bytes: int) -> Refused | None:
    """Refuse a size over the limit; ``None`` (unknown) passes and is checked after download."""
    if size is not None and size > max_bytes:
        return too_big(max_bytes)
    return None
