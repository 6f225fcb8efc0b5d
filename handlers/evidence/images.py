"""Images (JPEG, PNG, WebP, HEIC/HEIF): decoded within a budget, re-encoded from pixels only.

A photo can carry the reporter's location (EXIF GPS), their phone model, the editing app, a
thumbnail of the uncropped original (DESIGN.md §2). The image is rotated upright from its EXIF
orientation and its pixels are copied into a new image, which is what gets encoded — so EXIF,
XMP, ICC profiles, comments, text chunks, thumbnails and HEIC auxiliary images cannot survive:
nothing of the original container is copied. Dropping the ICC profile can shift wide-gamut
colours slightly; the content is unchanged.

Budgets, all checked before the pixels are decoded (Pillow's ``Image.open`` reads only the
header): the pixel count (:data:`~handlers.evidence.limits.MAX_IMAGE_PIXELS`) and, for JPEG,
the number of scans (:data:`~handlers.evidence.limits.MAX_JPEG_SCANS`).

What the original carried and cleaning removed (EXIF and its GPS position, XMP, an ICC profile,
comments and text chunks, further frames, bytes after the image's end) is read from the header
before decoding and listed as :data:`crypto.CLEANING_CHANGES` codes, so the caseworker knows what
the reporter's own copy still holds.

The output format keeps a lossy photo lossy, so a cleaned file is not many times its original:
JPEG, lossy WebP and HEIC become JPEG; PNG and lossless WebP stay lossless (PNG, screenshots
stay sharp) unless the PNG would exceed the per-file limit, when they become JPEG. The cleaned
size is checked against the limit. Only the first frame of an animation (or of a HEIC burst) is
kept, and the reporter is told.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import replace

import pillow_heif
from PIL import Image, ImageOps

from handlers.draft import AttachmentKind
from handlers.evidence.limits import JPEG_QUALITY, MAX_IMAGE_PIXELS, MAX_JPEG_SCANS
from handlers.evidence.results import (
    FIRST_FRAME_ONLY,
    NOT_CLEANED,
    SOURCE_HEIC,
    SOURCE_JPEG,
    SOURCE_PNG,
    SOURCE_WEBP,
    TOO_MANY_PIXELS,
    UNREADABLE,
    CleanedEvidence,
    too_big,
)
from handlers.i18n import Notice, Refused

# Pillow warns above this and raises at twice it; both are refusals here.
Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
# HEIC thumbnails and depth maps are other images of the same scene: never decoded.
pillow_heif.register_heif_opener(thumbnails=False, depth_images=False, aux_images=False)

# Formats whose compression is lossy: their cleaned copy is a JPEG.
_LOSSY = frozenset({"JPEG", "HEIF"})
_JPEG_SOS = b"\xff\xda"
# The media type each recognised format is recorded as (the original's type, sealed with it).
SOURCE_TYPES = {"JPEG": SOURCE_JPEG, "PNG": SOURCE_PNG, "WEBP": SOURCE_WEBP, "HEIF": SOURCE_HEIC}
_GPS_IFD = 0x8825
_ORIENTATION = 0x0112
_PNG_END = b"IEND\xaeB`\x82"


def webp_is_lossy(data: bytes) -> bool:
    """Whether a WebP holds a lossy (VP8) rather than a lossless (VP8L) image."""
    return b"VP8L" not in data[12:64]


def clean_image(data: bytes, image_format: str, *, max_bytes: int) -> CleanedEvidence | Refused:
    """Re-encode the image in ``data`` (of Pillow format ``image_format``) from its pixels.

    Refuses, before decoding, an image over the pixel budget or a JPEG over the scan budget;
    refuses a cleaned copy over ``max_bytes``. Never raises for hostile input.
    """
    # Each real scan starts with an SOS marker; entropy-coded data cannot contain those two
    # bytes (0xFF is always stuffed), so this over-counts only by scans of embedded thumbnails.
    if image_format == "JPEG" and data.count(_JPEG_SOS) > MAX_JPEG_SCANS:
        return NOT_CLEANED
    lossy = image_format in _LOSSY or (image_format == "WEBP" and webp_is_lossy(data))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[image_format]) as original:
                # The header is all that has been read so far: refuse before decoding.
                if original.width * original.height > MAX_IMAGE_PIXELS:
                    return TOO_MANY_PIXELS
                notes: tuple[Notice, ...] = ()
                if getattr(original, "n_frames", 1) > 1:
                    notes = (FIRST_FRAME_ONLY,)
                changes = image_changes(original, data, image_format)
                # In place: a copy would double the decoded image in memory (limits.py).
                ImageOps.exif_transpose(original, in_place=True)
                fresh = _fresh_copy(original)
        cleaned = _encode(fresh, lossy=lossy, max_bytes=max_bytes, notes=notes)
        if isinstance(cleaned, Refused):
            return cleaned
        return replace(cleaned, source_type=SOURCE_TYPES[image_format], changes=changes)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return TOO_MANY_PIXELS
    except MemoryError:
        return NOT_CLEANED
    except Exception:  # hostile bytes: parsers raise anything, and it all means "unreadable"
        return UNREADABLE


def image_changes(original: Image.Image, data: bytes, image_format: str) -> tuple[str, ...]:
    """What the opened (not yet decoded) ``original`` carries that its cleaned copy will not."""
    exif = original.getexif()
    info = original.info
    text_chunks = getattr(original, "text", None) if image_format == "PNG" else None
    found = {
        "removed.exif": bool(exif) or "exif" in info,
        "removed.exif_gps": bool(exif.get_ifd(_GPS_IFD)),
        "removed.xmp": bool(info.get("xmp") or info.get("XML:com.adobe.xmp")),
        "removed.icc_profile": bool(info.get("icc_profile")),
        "removed.comment": bool(info.get("comment") or text_chunks),
        "removed.frames": getattr(original, "n_frames", 1) > 1,
        "removed.trailing_data": _has_trailing_data(data, image_format),
        "changed.rotated": exif.get(_ORIENTATION, 1) not in (1, None),
        "changed.reencoded": True,
    }
    return tuple(code for code, present in found.items() if present)


def _has_trailing_data(data: bytes, image_format: str) -> bool:
    """Whether bytes follow the image's own end (a file glued after it, which viewers ignore)."""
    if image_format == "JPEG":
        return not data.endswith(b"\xff\xd9")
    if image_format == "PNG":
        return not data.endswith(_PNG_END)
    if image_format == "WEBP":
        return 8 + int.from_bytes(data[4:8], "little") < len(data)
    return False  # HEIF: boxes may come in any order; nothing after them is decoded anyway


def _fresh_copy(image: Image.Image) -> Image.Image:
    """The pixels of ``image`` in a new image that carries no ``info`` (no EXIF, XMP, ICC, text)."""
    has_alpha = image.mode in {"RGBA", "LA", "PA"} or "transparency" in image.info
    mode = "RGBA" if has_alpha else "RGB"
    pixels = image if image.mode == mode else image.convert(mode)
    fresh = Image.new(mode, pixels.size)
    fresh.paste(pixels)
    return fresh


def _encode(
    image: Image.Image, *, lossy: bool, max_bytes: int, notes: tuple[Notice, ...]
) -> CleanedEvidence | Refused:
    if not lossy:
        png = io.BytesIO()
        image.save(png, format="PNG")
        if png.tell() <= max_bytes:
            return CleanedEvidence(
                AttachmentKind.IMAGE, "image/png", "evidence.png", png.getvalue(), notes
            )
    jpeg = io.BytesIO()
    encode_jpeg(image, jpeg)
    if jpeg.tell() > max_bytes:
        return too_big(max_bytes)
    return CleanedEvidence(
        AttachmentKind.IMAGE, "image/jpeg", "evidence.jpg", jpeg.getvalue(), notes
    )


def encode_jpeg(image: Image.Image, out: io.BytesIO, *, dpi: float = 72) -> None:
    """Write ``image`` as a baseline JPEG to ``out``, transparency flattened onto white.

    ``dpi`` is recorded in the JFIF header (it sets a PDF page's size); nothing else is.
    """
    if image.mode != "RGB":
        flat = Image.new("RGB", image.size, (255, 255, 255))
        flat.paste(image, mask=image.getchannel("A") if "A" in image.mode else None)
        image = flat
    image.save(out, format="JPEG", quality=JPEG_QUALITY, dpi=(dpi, dpi))
