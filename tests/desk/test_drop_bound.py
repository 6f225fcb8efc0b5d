"""A file dropped onto the desk is refused from its headers when it declares more than the desk
takes, and cut off as soon as a body of unknown length passes the bound: the desk never reads,
nor holds, more of it than :data:`desk.casebook.MAX_FILE_BYTES`.

The real ``sanad desk`` runs as a subprocess; the requests are written by hand on a socket, so
the test decides how much of a body is ever sent.
"""

from __future__ import annotations

import contextlib
import json
import socket
import urllib.parse

import pytest

from desk.casebook import MAX_FILE_BYTES, TOO_LARGE
from desk.i18n import translator
from tests.desk.conftest import Browser, Caseworker, RunningDesk, refused

pytestmark = pytest.mark.slow

CASE = "K7Q-4M2P"
ANSWER_SECONDS = 10
CHUNK = 1 << 20


def _drop_headers(desk: RunningDesk, name: str, length: str) -> bytes:
    """A drop's request line and headers, as the page sends them, with ``length`` (a
    ``Content-Length`` or ``Transfer-Encoding`` header line); the desk closes the connection
    once it has answered."""
    return (
        f"POST /drop HTTP/1.1\r\nHost: 127.0.0.1:{desk.port}\r\nConnection: close\r\n"
        f"Cookie: sanad_desk={desk.token}\r\nContent-Type: application/octet-stream\r\n"
        f"X-File-Name: {urllib.parse.quote(name)}\r\n{length}\r\n\r\n"
    ).encode()


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def _received(connection: socket.socket) -> bytes:
    """All the desk answered, until it closed the connection (with a reset after the answer
    when it left part of the body unread)."""
    received = b""
    with contextlib.suppress(ConnectionResetError):
        while data := connection.recv(65536):
            received += data
    return received


def _answer(connection: socket.socket) -> tuple[int, dict[str, object]]:
    """The desk's answer to a drop: its status and JSON body."""
    head, _, body = _received(connection).partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


@pytest.mark.parametrize("declared", [MAX_FILE_BYTES + 1, 200_000_000])
def test_a_drop_declaring_more_than_the_bound_is_refused_before_its_body_is_sent(
    desk: RunningDesk, signed_in: Browser, declared: int
) -> None:
    with socket.create_connection(("127.0.0.1", desk.port), timeout=ANSWER_SECONDS) as sent:
        sent.sendall(_drop_headers(desk, "big.sanad", f"Content-Length: {declared}"))
        sent.sendall(bytes(4096))  # and not one byte more: the answer must not wait for them
        status, answer = _answer(sent)
    assert status == 413
    assert answer["reason"] == TOO_LARGE
    for language in ("fr", "en"):
        _, page = signed_in.get(f"/?lang={language}")
        assert refused(page) == [("big.sanad", translator(language)(TOO_LARGE))]


def test_a_chunked_drop_is_cut_off_once_it_passes_the_bound(
    caseworker: Caseworker, desk: RunningDesk, signed_in: Browser
) -> None:
    with socket.create_connection(("127.0.0.1", desk.port), timeout=ANSWER_SECONDS) as sent:
        sent.sendall(_drop_headers(desk, "endless.sanad", "Transfer-Encoding: chunked"))
        for _ in range(MAX_FILE_BYTES // CHUNK + 1):  # just over the bound, and no end chunk
            sent.sendall(_chunk(bytes(CHUNK)))
        status, answer = _answer(sent)  # the desk answers without waiting for the rest
        assert (status, answer["reason"]) == (413, TOO_LARGE)
        with pytest.raises((BrokenPipeError, ConnectionResetError)):  # nor reads any more
            sent.sendall(_chunk(bytes(64 * CHUNK)))
    _, page = signed_in.get("/")
    assert refused(page) == [("endless.sanad", TOO_LARGE)]

    # A file within the bound, sent in chunks as well, still opens.
    data = caseworker.sealed(CASE, [("incident.type", "blackmail")])
    with socket.create_connection(("127.0.0.1", desk.port), timeout=ANSWER_SECONDS) as sent:
        sent.sendall(_drop_headers(desk, "case.sanad", "Transfer-Encoding: chunked"))
        half = len(data) // 2
        sent.sendall(_chunk(data[:half]) + _chunk(data[half:]) + _chunk(b""))
        assert _answer(sent) == (200, {"ok": True, "case": CASE, "repeat": False})
    _, page = signed_in.get("/")
    assert f'data-reference="{CASE}"' in page


def test_a_drop_still_arriving_when_the_desk_locks_is_sent_to_the_unlock_page(
    caseworker: Caseworker, desk: RunningDesk, signed_in: Browser
) -> None:
    data = caseworker.sealed(CASE, [("incident.type", "blackmail")])
    with socket.create_connection(("127.0.0.1", desk.port), timeout=ANSWER_SECONDS) as sent:
        sent.sendall(_drop_headers(desk, "case.sanad", "Transfer-Encoding: chunked"))
        sent.sendall(_chunk(data[:100]))
        signed_in.post("/lock")  # from another tab
        sent.sendall(_chunk(data[100:]) + _chunk(b""))
        head = _received(sent).partition(b"\r\n\r\n")[0].decode()
    assert head.startswith("HTTP/1.1 302 ")
    assert "\r\nLocation: /unlock\r\n" in head + "\r\n"
