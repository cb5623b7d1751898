"""Vault / OpenBao: credctl audit/env beside a sequential hvac loop, on a real OpenBao.

Seeds N secrets (one folder per service, 25 secrets a folder), then times
`credctl audit` and `credctl env` (separate processes) and a hand-written
sequential loop (LIST each folder, then read each secret's metadata and
value), directly and through a proxy that adds 20 ms to each round trip.
Requests are counted at the proxy.
"""

from __future__ import annotations

import time
from typing import Any

from common import (
    DELAY,
    arguments,
    child_env,
    make_project,
    peak_memory_mb,
    print_table,
    proxied,
    scratch,
    seed_vault,
    startup_seconds,
    time_command,
)

from tests.support.fixtures import vault_environment_yaml
from tests.support.servers import start_openbao

AUDIT = ["audit", "--env", "bench", "--format", "json", "--fail-on", "never"]
SAMPLE = 1000


def plain_loop(url: str, token: str, prefix: str, limit: int | None) -> int:
    """What a script does without credctl: walk the folders, then read each secret."""
    import hvac

    client = hvac.Client(url=url, token=token)
    kv = client.secrets.kv.v2
    folders = [prefix]
    names: list[str] = []
    while folders:
        folder = folders.pop()
        for key in kv.list_secrets(path=folder)["data"]["keys"]:
            (folders if key.endswith("/") else names).append(folder + key)
    for name in names[:limit]:
        kv.read_secret_metadata(path=name)
        kv.read_secret_version(path=name, raise_on_deleted_version=True)
    return len(names)


def main() -> None:
    options = arguments(__doc__ or "")
    server = start_openbao()
    rows: list[list[Any]] = []
    memory: list[tuple[int, float]] = []
    try:
        startup = startup_seconds(options.repeat)
        for count in options.sizes:
            prefix = f"bench{count}/"
            seed_vault(server, prefix, count)
            folders = -(-count // 25)
            with scratch() as folder:
                for delay in (0.0, DELAY):
                    with proxied(server.url, delay) as proxy:
                        url = proxy.url if delay else server.url
                        project = make_project(
                            folder / f"p{delay}", vault_environment_yaml(url, prefix), count
                        )
                        env = child_env({"VAULT_TOKEN": server.token})
                        results = {
                            name: time_command(
                                project, args, env, options.repeat, proxy if delay else None
                            )
                            for name, args in (
                                ("audit", AUDIT),
                                ("env", ["env", "--env", "bench", "-o", str(folder / "out.env")]),
                            )
                        }
                        limit = None if options.full_plain or count <= SAMPLE else SAMPLE
                        started = time.perf_counter()
                        plain_loop(url, server.token, prefix, limit)
                        plain = time.perf_counter() - started
                        if limit is not None:
                            plain = plain * count / limit
                        for name, (seconds, calls) in results.items():
                            rows.append(
                                [
                                    count,
                                    f"{int(delay * 1000)} ms",
                                    f"credctl {name}",
                                    calls if calls is not None else "same",
                                    f"{seconds:.2f}",
                                    f"{plain / seconds:.0f}x",
                                ]
                            )
                        label = f"{'≈' if limit else ''}{plain:.2f}"
                        rows.append(
                            [
                                count,
                                f"{int(delay * 1000)} ms",
                                "sequential hvac loop",
                                1 + folders + 2 * count,
                                label,
                                "1x",
                            ]
                        )
                        if count == max(options.sizes) and not delay:
                            memory.append((count, peak_memory_mb(project, AUDIT, env)))
    finally:
        server.stop()
    print(f"\ninterpreter start-up (python -c pass): {startup:.3f} s; credctl timings include it")
    print_table(["N", "added latency", "what", "requests", "wall s", "vs plain loop"], rows)
    for count, peak in memory:
        print(f"\npeak memory of credctl audit at N = {count}: {peak:.0f} MB")
    print(
        "\n≈: the plain loop ran over 1,000 secrets and was scaled to N (use --full-plain to run it all)"
    )


if __name__ == "__main__":
    main()
