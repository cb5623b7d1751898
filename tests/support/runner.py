"""Run credctl for a test: in this process (the default), or as a real process.

`credctl(project, *args)` calls `credctl.cli.main(argv)` here, as the `credctl` script
would: in the project folder, with the user's `CREDCTL_*` settings removed and the
call's variables set, standard input fed from `input` and standard output and error
captured (none of them a terminal, so no colour and no prompt). Everything it changes
(folder, variables, streams, the log level) is put back after the call.

`credctl_process(project, *args)` starts `python -m credctl` instead. Use it only
where a real process is the point: `run`'s exec, signals, a kill -9 at a write
(`CRASH_AT_WRITE`), processes racing each other, the network guard in a child, a
pseudo-terminal, a closed standard input, dropped privileges (`setpriv`).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from credctl import clock
from credctl.clock import OFFSET_VARIABLE

TICK = 0.02  # seconds: more than one clock tick of /proc/<pid>/stat
REPO = Path(__file__).resolve().parents[2]
GUARD = REPO / "tests" / "support" / "guard"


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def inherited_environment(environ: dict[str, str] | None = None) -> dict[str, str]:
    """This process's variables without the user's CREDCTL_* settings (the test's clock stays)."""
    variables = dict(os.environ) if environ is None else environ
    return {
        k: v for k, v in variables.items() if not k.startswith("CREDCTL_") or k == OFFSET_VARIABLE
    }


class ExecRefused(BaseException):
    """credctl tried to replace the test process (`run`): that test needs `credctl_process`."""


def _refuse_exec(*args: Any, **kwargs: Any) -> NoReturn:
    raise ExecRefused("credctl run replaces its process: call credctl_process for it")


def _kills(env: dict[str, str]) -> bool:
    """A kill -9 asked for: at a write (CRASH_AT_WRITE), or by the test rotator that kills
    its parent once, until the CRASH_MARK file exists."""
    mark = env.get("CRASH_MARK")
    return "CRASH_AT_WRITE" in env or (mark is not None and not Path(mark).exists())


# Every command run in this process starts when it is called (see clock.start_run): the
# first run of a process would otherwise date from the test worker's start.
clock.start_run()


def _ended_pid() -> int:
    """The pid of a process that has ended: what a credctl process's pid is once it returned.

    A run's staging tokens name its pid, and the next run takes over a staged value whose
    process is gone; a run in this process must look gone once it has returned.
    """
    finished = subprocess.Popen(["true"])
    finished.wait()
    return finished.pid


def _stream(data: bytes = b"") -> io.TextIOWrapper:
    """A text stream over bytes, with `.buffer`, that is not a terminal."""
    return io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", newline="", write_through=True)


def _text(stream: io.TextIOWrapper) -> str:
    stream.flush()
    buffer = stream.buffer
    assert isinstance(buffer, io.BytesIO)
    return buffer.getvalue().decode("utf-8", "replace")


@contextlib.contextmanager
def _isolated(project: Path, env: dict[str, str] | None) -> Iterator[None]:
    """The folder, variables, log level and exec of this process, put back afterwards."""
    saved_environ = dict(os.environ)
    saved_folder = os.getcwd()
    logger = logging.getLogger("credctl")
    saved_level, saved_handlers = logger.level, list(logger.handlers)
    saved_exec, saved_getpid = os.execvpe, os.getpid
    ended = _ended_pid()
    os.environ.clear()
    os.environ.update({**inherited_environment(saved_environ), "NO_COLOR": "1", **(env or {})})
    os.chdir(project)
    os.execvpe = _refuse_exec
    os.getpid = lambda: ended
    try:
        yield
    finally:
        os.execvpe, os.getpid = saved_exec, saved_getpid
        os.chdir(saved_folder)
        os.environ.clear()
        os.environ.update(saved_environ)
        logger.setLevel(saved_level)
        logger.handlers[:] = saved_handlers


def credctl(
    project: Path,
    *args: str,
    input: str | bytes | None = None,
    env: dict[str, str] | None = None,
) -> Result:
    """Run credctl in this process, in the project folder, as the `credctl` script would."""
    from credctl.cli import main

    if _kills(env or {}):
        raise ExecRefused("this call kills its process (kill -9): use credctl_process")
    data = input.encode("utf-8") if isinstance(input, str) else (input or b"")
    stdin, stdout, stderr = _stream(data), _stream(), _stream()
    streams = (sys.stdin, sys.stdout, sys.stderr)
    code: int
    with _isolated(project, env):
        sys.stdin, sys.stdout, sys.stderr = stdin, stdout, stderr
        try:
            main(list(args))
            code = 0
        except SystemExit as done:
            if done.code is None or isinstance(done.code, int):
                code = done.code or 0
            else:  # sys.exit("message"), as the interpreter would show it
                print(done.code, file=sys.stderr)
                code = 1
        finally:
            sys.stdin, sys.stdout, sys.stderr = streams
    return Result(code, _text(stdout), _text(stderr))


def credctl_process(
    project: Path,
    *args: str,
    input: str | bytes | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 60,
) -> Result:
    """Run credctl as users do: a separate process, in the project folder."""
    # Linux dates a process's start in clock ticks (10 ms): a process started within the
    # tick of a write an in-process run just made would count it as made after its start
    # (e.g. "rotated by another run since this one started"). No user is that quick.
    time.sleep(TICK)
    completed = subprocess.run(
        [sys.executable, "-m", "credctl", *args],
        cwd=project,
        input=input.encode("utf-8") if isinstance(input, str) else input,
        capture_output=True,
        env=process_environment(env),
        timeout=timeout,
        check=False,
    )
    return Result(
        completed.returncode,
        completed.stdout.decode("utf-8", "replace"),
        completed.stderr.decode("utf-8", "replace"),
    )


def process_environment(env: dict[str, str] | None = None) -> dict[str, str]:
    """Variables for a credctl process a test starts (the test's clock, no user settings);
    the guard folder's sitecustomize refuses non-loopback connections in it too."""
    pythonpath = os.pathsep.join([str(GUARD), str(REPO)])
    return {**inherited_environment(), "PYTHONPATH": pythonpath, "NO_COLOR": "1", **(env or {})}


def fresh_python(code: str) -> subprocess.CompletedProcess[str]:
    """`code` in a new interpreter with nothing imported and no user variables (what a
    start-up imports is only visible there)."""
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=True,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
    )
