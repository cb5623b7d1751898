"""Organisation scale (issue 17): each figure beside its target.

Vault (an OpenBao dev server) and AWS (moto_server), both reached through a
counting proxy that adds 0 or 20 ms to every round trip: `credctl audit` at
N = 1,000 (and 10,000 with --full) on both Vault listing paths (one SCAN of
detailed-metadata, and LIST per folder + one metadata read per secret, forced
with CREDCTL_VAULT_LISTING=list), `credctl env`, peak memory of `audit` at the
largest N, and an audit of 20 environments x 100 secrets (each its own prefix)
beside one of those environments alone. Whole `credctl` processes, medians of
--repeat runs; requests counted at the proxy.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common import (
    DELAY,
    POLICY,
    child_env,
    make_project,
    parallel,
    peak_memory_mb,
    print_table,
    proxied,
    row_of,
    scratch,
    seed_aws,
    seed_vault,
    startup_seconds,
    time_command,
    time_pair,
)

from tests.support.fixtures import aws_environment_yaml, vault_environment_yaml
from tests.support.servers import MotoServer, OpenBao, start_moto_server, start_openbao

AUDIT = ["audit", "--format", "json", "--fail-on", "never"]
ENVIRONMENTS = 20  # the many-environment run: 20 x 100 secrets
PER_ENVIRONMENT = 100
# the targets, at 20 ms a round trip
VAULT_AUDIT_SECONDS = {1000: 0.7, 10000: 3.0}
VAULT_AUDIT_REQUESTS = 5
VAULT_ENV_SECONDS = 1.2
AWS_AUDIT_SECONDS = 1.1
PEAK_MB = 150
MANY_RATIO = 1.5
# the fallback before this work (README, N = 1,000, 20 ms): it must be no slower
FALLBACK_BEFORE = {1000: 2.09, 10000: 22.01}


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--full", action="store_true", help="N = 10,000 too (minutes of seeding)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (median)")
    parser.add_argument(
        "--concurrency",
        default="",
        help="comma-separated values: time Vault `env` at N = 1,000 and 20 ms with each",
    )
    return parser.parse_args()


@dataclass
class Row:
    store: str
    n: str
    latency: str
    what: str
    requests: int | None
    seconds: float | None
    target: str = "-"
    met: bool | None = None
    extra: str = ""

    def cells(self) -> list[Any]:
        figure = f"{self.seconds:.2f} s" if self.seconds is not None else self.extra
        verdict = "-" if self.met is None else ("yes" if self.met else "**no**")
        requests = f"{self.requests:,}" if self.requests is not None else "-"
        return [self.store, self.n, self.latency, self.what, requests, figure, self.target, verdict]


HEADERS = ["store", "N", "latency", "what", "requests", "measured", "target", "met"]


def many_project(folder: Path, environment_yaml: Callable[[str], str]) -> Path:
    """ENVIRONMENTS environments of PER_ENVIRONMENT rows, each under its own prefix."""
    (folder / "environments").mkdir(parents=True)
    (folder / "policies").mkdir()
    (folder / "policies" / "default.yaml").write_text(POLICY)
    lines = [
        "| Service | Environment | Credential Type | Value/Reference | Rotation Schedule "
        "| Last Rotated | Owner |\n|---|---|---|---|---|---|---|\n"
    ]
    for number in range(ENVIRONMENTS):
        name = f"env-{number:02d}"
        (folder / "environments" / f"{name}.yaml").write_text(environment_yaml(f"{name}/"))
        for index in range(PER_ENVIRONMENT):
            service, kind = row_of(index)
            lines.append(f"| {service} | {name} | {kind} | | 90d | | @team |\n")
    (folder / "credentials.md").write_text("".join(lines))
    return folder


def ms(delay: float) -> str:
    return f"{int(delay * 1000)} ms"


def vault_rows(server: OpenBao, sizes: list[int], repeat: int) -> list[Row]:
    rows: list[Row] = []
    env = child_env({"VAULT_TOKEN": server.token})
    for count in sizes:
        prefix = f"scale{count}/"
        seed_vault(server, prefix, count)
        for delay in (0.0, DELAY):
            with proxied(server.url, delay) as proxy, scratch() as folder:
                project = make_project(folder, vault_environment_yaml(proxy.url, prefix), count)
                audit = [*AUDIT, "--env", "bench"]
                scan_s, scan_n = time_command(project, audit, env, repeat, proxy)
                listed_env = {**env, "CREDCTL_VAULT_LISTING": "list"}
                list_s, list_n = time_command(project, audit, listed_env, repeat, proxy)
                out = str(folder / "out.env")
                env_s, env_n = time_command(
                    project, ["env", "--env", "bench", "-o", out], env, repeat, proxy
                )
                targeted = delay > 0 and count in VAULT_AUDIT_SECONDS
                scan_target = VAULT_AUDIT_SECONDS.get(count)
                rows.append(
                    Row(
                        "Vault",
                        f"{count:,}",
                        ms(delay),
                        "audit (SCAN)",
                        scan_n,
                        scan_s,
                        f"≤ {scan_target} s, ≤ {VAULT_AUDIT_REQUESTS} requests"
                        if targeted and count == 1000
                        else (f"≤ {scan_target} s" if targeted else "-"),
                        (
                            scan_s <= (scan_target or 0)
                            and (count != 1000 or (scan_n or 0) <= VAULT_AUDIT_REQUESTS)
                        )
                        if targeted
                        else None,
                    )
                )
                before = FALLBACK_BEFORE.get(count)
                rows.append(
                    Row(
                        "Vault",
                        f"{count:,}",
                        ms(delay),
                        "audit (LIST + reads)",
                        list_n,
                        list_s,
                        f"no slower than before ({before} s)" if delay and before else "-",
                        list_s <= before if delay and before else None,
                    )
                )
                env_target = delay > 0 and count == 1000
                rows.append(
                    Row(
                        "Vault",
                        f"{count:,}",
                        ms(delay),
                        "env",
                        env_n,
                        env_s,
                        f"≤ {VAULT_ENV_SECONDS} s" if env_target else "-",
                        env_s <= VAULT_ENV_SECONDS if env_target else None,
                    )
                )
                if count == max(sizes) and not delay:
                    rows.append(memory_row("Vault", count, project, audit, env))
    return rows


def memory_row(store: str, count: int, project: Path, audit: list[str], env: dict[str, str]) -> Row:
    peak = peak_memory_mb(project, audit, env)
    big = count >= 10000
    return Row(
        store,
        f"{count:,}",
        "0 ms",
        "audit peak memory",
        None,
        None,
        f"≤ {PEAK_MB} MB" if big else "-",
        peak <= PEAK_MB if big else None,
        extra=f"{peak:.0f} MB",
    )


def aws_rows(server: MotoServer, sizes: list[int], repeat: int) -> list[Row]:
    rows: list[Row] = []
    env = child_env()
    for count in sizes:
        prefix = f"scale{count}/"
        seed_aws(server, prefix, count)
        for delay in (0.0, DELAY):
            with proxied(server.url, delay) as proxy, scratch() as folder:
                project = make_project(folder, aws_environment_yaml(proxy.url, prefix), count)
                audit = [*AUDIT, "--env", "bench"]
                audit_s, audit_n = time_command(project, audit, env, repeat, proxy)
                out = str(folder / "out.env")
                env_s, env_n = time_command(
                    project, ["env", "--env", "bench", "-o", out], env, repeat, proxy
                )
                pages = -(-count // 100)
                targeted = delay > 0 and count == 1000
                rows.append(
                    Row(
                        "AWS",
                        f"{count:,}",
                        ms(delay),
                        "audit",
                        audit_n,
                        audit_s,
                        f"{pages} calls, ≤ {AWS_AUDIT_SECONDS} s" if targeted else f"{pages} calls",
                        (audit_n == pages and audit_s <= AWS_AUDIT_SECONDS)
                        if targeted
                        else audit_n == pages,
                    )
                )
                rows.append(Row("AWS", f"{count:,}", ms(delay), "env", env_n, env_s))
                if count == max(sizes) and not delay:
                    rows.append(memory_row("AWS", count, project, audit, env))
    return rows


def many_rows(
    label: str,
    seed: Callable[[str, int], None],
    target_url: str,
    environment_yaml: Callable[[str, str], str],
    env: dict[str, str],
    repeat: int,
) -> list[Row]:
    """20 environments x 100 secrets: all of them at once, beside one alone."""
    parallel(ENVIRONMENTS, lambda number: seed(f"env-{number:02d}/", PER_ENVIRONMENT), workers=4)
    with proxied(target_url, DELAY) as proxy, scratch() as folder:
        project = many_project(folder, lambda prefix: environment_yaml(proxy.url, prefix))
        # in turn, one then all, and the ratio pair by pair: a drifting machine moves both
        pair = time_pair(project, [*AUDIT, "--env", "env-00"], AUDIT, env, max(repeat, 5), proxy)
    alone_s, alone_n, all_s, all_n = (
        pair.a_seconds,
        pair.a_requests,
        pair.b_seconds,
        pair.b_requests,
    )
    ratio = pair.ratio
    total = f"{ENVIRONMENTS} x {PER_ENVIRONMENT}"
    return [
        Row(
            label, f"1 x {PER_ENVIRONMENT}", ms(DELAY), "audit of one environment", alone_n, alone_s
        ),
        Row(
            label,
            total,
            ms(DELAY),
            f"audit of all {ENVIRONMENTS} ({ratio:.2f}x one)",
            all_n,
            all_s,
            f"≤ {MANY_RATIO}x one = {MANY_RATIO * alone_s:.2f} s",
            ratio <= MANY_RATIO,
        ),
    ]


def concurrency_sweep(server: OpenBao, values: list[int], repeat: int) -> None:
    """Vault `env` at N = 1,000 and 20 ms with each `concurrency`: what the default is from."""
    prefix = "sweep1000/"
    seed_vault(server, prefix, 1000)
    env = child_env({"VAULT_TOKEN": server.token})
    results = []
    with proxied(server.url, DELAY) as proxy, scratch() as folder:
        for value in values:
            yaml = vault_environment_yaml(proxy.url, prefix, concurrency=value)
            project = make_project(folder / str(value), yaml, 1000)
            out = str(folder / f"out{value}.env")
            seconds, requests = time_command(
                project, ["env", "--env", "bench", "-o", out], env, repeat, proxy
            )
            results.append([value, requests, f"{seconds:.2f}"])
    print("\nVault `env`, N = 1,000, 20 ms, by `concurrency`:")
    print_table(["concurrency", "requests", "wall s"], results)


def main() -> None:
    options = arguments()
    sizes = [1000, 10000] if options.full else [1000]
    bao = start_openbao()
    moto = start_moto_server()
    try:
        startup = startup_seconds(options.repeat)
        if options.concurrency:
            concurrency_sweep(bao, [int(v) for v in options.concurrency.split(",")], options.repeat)
            return
        rows = vault_rows(bao, sizes, options.repeat)
        rows += many_rows(
            "Vault",
            lambda prefix, count: seed_vault(bao, prefix, count),
            bao.url,
            vault_environment_yaml,
            child_env({"VAULT_TOKEN": bao.token}),
            options.repeat,
        )
        rows += aws_rows(moto, sizes, options.repeat)
        # moto_server's ListSecrets scans every secret it holds, whatever the filter: the
        # many-environment run gets a server of its own 2,000
        moto.reset()
        rows += many_rows(
            "AWS",
            lambda prefix, count: seed_aws(moto, prefix, count),
            moto.url,
            aws_environment_yaml,
            child_env(),
            options.repeat,
        )
    finally:
        bao.stop()
        moto.stop()
    print(
        f"\ninterpreter start-up (python -c pass): {startup:.3f} s; whole credctl processes, "
        f"medians of {options.repeat}; requests counted at the proxy, per run"
    )
    print_table(HEADERS, [row.cells() for row in rows])
    if not options.full:
        print("\nN = 10,000: make bench BENCH_FULL=1 (or --full)")


if __name__ == "__main__":
    main()
