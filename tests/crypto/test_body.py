"""Report body (docs/crypto.md, "Report body"): canonical bytes, strict decoding, safe names."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto.body import (
    MAGIC,
    Answer,
    Attachment,
    AttachmentKind,
    MalformedBody,
    ReportBody,
    safe_file_name,
)
from crypto.originals import CLEANING_CHANGES, MalformedOriginal, OriginalFile, describe_change

SAMPLE = ReportBody(
    [Answer("incident.type", "outing"), Answer("what", "نشروا صوري\nthey posted my photos")],
    [
        Attachment("screenshot 1.png", "image/png", AttachmentKind.PHOTO, b"\x89PNG..."),
        Attachment("voice.ogg", "audio/ogg", AttachmentKind.VOICE, b""),
    ],
)

PHOTO_ORIGINAL = OriginalFile(
    bytes(range(32)), 2_345_678, "image/heic", ["removed.exif_gps", "changed.reencoded"]
)

_keys = st.from_regex(r"[a-z0-9][a-z0-9_.-]{0,20}", fullmatch=True)
_names = st.text(min_size=1, max_size=40).map(lambda t: safe_file_name(t, fallback="file.bin"))
_bodies = st.builds(
    ReportBody,
    st.lists(st.builds(Answer, _keys, st.text(max_size=200)), max_size=5),
    st.lists(
        st.builds(
            Attachment,
            _names,
            st.sampled_from(["image/jpeg", "application/pdf", "audio/ogg"]),
            st.sampled_from(AttachmentKind),
            st.binary(max_size=300),
            st.none()
            | st.builds(
                OriginalFile,
                st.binary(min_size=32, max_size=32),
                st.integers(0, 2**64 - 1),
                st.sampled_from(["image/heic", "application/pdf"]),
                st.lists(st.sampled_from(sorted(CLEANING_CHANGES)), unique=True, max_size=4),
            ),
        ),
        max_size=3,
    ),
)


@settings(max_examples=50, deadline=None)
@given(_bodies)
def test_from_bytes_inverts_to_bytes(body: ReportBody) -> None:
    encoded = body.to_bytes()
    assert encoded.startswith(MAGIC + b"\x02")
    assert ReportBody.from_bytes(encoded) == body
    assert ReportBody.from_bytes(encoded).to_bytes() == encoded


def test_answer_lookup_and_order_are_kept() -> None:
    decoded = ReportBody.from_bytes(SAMPLE.to_bytes())
    assert [a.key for a in decoded.answers] == ["incident.type", "what"]
    assert decoded.answer("what") == "نشروا صوري\nthey posted my photos"
    assert decoded.answer("missing") is None


def test_repr_leaves_out_report_content() -> None:
    text = repr(SAMPLE)
    assert "outing" not in text
    assert "PNG" not in text
    assert "incident.type" in text


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        pytest.param(lambda b: b"xbdy" + b[4:], "not a Sanad report body", id="magic"),
        pytest.param(lambda b: b[:4] + b"\x03" + b[5:], "version 3", id="version"),
        pytest.param(lambda b: b[:-1], "truncated", id="truncated"),
        pytest.param(lambda b: b + b"\x00", "trailing", id="trailing"),
        pytest.param(lambda b: b[:5] + b"\xff\xff" + b[7:], "too many", id="count"),
    ],
)
def test_from_bytes_rejects_malformed_input(mutate: object, message: str) -> None:
    with pytest.raises(MalformedBody, match=message):
        ReportBody.from_bytes(mutate(SAMPLE.to_bytes()))  # type: ignore[operator]


def _with_attachment_name(raw_name: bytes) -> bytes:
    good = ReportBody([], [Attachment("a.jpg", "image/jpeg", AttachmentKind.PHOTO, b"x")])
    encoded = good.to_bytes()
    return encoded.replace(b"\x00\x05a.jpg", len(raw_name).to_bytes(2, "big") + raw_name)


@pytest.mark.parametrize(
    "raw_name",
    [
        b"../../.bashrc",
        b"a/b.jpg",
        b"a\\b.jpg",
        b".hidden",
        b"",
        b"con.txt",
        b"a\x00b",
        b"x.",
        b"\xff",
    ],
)
def test_from_bytes_rejects_unsafe_file_names(raw_name: bytes) -> None:
    with pytest.raises(MalformedBody):
        ReportBody.from_bytes(_with_attachment_name(raw_name))


def test_from_bytes_rejects_unknown_attachment_kind() -> None:
    encoded = bytearray(SAMPLE.to_bytes())
    position = encoded.index(b"\x00\x10screenshot") - 1
    encoded[position] = 99
    with pytest.raises(MalformedBody, match="kind 99"):
        ReportBody.from_bytes(bytes(encoded))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("../../etc/passwd", "_.._etc_passwd"),
        (".bashrc", "bashrc"),
        ("photo.jpg", "photo.jpg"),
        ("نشر.pdf", "نشر.pdf"),
        ("...", "fallback.bin"),
        ("NUL.txt", "fallback.bin"),
        ("a\u202egnp.exe", "a_gnp.exe"),  # right-to-left override is a format character
        ("x" * 300 + ".jpeg", "x" * 115 + ".jpeg"),
    ],
)
def test_safe_file_name_produces_names_attachment_accepts(raw: str, expected: str) -> None:
    name = safe_file_name(raw, fallback="fallback.bin")
    assert name == expected
    Attachment(name, "image/jpeg", AttachmentKind.PHOTO, b"")


@settings(max_examples=50, deadline=None)
@given(st.text(max_size=300))
def test_safe_file_name_is_always_accepted(raw: str) -> None:
    Attachment(safe_file_name(raw, fallback="f.bin"), "image/jpeg", AttachmentKind.PHOTO, b"")


def test_constructors_reject_bad_keys_and_media_types() -> None:
    with pytest.raises(MalformedBody):
        Answer("Has Spaces", "x")
    with pytest.raises(MalformedBody):
        Attachment("a.jpg", "jpeg", AttachmentKind.PHOTO, b"")


def test_original_file_record_comes_back_beside_the_cleaned_copy() -> None:
    body = ReportBody(
        [],
        [Attachment("evidence-1.jpg", "image/jpeg", AttachmentKind.PHOTO, b"jpeg", PHOTO_ORIGINAL)],
    )
    [attachment] = ReportBody.from_bytes(body.to_bytes()).attachments
    assert attachment.original == PHOTO_ORIGINAL
    assert attachment.original.sha256_hex == bytes(range(32)).hex()
    assert attachment.data == b"jpeg"


def test_version_1_bodies_of_earlier_reports_stay_readable() -> None:
    # A body as version 1 wrote it, byte for byte: one answer, one attachment, no original.
    v1 = (
        b"sbdy\x01"
        + b"\x00\x01"
        + b"\x0dincident.type"
        + b"\x00\x00\x00\x06outing"
        + b"\x00\x01"
        + b"\x01"
        + b"\x00\x05a.jpg"
        + b"\x0aimage/jpeg"
        + b"\x00\x00\x00\x03abc"
    )
    body = ReportBody.from_bytes(v1)
    assert body.answer("incident.type") == "outing"
    [attachment] = body.attachments
    assert (attachment.file_name, attachment.data, attachment.original) == ("a.jpg", b"abc", None)
    assert body.to_bytes()[4] == 2  # read as version 1, written as version 2


def test_from_bytes_rejects_a_version_1_body_with_an_original_flag() -> None:
    good = ReportBody([], [Attachment("a.jpg", "image/jpeg", AttachmentKind.PHOTO, b"x")])
    as_v1 = good.to_bytes()[:4] + b"\x01" + good.to_bytes()[5:]  # the trailing flag is extra
    with pytest.raises(MalformedBody, match="trailing"):
        ReportBody.from_bytes(as_v1)


WITH_ORIGINAL = ReportBody(
    [], [Attachment("a.jpg", "image/jpeg", AttachmentKind.PHOTO, b"x", PHOTO_ORIGINAL)]
).to_bytes()
WITHOUT_ORIGINAL = ReportBody(
    [], [Attachment("a.jpg", "image/jpeg", AttachmentKind.PHOTO, b"x")]
).to_bytes()


@pytest.mark.parametrize(
    ("encoded", "message"),
    [
        pytest.param(WITHOUT_ORIGINAL[:-1] + b"\x02", "flag must be 0 or 1", id="flag"),
        pytest.param(
            WITH_ORIGINAL.replace(b"changed.reencoded", b"Changed.Reencoded"), "change", id="code"
        ),
        pytest.param(
            WITH_ORIGINAL.replace(b"\x11changed.reencoded", b"\x10removed.exif_gps"),
            "distinct",
            id="duplicate",
        ),
    ],
)
def test_from_bytes_rejects_a_broken_original_record(encoded: bytes, message: str) -> None:
    with pytest.raises(MalformedBody, match=message):
        ReportBody.from_bytes(encoded)


def test_original_file_refuses_fields_out_of_bounds() -> None:
    for bad in (
        lambda: OriginalFile(b"short", 1, "image/jpeg"),
        lambda: OriginalFile(bytes(32), -1, "image/jpeg"),
        lambda: OriginalFile(bytes(32), 1, "JPEG"),
        lambda: OriginalFile(bytes(32), 1, "image/jpeg", ["a", "a"]),
    ):
        with pytest.raises(MalformedOriginal):
            bad()


def test_unknown_cleaning_changes_are_shown_as_they_are() -> None:
    assert describe_change("removed.exif_gps") == CLEANING_CHANGES["removed.exif_gps"]
    assert describe_change("removed.something_newer") == "removed.something_newer"
