"""A PDF from a report shown as pictures of its pages, so the browser's PDF viewer never runs.

The bot already rebuilt every PDF from pictures of its pages (its cleaning), so a picture of each
page loses nothing; drawing them here with pdfium keeps the browser's own PDF reader — scripts,
forms, links that fetch — out of the case page. Pages are drawn on demand, in memory, at a width
a screen shows well, and at most :data:`MAX_PAGES` of them.
"""

from __future__ import annotations

import io

import pypdfium2

from desk.errors import DeskError

MAX_PAGES = 200
_PAGE_WIDTH_PX = 1100


def _document(data: bytes) -> pypdfium2.PdfDocument:
    try:
        return pypdfium2.PdfDocument(data)
    except pypdfium2.PdfiumError as exc:
        raise DeskError("this PDF cannot be read") from exc


def page_count(data: bytes) -> int:
    """How many pages are shown (at most :data:`MAX_PAGES`)."""
    document = _document(data)
    try:
        return min(len(document), MAX_PAGES)
    finally:
        document.close()


def page_picture(data: bytes, index: int) -> bytes:
    """Page ``index`` (from 0) as a PNG, about :data:`_PAGE_WIDTH_PX` pixels wide."""
    document = _document(data)
    try:
        if not 0 <= index < min(len(document), MAX_PAGES):
            raise DeskError("this PDF has no such page")
        page = document[index]
        scale = _PAGE_WIDTH_PX / max(page.get_width(), 1.0)
        image = page.render(scale=scale).to_pil()
        out = io.BytesIO()
        image.save(out, format="PNG")
        return out.getvalue()
    finally:
        document.close()
