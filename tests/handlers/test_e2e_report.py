"""A whole report, in each language, from /start to a sealed row and an empty chat.

Real PTB over HTTP against the local Bot API server, the real submission service, a real SQLite
file, real libsodium: the database is then opened with the caseworker's and the recovery key, and
every answer and file must come back — with no GPS, EXIF or PDF author left.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from PIL import Image

from crypto import AttachmentKind, ReportBody
from crypto.report_fields import (
    KEY_ADVOCACY,
    KEY_COUNTRY,
    KEY_DANGER,
    KEY_DESCRIPTION,
    KEY_LINK,
    KEY_MONTH,
    KEY_PLATFORM,
    KEY_PLATFORM_RESPONSE,
    KEY_REPLY_WANTED,
    KEY_TYPE,
    KEY_YEAR,
)
from handlers.choices import country_name, month_name
from storage.models import Language
from tests.handlers import samples
from tests.handlers.conftest import Reporter, begin, running_bot
from tests.handlers.e2e import (
    deployment,
    image_metadata,
    open_stored,
    pdf_metadata,
    stored_reports,
)

GPS_IFD = 0x8825

STATEMENTS = {
    "ar": "نشروا صوري على إنستغرام مع اسمي وعنواني، ثم هددوني.",
    "fr": "Ils ont publié mes photos sur Instagram avec mon adresse, puis m'ont menacé.",
    "en": "They posted my photos on Instagram with my address, then threatened me.",
}


async def walk_full_report(reporter: Reporter, statement: str, link: str) -> str:
    """Answer every step with two photos, a PDF and a voice note; returns the receipt text."""
    chat = reporter.chat
    await begin(reporter, in_danger=True)
    await reporter.press("Doxxing or outing")
    await reporter.press("Instagram")
    await reporter.press(country_name("EG", reporter.language), translate=False)
    await reporter.press("2025", translate=False)
    await reporter.press(month_name(11, reporter.language), translate=False)
    await reporter.say(statement, until=lambda m: bool(m.buttons))
    await reporter.say(f"{link} and instagram.com/p/second", until=lambda m: bool(m.buttons))
    await reporter.press("Done")
    for sent, evidence in enumerate(
        (
            lambda: chat.send_photo(samples.jpeg_with_gps(colour=(200, 10, 10))),
            lambda: chat.send_photo(
                samples.jpeg_with_gps(width=30, height=50, colour=(10, 10, 200))
            ),
            lambda: chat.send_document(samples.pdf_with_author(), "my-cv.pdf", "application/pdf"),
            lambda: chat.send_voice(samples.voice_note(), 4),
        ),
        start=1,
    ):
        await evidence()
        expected = reporter._("File added. Files added so far: {count}.").format(count=sent)
        await chat.wait_for(lambda m, text=expected: (m.text or "").startswith(text))
    await reporter.press("Done")
    await reporter.press("I reported it and they said it did not break their rules")
    await reporter.press("Yes, I would like a reply")
    review = await reporter.press("Yes, without anything that identifies me")
    assert review.text is not None
    assert review.text.startswith(reporter._("Please check your report before you submit it."))
    receipt_message = await reporter.press("Submit")
    assert receipt_message.text is not None
    match = re.search(r"(\d{4}(?: \d{4}){6})", receipt_message.text)
    assert match is not None, "the receipt is shown as seven groups of four digits"
    return match.group(1)


def assert_body_holds_every_answer(body: ReportBody, statement: str, link: str) -> None:
    assert body.answer(KEY_DANGER) == "yes"
    assert body.answer(KEY_TYPE) == "doxxing"
    assert body.answer(KEY_PLATFORM) == "instagram"
    assert body.answer(KEY_COUNTRY) == "EG"
    assert body.answer(KEY_YEAR) == "2025"
    assert body.answer(KEY_MONTH) == "11"
    assert body.answer(KEY_DESCRIPTION) == statement
    assert [a.value for a in body.answers if a.key == KEY_LINK] == [
        link,
        "https://instagram.com/p/second",
    ]
    assert body.answer(KEY_PLATFORM_RESPONSE) == "not_against_rules"
    assert body.answer(KEY_REPLY_WANTED) == "yes"
    assert body.answer(KEY_ADVOCACY) == "yes"


def assert_files_are_clean(body: ReportBody) -> None:
    kinds = [a.kind for a in body.attachments]
    assert kinds == [
        AttachmentKind.PHOTO,
        AttachmentKind.PHOTO,
        AttachmentKind.DOCUMENT,
        AttachmentKind.VOICE,
    ]
    first, second, document, voice = body.attachments
    for photo, size in ((first, (20, 40)), (second, (50, 30))):
        assert photo.media_type == "image/jpeg"
        exif, info = image_metadata(photo.data)
        assert exif == {}
        assert GPS_IFD not in exif
        assert not info & {"exif", "icc_profile", "xmp", "comment"}
        for marker in (b"Canary", b"Exif", b"ICC_PROFILE"):
            assert marker not in photo.data
        with Image.open(io.BytesIO(photo.data)) as image:
            assert image.size == size  # EXIF orientation applied before it was dropped
    assert document.media_type == "application/pdf"
    assert pdf_metadata(document.data) == (False, False)
    assert b"Canary Author" not in document.data
    assert voice.data.startswith(b"OggS")
    assert b"Canary" not in voice.data  # the tags were emptied
    assert [a.file_name for a in body.attachments] == [
        "evidence-1.jpg",
        "evidence-2.jpg",
        "evidence-3.pdf",
        "evidence-4.ogg",
    ]


@pytest.mark.parametrize("language", ["ar", "fr", "en"])
async def test_full_report_is_sealed_to_caseworker_and_recovery_and_the_chat_is_emptied(
    language: str, tmp_path: Path
) -> None:
    statement = STATEMENTS[language]
    link = f"https://www.instagram.com/p/{language}-evidence"
    async with deployment(tmp_path) as deployed, running_bot(submitter=deployed.service) as bot:
        chat = bot.api.open_chat(7100 + len(language), "Reporter", language_code=language)
        reporter = Reporter(chat, language)
        receipt = await walk_full_report(reporter, statement, link)
        receipt_message = reporter.latest_with_buttons()
        await chat.press_button(receipt_message.message_id, text=reporter._("I have saved it"))
        await chat.wait_until(lambda: not chat.messages())

        [stored] = await stored_reports(deployed.database)
        assert stored.report.language is Language(language)
        assert stored.report.assigned_caseworker_id == deployed.caseworker_id
        assert len(stored.wraps) == 2
        for key in (deployed.caseworker.encryption, deployed.organisation.recovery):
            body = open_stored(stored, key)
            assert_body_holds_every_answer(body, statement, link)
            assert_files_are_clean(body)
        database_bytes = deployed.path.read_bytes()
        assert receipt.replace(" ", "").encode() not in database_bytes


async def test_without_a_verified_caseworker_the_report_is_sealed_to_the_recovery_key_alone(
    tmp_path: Path,
) -> None:
    async with (
        deployment(tmp_path, with_caseworker=False) as deployed,
        running_bot(submitter=deployed.service) as bot,
    ):
        reporter = Reporter(bot.api.open_chat(7200, "Reporter"))
        await begin(reporter)
        await reporter.press("Something else")
        await reporter.press("X (Twitter)")
        await reporter.press("Another country")
        await reporter.press("I don't know")
        await reporter.say("Only the recovery key can read this", until=lambda m: bool(m.buttons))
        await reporter.press("Skip")
        await reporter.press("Skip")
        await reporter.press("Skip")
        await reporter.press("No reply needed")
        await reporter.press("No")
        await reporter.press("Submit")
        [stored] = await stored_reports(deployed.database)
        assert stored.report.assigned_caseworker_id is None
        assert list(stored.wraps) == [deployed.organisation.recovery.public_key.key_id]
        body = open_stored(stored, deployed.organisation.recovery)
        assert body.answer(KEY_DESCRIPTION) == "Only the recovery key can read this"
        assert body.answer(KEY_COUNTRY) == "other"
        assert body.answer(KEY_YEAR) is None
        assert body.answer(KEY_PLATFORM_RESPONSE) is None
