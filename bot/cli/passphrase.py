"""Passphrases for the server's and the admin's commands: read exactly as the caseworker's are.

The one implementation is :mod:`desk.passphrase` (the caseworker's side may not import the
server, so the shared code lives there); this module names it for the commands under ``bot.cli``.
"""

from desk.passphrase import PASSPHRASE_ENV, PassphraseFileOption, read_passphrase

__all__ = ["PASSPHRASE_ENV", "PassphraseFileOption", "read_passphrase"]
