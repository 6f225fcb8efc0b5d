"""PDFs: every page rendered to a picture, and a new PDF made of those pictures alone.

Removing what is hidden in a PDF object by object never ends: annotation authors, JavaScript in
field and link actions, page thumbnails, XMP on any object, signature dictionaries with the
signer's name and place, XFA forms, attached files, EXIF inside embedded photos, and the
permanent ``/ID`` that links a copy to the sender's original (issue "Hostile files"). So nothing
of the original is kept: pdfium draws each page as the reporter sees it, the picture is encoded
as a fresh JPEG (:func:`~handlers.evidence.images.encode_jpeg`: no EXIF), and img2pdf wraps the
JPEGs in a new document with no dates, no producer and no metadata. The cost, told to the
reporter: text becomes a picture and can no longer be searched or copied.

What the original carried is listed for the caseworker as :data:`crypto.CLEANING_CHANGES` codes:
document information, attached files, JavaScript, digital signatures (which cannot survive a
rebuild: a lawyer checks them on the reporter's original, whose SHA-256 is sealed with the report).

Budgets: at most :data:`~handlers.evidence.limits.MAX_PDF_PAGES` pages, each rendered at
:data:`~handlers.evidence.limits.PDF_RENDER_DPI` or less so that it has at most
:data:`~handlers.evidence.limits.MAX_PDF_PAGE_PIXELS`; the new PDF must fit the per-file limit.
A content stream that inflates to gigabytes is stopped by the worker's memory and CPU limits
(:mod:`handlers.evidence.sandbox`), not here: this module must only run inside a worker.
"""

from __future__ import annotations

import io
import math

import img2pdf
import pypdfium2
import pypdfium2.raw as pdfium_c

from handlers.draft import AttachmentKind
from handlers.evidence.images import encode_jpeg
from handlers.evidence.limits import MAX_PDF_PAGE_PIXELS, MAX_PDF_PAGES, PDF_RENDER_DPI
from handlers.evidence.results import (
    NOT_CLEANED,
    PASSWORD_PROTECTED,
    PDF_PAGES_AS_IMAGES,
    SOURCE_PDF,
    TOO_MANY_PAGES,
    UNREADABLE,
    CleanedEvidence,
    too_big,
)
from handlers.i18n import Refused

_POINTS_PER_INCH = 72


def clean_pdf(data: bytes, *, max_bytes: int) -> CleanedEvidence | Refused:
    """A new PDF of pictures of the pages of ``data``, or the reason it is refused.

    Password-protected PDFs are refused by name (they cannot be drawn, so not cleaned). Never
    raises for hostile input.
    """
    try:
        rendered = _render_pages(data)
        if isinstance(rendered, Refused):
            return rendered
        pages, changes = rendered
        # nodate: the cleaning time would date the report (I3); no title, author or producer.
        rebuilt = img2pdf.convert(pages, nodate=True, engine=img2pdf.Engine.internal)
    except pypdfium2.PdfiumError as exc:
        if getattr(exc, "err_code", None) == pdfium_c.FPDF_ERR_PASSWORD:
            return PASSWORD_PROTECTED
        return UNREADABLE
    except MemoryError:
        return NOT_CLEANED
    except Exception:  # hostile bytes: parsers raise anything, and it all means "unreadable"
        return UNREADABLE
    if len(rebuilt) > max_bytes:
        return too_big(max_bytes)
    return CleanedEvidence(
        AttachmentKind.PDF,
        "application/pdf",
        "evidence.pdf",
        rebuilt,
        (PDF_PAGES_AS_IMAGES,),
        source_type=SOURCE_PDF,
        changes=changes,
    )


def pdf_changes(document: pypdfium2.PdfDocument) -> tuple[str, ...]:
    """What the opened ``document`` carries that the rebuilt PDF of its page pictures will not."""
    raw = document.raw
    found = {
        "removed.pdf_info": any(document.get_metadata_dict().values()),
        "removed.pdf_attachments": document.count_attachments() > 0,
        "removed.pdf_javascript": pdfium_c.FPDFDoc_GetJavaScriptActionCount(raw) > 0,
        "removed.pdf_signatures": pdfium_c.FPDF_GetSignatureCount(raw) > 0,
        "changed.pages_as_pictures": True,
    }
    return tuple(code for code, present in found.items() if present)


def _render_pages(data: bytes) -> tuple[list[bytes], tuple[str, ...]] | Refused:
    """Each page of ``data`` as JPEG bytes whose JFIF resolution gives the page's size, and what
    the document carried that they do not (:func:`pdf_changes`)."""
    document = pypdfium2.PdfDocument(data)
    try:
        if len(document) == 0:
            return UNREADABLE
        if len(document) > MAX_PDF_PAGES:
            return TOO_MANY_PAGES
        changes = pdf_changes(document)
        pages = []
        for index in range(len(document)):
            page = document[index]
            try:
                width, height = page.get_size()
                if not (width >= 1 and height >= 1):
                    return UNREADABLE
                scale = min(
                    PDF_RENDER_DPI / _POINTS_PER_INCH,
                    math.sqrt(MAX_PDF_PAGE_PIXELS / (width * height)),
                )
                bitmap = page.render(scale=scale)
                picture = bitmap.to_pil()
                out = io.BytesIO()
                encode_jpeg(picture.convert("RGB"), out, dpi=scale * _POINTS_PER_INCH)
                pages.append(out.getvalue())
                bitmap.close()
            finally:
                page.close()
        return pages, changes
    finally:
        document.close()
