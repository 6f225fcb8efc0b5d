"""Hostile evidence files, made by the tests' own code as an attacker would make them.

Each builder says what the file attacks. Nothing is downloaded: the files are small to build
even when what they unpack to is not.
"""

from __future__ import annotations

import base64
import io
import random
import struct
import zlib

import pikepdf
import pillow_heif
from PIL import Image

from tests.handlers import samples

pillow_heif.register_heif_opener()  # to write HEIC

_MEGABYTE = b" " * (1 << 20)  # spaces: a valid (empty) PDF content stream, however long


def deflate_bomb(megabytes: int) -> bytes:
    """A zlib stream of about ``megabytes`` kB that inflates to ``megabytes`` MB (1000×).

    Built without compressing gigabytes: after a full flush each megabyte compresses to the
    same bytes, so one block is repeated and the Adler-32 checksum computed alongside.
    """
    compressor = zlib.compressobj(9)
    head = compressor.compress(_MEGABYTE) + compressor.flush(zlib.Z_FULL_FLUSH)
    block = compressor.compress(_MEGABYTE) + compressor.flush(zlib.Z_FULL_FLUSH)
    checksum = 1
    for _ in range(megabytes):
        checksum = zlib.adler32(_MEGABYTE, checksum)
    final_empty_block = b"\x03\x00"
    return head + block * (megabytes - 1) + final_empty_block + struct.pack(">I", checksum)


def pdf_content_bomb(megabytes: int = 2048, *, pages: int = 1) -> bytes:
    """A PDF whose content stream inflates ~1000× (2 MB on the wire, 2 GB unpacked), shared by
    ``pages`` pages (each inflates it again: CPU rather than memory)."""
    pdf = pikepdf.new()
    stream = pikepdf.Stream(pdf, deflate_bomb(megabytes))
    stream.Filter = pikepdf.Name.FlateDecode
    contents = pdf.make_indirect(stream)
    for index in range(pages):
        pdf.add_blank_page(page_size=(200, 200))
        pdf.pages[index].Contents = contents
    out = io.BytesIO()
    pdf.save(out, compress_streams=False)
    return out.getvalue()


def jpeg_scan_bomb(scans: int = 3000) -> bytes:
    """A small progressive JPEG whose last scan is repeated ``scans`` times: each scan makes
    the decoder walk the whole image again."""
    out = io.BytesIO()
    Image.new("RGB", (64, 64), (120, 30, 30)).save(out, format="JPEG", progressive=True)
    data = out.getvalue()
    last_scan = data[data.rindex(b"\xff\xda") : -2]
    return data[:-2] + last_scan * scans + b"\xff\xd9"


def noisy_lossy_webp(side: int = 1400) -> bytes:
    """A lossy WebP of noise: small as WebP, several times larger as PNG."""
    noise = Image.frombytes("RGB", (side, side), random.Random(side).randbytes(side * side * 3))
    out = io.BytesIO()
    noise.save(out, format="WEBP", quality=80)
    return out.getvalue()


def jpeg_of(width: int, height: int) -> bytes:
    """A plain JPEG of ``width`` × ``height`` (small on the wire whatever its pixel count)."""
    out = io.BytesIO()
    Image.new("RGB", (width, height), (40, 90, 160)).save(out, format="JPEG", quality=50)
    return out.getvalue()


def scan_to_pdf(gps_author: str, annotation_author: str) -> bytes:
    """What a phone scanning app makes: the camera JPEG embedded unchanged (EXIF GPS and the
    photographer's name inside), plus a sticky note whose ``/T`` names its author."""
    photo = samples.jpeg_with_gps(author=gps_author, width=120, height=160)
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(120, 160))
    page = pdf.pages[0]
    image = pikepdf.Stream(pdf, photo)
    image.Type, image.Subtype = pikepdf.Name.XObject, pikepdf.Name.Image
    image.Width, image.Height, image.BitsPerComponent = 160, 120, 8
    image.ColorSpace, image.Filter = pikepdf.Name.DeviceRGB, pikepdf.Name.DCTDecode
    page.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=image))
    page.Contents = pdf.make_stream(b"q 120 0 0 160 0 0 cm /Im0 Do Q")
    page.Annots = pdf.make_indirect(
        pikepdf.Array(
            [
                pikepdf.Dictionary(
                    Type=pikepdf.Name.Annot,
                    Subtype=pikepdf.Name.Text,
                    Rect=[10, 10, 30, 30],
                    T=pikepdf.String(annotation_author),
                    Contents=pikepdf.String("note"),
                    M=pikepdf.String("D:20260101120000Z"),
                )
            ]
        )
    )
    out = io.BytesIO()
    pdf.save(out, compress_streams=False)
    return out.getvalue()


def pdf_with_everything(canary: str) -> bytes:
    """A PDF carrying ``canary`` in JavaScript (document, page and link actions), an attached
    file, a page thumbnail, XMP on the catalogue and on the page, an XFA form, a signature
    dictionary with the signer's name, a form value, and a permanent ``/ID``."""
    pdf = pikepdf.open(io.BytesIO(samples.pdf_with_author(author=f"{canary}-author")))
    js = pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS=pikepdf.String(f"app.alert('{canary}')"))
    pdf.Root.OpenAction = js
    pdf.Root.Names = pikepdf.Dictionary(
        JavaScript=pikepdf.Dictionary(Names=[pikepdf.String("x"), pdf.make_indirect(js)])
    )
    pdf.attachments["notes.txt"] = pikepdf.AttachedFileSpec(pdf, f"{canary}-attached".encode())
    page = pdf.pages[0]
    page.AA = pikepdf.Dictionary(O=js)
    page.Thumb = pdf.make_stream(f"{canary}-thumbnail".encode())
    page.Metadata = pdf.make_stream(f"<x:xmpmeta>{canary}-xmp</x:xmpmeta>".encode())
    signature = pikepdf.Dictionary(
        Type=pikepdf.Name.Sig,
        Name=pikepdf.String(f"{canary}-signer"),
        Location=pikepdf.String(f"{canary}-place"),
        Contents=pikepdf.String(b"\x00" * 16),
    )
    field = pdf.make_indirect(
        pikepdf.Dictionary(
            FT=pikepdf.Name.Sig, T=pikepdf.String("sig"), V=pdf.make_indirect(signature)
        )
    )
    value = pdf.make_indirect(
        pikepdf.Dictionary(FT=pikepdf.Name.Tx, T=pikepdf.String("name"), V=f"{canary}-value")
    )
    pdf.Root.AcroForm = pikepdf.Dictionary(
        Fields=[field, value], XFA=pdf.make_stream(f"<xdp>{canary}-xfa</xdp>".encode())
    )
    out = io.BytesIO()
    pdf.save(out, compress_streams=False, static_id=False)
    return out.getvalue()


def flac_picture(jpeg: bytes) -> bytes:
    """A FLAC picture block (front cover), as Ogg carries it in METADATA_BLOCK_PICTURE."""
    mime, description = b"image/jpeg", b"cover"
    return (
        struct.pack(">II", 3, len(mime))
        + mime
        + struct.pack(">I", len(description))
        + description
        + struct.pack(">IIIII", 1, 1, 24, 0, len(jpeg))
        + jpeg
    )


def tagged_voice_note(canary: str) -> bytes:
    """An Ogg Opus voice note with ``canary`` in its tags, cover art holding a GPS-tagged JPEG,
    and that JPEG glued after the last page too."""
    photo = samples.jpeg_with_gps(author=f"{canary}-photo", width=8, height=8)
    cover = base64.b64encode(flac_picture(photo))
    comments = [f"TITLE={canary}-title".encode(), b"METADATA_BLOCK_PICTURE=" + cover]
    return samples.ogg_opus(comments, trailing=photo)


def heic_with_gps(author: str) -> bytes:
    """An iPhone-style HEIC photo with EXIF GPS and the photographer's name."""
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (30, 120, 60)).save(
        out, format="HEIF", exif=samples.exif_with_gps(author=author).tobytes()
    )
    return out.getvalue()


def pdf_jpeg_polyglot() -> bytes:
    """A JPEG that a PDF reader also opens: a PDF header inside a JPEG comment."""
    image = samples.jpeg_with_gps(width=16, height=16)
    comment = b"%PDF-1.4\n1 0 obj<<>>endobj\n"
    segment = b"\xff\xfe" + struct.pack(">H", len(comment) + 2) + comment
    return image[:2] + segment + image[2:]
