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

The output format keeps a lossy photo lossy, so a cleaned file is not many times its original:
JPEG, lossy WebP and HEIC become JPEG; PNG and lossless WebP stay lossless (PNG, screenshots
stay sharp) unless the PNG would exceed the per-file limit, when they become JPEG. The cleaned
size is checked against the limit. Only the first frame of an animation (or of a HEIC burst) is
kept, and the reporter is told.
"""

from __future__ import annotations

import io
import warnings

import pillow_heif
from PIL import Image, ImageOps

from handlers.draft import AttachmentKind
from handlers.evidence.limits import JPEG_QUALITY, MAX_IMAGE_PIXELS, MAX_JPEG_SCANS
from handlers.evidence.results import (
    FIRST_FRAME_ONLY,
    NOT_CLEANED,
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
                # In place: a copy would double the decoded image in memory (limits.py).
                ImageOps.exif_transpose(original, in_place=True)
                fresh = _fresh_copy(original)
        return _encode(fresh, lossy=lossy, max_bytes=max_bytes, notes=notes)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return TOO_MANY_PIXELS
    except MemoryError:
        return NOT_CLEANED
    except Exception:  # hostile bytes: parsers raise anything, and it all means "unreadable"
        return UNREADABLE


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
