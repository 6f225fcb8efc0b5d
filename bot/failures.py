"""Operational failures of a running deployment, each as one line a person can act on.

The commonest first-run failures are not bugs: the Bot API cannot be reached, it refuses the
token, the state folder cannot be written, the disk is full. Each is translated here, at the
boundary where it surfaces (``sanad run``, the admin commands, ``check-config --online``), into a
:class:`OperationalFailure` with a fixed message that names what to look at: the Bot API's URL,
where the token came from (the variable's name or the file's path, never the token), the folder.
The database's own failures are worded by :func:`storage.engine.explain_failure`.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bot.errors import SanadError

_DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
CHECK_ONLINE_HINT = "`sanad check-config --online` checks the token and the Bot API"


class OperationalFailure(SanadError):
    """The deployment's surroundings (network, token, disk) stop Sanad; the message says which."""


def folder_failure(what: str, folder: Path, exc: OSError, *, setting: str) -> OperationalFailure:
    """``folder`` (the ``what``: "state folder", ...) could not be written: full, or refused.

    ``setting`` is the configuration key that names the folder, for the hint.
    """
    if exc.errno in _DISK_FULL_ERRNOS:
        return OperationalFailure(
            f"the disk holding the {what} {folder} is full",
            hint="free space on that disk, then run the command again",
        )
    return OperationalFailure(
        f"the {what} {folder} is not writable",
        hint=f"make it a folder the user running sanad can write to, or point {setting} at one",
    )


def bot_api_unreachable(api_base_url: str) -> OperationalFailure:
    """The Bot API at ``api_base_url`` did not answer (connection refused, DNS, timeout)."""
    return OperationalFailure(
        f"the Bot API at {api_base_url} cannot be reached",
        hint="check telegram.api_base_url and this server's network access (proxy, firewall)",
    )


def token_refused(api_base_url: str, token_source: str) -> OperationalFailure:
    """The Bot API answered 401/404 to ``getMe``: the token (from ``token_source``) is not valid
    there, or the URL is not a Bot API server."""
    return OperationalFailure(
        f"the Bot API at {api_base_url} refused the token from the {token_source}",
        hint="put there the token @BotFather gave you (revoked tokens are refused too), "
        "and check telegram.api_base_url",
    )


@contextmanager
def bot_api_failures(api_base_url: str, token_source: str) -> Iterator[None]:
    """Turn the Bot API's start-up failures inside the block into one line each.

    A connection that fails or times out becomes :func:`bot_api_unreachable`; ``InvalidToken``
    (401 or 404 to ``getMe``) becomes :func:`token_refused`. Any other error passes unchanged.
    """
    from telegram.error import BadRequest, InvalidToken, NetworkError

    try:
        yield
    except InvalidToken as exc:
        raise token_refused(api_base_url, token_source) from exc
    except NetworkError as exc:
        if isinstance(exc, BadRequest):  # an answer, not a failure to reach the server
            raise
        raise bot_api_unreachable(api_base_url) from exc
