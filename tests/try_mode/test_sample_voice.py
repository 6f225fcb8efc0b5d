"""The sample voice note the page offers is what its committed script makes, and arrives clean."""

from __future__ import annotations

from importlib import resources

import pytest

from bot.local_api.user import ogg_opus_seconds
from bot.try_mode.generate_sample_voice import TAGS, NoLibopus, sample_voice
from handlers.evidence.ogg import clean_ogg
from handlers.evidence.results import CleanedEvidence

COMMITTED = resources.files("bot.try_mode").joinpath("sample-voice.ogg").read_bytes()


def test_committed_sample_is_what_the_script_makes() -> None:
    try:
        made = sample_voice()
    except NoLibopus as exc:
        pytest.skip(str(exc))
    assert made == COMMITTED


def test_sample_is_a_two_second_voice_note_whose_tags_the_bot_removes() -> None:
    assert ogg_opus_seconds(COMMITTED) == 2
    cleaned = clean_ogg(COMMITTED)
    assert isinstance(cleaned, CleanedEvidence)
    for tag in TAGS:
        assert tag.encode() in COMMITTED
        assert tag.encode() not in cleaned.data
