"""Evidence files made for tests: photos with GPS, a PDF with an author, a voice note.

Built with Pillow's own Exif API and pikepdf, so the metadata is real metadata that a careless
pipeline would carry through.
"""

from __future__ import annotations

import io

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


def voice_note(marker: bytes = b"CanaryVoice") -> bytes:
    """Bytes that start like an Ogg stream, as a Telegram voice note does."""
    return b"OggS\x00\x02" + bytes(20) + marker + bytes(64)
