"""The bot's own signing key and the organisation's certificate of it (DESIGN.md §4, format v2).

Two files under ``<state_dir>/bot/`` (the folder 0700, the files 0600):

- ``signing-key``: the 32-byte Ed25519 seed, generated on first use. It is never written to the
  database: a database writer must not be able to sign as the bot. Whoever controls the running
  server can still sign with it — the limit DESIGN.md §2 (I9) names.
- ``certificate``: the bot certificate (docs/crypto.md, "Bot certificate") that
  ``sanad admin certify-bot --org-key FILE`` signs with the organisation signing key.

The bot signs with this key every sealed file it sends, every ``/reply`` it seals, every
enrolment claim and every audit entry; caseworkers check the signature against the certificate
and the certificate against the organisation key they pinned. ``sanad run`` refuses to start
without a certificate that is valid today (:func:`load_bot_identity`).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import secrets
from pathlib import Path

from bot.config import ConfigError
from bot.logs import event, get_logger
from bot.server_secrets import read_server_secret
from crypto import (
    BotCertificate,
    CertificateError,
    CertificateExpired,
    CertificateRevoked,
    CryptoError,
    RevocationList,
    issue_bot_certificate,
    verify_bot_certificate,
)
from crypto.keys import Ed25519PublicKey, Ed25519SigningKey

BOT_DIRNAME = "bot"
KEY_FILENAME = "signing-key"
CERTIFICATE_FILENAME = "certificate"
SEED_BYTES = 32
# A caseworker's computer has no revocation list: expiry is what ends a stolen bot key's reach
# there, so certificates are short. Renewal is warned this many days ahead.
DEFAULT_VALIDITY_DAYS = 90
RENEWAL_WARNING_DAYS = 14
_MAX_CERTIFICATE_BYTES = 4096
_log = get_logger("bot_identity")
_CERTIFY_HINT = "run: sanad admin certify-bot --org-key FILE (on the server, with the admin's key)"


class BotNotCertified(ConfigError):
    """The bot has no valid certificate from the organisation, so it cannot sign what it sends."""


class BotIdentity:
    """The bot's signing key with its verified certificate (and the bytes to send with files).

    One object is shared by everything that signs (deliveries, ``/reply``, claims, audit); a
    certificate renewed with ``sanad admin certify-bot`` while the bot runs is taken up by
    :meth:`refresh` (the renewal job calls it), so the running bot never keeps sending files
    under a certificate that has expired.
    """

    def __init__(
        self,
        key: Ed25519SigningKey,
        certificate: bytes,
        verified: BotCertificate,
        *,
        source: tuple[Path, Ed25519PublicKey] | None = None,
    ) -> None:
        self._key = key
        self._certificate = certificate
        self._verified = verified
        self._source = source  # (state directory, pinned organisation key) to refresh from

    @property
    def key(self) -> Ed25519SigningKey:
        return self._key

    @property
    def certificate(self) -> bytes:
        return self._certificate

    @property
    def verified(self) -> BotCertificate:
        return self._verified

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self._key.public_key

    def renewal_due(self, today: dt.date) -> bool:
        """True when the certificate expires within :data:`RENEWAL_WARNING_DAYS` of ``today``."""
        return self.verified.expires - today <= dt.timedelta(days=RENEWAL_WARNING_DAYS)

    def warn_if_renewal_due(self, today: dt.date) -> None:
        """Log ``bot.certificate_renewal_due`` (the days left, nothing else) while renewal is
        due: once the certificate expires, caseworkers refuse every file the bot sends."""
        if self.renewal_due(today):
            days_left = (self.verified.expires - today).days
            event(_log, "bot.certificate_renewal_due", logging.WARNING, days_left=days_left)

    def refresh(self, today: dt.date) -> bool:
        """Take up a newer certificate ``certify-bot`` wrote beside the key; True if it did.

        The new one must be valid ``today`` for this very key under the pinned organisation key
        and expire later than the one in use; anything else is ignored, so a file replaced by
        someone else never weakens what the bot sends.
        """
        if self._source is None:
            return False
        state_dir, org_public = self._source
        try:
            certificate = read_bot_certificate(state_dir)
            if certificate is None:
                return False
            verified = _verified_for(
                certificate, self.public_key, org_public, None, today, state_dir
            )
        except ConfigError:
            return False
        if not verified.expires > self._verified.expires:
            return False
        self._certificate, self._verified = certificate, verified
        return True

    def __repr__(self) -> str:
        return f"BotIdentity(expires={self._verified.expires.isoformat()})"


def _directory(state_dir: Path) -> Path:
    return state_dir / BOT_DIRNAME


def load_or_create_bot_key(state_dir: Path) -> Ed25519SigningKey:
    """The bot's signing key, generated (0600, in a 0700 folder) if this server has none yet.

    Raises :class:`ConfigError` when the folder cannot be made or the key file is not private,
    of the wrong size or a symlink.
    """
    directory = _directory(state_dir)
    path = directory / KEY_FILENAME
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        pass
    except OSError as exc:
        raise ConfigError(
            f"the bot key cannot be created in {directory} ({exc.strerror or 'error'})"
        ) from None
    else:
        with os.fdopen(fd, "wb") as handle:
            handle.write(secrets.token_bytes(SEED_BYTES))
            handle.flush()
            os.fsync(handle.fileno())
    return Ed25519SigningKey(read_server_secret(path, SEED_BYTES))


def read_bot_certificate(state_dir: Path) -> bytes | None:
    """The certificate bytes ``certify-bot`` wrote, or None if there are none."""
    path = _directory(state_dir) / CERTIFICATE_FILENAME
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(
            f"the bot certificate {path} cannot be read ({exc.strerror or 'error'})"
        ) from None
    return data[: _MAX_CERTIFICATE_BYTES + 1]


def load_bot_identity(
    state_dir: Path,
    org_public: Ed25519PublicKey,
    *,
    revocations: RevocationList | None = None,
    today: dt.date | None = None,
) -> BotIdentity:
    """The bot key and its certificate, if the pinned organisation key certifies that key today.

    Raises :class:`BotNotCertified` — one line naming ``sanad admin certify-bot`` — when there is
    no certificate, it is for another key or organisation, it expired, or ``revocations`` lists
    the bot key.
    """
    key = load_or_create_bot_key(state_dir)
    certificate = read_bot_certificate(state_dir)
    if certificate is None:
        raise BotNotCertified("the bot key has no certificate yet", hint=_CERTIFY_HINT)
    verified = _verified_for(certificate, key.public_key, org_public, revocations, today, state_dir)
    return BotIdentity(key, certificate, verified, source=(state_dir, org_public))


def _verified_for(
    certificate: bytes,
    bot_public: Ed25519PublicKey,
    org_public: Ed25519PublicKey,
    revocations: RevocationList | None,
    today: dt.date | None,
    state_dir: Path,
) -> BotCertificate:
    """``certificate`` checked against the pinned organisation key and for ``bot_public``;
    :class:`BotNotCertified` naming the fix otherwise."""
    try:
        verified = verify_bot_certificate(
            certificate, org_public, revocations=revocations, today=today
        )
    except CertificateExpired:
        raise BotNotCertified("the bot certificate has expired", hint=_CERTIFY_HINT) from None
    except CertificateRevoked:
        raise BotNotCertified(
            "the bot key has been revoked",
            hint=f"remove {_directory(state_dir)}, then " + _CERTIFY_HINT.removeprefix("run: "),
        ) from None
    except (CertificateError, CryptoError):
        raise BotNotCertified(
            "the bot certificate was not signed by the organisation key in the configuration",
            hint=_CERTIFY_HINT,
        ) from None
    if verified.key != bot_public:
        raise BotNotCertified("the bot certificate is for another bot key", hint=_CERTIFY_HINT)
    return verified


def certify_bot(
    state_dir: Path,
    org_key: Ed25519SigningKey,
    *,
    days: int = DEFAULT_VALIDITY_DAYS,
    today: dt.date | None = None,
) -> BotCertificate:
    """Sign the bot key's certificate with the organisation key and store it beside the key.

    The serial is one more than the certificate it replaces (1 for the first). The file is
    replaced atomically, so a running bot never reads half a certificate.
    """
    if not 1 <= days <= 366:
        raise ConfigError("a bot certificate is valid for 1 to 366 days")
    key = load_or_create_bot_key(state_dir)
    start = today or dt.datetime.now(dt.UTC).date()
    previous = read_bot_certificate(state_dir)
    serial = 1
    if previous is not None:
        try:
            serial = verify_bot_certificate(previous, org_key.public_key, today=start).serial + 1
        except (CertificateError, CryptoError):
            serial = 1
    certificate = BotCertificate(
        key=key.public_key,
        serial=serial,
        not_before=start,
        expires=start + dt.timedelta(days=days),
    )
    data = issue_bot_certificate(certificate, org_key)
    path = _directory(state_dir) / CERTIFICATE_FILENAME
    staging = path.with_name(f".{CERTIFICATE_FILENAME}.{secrets.token_hex(8)}.tmp")
    try:
        fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(staging, path)
    except OSError as exc:
        staging.unlink(missing_ok=True)
        raise ConfigError(
            f"the bot certificate cannot be written in {path.parent} ({exc.strerror or 'error'})"
        ) from None
    return certificate
