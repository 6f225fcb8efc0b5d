"""Voice notes (Ogg Opus, Ogg Vorbis): rebuilt from the audio packets alone.

An Ogg file can carry comment tags (artist, location, recording app), cover art in a
``METADATA_BLOCK_PICTURE`` tag, and anything glued after its last page (a PDF, a GPS-tagged
photo) that players ignore. The stream is parsed page by page (every page's CRC checked, one
logical stream only, up to its end-of-stream page); the identification header is kept, the
comment header is replaced by an empty one (no vendor string either: it names the recording
app), the Vorbis setup header and the audio packets are kept, and new pages are written with a
fresh serial number (the old one could link the copy to the original) and new CRCs. What the
caseworker hears is all that is kept. Anything after the end-of-stream page is dropped; a stream
without one (truncated) is refused.

Pure Python, no decoder: nothing of the audio is interpreted beyond packet boundaries. What the
original carried (tags, a picture, trailing bytes) is listed for the caseworker as
:data:`crypto.CLEANING_CHANGES` codes.
"""

from __future__ import annotations

import secrets
import struct
from collections.abc import Iterator
from dataclasses import dataclass

from handlers.draft import AttachmentKind
from handlers.evidence.results import SOURCE_OGG, UNREADABLE, UNSUPPORTED, CleanedEvidence
from handlers.i18n import Refused

MAGIC = b"OggS"
_HEADER = struct.Struct("<4sBBqIII B")
_CONTINUED, _FIRST, _LAST = 0x01, 0x02, 0x04
_NO_GRANULE = -1
_MAX_SEGMENTS = 255
_PICTURE_TAG = b"METADATA_BLOCK_PICTURE="

_OPUS_HEAD, _OPUS_TAGS = b"OpusHead", b"OpusTags"
_VORBIS_ID, _VORBIS_COMMENT, _VORBIS_SETUP = b"\x01vorbis", b"\x03vorbis", b"\x05vorbis"
# Empty comment headers: a zero-length vendor string and no comments (Vorbis adds a framing bit).
_EMPTY_OPUS_TAGS = _OPUS_TAGS + struct.pack("<II", 0, 0)
_EMPTY_VORBIS_COMMENT = _VORBIS_COMMENT + struct.pack("<II", 0, 0) + b"\x01"


class BadOgg(Exception):
    """The stream is damaged, truncated or not one Opus or Vorbis stream."""


def _crc_table() -> tuple[int, ...]:
    table = []
    for index in range(256):
        crc = index << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
        table.append(crc & 0xFFFFFFFF)
    return tuple(table)


_TABLE = _crc_table()


def ogg_crc(page: bytes | bytearray) -> int:
    """The Ogg page checksum (CRC-32, polynomial 0x04C11DB7, unreflected, no final xor)."""
    crc = 0
    for byte in page:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ _TABLE[(crc >> 24) ^ byte]
    return crc


@dataclass(frozen=True)
class _Page:
    flags: int
    granule: int
    serial: int
    lacing: bytes
    body: bytes
    end: int  # offset in the file just after this page


def _pages(data: bytes) -> Iterator[_Page]:
    """The pages of ``data`` up to and including the end-of-stream page; checks every CRC."""
    offset = 0
    while True:
        if len(data) < offset + _HEADER.size:
            raise BadOgg("truncated page header")
        magic, version, flags, granule, serial, _seq, crc, count = _HEADER.unpack_from(data, offset)
        lacing = data[offset + _HEADER.size : offset + _HEADER.size + count]
        start = offset + _HEADER.size + count
        end = start + sum(lacing)
        if magic != MAGIC or version != 0 or len(lacing) != count or end > len(data):
            raise BadOgg("not an Ogg page")
        page = bytearray(data[offset:end])
        page[22:26] = bytes(4)
        if ogg_crc(page) != crc:
            raise BadOgg("checksum")
        yield _Page(flags, granule, serial, lacing, data[start:end], end)
        if flags & _LAST:
            return  # what follows the end of the stream is not audio: dropped
        offset = end


def _packets(pages: list[_Page]) -> Iterator[tuple[bytes, int, int]]:
    """Each packet of the one logical stream of ``pages``, with the number and granule of the
    page it ends on."""
    pending = bytearray()
    serial: int | None = None
    for number, page in enumerate(pages):
        if serial is None:
            serial = page.serial
        if page.serial != serial or bool(page.flags & _FIRST) != (number == 0):
            raise BadOgg("more than one logical stream")
        if bool(page.flags & _CONTINUED) != bool(pending):
            raise BadOgg("continuation mismatch")
        position = 0
        for size in page.lacing:
            pending += page.body[position : position + size]
            position += size
            if size < _MAX_SEGMENTS:
                yield bytes(pending), number, page.granule
                pending.clear()
    if pending:
        raise BadOgg("unfinished packet")


def clean_ogg(data: bytes) -> CleanedEvidence | Refused:
    """The voice note in ``data`` rebuilt without tags, pictures or trailing bytes."""
    try:
        pages = list(_pages(data))
        packets = list(_packets(pages))
    except BadOgg:
        return UNREADABLE
    if len(packets) < 2:
        return UNREADABLE
    identification = packets[0][0]
    if identification.startswith(_OPUS_HEAD) and packets[1][0].startswith(_OPUS_TAGS):
        headers = [identification, _EMPTY_OPUS_TAGS]
        audio = packets[2:]
        empty_tags = _EMPTY_OPUS_TAGS
    elif (
        identification.startswith(_VORBIS_ID)
        and len(packets) >= 3
        and packets[1][0].startswith(_VORBIS_COMMENT)
        and packets[2][0].startswith(_VORBIS_SETUP)
    ):
        headers = [identification, _EMPTY_VORBIS_COMMENT, packets[2][0]]
        audio = packets[3:]
        empty_tags = _EMPTY_VORBIS_COMMENT
    else:
        return UNSUPPORTED
    tags = packets[1][0]
    found = {
        "removed.audio_tags": tags != empty_tags,
        "removed.audio_picture": _PICTURE_TAG in tags.upper(),
        "removed.trailing_data": pages[-1].end < len(data),
        "changed.stream_rebuilt": True,
    }
    return CleanedEvidence(
        AttachmentKind.VOICE,
        "audio/ogg",
        "voice.ogg",
        _write_stream(headers, audio),
        source_type=SOURCE_OGG,
        changes=tuple(code for code, present in found.items() if present),
    )


def _write_stream(headers: list[bytes], audio: list[tuple[bytes, int, int]]) -> bytes:
    """A new Ogg stream: the identification header alone on its page, the other headers on the
    next, then the audio packets on pages as they ended in the original, with its granules."""
    writer = _PageWriter(serial=secrets.randbits(32))
    writer.write([headers[0]], 0, first=True)
    writer.write(headers[1:], 0, last=not audio)
    groups: dict[int, tuple[list[bytes], int]] = {}
    for packet, page_number, granule in audio:
        groups.setdefault(page_number, ([], granule))[0].append(packet)
    for index, (packets, granule) in enumerate(groups.values()):
        writer.write(packets, granule, last=index == len(groups) - 1)
    return bytes(writer.out)


class _PageWriter:
    """Writes packets to pages: at most 255 lacing values a page, numbered, with CRCs."""

    def __init__(self, *, serial: int) -> None:
        self.serial = serial
        self.sequence = 0
        self.out = bytearray()

    def write(
        self, packets: list[bytes], granule: int, *, first: bool = False, last: bool = False
    ) -> None:
        """Writes ``packets`` starting on a new page; the page where they end gets ``granule``.

        Packets longer than a page continue on the next ones, which get no granule (-1) but on
        the last: the granule belongs to the last packet ending on a page.
        """
        segments: list[tuple[bytes, bool]] = []  # (segment, ends a packet)
        for packet in packets:
            chunks = [packet[i : i + 255] for i in range(0, len(packet), 255)]
            if len(packet) % 255 == 0:
                chunks.append(b"")  # a packet of a multiple of 255 ends with a 0 lacing value
            segments.extend((chunk, i == len(chunks) - 1) for i, chunk in enumerate(chunks))
        continued = False
        for start in range(0, len(segments), _MAX_SEGMENTS):
            page = segments[start : start + _MAX_SEGMENTS]
            final = start + _MAX_SEGMENTS >= len(segments)
            flags = (_CONTINUED if continued else 0) | (_FIRST if first and start == 0 else 0)
            flags |= _LAST if last and final else 0
            self._page(flags, granule if final else _NO_GRANULE, page)
            continued = not page[-1][1]

    def _page(self, flags: int, granule: int, segments: list[tuple[bytes, bool]]) -> None:
        lacing = bytes(len(chunk) for chunk, _ in segments)
        body = b"".join(chunk for chunk, _ in segments)
        header = _HEADER.pack(MAGIC, 0, flags, granule, self.serial, self.sequence, 0, len(lacing))
        page = bytearray(header + lacing + body)
        page[22:26] = struct.pack("<I", ogg_crc(page))
        self.out += page
        self.sequence += 1
