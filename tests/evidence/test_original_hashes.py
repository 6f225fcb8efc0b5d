"""Original-file records: what the bot received is hashed and sealed, and never kept.

A photo goes through the real bot (PTB over HTTP against the local Bot API server, the real
cleaning sandbox, the real submission service, a real SQLite file): the sealed report must carry
the SHA-256 and size of the very bytes the test sent, the type recognised and what cleaning
removed, while neither the database nor its WAL holds any trace of the original.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
from PIL import Image

from handlers.evidence import CleaningSandbox
from handlers.evidence.cleaner import clean_evidence
from handlers.evidence.protocol import ProtocolError, read_answer
from handlers.i18n import Refused
from tests.evidence.support import send_report_with
from tests.handlers import samples
from tests.handlers.conftest import Reporter, running_bot
from tests.handlers.e2e import deployment, open_stored, stored_reports

TRAILER = b"CanaryTrailer glued after the image"
MAX_BYTES = 5_000_000


def files_in(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in folder.iterdir() if path.is_file()}


async def test_sealed_original_hash_is_the_sha256_of_the_photo_sent_and_nothing_of_it_is_kept(
    tmp_path: Path,
) -> None:
    photo = samples.jpeg_with_gps() + TRAILER
    async with deployment(tmp_path) as deployed, running_bot(submitter=deployed.service) as bot:
        reporter = Reporter(bot.api.open_chat(7301, "Reporter"))
        await send_report_with(reporter, photo)
        [stored] = await stored_reports(deployed.database)
        body = open_stored(stored, deployed.caseworker.encryption)
        written = files_in(tmp_path)  # the database and, while it is open, its WAL

    [attachment] = body.attachments
    original = attachment.original
    assert original is not None
    assert original.sha256 == hashlib.sha256(photo).digest()
    assert original.size == len(photo)
    assert original.media_type == "image/jpeg"
    assert set(original.changes) >= {
        "removed.exif",
        "removed.exif_gps",
        "removed.xmp",
        "removed.icc_profile",
        "removed.comment",
        "removed.trailing_data",
        "changed.rotated",
        "changed.reencoded",
    }
    assert hashlib.sha256(attachment.data).digest() != original.sha256

    metadata = [TRAILER, b"CanaryXMP", b"CanaryComment", b"CanaryPhone", b"Exif"]
    for trace in metadata:
        assert trace not in attachment.data, "the cleaned copy holds the original's metadata"
    # The stored bytes are ciphertext: not the hash, nor any stretch of the original's bytes.
    traces = [
        original.sha256,
        original.sha256.hex().encode(),
        *metadata[:-1],
        *(photo[i : i + 32] for i in range(0, len(photo) - 32, 97)),
    ]
    assert any(name.endswith(".sqlite3") for name in written)
    for name, content in written.items():
        for trace in traces:
            assert trace not in content, f"{name} holds a trace of the original"


@pytest.mark.parametrize(
    ("original", "media_type", "expected"),
    [
        pytest.param(
            samples.pdf_with_author(),
            "application/pdf",
            {"removed.pdf_info", "changed.pages_as_pictures"},
            id="pdf",
        ),
        pytest.param(
            samples.ogg_opus([b"TITLE=CanaryVoice"], trailing=b"CanaryTail"),
            "audio/ogg",
            {"removed.audio_tags", "removed.trailing_data", "changed.stream_rebuilt"},
            id="voice",
        ),
        pytest.param(
            samples.png_with_text(),
            "image/png",
            {
                "removed.comment",
                "removed.exif",
                "removed.exif_gps",
                "changed.rotated",
                "changed.reencoded",
            },
            id="png",
        ),
    ],
)
async def test_cleaning_reports_what_it_removed_across_the_sandbox(
    original: bytes, media_type: str, expected: set[str]
) -> None:
    result = await CleaningSandbox(workers=1, queue=0).clean(original, max_bytes=MAX_BYTES)
    assert not isinstance(result, Refused)
    assert result.source_type == media_type
    assert set(result.changes) == expected


def test_a_photo_without_metadata_lists_only_its_re_encoding() -> None:
    plain = io.BytesIO()
    Image.new("RGB", (20, 20), (1, 2, 3)).save(plain, format="JPEG")
    result = clean_evidence(plain.getvalue(), max_bytes=MAX_BYTES)
    assert not isinstance(result, Refused)
    assert result.changes == ("changed.reencoded",)


@pytest.mark.parametrize(
    "header",
    [
        b'{"output": "jpeg", "notes": [], "source": "image/jpeg", "changes": ["removed.secrets"]}',
        b'{"output": "jpeg", "notes": [], "source": "text/html", "changes": []}',
        b'{"output": "jpeg", "notes": [], "source": "image/jpeg", '
        b'"changes": ["changed.reencoded", "changed.reencoded"]}',
        b'{"output": "jpeg", "notes": [], "source": ["image/jpeg"], "changes": []}',
        b'{"output": "jpeg", "notes": [], "changes": []}',
    ],
)
def test_parent_refuses_a_worker_naming_unknown_sources_or_changes(header: bytes) -> None:
    stream = io.BytesIO(header + b"\n" + b"\xff\xd8\xff" + b"x" * 10)
    with pytest.raises(ProtocolError):
        read_answer(stream, max_bytes=MAX_BYTES)
