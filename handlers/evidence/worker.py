"""The cleaning worker: ``python -I -m handlers.evidence.worker MAX_BYTES ADDRESS_SPACE CPU``.

Started by :class:`handlers.evidence.sandbox.CleaningSandbox`, one process per file. It limits
itself before it reads anything, reads the file from standard input, cleans it and writes the
answer to standard output (:mod:`handlers.evidence.protocol`). It writes nothing else anywhere.
"""

from __future__ import annotations

import resource
import sys

from handlers.evidence.cleaner import clean_evidence
from handlers.evidence.protocol import write_answer
from handlers.evidence.results import too_big


def limit_worker(*, address_space: int, cpu_seconds: int) -> None:
    """Limits this process (see :mod:`handlers.evidence.sandbox`); raises if the kernel
    refuses, so a worker never cleans without its limits."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # I1: no core dump holding evidence
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))  # I1: no file written, not even a temp
    resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))
    # The soft limit sends SIGXCPU, the hard one a second later SIGKILL: either ends the file.
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))


def main(argv: list[str]) -> None:
    """Cleans the one file on standard input (arguments: the module docstring)."""
    max_bytes, address_space, cpu_seconds = (int(value) for value in argv)
    limit_worker(address_space=address_space, cpu_seconds=cpu_seconds)
    data = sys.stdin.buffer.read(max_bytes + 1)
    result = (
        too_big(max_bytes) if len(data) > max_bytes else clean_evidence(data, max_bytes=max_bytes)
    )
    del data
    write_answer(result, sys.stdout.buffer)
    sys.stdout.buffer.flush()


if __name__ == "__main__":
    main(sys.argv[1:])
