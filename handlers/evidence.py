"""Evidence files: recognised by content, cleaned of metadata, held in memory only.

A screenshot or photo can carry the reporter's location (EXIF GPS), their phone model, the editing
app, a thumbnail of the uncropped original; a PDF can carry its author's name and XMP history. If
a report leaks, that metadata identifies the reporter (DESIGN.md §2). So every file is:

* downloaded into memory (bytes, never a temporary file — I1) by the flow, which checks the size
  Telegram claims before downloading and the real size after;
* recognised by its first bytes, never by the name or MIME type the sender claims;
* images (JPEG, PNG, WebP): opened with Pillow behind a pixel limit (decompression bombs are
  refused, the warning as well as the error), rotated upright from the EXIF orientation, then
  re-encoded from the raw pixels into a fresh image — so EXIF (with GPS), XMP, ICC profiles,
  comments, text chunks and embedded thumbnails cannot survive, because nothing of the original
  container is copied. JPEG stays JPEG; PNG and WebP become PNG (lossless, screenshots stay
  legible). Only the first frame of an animation is kept. Dropping the ICC profile can shift wide
  gamut colours slightly; the content is unchanged.
* PDFs: opened with pikepdf (password-protected ones are refused: we could not clean them); the
  document information dictionary, every XMP ``/Metadata`` stream, JavaScript, open actions and
  embedded files are removed, and the file is rewritten so unreferenced objects are dropped;
* voice notes: Ogg (``OggS``) kept exactly as sent — Telegram's own voice notes carry no metadata
  beyond the audio, and re-encoding would cost fidelity for no privacy gain;
* anything else is refused.

:func:`clean_evidence` is CPU-bound and synchronous; the flow runs it in a worker thread
(``asyncio.to_thread``) so one reporter's PDF never stalls other reporters.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import pikepdf
from PIL import Image, ImageOps

from handlers.draft import AttachmentKind
from handlers.i18n import N_, Notice, Refused

# 36 megapixels: above any phone camera's photo Telegram forwards, and at most ~140 MB of RGBA
# while decoding. Pillow warns above this and raises at twice it; both are refusals here.
MAX_IMAGE_PIXELS = 36_000_000
Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS

JPEG_QUALITY = 92

_JPEG = b"\xff\xd8\xff"
_PNG = b"\x89PNG\r\n\x1a\n"
_PDF = b"%PDF-"
_OGG = b"OggS"

# Root- and Names-level entries that run code or carry files inside a PDF.
_PDF_ROOT_ACTIVE = ("/OpenAction", "/AA", "/Metadata")
_PDF_NAMES_ACTIVE = ("/JavaScript", "/EmbeddedFiles")

UNSUPPORTED = Refused(
    Notice(
        N_(
            "This kind of file cannot be added. Please send photos or screenshots (JPEG, PNG or "
            "WebP), PDF documents, or voice notes."
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


@dataclass(frozen=True)
class CleanedEvidence:
    """A file ready for the draft: its kind, media type, a neutral file name and its bytes.

    The name is made up here (``evidence.jpg``): the sender's file name can identify them.
    """

    kind: AttachmentKind
    media_type: str
    filename: str
    data: bytes


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


def clean_evidence(data: bytes, *, max_bytes: int) -> CleanedEvidence | Refused:
    """Recognise ``data`` by content and return a cleaned copy, or the reason it is refused.

    Never raises for hostile input: parsers fed crafted bytes raise a wide range of exceptions,
    and each of them means the same thing to the reporter (the file could not be read).
    """
    if len(data) > max_bytes:
        return too_big(max_bytes)
    if data.startswith(_OGG):
        return CleanedEvidence(AttachmentKind.VOICE, "audio/ogg", "voice.ogg", data)
    if data.startswith(_PDF):
        return _clean_pdf(data)
    if data.startswith(_JPEG):
        return _clean_image(data, "JPEG")
    if data.startswith(_PNG):
        return _clean_image(data, "PNG")
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _clean_image(data, "WEBP")
    return UNSUPPORTED


def _clean_image(data: bytes, image_format: str) -> CleanedEvidence | Refused:
    try:
        # Not thread-safe in Python 3.11 (the filter list is global), hence the explicit pixel
        # check below, which refuses the same images whatever the warning filter says.
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[image_format]) as original:
                if original.width * original.height > MAX_IMAGE_PIXELS:
                    return TOO_MANY_PIXELS
                upright = ImageOps.exif_transpose(original)
        has_alpha = upright.mode in {"RGBA", "LA", "PA"} or "transparency" in upright.info
        mode = "RGBA" if has_alpha else "RGB"
        pixels = upright.convert(mode)
        # A fresh image made from raw pixels carries no ``info``: no EXIF, XMP, ICC or text.
        fresh = Image.frombytes(mode, pixels.size, pixels.tobytes())
        output = io.BytesIO()
        if image_format == "JPEG" and not has_alpha:
            fresh.save(output, format="JPEG", quality=JPEG_QUALITY)
            return CleanedEvidence(
                AttachmentKind.IMAGE, "image/jpeg", "evidence.jpg", output.getvalue()
            )
        fresh.save(output, format="PNG")
        return CleanedEvidence(AttachmentKind.IMAGE, "image/png", "evidence.png", output.getvalue())
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return TOO_MANY_PIXELS
    except Exception:  # hostile bytes: see clean_evidence
        return UNREADABLE


def _clean_pdf(data: bytes) -> CleanedEvidence | Refused:
    try:
        with pikepdf.open(io.BytesIO(data)) as pdf:
            if "/Info" in pdf.trailer:
                del pdf.trailer["/Info"]
            root = pdf.Root
            for key in _PDF_ROOT_ACTIVE:
                if key in root:
                    del root[key]
            if "/Names" in root:
                for key in _PDF_NAMES_ACTIVE:
                    if key in root.Names:
                        del root.Names[key]
            # XMP can also hang off pages, images and fonts; page actions run on open.
            for obj in pdf.objects:
                if isinstance(obj, pikepdf.Dictionary | pikepdf.Stream):
                    for key in ("/Metadata", "/AA", "/PieceInfo"):
                        if key in obj:
                            del obj[key]
            output = io.BytesIO()
            pdf.remove_unreferenced_resources()
            pdf.save(output, fix_metadata_version=False, deterministic_id=True)
        return CleanedEvidence(
            AttachmentKind.PDF, "application/pdf", "evidence.pdf", output.getvalue()
        )
    except pikepdf.PasswordError:
        return PASSWORD_PROTECTED
    except Exception:  # hostile bytes: see clean_evidence
        return UNREADABLE
