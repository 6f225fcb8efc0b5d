"""The caseworker's side of Sanad: everything that runs on a caseworker's own computer.

``sanad caseworker init|open|reply`` and the desk live here. This package imports ``crypto`` and
itself only — never ``bot``, ``storage`` or ``handlers`` (DESIGN.md §3; a test holds it to
that) — so a caseworker's laptop runs no server code path, and the server's command line may
register these commands without the reverse ever being true. It works on Windows, macOS and
Linux: every call that exists on POSIX only has a fallback.
"""
