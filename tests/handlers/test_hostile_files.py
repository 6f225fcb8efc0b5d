"""Hostile files through the sandboxed cleaner: refused within a bound, or cleaned to nothing
but what a person sees or hears — checked with readers independent of the cleaner (pikepdf for
PDFs, mutagen for Ogg, Pillow's EXIF reader for images) and with raw byte searches."""

from __future__ import annotations

import asyncio
import io
import os
import resource
import subprocess
import time
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import mutagen.oggopus
import pikepdf
import pytest
from mutagen.ogg import OggPage
from PIL import Image

from handlers.draft import AttachmentKind
from handlers.evidence import CleanedEvidence, CleaningSandbox
from handlers.evidence.limits import MAX_IMAGE_PIXELS
from handlers.evidence.results import (
    NOT_CLEANED,
    PDF_PAGES_AS_IMAGES,
    TOO_MANY_PIXELS,
    UNREADABLE,
)
from handlers.i18n import Refused
from tests.handlers import hostile, samples

LIMIT = 5_000_000
GPS_IFD = 0x8825


@pytest.fixture(scope="module")
def sandbox() -> CleaningSandbox:
    return CleaningSandbox()


async def _clean(sandbox: CleaningSandbox, data: bytes) -> CleanedEvidence:
    result = await sandbox.clean(data, max_bytes=LIMIT)
    assert isinstance(result, CleanedEvidence), result
    return result


def _own_peak_rss_mb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


class _MeasuredWorker(subprocess.Popen[bytes]):
    """A worker process whose peak RSS is read when it is reaped (by ``wait`` or by ``poll``):
    ``RUSAGE_CHILDREN`` of the test process would be the peak of every child this session ever
    had (a CLI test's 1 GiB Argon2 derivation), not of the cleaning workers."""

    peaks_mb: ClassVar[list[int]] = []

    def _wait4(self, pid: int, flags: int) -> tuple[int, int]:
        reaped, status, usage = os.wait4(pid, flags)
        if reaped:
            self.peaks_mb.append(usage.ru_maxrss // 1024)
        return reaped, status

    def _internal_poll(self, _deadstate: int | None = None, **kwargs: Any) -> int | None:
        return super()._internal_poll(_deadstate, _waitpid=self._wait4, **kwargs)  # type: ignore[misc]

    def _try_wait(self, wait_flags: int) -> tuple[int, int]:
        try:
            return self._wait4(self.pid, wait_flags)
        except ChildProcessError:
            return self.pid, 0


@pytest.fixture
def workers_peak_rss_mb(monkeypatch: pytest.MonkeyPatch) -> Callable[[], int]:
    """The highest peak RSS (MB) of the cleaning workers this test started."""
    peaks: list[int] = []
    monkeypatch.setattr(_MeasuredWorker, "peaks_mb", peaks)
    monkeypatch.setattr(subprocess, "Popen", _MeasuredWorker)

    def peak() -> int:
        assert peaks, "a cleaning worker was measured"
        return max(peaks)

    return peak


async def _answer_within(seconds: float, cleaning: asyncio.Future[object]) -> float:
    """Runs a bystander beside ``cleaning``: the longest the event loop kept it waiting."""
    worst = 0.0
    while not cleaning.done():
        before = time.monotonic()
        await asyncio.sleep(0.05)
        worst = max(worst, time.monotonic() - before - 0.05)
    assert worst < seconds
    return worst


async def test_pdf_content_stream_bomb_costs_the_worker_not_the_bot(
    sandbox: CleaningSandbox, workers_peak_rss_mb: Callable[[], int]
) -> None:
    bomb = hostile.pdf_content_bomb()  # 2 MB that inflates to 2 GB
    assert len(bomb) < 3_000_000
    own_before = _own_peak_rss_mb()
    started = time.monotonic()
    cleaning = asyncio.ensure_future(sandbox.clean(bomb, max_bytes=LIMIT))
    await _answer_within(1.0, cleaning)  # a bystander is answered while it runs
    assert await cleaning is NOT_CLEANED
    assert time.monotonic() - started < 15
    assert _own_peak_rss_mb() - own_before < 100  # the bot never held the inflated stream
    assert workers_peak_rss_mb() <= sandbox.limits.address_space // 2**20


async def test_jpeg_with_thousands_of_scans_is_refused_before_decoding(
    sandbox: CleaningSandbox,
) -> None:
    started = time.monotonic()
    assert await sandbox.clean(hostile.jpeg_scan_bomb(), max_bytes=LIMIT) is NOT_CLEANED
    assert time.monotonic() - started < 5


async def test_lossy_webp_stays_lossy_and_within_the_file_limit(sandbox: CleaningSandbox) -> None:
    webp = hostile.noisy_lossy_webp()
    with Image.open(io.BytesIO(webp)) as image:
        as_png = io.BytesIO()
        image.save(as_png, format="PNG")
    assert as_png.tell() > LIMIT  # the old cleaner's PNG would have been over the limit
    cleaned = await _clean(sandbox, webp)
    assert cleaned.media_type == "image/jpeg"
    assert len(cleaned.data) <= LIMIT


async def test_36_megapixel_photo_is_cleaned_within_the_worker_budget(
    sandbox: CleaningSandbox, workers_peak_rss_mb: Callable[[], int]
) -> None:
    cleaned = await _clean(sandbox, hostile.jpeg_of(6000, 6000))
    with Image.open(io.BytesIO(cleaned.data)) as image:
        assert image.size == (6000, 6000)
    assert workers_peak_rss_mb() < sandbox.limits.address_space // 2**20
    over = await sandbox.clean(hostile.jpeg_of(6000, MAX_IMAGE_PIXELS // 6000 + 1), max_bytes=LIMIT)
    assert over is TOO_MANY_PIXELS


def _pdf_strings(pdf: pikepdf.Pdf) -> Iterator[bytes]:
    """Every string, name and stream's raw bytes in ``pdf``, as an independent reader sees it."""
    for obj in pdf.objects:
        if isinstance(obj, pikepdf.Stream):
            yield obj.read_raw_bytes()
            yield repr(dict(obj.items())).encode()
        elif isinstance(obj, pikepdf.Dictionary | pikepdf.Array):
            yield repr(obj).encode()
        elif isinstance(obj, pikepdf.String):
            yield bytes(obj)


async def test_scanned_pdf_loses_the_photo_gps_and_the_annotation_author(
    sandbox: CleaningSandbox,
) -> None:
    original = hostile.scan_to_pdf("CanaryScanArtist", "CanaryAnnotAuthor")
    assert b"CanaryScanArtist" in original
    assert b"CanaryAnnotAuthor" in original
    cleaned = await _clean(sandbox, original)
    assert cleaned.kind is AttachmentKind.PDF
    assert cleaned.notes == (PDF_PAGES_AS_IMAGES,)
    for canary in (b"CanaryScanArtist", b"CanaryAnnotAuthor", b"Exif", b"/Annots", b"/T "):
        assert canary not in cleaned.data
    with pikepdf.open(io.BytesIO(cleaned.data)) as pdf:
        assert len(pdf.pages) == 1
        assert "/Annots" not in pdf.pages[0]
        for stream in pdf.objects:
            if isinstance(stream, pikepdf.Stream) and stream.get("/Subtype") == "/Image":
                with Image.open(io.BytesIO(stream.read_raw_bytes())) as photo:
                    assert not photo.getexif()
                    assert "exif" not in photo.info
        assert not any(b"Canary" in text for text in _pdf_strings(pdf))


async def test_pdf_javascript_attachments_thumbnails_xmp_forms_and_id_do_not_survive(
    sandbox: CleaningSandbox,
) -> None:
    original = hostile.pdf_with_everything("CanaryEverything")
    cleaned = await _clean(sandbox, original)
    assert b"CanaryEverything" not in cleaned.data
    for key in (b"/JavaScript", b"/JS", b"/EmbeddedFile", b"/Thumb", b"/Metadata", b"/XFA"):
        assert key not in cleaned.data
    with pikepdf.open(io.BytesIO(cleaned.data)) as pdf:
        assert "/ID" not in pdf.trailer
        assert not dict(pdf.docinfo.items())
        assert set(pdf.Root.keys()) == {"/Type", "/Pages"}
        assert not pdf.attachments
        assert set(pdf.pages[0].keys()) <= {
            "/Type",
            "/Parent",
            "/MediaBox",
            "/Resources",
            "/Contents",
        }
        assert not any(b"Canary" in text for text in _pdf_strings(pdf))


def _ogg_packets(data: bytes) -> list[bytes]:
    fileobj = io.BytesIO(data)
    pages = []
    while fileobj.tell() < len(data):
        pages.append(OggPage(fileobj))
    return OggPage.to_packets(pages)


async def test_voice_note_loses_tags_cover_art_and_what_follows_its_last_page(
    sandbox: CleaningSandbox,
) -> None:
    original = hostile.tagged_voice_note("CanaryOgg")
    assert b"CanaryOgg" in original
    cleaned = await _clean(sandbox, original)
    assert cleaned.kind is AttachmentKind.VOICE
    assert b"CanaryOgg" not in cleaned.data
    assert b"\xff\xd8\xff" not in cleaned.data  # neither the cover nor the glued photo
    opus = mutagen.oggopus.OggOpus(io.BytesIO(cleaned.data))
    assert not opus.tags.keys()
    assert opus.tags.vendor == ""
    # Every byte belongs to a page (mutagen reads to the end), and the audio is unchanged.
    packets = _ogg_packets(cleaned.data)
    assert packets[2:] == _ogg_packets(samples.ogg_opus([]))[2:]


async def test_heic_photo_is_accepted_and_re_encoded_without_gps(sandbox: CleaningSandbox) -> None:
    original = hostile.heic_with_gps("CanaryHeicArtist")
    with Image.open(io.BytesIO(original)) as before:
        assert before.getexif().get_ifd(GPS_IFD)
    cleaned = await _clean(sandbox, original)
    assert cleaned.media_type == "image/jpeg"
    assert b"CanaryHeicArtist" not in cleaned.data
    with Image.open(io.BytesIO(cleaned.data)) as after:
        assert after.size == (48, 64)  # EXIF orientation 6 applied before it was dropped
        assert not after.getexif()


@pytest.mark.parametrize(
    "broken",
    [
        pytest.param(samples.jpeg_with_gps()[:300], id="truncated-jpeg"),
        pytest.param(samples.voice_note()[:-5], id="truncated-ogg"),
        pytest.param(
            samples.voice_note()[:40] + b"\x00" + samples.voice_note()[41:], id="ogg-bad-crc"
        ),
        pytest.param(hostile.pdf_jpeg_polyglot(), id="jpeg-pdf-polyglot"),
    ],
)
async def test_truncated_damaged_and_polyglot_files_are_refused(
    sandbox: CleaningSandbox, broken: bytes
) -> None:
    result = await sandbox.clean(broken, max_bytes=LIMIT)
    assert result is UNREADABLE
    assert isinstance(result, Refused)
