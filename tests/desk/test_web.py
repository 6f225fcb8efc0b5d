"""``sanad desk`` over HTTP: who may talk to it, what it refuses, and what it leaves on disk.

The desk runs as the real command, a subprocess on 127.0.0.1; requests are made with the
standard library, as any local program could. (The browser tests drive the same pages in
Chromium.)
"""

from __future__ import annotations

import http.client
import http.cookiejar
import secrets
import signal
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from crypto import Attachment, AttachmentKind
from crypto.keys import OrganisationKeys
from crypto.mailbox_messages import open_reply, read_reply_file
from tests.desk.conftest import (
    PASSPHRASE,
    Browser,
    Caseworker,
    RunningDesk,
    photo,
    running_desk,
)
from tests.support.signed_files import BotSigner

pytestmark = pytest.mark.slow

CASE = "K7Q-4M2P"


def raw_status(desk: RunningDesk, path: str, *, host: str | None = None,
               method: str = "GET", headers: dict[str, str] | None = None) -> int:  # fmt: skip
    """The status of one request made by hand (no cookie unless given)."""
    connection = http.client.HTTPConnection("127.0.0.1", desk.port, timeout=30)
    try:
        connection.putrequest(method, path, skip_host=True)
        connection.putheader("Host", host or f"127.0.0.1:{desk.port}")
        for name, value in (headers or {}).items():
            connection.putheader(name, value)
        connection.endheaders()
        return connection.getresponse().status
    finally:
        connection.close()


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/"), ("GET", f"/case/{CASE}"), ("GET", "/static/desk.js"), ("POST", "/drop"),
     ("GET", "/unlock"), ("GET", "/no-such-page"), ("GET", "/?token=wrong")],
)  # fmt: skip
def test_every_path_without_the_session_token_is_403(
    desk: RunningDesk, method: str, path: str
) -> None:
    assert raw_status(desk, path, method=method) == 403


def test_a_foreign_host_is_refused_even_with_the_token(desk: RunningDesk) -> None:
    cookie = {"Cookie": f"sanad_desk={desk.token}"}
    assert raw_status(desk, "/", headers=cookie) == 200
    for host in ("evil.example", f"evil.example:{desk.port}", f"127.0.0.1.evil.example:{desk.port}",
                 f"127.0.0.1:{desk.port + 1}"):  # fmt: skip
        assert raw_status(desk, "/", host=host, headers=cookie) == 403
        assert raw_status(desk, f"/?token={desk.token}", host=host) == 403


def test_a_cross_site_post_is_refused(desk: RunningDesk) -> None:
    cookie = {"Cookie": f"sanad_desk={desk.token}", "Content-Length": "0"}
    assert raw_status(desk, "/drop", method="POST",
                      headers={**cookie, "Origin": "https://evil.example"}) == 403  # fmt: skip


def test_the_token_is_traded_for_a_strict_cookie_and_pages_have_a_strict_policy(
    desk: RunningDesk,
) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", desk.port, timeout=30)
    connection.request("GET", f"/?token={desk.token}")
    response = connection.getresponse()
    assert response.status == 302
    assert response.getheader("Location") == "/"
    cookie = response.getheader("Set-Cookie") or ""
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    policy = response.getheader("Content-Security-Policy") or ""
    assert "default-src 'none'" in policy
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert response.getheader("Referrer-Policy") == "same-origin"
    connection.close()


def test_the_desk_listens_on_loopback_only(desk: RunningDesk) -> None:
    assert desk.url.startswith("http://127.0.0.1:")
    # Another address of this machine reaches nothing on that port.
    addresses = {
        info[4][0]
        for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)
        if not info[4][0].startswith("127.")
    }
    for address in addresses:
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((address, desk.port), timeout=2).close()


def test_a_forged_file_is_refused_with_the_reason_and_never_kept(
    caseworker: Caseworker, desk: RunningDesk, signed_in: Browser
) -> None:
    impostor = BotSigner.certified_by(OrganisationKeys.generate().signing)
    forged = caseworker.sealed(CASE, [("incident.description", "forged")], bot=impostor)
    result = signed_in.drop("case-K7Q4M2P-0.sanad", forged)
    assert result["ok"] is False
    assert result["reason"] == "Not sent by your organisation's bot: it may be forged."
    assert str(result["detail"]).startswith("refused: ")
    _, page = signed_in.get("/")
    assert "Refused files" in page
    assert "case-K7Q4M2P-0.sanad" in page
    assert CASE not in page.split("Refused files")[1].split("</section>")[1]
    assert list((desk.data / "files").iterdir()) == []


def test_files_in_the_inbox_folder_are_listed_and_a_repeat_counts_once(
    caseworker: Caseworker, desk: RunningDesk, signed_in: Browser
) -> None:
    data = caseworker.sealed(CASE, [("incident.type", "blackmail"), ("incident.country", "TN")])
    caseworker.save(desk.inbox, CASE, data)
    _, page = signed_in.get("/")
    assert f'data-reference="{CASE}"' in page
    assert "Blackmail / extortion" in page
    assert "Tunisia" in page
    assert signed_in.drop("again.sanad", data) == {"ok": True, "case": CASE, "repeat": True}
    assert len(list((desk.data / "files").iterdir())) == 1
    _, page = signed_in.get("/?lang=fr")
    assert "Chantage / extorsion" in page
    assert "Tunisie" in page


def test_files_saved_while_the_desk_runs_appear_when_the_inbox_page_is_loaded(
    caseworker: Caseworker, desk: RunningDesk, signed_in: Browser
) -> None:
    _, page = signed_in.get("/")
    assert "No cases yet." in page
    caseworker.save(desk.inbox, CASE, caseworker.sealed(CASE, [("incident.type", "blackmail")]))
    _, page = signed_in.get("/")
    assert f'data-reference="{CASE}"' in page
    signed_in.get(f"/case/{CASE}")  # read
    addition = caseworker.sealed(CASE, [("addendum.text", "later")], sequence=1)
    caseworker.save(desk.inbox, CASE, addition, sequence=1)
    # Saved under a name looked at before (a browser replacing an earlier download): read again.
    (desk.inbox / "case-K7Q4M2P-0.sanad").write_bytes(
        caseworker.sealed(CASE, [("addendum.text", "again")], sequence=2)
    )
    _, page = signed_in.get("/")
    assert '<td class="unread">2</td>' in page


def test_nothing_but_sealed_bytes_is_left_in_the_data_folder(
    caseworker: Caseworker, desk: RunningDesk, signed_in: Browser
) -> None:
    canary = f"canary-{secrets.token_hex(6)}"
    picture = photo((12, 34, 56))
    data = caseworker.sealed(
        CASE,
        [("incident.description", f"{canary} narrative"), ("incident.link", f"https://{canary}.example")],
        [Attachment("evidence-1.jpg", "image/jpeg", AttachmentKind.PHOTO, picture)],
    )  # fmt: skip
    addition = caseworker.sealed(CASE, [("addendum.text", f"{canary} addition")], sequence=1)
    assert signed_in.drop("case.sanad", data)["ok"] is True
    assert signed_in.drop("addition.sanad", addition)["ok"] is True
    _, page = signed_in.get(f"/case/{CASE}")  # reading
    assert f"{canary} narrative" in page
    assert signed_in.get_bytes(f"/case/{CASE}/file/0/0") == (200, picture)  # viewing it
    signed_in.post(f"/case/{CASE}/note", text=f"{canary} note")  # annotating
    _, page = signed_in.post(f"/case/{CASE}/reply", text=f"{canary} reply")  # replying
    assert "reply-K7Q4M2P-1.sanad" in page
    assert f"{canary} note" in page

    reference = CASE.replace("-", "").encode()
    secrets_seen = [canary.encode(), picture[200:264], CASE.encode(), reference]
    written = [p for p in desk.data.rglob("*") if p.is_file()]
    assert len(written) == 3  # two sealed files and the sealed state
    for path in [*written, *desk.inbox.iterdir()]:
        content = path.read_bytes()
        for secret in secrets_seen[:2]:
            assert secret not in content, path
    for path in written:  # the desk's own files do not even name the case
        assert CASE.replace("-", "") not in path.name
    state = (desk.data / "state.sealed").read_bytes()
    for secret in secrets_seen:
        assert secret not in state
    # Refused and failed requests name the case in their path: the desk's output never does.
    cookie = {"Cookie": f"sanad_desk={desk.token}", "Content-Length": "0"}
    assert raw_status(desk, f"/case/{CASE}/note", method="POST",
                      headers={**cookie, "Origin": "https://evil.example"}) == 403  # fmt: skip
    assert raw_status(desk, "/case/N0T-F0UND", headers=cookie) == 404
    assert raw_status(desk, f"/case/{CASE}/file/0/9", headers=cookie) == 404
    output = desk.log.read_text()
    for secret in [*secrets_seen, b"N0T-F0UND"]:
        assert secret.decode(errors="replace") not in output


def test_a_reply_written_in_the_desk_opens_for_the_reporter_and_numbers_go_up(
    caseworker: Caseworker, desk: RunningDesk, signed_in: Browser
) -> None:
    data = caseworker.sealed(CASE, [("incident.description", "please answer")])
    signed_in.drop("case.sanad", data)
    for number, text in ((1, "first answer"), (2, "ثاني رد")):
        _, page = signed_in.post(f"/case/{CASE}/reply", text=text)
        assert f"reply-K7Q4M2P-{number}.sanad" in page
        reply = read_reply_file((desk.inbox / f"reply-K7Q4M2P-{number}.sanad").read_bytes())
        statement = reply.verify(caseworker.keys.public.signing)
        assert statement.case_reference == CASE
        assert statement.sequence == number - 1
        opened = open_reply(
            statement.sealed_reply,
            report_id=statement.report_id,
            sequence=statement.sequence,
            mailbox_secret=caseworker.mailboxes[CASE],
        )
        assert opened == text
    # The bot took number 3 for a /reply in the chat and asked for 4: the caseworker says so.
    _, page = signed_in.post(f"/case/{CASE}/reply", text="after a /reply", number="4")
    reply = read_reply_file((desk.inbox / "reply-K7Q4M2P-4.sanad").read_bytes())
    assert reply.verify(caseworker.keys.public.signing).sequence == 3
    assert 'name="number" min="1" value="5"' in page
    _, page = signed_in.post(f"/case/{CASE}/reply", text="   ")
    assert "Write the reply before writing its file." in page
    assert not (desk.inbox / "reply-K7Q4M2P-5.sanad").exists()
    _, page = signed_in.get("/")
    assert "replied" in page


def test_the_desk_locks_when_idle_and_only_the_passphrase_unlocks_it(
    caseworker: Caseworker, tmp_path: Path
) -> None:
    with running_desk(caseworker.key_file, tmp_path, "--lock-after", "0.02") as desk:  # 1.2 s
        browser = Browser(desk)
        assert browser.get(f"/?token={desk.token}")[0] == 200
        time.sleep(1.5)
        _, page = browser.get("/")
        assert "The desk is locked" in page
        with pytest.raises(urllib.error.HTTPError) as refused:
            browser.post("/unlock", passphrase="not the passphrase")
        assert refused.value.code == 403
        _, page = browser.post("/unlock", passphrase=PASSPHRASE)
        assert "No cases yet." in page
        _, page = browser.post("/lock")  # the top bar's button
        assert "The desk is locked" in page
        assert "The desk is locked" in browser.get(f"/case/{CASE}")[1]


def test_additions_are_threaded_in_order_and_counted_until_read(
    caseworker: Caseworker, desk: RunningDesk, signed_in: Browser
) -> None:
    signed_in.drop("report", caseworker.sealed(CASE, [("incident.description", "the report")]))
    signed_in.get(f"/case/{CASE}")  # read
    for sequence in (2, 1):  # arriving out of order
        addition = caseworker.sealed(CASE, [("addendum.text", f"addition {sequence}")],
                                     sequence=sequence)  # fmt: skip
        assert signed_in.drop(f"addition-{sequence}", addition)["ok"] is True
    _, page = signed_in.get("/")
    assert '<td class="unread">2</td>' in page
    _, page = signed_in.get(f"/case/{CASE}")
    assert page.index("the report") < page.index("addition 1") < page.index("addition 2")
    assert "Addition 1" in page
    _, page = signed_in.get("/")
    assert '<td class="unread"></td>' in page


def test_ctrl_c_closes_the_desk_saying_only_so(caseworker: Caseworker, tmp_path: Path) -> None:
    with running_desk(caseworker.key_file, tmp_path) as desk:
        desk.process.send_signal(signal.SIGINT)
        assert desk.process.wait(timeout=20) == 130
        assert desk.process.stdout is not None
        assert desk.process.stdout.read() == "Ctrl-C closes it and forgets your key.\n"
        assert desk.log.read_text() == "sanad: interrupted\n"
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", desk.port), timeout=2).close()
