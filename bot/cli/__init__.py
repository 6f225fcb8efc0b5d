"""The ``sanad`` command line: one Typer application, with errors turned into one line here.

Sub-commands live in their own modules (``keys``, ``config_cmd``, ``db``, ...); this module only
assembles them and owns the single place where an error becomes a message and an exit code,
following one rule: ``sanad: <what went wrong>`` in lower case without a final period, then an
optional ``hint: ...`` line, on stderr, exit status 1, never a traceback. Ctrl-C is
``sanad: interrupted`` and exit status 130 (the shell's convention for SIGINT), so that
``sanad ... && next-step`` stops there.
"""

from __future__ import annotations

import errno
import sys

import typer

from bot.cli import (
    admin,
    admin_bot,
    admin_certificate,
    admin_keys,
    admin_ops,
    admin_redeliver,
    config_cmd,
    db,
    keys,
    local_api_cmd,
    run_cmd,
    try_cmd,
)
from bot.errors import SanadError
from crypto.errors import CryptoError
from desk.cli import caseworker_app, desk_cmd, register_top_level
from desk.errors import DeskError
from desk.inert import inert
from storage.errors import StorageError

app = typer.Typer(
    name="sanad",
    help="Sanad: report online targeting anonymously and safely.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(keys.org_app, name="org")
app.add_typer(caseworker_app, name="caseworker")
register_top_level(app)
app.add_typer(db.db_app, name="db")
app.add_typer(admin.admin_app, name="admin")
admin_ops.register(admin.admin_app)
admin_redeliver.register(admin.admin_app)
admin_certificate.register(admin.admin_app)
admin_bot.register(admin.admin_app)
admin_keys.register(admin.admin_app, keys.org_app)
config_cmd.register(app)
run_cmd.register(app)
try_cmd.register(app)
local_api_cmd.register(app)
desk_cmd.register(app)


_OS_HINTS = {
    errno.ENOSPC: "free space on that disk, then run the command again",
    errno.EROFS: "that file system is mounted read-only: choose another folder",
    errno.EACCES: "check the permissions of that folder, or choose another",
}


def _os_failure(exc: OSError) -> str:
    """The operating system's reason and the path it names.

    The path is one the command was given or made; it is printed inert, as a folder chosen by
    a caseworker may hold a name that came out of a sealed file (DESIGN.md §4, inert output).
    """
    reason = (exc.strerror or "input/output error").lower()
    return f"{reason}: {inert(str(exc.filename))}" if exc.filename else reason


def _fail(message: str, hint: str | None = None) -> None:
    print(f"sanad: {message}", file=sys.stderr)
    if hint:
        print(f"hint: {hint}", file=sys.stderr)


# What Typer returns, outside standalone mode, when the command was interrupted by Ctrl-C: it
# turns KeyboardInterrupt into ``Exit(130)`` and returns the code instead of raising.
INTERRUPTED = 130


def main() -> None:
    """Entry point of the ``sanad`` script."""
    try:
        returned = app(standalone_mode=False)
    except (SanadError, DeskError) as exc:
        _fail(str(exc), exc.hint)
        sys.exit(1)
    except StorageError as exc:
        _fail(str(exc), exc.hint)
        sys.exit(1)
    except CryptoError as exc:
        _fail(str(exc) or (exc.__doc__ or "cryptographic failure").splitlines()[0].rstrip("."))
        sys.exit(1)
    except KeyboardInterrupt:  # outside the command (while Typer parses), as inside
        _fail("interrupted")
        sys.exit(INTERRUPTED)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        _fail("aborted")
        sys.exit(1)
    except OSError as exc:  # a file or folder the command was told to use: the OS says why
        _fail(_os_failure(exc), _OS_HINTS.get(exc.errno or 0))
        sys.exit(1)
    except typer.TyperException as exc:  # usage errors: Typer's own one-line message
        format_message = getattr(exc, "format_message", None)
        message = format_message() if format_message else str(exc)
        if message:  # empty when Typer has already printed the help text
            _fail(message[:1].lower() + message[1:].rstrip("."))
        sys.exit(getattr(exc, "exit_code", 2))
    except Exception as exc:  # anything unexpected: one line, no traceback, no content
        _fail(f"unexpected error ({type(exc).__name__})", "please report the command you ran")
        sys.exit(1)
    if returned == INTERRUPTED:
        _fail("interrupted")
        sys.exit(INTERRUPTED)
    if isinstance(returned, int) and returned:  # a command's own ``typer.Exit(code)``
        sys.exit(returned)
