"""Evidence files made for tests: photos with GPS, a PDF with an author, a voice note.

Built with Pillow's own Exif API and pikepdf, so the metadata is real metadata that a careless
pipeline would carry through; the voice note is a valid Ogg Opus stream written here page by
page (its own CRC code, independent of the cleaner's), with its tags in the comment header.
"""

from __future__ import annotations

import io
import struct

import pikepdf
from PIL import Image, ImageCms, PngImagePlugin
from PIL.ExifTags import GPS, IFD, Base

GPS_LATITUDE = ((30, 1), (2, 1), (4, 1))  # Cairo, as EXIF rationals


def exif_with_gps(author: str = "Canary Photographer") -> Image.Exif:
    """An Exif block with a GPS position, a camera make, an author and a rotation tag."""
    exif = Image.Exif()
    exif[Base.Make] = "CanaryPhone"
    exif[Base.Artist] = author
    exif[Base.Orientation] = 6  # rotate 90° clockwise to display
    gps = exif.get_ifd(IFD.GPSInfo)
    gps[GPS.GPSLatitudeRef] = "N"
    gps[GPS.GPSLatitude] = (30.0, 2.0, 4.0)
    gps[GPS.GPSLongitudeRef] = "E"
    gps[GPS.GPSLongitude] = (31.0, 14.0, 9.0)
    return exif


def jpeg_with_gps(
    width: int = 40,
    height: int = 20,
    colour: tuple[int, int, int] = (200, 30, 30),
    author: str = "Canary Photographer",
) -> bytes:
    """A small JPEG with EXIF GPS, an ICC profile and an XMP packet."""
    image = Image.new("RGB", (width, height), colour)
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    out = io.BytesIO()
    image.save(
        out,
        format="JPEG",
        exif=exif_with_gps(author).tobytes(),
        icc_profile=icc,
        xmp=b'<x:xmpmeta xmlns:x="adobe:ns:meta/">CanaryXMP</x:xmpmeta>',
        comment=b"CanaryComment",
    )
    return out.getvalue()


def png_with_text(text: str = "CanaryPNGText") -> bytes:
    """A PNG screenshot stand-in with a tEXt chunk and EXIF GPS."""
    image = Image.new("RGBA", (30, 30), (10, 200, 10, 128))
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", text)
    out = io.BytesIO()
    image.save(out, format="PNG", pnginfo=info, exif=exif_with_gps().tobytes())
    return out.getvalue()


def pdf_with_author(author: str = "Canary Author", body: str = "Canary PDF body") -> bytes:
    """A one-page PDF with an author in its document info and in XMP metadata."""
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(200, 200))
    font = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica
        )
    )
    page = pdf.pages[0]
    page.Resources = pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font))
    page.Contents = pdf.make_stream(f"BT /F1 12 Tf 10 100 Td ({body}) Tj ET".encode("latin-1"))
    pdf.docinfo["/Author"] = author
    pdf.docinfo["/Producer"] = "CanaryProducer"
    with pdf.open_metadata(set_pikepdf_as_editor=False) as meta:
        meta["dc:creator"] = [author]
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def _ogg_crc(page: bytes) -> int:
    """CRC-32/MPEG-2 without reflection or final xor, bit by bit (slow, obviously right)."""
    crc = 0
    for byte in page:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) & 0xFFFFFFFF if crc & 0x80000000 else crc << 1
    return crc


def ogg_page(body: bytes, *, flags: int, granule: int, serial: int, sequence: int) -> bytes:
    """One Ogg page holding ``body`` as a single packet (under 255 × 255 bytes)."""
    lacing = bytes([255] * (len(body) // 255) + [len(body) % 255])
    header = struct.pack("<4sBBqIIIB", b"OggS", 0, flags, granule, serial, sequence, 0, len(lacing))
    page = header + lacing + body
    return page[:22] + struct.pack("<I", _ogg_crc(page)) + page[26:]


def opus_tags(comments: list[bytes], vendor: bytes = b"CanaryVendor libopus") -> bytes:
    """An OpusTags comment header with ``vendor`` and ``comments``."""
    out = b"OpusTags" + struct.pack("<I", len(vendor)) + vendor + struct.pack("<I", len(comments))
    return out + b"".join(struct.pack("<I", len(c)) + c for c in comments)


def ogg_opus(comments: list[bytes], *, audio_packets: int = 3, trailing: bytes = b"") -> bytes:
    """A mono 48 kHz Ogg Opus stream: OpusHead, OpusTags with ``comments``, a few 20 ms silent
    packets (TOC 0xF8: CELT fullband 20 ms, one frame), an end-of-stream page, then
    ``trailing`` bytes glued after it."""
    serial = 0x5A4E4144
    head = b"OpusHead" + struct.pack("<BBHIhB", 1, 1, 312, 48000, 0, 0)
    pages = [
        ogg_page(head, flags=0x02, granule=0, serial=serial, sequence=0),
        ogg_page(opus_tags(comments), flags=0, granule=0, serial=serial, sequence=1),
    ]
    for index in range(audio_packets):
        last = index == audio_packets - 1
        pages.append(
            ogg_page(
                b"\xf8\xff\xfe",
                flags=0x04 if last else 0,
                granule=312 + 960 * (index + 1),
                serial=serial,
                sequence=2 + index,
            )
        )
    return b"".join(pages) + trailing


def voice_note(marker: bytes = b"CanaryVoice") -> bytes:
    """A voice note whose tags carry ``marker`` (as a title and an encoder tag)."""
    return ogg_opus([b"TITLE=" + marker, b"ENCODER=" + marker])
