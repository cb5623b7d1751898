"""credctl in a process whose standard output and/or standard error is a pseudo-terminal."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from tests.support.runner import REPO, inherited_environment


@dataclass
class Drawn:
    exit_code: int
    stdout: str  # what reached standard output (a terminal's or a pipe's)
    stderr: str


def _read_all(descriptor: int, into: list[bytes]) -> None:
    while True:
        try:
            chunk = os.read(descriptor, 65536)
        except OSError:  # the terminal closed: the process is done
            return
        if not chunk:
            return
        into.append(chunk)


def on_a_terminal(
    project: Path, *args: str, stdout: bool = True, stderr: bool = True, **variables: str
) -> Drawn:
    """Run credctl with the streams asked for on pseudo-terminals (each its own), the others
    on pipes; return what each received."""
    environment = {k: v for k, v in inherited_environment().items() if k != "NO_COLOR"}
    environment["PYTHONPATH"] = os.pathsep.join(
        [str(REPO / "tests" / "support" / "guard"), str(REPO)]
    )
    environment.update({"COLUMNS": "200", **variables})
    streams: dict[str, int] = {}
    terminals: list[tuple[int, int]] = []
    for name, wanted in (("stdout", stdout), ("stderr", stderr)):
        if wanted:
            leader, follower = pty.openpty()
            terminals.append((leader, follower))
            streams[name] = follower
        else:
            streams[name] = subprocess.PIPE
    process = subprocess.Popen(
        [sys.executable, "-m", "credctl", *args],
        cwd=project,
        stdin=subprocess.DEVNULL,
        env=environment,
        **streams,  # type: ignore[call-overload]
    )
    received: dict[str, list[bytes]] = {"stdout": [], "stderr": []}
    readers = []
    for name in ("stdout", "stderr"):
        source = getattr(process, name)
        if source is not None:
            descriptor = source.fileno()
        else:
            leader, follower = terminals.pop(0)
            os.close(follower)
            descriptor = leader
        reader = threading.Thread(target=_read_all, args=(descriptor, received[name]))
        reader.start()
        readers.append((reader, descriptor, source))
    exit_code = process.wait(timeout=120)
    for reader, descriptor, source in readers:
        reader.join(timeout=30)
        if source is None:
            os.close(descriptor)
        else:
            source.close()
    return Drawn(
        exit_code,
        b"".join(received["stdout"]).decode(),
        b"".join(received["stderr"]).decode(),
    )
