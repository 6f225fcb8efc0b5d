"""Evidence cleaning: recognised by content, metadata gone, bombs and strangers refused.

These call the cleaner in the test's own process, for speed; the hostile files that need the
sandbox's limits are in ``test_hostile_files.py``.
"""

from __future__ import annotations

import io
import struct
import zlib

import pikepdf
import pytest
from PIL import Image

from handlers.draft import AttachmentKind
from handlers.evidence.cleaner import clean_evidence
from handlers.evidence.limits import MAX_IMAGE_PIXELS
from handlers.evidence.results import (
    FIRST_FRAME_ONLY,
    PASSWORD_PROTECTED,
    TOO_MANY_PIXELS,
    UNREADABLE,
    UNSUPPORTED,
    CleanedEvidence,
    check_size,
)
from handlers.i18n import Refused
from tests.handlers import samples

LIMIT = 5_000_000


def _clean(data: bytes) -> CleanedEvidence:
    result = clean_evidence(data, max_bytes=LIMIT)
    assert isinstance(result, CleanedEvidence), result
    return result


def test_jpeg_loses_exif_gps_icc_xmp_and_comment() -> None:
    original = samples.jpeg_with_gps()
    with Image.open(io.BytesIO(original)) as before:
        assert before.getexif().get_ifd(0x8825)  # the sample really carries GPS
        assert "icc_profile" in before.info
    cleaned = _clean(original)
    assert cleaned.kind is AttachmentKind.IMAGE
    assert cleaned.media_type == "image/jpeg"
    for marker in (
        b"Exif",
        b"CanaryPhone",
        b"Canary Photographer",
        b"CanaryXMP",
        b"CanaryComment",
        b"ICC_PROFILE",
        b"http://ns.adobe.com",
    ):
        assert marker not in cleaned.data
    with Image.open(io.BytesIO(cleaned.data)) as after:
        assert not after.getexif()
        assert "icc_profile" not in after.info
        assert "exif" not in after.info


def test_orientation_is_applied_before_the_exif_is_dropped() -> None:
    cleaned = _clean(samples.jpeg_with_gps(width=40, height=20))
    with Image.open(io.BytesIO(cleaned.data)) as after:
        assert after.size == (20, 40)  # Orientation 6 turned the landscape upright


def test_png_loses_text_chunks_and_exif_and_keeps_transparency() -> None:
    cleaned = _clean(samples.png_with_text())
    assert cleaned.media_type == "image/png"
    assert b"CanaryPNGText" not in cleaned.data
    assert b"eXIf" not in cleaned.data
    assert b"tEXt" not in cleaned.data
    with Image.open(io.BytesIO(cleaned.data)) as after:
        assert after.mode == "RGBA"
        assert after.getpixel((0, 0)) == (10, 200, 10, 128)


def test_webp_becomes_png_without_metadata() -> None:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (1, 2, 3)).save(
        out, format="WEBP", lossless=True, exif=samples.exif_with_gps().tobytes()
    )
    cleaned = _clean(out.getvalue())
    assert cleaned.media_type == "image/png"
    assert b"CanaryPhone" not in cleaned.data


def test_pdf_loses_author_xmp_javascript_and_embedded_files() -> None:
    pdf = pikepdf.open(io.BytesIO(samples.pdf_with_author()))
    pdf.Root.OpenAction = pikepdf.Dictionary(
        S=pikepdf.Name.JavaScript, JS=pikepdf.String("app.alert(1)")
    )
    pdf.attachments["canary.txt"] = pikepdf.AttachedFileSpec(pdf, b"CanaryEmbedded")
    with_extras = io.BytesIO()
    pdf.save(with_extras, compress_streams=False)
    cleaned = _clean(with_extras.getvalue())
    assert cleaned.kind is AttachmentKind.PDF
    for marker in (b"Canary Author", b"CanaryEmbedded", b"app.alert", b"/Metadata", b"/Author"):
        assert marker not in cleaned.data
    with pikepdf.open(io.BytesIO(cleaned.data)) as after:
        assert not dict(after.docinfo.items())
        assert "/ID" not in after.trailer
        assert len(after.pages) == 1
        assert not after.attachments


def test_password_protected_pdf_is_refused_by_name() -> None:
    out = io.BytesIO()
    pikepdf.open(io.BytesIO(samples.pdf_with_author())).save(
        out, encryption=pikepdf.Encryption(owner="o", user="secret")
    )
    assert clean_evidence(out.getvalue(), max_bytes=LIMIT) is PASSWORD_PROTECTED


def test_voice_note_keeps_its_audio_and_loses_its_tags() -> None:
    cleaned = _clean(samples.voice_note(b"CanaryVoice"))
    assert cleaned.kind is AttachmentKind.VOICE
    assert b"CanaryVoice" not in cleaned.data
    assert cleaned.data.count(b"\xf8\xff\xfe") == 3  # the three audio packets


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares a huge canvas in its header: a decompression bomb's calling card."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@pytest.mark.parametrize("pixels_factor", [1.2, 3.0])
def test_decompression_bomb_is_refused_before_decoding(pixels_factor: float) -> None:
    side = int((MAX_IMAGE_PIXELS * pixels_factor) ** 0.5) + 1
    assert clean_evidence(_png_header_only(side, side), max_bytes=LIMIT) is TOO_MANY_PIXELS


def test_type_is_decided_by_content_not_by_claimed_name() -> None:
    html_posing_as_image = b"<html><script>alert(1)</script></html>"
    assert clean_evidence(html_posing_as_image, max_bytes=LIMIT) is UNSUPPORTED
    assert clean_evidence(b"PK\x03\x04zipfile", max_bytes=LIMIT) is UNSUPPORTED


@pytest.mark.parametrize(
    "broken", [b"\xff\xd8\xff\xe0garbage", b"\x89PNG\r\n\x1a\nnot really", b"%PDF-1.7\nnonsense"]
)
def test_damaged_file_with_a_valid_magic_is_refused_as_unreadable(broken: bytes) -> None:
    assert clean_evidence(broken, max_bytes=LIMIT) is UNREADABLE


def test_file_over_the_size_limit_is_refused_before_and_after_download() -> None:
    refusal = check_size(LIMIT + 1, LIMIT)
    assert isinstance(refusal, Refused)
    assert refusal.notice.params == {"limit": 5}
    assert check_size(None, LIMIT) is None
    assert check_size(LIMIT, LIMIT) is None
    assert isinstance(clean_evidence(b"OggS" + bytes(LIMIT), max_bytes=LIMIT), Refused)


def test_vorbis_voice_note_keeps_its_setup_header_and_loses_its_comments() -> None:
    def page(body: bytes, flags: int, granule: int, sequence: int) -> bytes:
        return samples.ogg_page(body, flags=flags, granule=granule, serial=7, sequence=sequence)

    identification = b"\x01vorbis" + bytes(23)
    comments = b"\x03vorbis" + b"\x0c\x00\x00\x00CanaryVendor" + b"\x00\x00\x00\x00\x01"
    setup = b"\x05vorbis" + b"setup-tables"
    stream = (
        page(identification, 0x02, 0, 0)
        + page(comments, 0, 0, 1)
        + page(setup, 0, 0, 2)
        + page(b"audio-packet", 0x04, 1024, 3)
    )
    cleaned = _clean(stream)
    assert b"CanaryVendor" not in cleaned.data
    assert b"setup-tables" in cleaned.data
    assert b"audio-packet" in cleaned.data


def test_two_interleaved_ogg_streams_are_refused() -> None:
    first = samples.ogg_opus([])
    other = samples.ogg_page(b"OpusHead" + bytes(11), flags=0x02, granule=0, serial=9, sequence=0)
    first_page = 27 + 1 + 19  # header, one lacing value, OpusHead
    mixed = first[:first_page] + other + first[first_page:]
    assert clean_evidence(mixed, max_bytes=LIMIT) is UNREADABLE


def test_animation_keeps_its_first_frame_and_says_so() -> None:
    frames = [Image.new("RGB", (8, 8), colour) for colour in ((250, 0, 0), (0, 0, 250))]
    out = io.BytesIO()
    frames[0].save(out, format="PNG", save_all=True, append_images=frames[1:])
    cleaned = _clean(out.getvalue())
    assert cleaned.notes == (FIRST_FRAME_ONLY,)
    with Image.open(io.BytesIO(cleaned.data)) as after:
        assert getattr(after, "n_frames", 1) == 1
        assert after.convert("RGB").getpixel((0, 0)) == (250, 0, 0)
