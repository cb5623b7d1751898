"""Shared pieces of the benchmarks: servers, proxies, projects, timing, tables."""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.support.fixtures import FAKE_AWS  # noqa: E402
from tests.support.proxy import Proxy  # noqa: E402
from tests.support.servers import MotoServer, OpenBao  # noqa: E402

os.environ.update(FAKE_AWS)  # moto's fake credentials, for this process and its children
DELAY = 0.020  # added to each round trip by the proxy: a distant region

TYPES = [f"Key {letter}" for letter in "ABCDEFGHIJKLMNOPQRSTUVWXY"]  # 25 types a service
POLICY = (
    "defaults: {max_age: 90d, warn_before: 14d, require_owner: true}\ncredential_types:\n"
    + "".join(
        f"  {kind}: {{secret: true, rotator: generate, generator: {{kind: token, bytes: 24}}}}\n"
        for kind in TYPES
    )
)


def arguments(description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--sizes", default="100,1000,10000", help="comma-separated N values")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (median)")
    parser.add_argument(
        "--full-plain",
        action="store_true",
        help="run the plain loop over every secret even when slow (default: sample 1,000 and scale)",
    )
    parsed = parser.parse_args()
    parsed.sizes = [int(size) for size in parsed.sizes.split(",")]
    return parsed


def row_of(index: int) -> tuple[str, str]:
    """(service, credential type) of the index-th credential: one folder per service."""
    return f"service-{index // len(TYPES):04d}", TYPES[index % len(TYPES)]


def name_of(prefix: str, index: int) -> str:
    service, kind = row_of(index)
    return f"{prefix}{service}/{kind.lower().replace(' ', '-')}"


def make_project(folder: Path, environment_yaml: str, count: int) -> Path:
    """A project whose table lists `count` credentials of environment `bench`."""
    (folder / "environments").mkdir(parents=True, exist_ok=True)
    (folder / "policies").mkdir(exist_ok=True)
    (folder / "environments" / "bench.yaml").write_text(environment_yaml)
    (folder / "policies" / "default.yaml").write_text(POLICY)
    header = (
        "| Service | Environment | Credential Type | Value/Reference | Rotation Schedule "
        "| Last Rotated | Owner |\n|---|---|---|---|---|---|---|\n"
    )
    body = "".join(
        f"| {service} | bench | {kind} | | 90d | | @team{index % 7} |\n"
        for index, (service, kind) in enumerate(row_of(i) for i in range(count))
    )
    (folder / "credentials.md").write_text(header + body)
    return folder


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("CREDCTL_")}
    return {**inherited, **FAKE_AWS, "PYTHONPATH": str(REPO), "NO_COLOR": "1", **(extra or {})}


@dataclass
class Timing:
    seconds: float
    peak_mb: float | None = None


def run_credctl(project: Path, args: Sequence[str], env: dict[str, str]) -> Timing:
    """Time one credctl process; exit status must be 0. Its report goes to /dev/null, as a
    CI job's goes to a file: read through a pipe by this process, which also runs the
    proxies, a large report would time this process's reading, not credctl."""
    started = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, "-m", "credctl", "--project-dir", str(project), *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if completed.returncode != 0:
        raise SystemExit(f"credctl {' '.join(args)} failed: {completed.stderr.strip()}")
    return Timing(elapsed)


def peak_memory_mb(project: Path, args: Sequence[str], env: dict[str, str]) -> float:
    """Peak resident memory of one credctl process, measured by a fresh parent."""
    probe = (
        "import resource, subprocess, sys; "
        "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    completed = subprocess.run(
        [
            sys.executable,
            "-c",
            probe,
            sys.executable,
            "-m",
            "credctl",
            "--project-dir",
            str(project),
            *args,
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return int(completed.stdout.strip()) / 1024  # Linux reports KiB


def median_of(repeat: int, measure: Callable[[], float]) -> float:
    return statistics.median(measure() for _ in range(repeat))


def time_command(
    project: Path, args: Sequence[str], env: dict[str, str], repeat: int, proxy: Proxy | None
) -> tuple[float, int | None]:
    """Median wall seconds of a credctl command, and the requests it made (through a proxy)."""
    before = proxy.requests if proxy else 0
    seconds = median_of(repeat, lambda: run_credctl(project, args, env).seconds)
    calls = (proxy.requests - before) // repeat if proxy else None
    return seconds, calls


@dataclass
class Paired:
    """Two commands timed in turn (A B A B …): each one's median, and the median of the
    per-pair ratios B/A, which holds when the machine's speed drifts during the run."""

    a_seconds: float
    b_seconds: float
    ratio: float
    a_requests: int | None
    b_requests: int | None


def time_pair(
    project: Path,
    a_args: Sequence[str],
    b_args: Sequence[str],
    env: dict[str, str],
    repeat: int,
    proxy: Proxy | None,
) -> Paired:
    """`a_args` and `b_args` run alternately `repeat` times each, after one warm-up of each."""
    run_credctl(project, a_args, env)
    run_credctl(project, b_args, env)
    a_times: list[float] = []
    b_times: list[float] = []
    a_calls = b_calls = 0
    for _ in range(repeat):
        before = proxy.requests if proxy else 0
        a_times.append(run_credctl(project, a_args, env).seconds)
        middle = proxy.requests if proxy else 0
        b_times.append(run_credctl(project, b_args, env).seconds)
        a_calls += middle - before
        b_calls += (proxy.requests if proxy else 0) - middle
    return Paired(
        statistics.median(a_times),
        statistics.median(b_times),
        statistics.median(b / a for a, b in zip(a_times, b_times, strict=True)),
        a_calls // repeat if proxy else None,
        b_calls // repeat if proxy else None,
    )


def startup_seconds(repeat: int) -> float:
    """The interpreter's own start-up, measured in the same run as the baseline."""

    def once() -> float:
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        return time.perf_counter() - started

    return median_of(repeat, once)


@contextmanager
def proxied(target_url: str, delay: float) -> Iterator[Proxy]:
    proxy = Proxy(target_url, delay).start()
    try:
        yield proxy
    finally:
        proxy.stop()


@contextmanager
def scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="credctl-bench-") as folder:
        yield Path(folder)


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """A Markdown table, ready to paste into the README."""
    cells = [[str(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in cells:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
    sys.stdout.flush()


def parallel(count: int, work: Callable[[int], None], workers: int = 16) -> None:
    """`work(0)` … `work(count - 1)`, `workers` at a time."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(work, range(count)))


def seed_vault(server: OpenBao, prefix: str, count: int) -> None:
    """`count` managed secrets under `prefix`, 25 a folder, one hvac client a thread."""
    local = threading.local()

    def create(index: int) -> None:
        client = getattr(local, "client", None) or server.client()
        local.client = client
        name = name_of(prefix, index)
        client.secrets.kv.v2.update_metadata(
            path=name, custom_metadata={"credctl:managed": "true", "credctl:owner": "@team"}
        )
        client.secrets.kv.v2.create_or_update_secret(path=name, secret={"value": f"value-{index}"})

    parallel(count, create)


def seed_aws(server: MotoServer, prefix: str, count: int) -> None:
    """`count` managed secrets under `prefix` on moto_server, 16 writers."""
    import botocore.config

    client = server.client(
        config=botocore.config.Config(
            max_pool_connections=16, retries={"mode": "standard", "max_attempts": 10}
        )
    )
    tags = [{"Key": "credctl:managed", "Value": "true"}, {"Key": "credctl:owner", "Value": "@team"}]

    def create(index: int) -> None:
        client.create_secret(Name=name_of(prefix, index), SecretString=f"value-{index}", Tags=tags)

    parallel(count, create)
