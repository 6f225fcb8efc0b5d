"""A case's files, served from memory to the case page: pictures, voice notes, PDF pages.

``/case/REF/file/SEQ/N`` is attachment N of file SEQ (0: the report), with the media type the
bot's cleaning gave it; ``?save=1`` asks the browser to save it — the only way plaintext reaches
the disk, into the folder the caseworker picks. Byte ranges are honoured, as browsers ask for
them to read a voice note's length. ``/case/REF/file/SEQ/N/page/P`` is page P of a PDF, drawn as
a picture (:mod:`desk.pdf_pages`).
"""

from __future__ import annotations

import re

from tornado.web import HTTPError

from crypto.body import Attachment
from desk.errors import DeskError
from desk.pdf_pages import page_picture
from desk.web.case import CASE_PATH, CaseHandler
from desk.web.registry import Registry

_RANGE = re.compile(r"bytes=(\d*)-(\d*)$")
# Only types the bot's cleaning produces are shown inline; anything else is offered as a download.
_INLINE = frozenset({"image/jpeg", "image/png", "audio/ogg", "application/pdf"})


class _FileHandler(CaseHandler):
    def attachment(self, reference: str, sequence: str, index: str) -> Attachment:
        opened = self.case_of(reference).files.get(int(sequence))
        if opened is None or not int(index) < len(opened.body.attachments):
            raise HTTPError(404)
        return opened.body.attachments[int(index)]


class AttachmentHandler(_FileHandler):
    """One attachment's bytes (a byte range if asked)."""

    def get(self, reference: str, sequence: str, index: str) -> None:
        attachment = self.attachment(reference, sequence, index)
        data = attachment.data
        media_type = attachment.media_type if attachment.media_type in _INLINE else None
        self.set_header("Content-Type", media_type or "application/octet-stream")
        if self.get_query_argument("save", None) or media_type is None:
            # The file's name was checked as a safe name when the body was decoded.
            self.set_header(
                "Content-Disposition", f'attachment; filename="{attachment.file_name}"'
            )
        self.set_header("Accept-Ranges", "bytes")
        wanted = _RANGE.match(self.request.headers.get("Range", ""))
        if wanted and (wanted.group(1) or wanted.group(2)):
            start, end = _byte_range(wanted.group(1), wanted.group(2), len(data))
            self.set_status(206)
            self.set_header("Content-Range", f"bytes {start}-{end - 1}/{len(data)}")
            self.finish(data[start:end])
            return
        self.finish(data)


def _byte_range(first: str, last: str, size: int) -> tuple[int, int]:
    """``start, end`` (end excluded) of an HTTP byte range, or 416."""
    if first:
        start, end = int(first), (int(last) + 1 if last else size)
    else:  # the last N bytes
        start, end = max(size - int(last), 0), size
    end = min(end, size)
    if start >= end:
        raise HTTPError(416)
    return start, end


class PdfPageHandler(_FileHandler):
    """One page of a PDF attachment, as a PNG."""

    def get(self, reference: str, sequence: str, index: str, page: str) -> None:
        attachment = self.attachment(reference, sequence, index)
        try:
            picture = page_picture(attachment.data, int(page))
        except DeskError as exc:
            raise HTTPError(404) from exc
        self.set_header("Content-Type", "image/png")
        self.finish(picture)


def register(registry: Registry) -> None:
    """The case's files."""
    registry.route(CASE_PATH + r"/file/(\d{1,9})/(\d{1,4})", AttachmentHandler)
    registry.route(CASE_PATH + r"/file/(\d{1,9})/(\d{1,4})/page/(\d{1,4})", PdfPageHandler)
