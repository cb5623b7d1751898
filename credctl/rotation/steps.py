"""Issue, apply and verify commands: run without a shell, the value on standard input,
in a process group of their own that goes as a whole on a timeout or an interruption."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Sequence

from credctl.errors import RotationFailedError, StepTimedOutError
from credctl.secret import Secret


def run_step(
    argv: Sequence[str], value: Secret | None, timeout: float, what: str, credential_id: str
) -> str:
    """Run an apply/verify command without a shell, the value on stdin; its stdout back."""
    try:
        # its own process group: on timeout the whole group goes, including children
        # that would otherwise hold its output open and keep credctl waiting
        process = subprocess.Popen(
            list(argv),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
    except FileNotFoundError:
        raise RotationFailedError(f"{credential_id}: {what} command not found: {argv[0]}") from None
    except OSError as error:
        raise RotationFailedError(
            f"{credential_id}: cannot run the {what} command {argv[0]}: {error.strerror}"
        ) from None
    try:
        stdout, _ = process.communicate(value.reveal() if value is not None else "", timeout)
    except subprocess.TimeoutExpired:
        _stop(process)
        raise StepTimedOutError(
            f"{credential_id}: {what} command timed out after {timeout:g} s"
        ) from None
    except BaseException:
        # Ctrl-C or anything else: never leave the command running behind credctl
        # (its own session does not get the terminal's SIGINT)
        _stop(process)
        raise
    if process.returncode != 0:
        # the command's own output might echo the value: never repeat it
        raise RotationFailedError(f"{credential_id}: {what} command exited {process.returncode}")
    return stdout


def _stop(process: subprocess.Popen[str]) -> None:
    """Kill a step's whole process group and reap it, without waiting on stray pipes."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    try:
        process.communicate(timeout=5)
    except subprocess.TimeoutExpired:  # a descendant left the group and holds the pipes
        for pipe in (process.stdin, process.stdout, process.stderr):
            if pipe is not None:
                pipe.close()
        process.wait()
