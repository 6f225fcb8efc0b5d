"""The caseworker's desk with a full inbox: time to a listed inbox and to an opened case page.

    python -m bench.desk [--reports 100] [--photo-kib 1024] [--text-kib 4]

``--reports`` sealed reports, each with about ``--text-kib`` KiB of answers and one photo of
``--photo-kib`` KiB, sealed to a caseworker and signed by a certified bot as the forward job
does, are given to a real ``sanad desk`` (a subprocess on 127.0.0.1, key file at Argon2id's
minimum cost) in the two ways a caseworker does:

- ``dropped``: each file posted to the page's drop endpoint, as the page's script posts a
  dropped file, then the inbox page loaded with every case listed;
- ``inbox_folder``: the files saved into the inbox folder, then the inbox page loaded (it looks
  in the folder, verifies, decrypts and lists);
- ``reopened``: the desk stopped and started again on its data folder (every sealed file is
  verified and decrypted again at unlock), to its first listed page — includes Python's start;
- ``case_page``: one case page and its photo, as a browser fetches them.

Times are wall clock, each the median of ``--repeat`` case-page loads or one run of the rest.
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from crypto import Answer, Attachment, AttachmentKind, EnvelopeKind, ReportBody, seal_report
from crypto.bot_certificate import BotCertificate, issue_bot_certificate
from crypto.certificates import today_utc
from crypto.file_names import delivery_file_name
from crypto.header import new_report_id
from crypto.keyfile import MINIMUM, save_caseworker_key
from crypto.keys import CaseworkerKeys, Ed25519SigningKey, OrganisationKeys, X25519SecretKey
from crypto.sealed_file import write_sealed_file

PASSPHRASE = "bench passphrase, long enough"
SANAD = Path(sys.executable).with_name("sanad")
_URL = re.compile(r"open at (http://127\.0\.0\.1:(\d+)/\?token=(\S+))")


def _reports(count: int, text_kib: int, photo_kib: int, keys: CaseworkerKeys,
             org: OrganisationKeys) -> dict[str, bytes]:  # fmt: skip
    bot = Ed25519SigningKey.generate()
    today = today_utc()
    certificate = issue_bot_certificate(
        BotCertificate(bot.public_key, 1, today - timedelta(days=1), today + timedelta(days=30)),
        org.signing,
    )
    files = {}
    for number in range(count):
        reference = f"B{number:02d}-{secrets.token_hex(2).upper()}"
        report_id = new_report_id()
        mailbox = X25519SecretKey.generate().public_key
        body = ReportBody(
            [Answer("incident.type", "blackmail"), Answer("incident.country", "LB"),
             Answer("incident.description", "x" * (text_kib * 1024))],
            [Attachment("evidence-1.jpg", "image/jpeg", AttachmentKind.PHOTO,
                        os.urandom(photo_kib * 1024))],
        )  # fmt: skip
        sealed = seal_report(
            body.to_bytes(), report_id=report_id, sequence=0, kind=EnvelopeKind.REPORT,
            recipients=[keys.public.encryption], reply_to=mailbox,
        )  # fmt: skip
        files[reference] = write_sealed_file(
            kind=EnvelopeKind.REPORT, case_reference=reference, report_id=report_id, sequence=0,
            reply_to=mailbox, wrap=sealed.wraps[0], body_sealed=sealed.body_sealed,
            bot_key=bot, bot_certificate=certificate,
        )  # fmt: skip
    return files


class _Client:
    def __init__(self, port: int, token: str) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        self.cookie = f"sanad_desk={token}"

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> bytes:  # fmt: skip
        self.connection.request(method, path, body, {"Cookie": self.cookie, **(headers or {})})
        response = self.connection.getresponse()
        data = response.read()
        if response.status != 200:
            raise RuntimeError(f"{method} {path}: {response.status}")
        return data


@contextmanager
def _desk(key: Path, folder: Path) -> Iterator[_Client]:
    process = subprocess.Popen(
        [str(SANAD), "desk", "--key", str(key), "--data", str(folder / "data"),
         "--inbox", str(folder / "inbox"), "--no-browser"],
        stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
        env={**os.environ, "SANAD_PASSPHRASE": PASSPHRASE},
    )  # fmt: skip
    try:
        assert process.stdout is not None
        match = _URL.search(process.stdout.readline())
        if match is None:
            raise RuntimeError("sanad desk did not start")
        yield _Client(int(match.group(2)), match.group(3))
    finally:
        process.terminate()
        process.wait(timeout=30)


def _listed(client: _Client, count: int) -> None:
    page = client.request("GET", "/").decode()
    if page.count('class="case ') != count:
        raise RuntimeError("not every case is listed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=100)
    parser.add_argument("--photo-kib", type=int, default=1024)
    parser.add_argument("--text-kib", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=5)
    options = parser.parse_args()
    org, keys = OrganisationKeys.generate(), CaseworkerKeys.generate()
    files = _reports(options.reports, options.text_kib, options.photo_kib, keys, org)
    result: dict[str, object] = {
        "reports": options.reports,
        "photo_kib": options.photo_kib,
        "text_kib": options.text_kib,
        "sealed_mib": round(sum(map(len, files.values())) / 2**20, 1),
    }
    with tempfile.TemporaryDirectory() as temporary:
        root = Path(temporary)
        key = root / "caseworker.key"
        save_caseworker_key(key, keys, "bench", PASSPHRASE,
                            organisation=org.signing.public_key, kdf=MINIMUM)  # fmt: skip

        dropped = root / "dropped"
        with _desk(key, dropped) as client:
            start = time.perf_counter()
            for reference, data in files.items():
                name = urllib.parse.quote(delivery_file_name(reference, 0))
                client.request("POST", "/drop", data, {"X-File-Name": name})
            _listed(client, len(files))
            result["dropped_to_listed_s"] = round(time.perf_counter() - start, 3)
            reference = next(iter(files))
            times = []
            for _ in range(options.repeat):
                start = time.perf_counter()
                client.request("GET", f"/case/{reference}")
                client.request("GET", f"/case/{reference}/file/0/0")
                times.append(time.perf_counter() - start)
            result["case_page_s"] = round(statistics.median(times), 4)

        start = time.perf_counter()
        with _desk(key, dropped) as client:
            _listed(client, len(files))
        result["reopened_to_listed_s"] = round(time.perf_counter() - start, 3)

        folder = root / "folder"
        (folder / "inbox").mkdir(parents=True)
        with _desk(key, folder) as client:
            start = time.perf_counter()
            for reference, data in files.items():
                (folder / "inbox" / delivery_file_name(reference, 0)).write_bytes(data)
            _listed(client, len(files))
            result["inbox_folder_to_listed_s"] = round(time.perf_counter() - start, 3)
    result["load_1min"] = round(os.getloadavg()[0], 2)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
