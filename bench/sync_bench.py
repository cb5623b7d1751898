"""credctl sync of N credentials on moto_server through a 20 ms proxy, and on the local store.

Every credential is missing from the store at the start, so sync creates each
one (a generated first value, tags in the same call). The first table prints the
API calls counted at the proxy and the wall time, with the environment's
default write rate limit (50/s, AWS's quota for writes) and with it raised,
which shows how far concurrency alone takes it. The second times sync on the
local store at 400 and 3,000 rows: one read and one write of the store file
whatever N, so the time grows with N, not N².
"""

from __future__ import annotations

import functools
import time
from typing import Any

from common import (
    DELAY,
    arguments,
    child_env,
    make_project,
    median_of,
    print_table,
    proxied,
    run_credctl,
    scratch,
    startup_seconds,
)

from tests.support.fixtures import aws_environment_yaml
from tests.support.servers import start_moto_server

LOCAL_SIZES = (400, 3000)
LOCAL_TARGET_SECONDS = 5.0  # 3,000 new rows on the local store (issue 21)


def local_sync_seconds(count: int) -> float:
    """One whole `credctl sync` creating `count` secrets in a fresh local store."""
    with scratch() as folder:
        project = make_project(folder / "p", "backend: {type: local, prefix: bench/}\n", count)
        env = child_env()
        seconds = run_credctl(project, ["sync", "--env", "bench", "-q"], env).seconds
        run_credctl(project, ["plan", "--env", "bench", "--detailed-exitcode"], env)  # all done
        return seconds


def local_table(repeat: int) -> None:
    rows: list[list[Any]] = []
    for count in LOCAL_SIZES:
        seconds = median_of(repeat, functools.partial(local_sync_seconds, count))
        rows.append([count, f"{seconds:.2f}", f"{seconds / count * 1000:.2f}"])
    print_table(["N (local store)", "sync wall s", "ms a row"], rows)
    print(
        f"\nWhole processes, interpreter start-up ({startup_seconds(repeat):.3f} s) included; "
        f"target for 3,000 rows: under {LOCAL_TARGET_SECONDS:g} s."
    )


def main() -> None:
    options = arguments(__doc__ or "")
    local_table(options.repeat)
    print()
    sizes = [size for size in options.sizes if size <= 1000] or [1000]
    server = start_moto_server()
    rows: list[list[Any]] = []
    try:
        for count in sizes:
            for rate in ("50/s", "2000/s"):
                prefix = f"sync{count}-{rate.replace('/', '')}/"
                with scratch() as folder, proxied(server.url, DELAY) as proxy:
                    environment = (
                        aws_environment_yaml(proxy.url, prefix)
                        + f"rate_limit: {rate}\nconcurrency: 16\n"
                    )
                    project = make_project(folder / "p", environment, count)
                    env = child_env()
                    started = time.perf_counter()
                    run_credctl(project, ["sync", "--env", "bench", "-q"], env)
                    seconds = time.perf_counter() - started
                    calls = proxy.requests
                    before = proxy.requests
                    run_credctl(project, ["plan", "--env", "bench", "--detailed-exitcode"], env)
                    rows.append(
                        [count, "20 ms", rate, calls, f"{seconds:.2f}", proxy.requests - before]
                    )
    finally:
        server.stop()
    print_table(
        [
            "N",
            "added latency",
            "rate_limit",
            "API calls (sync)",
            "wall s",
            "calls of the next plan",
        ],
        rows,
    )
    print(
        "\nEach create is one CreateSecret (value and tags together); the plan is ⌈N/100⌉ ListSecrets."
    )


if __name__ == "__main__":
    main()
