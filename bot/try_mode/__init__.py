"""``sanad try``: the whole of Sanad on one computer, with a web page to play both sides.

:func:`run_sandbox` starts the local Bot API server, the real bot against it with a throw-away
database and freshly made keys (:mod:`bot.try_mode.sandbox`), and a page on a loopback port
showing a reporter's and a caseworker's chat side by side (:mod:`bot.try_mode.page`). Nothing
leaves the machine and nothing survives the sandbox: its folder is removed when it stops.
"""

from bot.try_mode.sandbox import Sandbox, loopback_host, run_sandbox

__all__ = ["Sandbox", "loopback_host", "run_sandbox"]
