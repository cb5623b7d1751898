"""credctl sync of N credentials on moto_server through a 20 ms proxy.

Every credential is missing from the store at the start, so sync creates each
one (a generated first value, tags in the same call). The table prints the
API calls counted at the proxy and the wall time, with the environment's
default write rate limit (50/s, AWS's quota for writes) and with it raised,
which shows how far concurrency alone takes it.
"""

from __future__ import annotations

import time
from typing import Any

from common import (
    DELAY,
    arguments,
    child_env,
    make_project,
    print_table,
    proxied,
    run_credctl,
    scratch,
)

from tests.support.fixtures import aws_environment_yaml
from tests.support.servers import start_moto_server


def main() -> None:
    options = arguments(__doc__ or "")
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
