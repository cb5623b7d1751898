"""AWS Secrets Manager: credctl audit/env beside a plain boto3 loop, on moto_server.

Seeds N secrets, then times `credctl audit` and `credctl env` (separate
processes, as users run them) and a hand-written loop (ListSecrets, then
DescribeSecret and GetSecretValue for each secret), directly and through a
proxy that adds 20 ms to each round trip. Calls are counted at the proxy.
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
    seed_aws,
    startup_seconds,
    time_command,
)

from tests.support.fixtures import aws_environment_yaml
from tests.support.servers import start_moto_server

AUDIT = ["audit", "--env", "bench", "--format", "json", "--fail-on", "never"]
SAMPLE = 1000  # the plain loop over more than this is timed on a sample and scaled


def plain_loop(url: str, prefix: str, limit: int | None) -> int:
    """What a script does without credctl: list, then describe and get each secret."""
    import boto3

    client = boto3.client("secretsmanager", region_name="us-east-1", endpoint_url=url)
    names: list[str] = []
    for page in client.get_paginator("list_secrets").paginate(
        Filters=[{"Key": "name", "Values": [prefix]}]
    ):
        names.extend(entry["Name"] for entry in page["SecretList"])
    for name in names[:limit]:
        client.describe_secret(SecretId=name)
        client.get_secret_value(SecretId=name)
    return len(names)


def time_plain(url: str, prefix: str, count: int, full: bool) -> tuple[float, bool]:
    limit = None if full or count <= SAMPLE else SAMPLE
    started = time.perf_counter()
    plain_loop(url, prefix, limit)
    elapsed = time.perf_counter() - started
    if limit is not None:
        return elapsed * count / limit, True
    return elapsed, False


def main() -> None:
    options = arguments(__doc__ or "")
    server = start_moto_server()
    rows: list[list[Any]] = []
    memory: list[tuple[int, float]] = []
    try:
        startup = startup_seconds(options.repeat)
        for count in options.sizes:
            prefix = f"bench{count}/"
            seed_aws(server, prefix, count)
            with scratch() as folder:
                for delay in (0.0, DELAY):
                    with proxied(server.url, delay) as proxy:
                        url = proxy.url if delay else server.url
                        project = make_project(
                            folder / f"p{delay}", aws_environment_yaml(url, prefix), count
                        )
                        env = child_env()
                        results = {
                            name: time_command(
                                project, args, env, options.repeat, proxy if delay else None
                            )
                            for name, args in (
                                ("audit", AUDIT),
                                ("env", ["env", "--env", "bench", "-o", str(folder / "out.env")]),
                            )
                        }
                        plain, scaled = time_plain(url, prefix, count, options.full_plain)
                        plain_calls = 2 * count + -(-count // 100)
                        label = f"{'≈' if scaled else ''}{plain:.2f}"
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
                        rows.append(
                            [
                                count,
                                f"{int(delay * 1000)} ms",
                                "plain boto3 loop",
                                plain_calls,
                                label,
                                "1x",
                            ]
                        )
                        if count == max(options.sizes) and not delay:
                            memory.append(
                                (
                                    count,
                                    peak_memory_mb(
                                        project,
                                        [
                                            "audit",
                                            "--env",
                                            "bench",
                                            "--format",
                                            "json",
                                            "--fail-on",
                                            "never",
                                        ],
                                        env,
                                    ),
                                )
                            )
    finally:
        server.stop()
    print(f"\ninterpreter start-up (python -c pass): {startup:.3f} s; credctl timings include it")
    print_table(["N", "added latency", "what", "API calls", "wall s", "vs plain loop"], rows)
    for count, peak in memory:
        print(f"\npeak memory of credctl audit at N = {count}: {peak:.0f} MB")
    print(
        "\n≈: the plain loop ran over 1,000 secrets and was scaled to N (use --full-plain to run it all)"
    )


if __name__ == "__main__":
    main()
