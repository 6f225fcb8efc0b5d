"""Sanad as real processes: ``sanad run`` in a subprocess, the ``sanad`` CLI, and waiting on them.

The bot runs as it is deployed (``python -m bot.cli run --config ...``), its stdout and stderr
appended to one log file that tests grep afterwards (I1, I2: the log carries event names and
counts only). CLI commands run with ``asyncio``'s subprocesses so that a local Bot API server on
the test's own event loop keeps serving the bot while a command works (Argon2id takes seconds).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

SANAD = (sys.executable, "-m", "bot.cli")


@asynccontextmanager
async def sanad_run(
    config: Path, log: Path, env: Mapping[str, str]
) -> AsyncIterator[asyncio.subprocess.Process]:
    """``sanad run --config CONFIG`` in a subprocess with ``env`` added to this environment.

    Output goes to ``log`` (appended). On leaving, a bot still alive is SIGKILLed: a test that
    wants a clean stop sends SIGTERM itself and waits.
    """
    with log.open("ab") as out:
        process = await asyncio.create_subprocess_exec(
            *SANAD, "run", "--config", str(config),
            env={**os.environ, **env}, stdout=out, stderr=out,
        )
    try:
        yield process
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGKILL)
        await process.wait()


async def kill(process: asyncio.subprocess.Process) -> None:
    """SIGKILL: the process gets no chance to flush, roll back or say goodbye."""
    process.send_signal(signal.SIGKILL)
    await process.wait()


async def stop(process: asyncio.subprocess.Process, timeout: float = 20.0) -> int:  # noqa: ASYNC109
    """SIGTERM and wait for the exit status: PTB's own clean stop (post_stop, post_shutdown)."""
    process.send_signal(signal.SIGTERM)
    async with asyncio.timeout(timeout):
        return await process.wait()


async def until(condition: Callable[[], Awaitable[bool]], timeout: float = 60.0) -> None:  # noqa: ASYNC109
    """Return once ``condition()`` holds; raises ``TimeoutError`` after ``timeout`` seconds.

    The bound is generous on purpose: a ``sanad run`` starting on a loaded two-core machine can
    take well over 20 s to migrate and report ready, and the bound only decides how long a
    genuinely failing test takes to say so.
    """
    async with asyncio.timeout(timeout):
        # The condition is another process's commit: there is no event to wait on, only polling.
        while not await condition():  # noqa: ASYNC110
            await asyncio.sleep(0.05)


@dataclass(frozen=True)
class CliResult:
    """What a ``sanad`` command printed and how it exited."""

    returncode: int
    stdout: str
    stderr: str

    def line_starting(self, prefix: str) -> str:
        """The rest of the first stdout line that starts with ``prefix``."""
        for line in self.stdout.splitlines():
            if line.startswith(prefix):
                return line.removeprefix(prefix).strip()
        raise AssertionError(f"no line starting {prefix!r} in the output")


async def sanad(
    *args: str | Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 60.0,  # noqa: ASYNC109
    check: bool = True,
) -> CliResult:
    """Run ``sanad ARGS`` to completion; with ``check``, a non-zero exit fails the test."""
    process = await asyncio.create_subprocess_exec(
        *SANAD, *map(str, args),
        env={**os.environ, **(env or {})}, cwd=cwd,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(timeout):
        out, err = await process.communicate()
    result = CliResult(process.returncode or 0, out.decode(), err.decode())
    if check and result.returncode != 0:
        raise AssertionError(f"sanad {args[0]} {args[1]} failed: {result.stderr.strip()}")
    return result
