"""Make ``sample-voice.ogg``, the voice note the sandbox page offers when the browser cannot record.

Run from the repository root: ``python -m bot.try_mode.generate_sample_voice``. It needs the
system's libopus (Debian: ``libopus0``) and nothing else: the sound is computed here (two seconds
of a hummed, voice-like tone: a few harmonics of a pitch that rises and falls), encoded with
libopus through ctypes, and written as an Ogg Opus stream (RFC 7845) page by page. The file is
committed so that ``sanad try`` needs no audio library; this script is how anyone can check
where its bytes came from, or make it again.

Its comment header carries tags the bot must remove — a recording app, a place and a date, as a
phone's recorder may write them — so the sandbox shows a voice note arriving clean.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import math
import struct
from pathlib import Path
from typing import Final

from handlers.evidence.ogg import ogg_crc

OUTPUT: Final = Path(__file__).with_name("sample-voice.ogg")
RATE: Final = 48_000
FRAME: Final = 960  # 20 ms, the frame Telegram's apps record in
SECONDS: Final = 2.0
BITRATE: Final = 24_000
SERIAL: Final = 0x53414E44  # "SAND": any fixed number keeps the output reproducible
PACKETS_PER_PAGE: Final = 50  # one second of audio per page, as recorders write them
#: What a phone's recorder may leave in a file, and what the bot's cleaning must take out.
TAGS: Final = (
    "ENCODER=Sanad sample recorder",
    "LOCATION=Beirut 33.8938,35.5018",
    "DATE=2025-07-14T21:03:00",
)

_APPLICATION_VOIP = 2048
_SET_BITRATE = 4002
_GET_LOOKAHEAD = 4027
_FIRST, _LAST = 0x02, 0x04


def tone() -> list[int]:
    """Mono 16-bit samples: a hum whose pitch glides like speech, faded in and out."""
    samples = []
    phase = 0.0
    total = int(RATE * SECONDS)
    for index in range(total):
        t = index / RATE
        pitch = 150.0 + 40.0 * math.sin(2 * math.pi * 0.8 * t)
        phase += 2 * math.pi * pitch / RATE
        voice = sum(math.sin(k * phase) / k for k in range(1, 6))
        fade = min(1.0, t / 0.1, (SECONDS - t) / 0.1)
        envelope = fade * (0.6 + 0.4 * math.sin(2 * math.pi * 3 * t))  # syllables, 3 a second
        samples.append(int(7000 * envelope * voice))
    return samples


class NoLibopus(RuntimeError):
    """The system has no libopus to encode with."""


def encode(samples: list[int]) -> tuple[list[bytes], int]:
    """Opus packets of 20 ms each, and the encoder's pre-skip (its lookahead)."""
    name = ctypes.util.find_library("opus")
    if name is None:
        raise NoLibopus("libopus is not installed (Debian: apt-get install libopus0)")
    opus = ctypes.CDLL(name)
    opus.opus_encoder_create.restype = ctypes.c_void_p
    opus.opus_encoder_create.argtypes = [ctypes.c_int32, ctypes.c_int, ctypes.c_int,
                                         ctypes.POINTER(ctypes.c_int)]
    opus.opus_encode.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_int16), ctypes.c_int,
                                 ctypes.c_char_p, ctypes.c_int32]
    opus.opus_encoder_destroy.argtypes = [ctypes.c_void_p]
    error = ctypes.c_int()
    encoder = opus.opus_encoder_create(RATE, 1, _APPLICATION_VOIP, ctypes.byref(error))
    if error.value != 0 or not encoder:
        raise NoLibopus(f"libopus could not make an encoder (error {error.value})")
    try:
        opus.opus_encoder_ctl(ctypes.c_void_p(encoder), _SET_BITRATE, ctypes.c_int32(BITRATE))
        lookahead = ctypes.c_int32()
        opus.opus_encoder_ctl(ctypes.c_void_p(encoder), _GET_LOOKAHEAD, ctypes.byref(lookahead))
        # Padding at the end flushes the lookahead; the granule position trims it off again.
        padded = samples + [0] * (-(len(samples) + lookahead.value) % FRAME + lookahead.value)
        packets = []
        out = ctypes.create_string_buffer(4000)
        for start in range(0, len(padded), FRAME):
            pcm = (ctypes.c_int16 * FRAME)(*padded[start : start + FRAME])
            size = opus.opus_encode(encoder, pcm, FRAME, out, len(out))
            if size < 0:
                raise NoLibopus(f"libopus could not encode (error {size})")
            packets.append(out.raw[:size])
        return packets, lookahead.value
    finally:
        opus.opus_encoder_destroy(encoder)


def page(body_packets: list[bytes], *, granule: int, sequence: int, flags: int) -> bytes:
    """One Ogg page holding whole packets (each under 255 × 255 bytes), with its CRC."""
    lacing = bytearray()
    for packet in body_packets:
        lacing += b"\xff" * (len(packet) // 255) + bytes([len(packet) % 255])
    header = struct.pack("<4sBBqIIIB", b"OggS", 0, flags, granule, SERIAL, sequence, 0,
                         len(lacing))
    data = bytearray(header + lacing + b"".join(body_packets))
    data[22:26] = struct.pack("<I", ogg_crc(data))
    return bytes(data)


def ogg_opus(packets: list[bytes], pre_skip: int, samples: int) -> bytes:
    """The packets as an Ogg Opus stream: OpusHead, OpusTags, then the audio pages."""
    head = b"OpusHead" + struct.pack("<BBHIhB", 1, 1, pre_skip, RATE, 0, 0)
    vendor = b"libopus"
    tags = b"OpusTags" + struct.pack("<I", len(vendor)) + vendor + struct.pack("<I", len(TAGS))
    for tag in TAGS:
        tags += struct.pack("<I", len(tag.encode())) + tag.encode()
    pages = [page([head], granule=0, sequence=0, flags=_FIRST),
             page([tags], granule=0, sequence=1, flags=0)]
    end = pre_skip + samples  # the last page's granule trims the padding (RFC 7845 §4)
    for number, start in enumerate(range(0, len(packets), PACKETS_PER_PAGE)):
        chunk = packets[start : start + PACKETS_PER_PAGE]
        last = start + len(chunk) >= len(packets)
        granule = end if last else (start + len(chunk)) * FRAME
        pages.append(page(chunk, granule=granule, sequence=2 + number,
                          flags=_LAST if last else 0))
    return b"".join(pages)


def sample_voice() -> bytes:
    """The sample voice note's bytes; raises :class:`NoLibopus` without a usable libopus."""
    samples = tone()
    packets, pre_skip = encode(samples)
    return ogg_opus(packets, pre_skip, len(samples))


def main() -> None:
    """Write ``sample-voice.ogg`` beside this script."""
    try:
        OUTPUT.write_bytes(sample_voice())
    except NoLibopus as exc:
        raise SystemExit(str(exc)) from None
    print(f"{OUTPUT}: {OUTPUT.stat().st_size} bytes")


if __name__ == "__main__":
    main()
