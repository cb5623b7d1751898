"""`credctl scan` over a folder of 10,000 files (a few MB) for 1,000 managed values, with
3 current values and 1 previous value planted: the time of the whole process, beside
the bare interpreter's start-up, against the target of 10 s."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import time
from pathlib import Path

from common import REPO, arguments, child_env, make_project, print_table, scratch

TARGET_SECONDS = 10.0
FILES = 10_000
VALUES = 1_000


def seed(project: Path, values: list[str], previous: str, env: dict[str, str]) -> None:
    """Every row a value (the first also an older one), written in one go."""
    script = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from credctl.backends.base import BackendContext\n"
        "from credctl.backends.pool import open_backend\n"
        "from credctl.model import EnvironmentConfig\n"
        "from credctl import clock\nfrom credctl.schedule import format_timestamp\n"
        "sys.path.insert(0, 'bench')\n"
        "from common import name_of\n"
        "values, previous = json.loads(sys.stdin.read())\n"
        "environment = EnvironmentConfig.model_validate(\n"
        "    {'name': 'bench', 'backend': {'type': 'local', 'prefix': 'bench/'}})\n"
        "backend = open_backend(environment, BackendContext(project_dir=Path(sys.argv[1])))\n"
        "now = format_timestamp(clock.now())\n"
        "with backend._mutate(None) as document:\n"
        "    for index, value in enumerate(values):\n"
        "        name = name_of('bench/', index)\n"
        "        versions = {'1': {'created': now, 'data': backend._encrypt(value, f'{name}@1')}}\n"
        "        if index == 0:\n"
        "            versions = {'1': {'created': now, 'data': backend._encrypt(previous, f'{name}@1')},\n"
        "                        '2': {'created': now, 'data': backend._encrypt(value, f'{name}@2')}}\n"
        "        document['secrets'][name] = {\n"
        "            'metadata': {'credctl:managed': 'true', 'credctl:last-rotated': now},\n"
        "            'created': now, 'updated': now, 'current': str(len(versions)),\n"
        "            'pending': None, 'deleted': None, 'versions': versions}\n"
    )
    subprocess.run(
        [sys.executable, "-c", script, str(project)],
        input=json.dumps([values, previous]),
        text=True,
        env=env,
        check=True,
        cwd=REPO,
    )


def files(folder: Path, values: list[str], previous: str) -> int:
    """10,000 files of code-like text; three hold a current value, one the previous."""
    planted = {17: values[5], 4711: values[500], 9999: values[999], 2024: previous}
    filler = "".join(
        f"    line_{n} = compute({n}, 'text and numbers {n * 7}')\n" for n in range(10)
    )
    written = 0
    for index in range(FILES):
        path = folder / "src" / f"pkg{index // 100:03d}" / f"module{index:05d}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        body = f"# module {index}\n" + filler * 2
        if index in planted:
            body += f"TOKEN = '{planted[index]}'\n"
        path.write_text(body)
        written += len(body)
    return written


def main() -> None:
    options = arguments(__doc__ or "")
    env = child_env()
    values = [f"v{index:04d}-{secrets.token_urlsafe(18)}" for index in range(VALUES)]
    previous = "previous-" + secrets.token_urlsafe(18)
    with scratch() as folder:
        project = make_project(folder, "backend: {type: local, prefix: 'bench/'}\n", VALUES)
        seed(project, values, previous, env)
        size = files(folder, values, previous)
        startup = min(_time([sys.executable, "-c", "pass"], env, folder) for _ in range(3))
        runs = []
        for _ in range(options.repeat):
            seconds, document = _scan(project, env)
            runs.append(seconds)
        runs.sort()
        median = runs[len(runs) // 2]
        kinds = sorted(hit["value"] for hit in document["hits"])
        rows = [
            ["python -c pass", "-", f"{startup:.3f}", "", ""],
            [
                f"credctl scan: {FILES:,} files ({size / 1e6:.1f} MB), {VALUES:,} values",
                f"{len(document['hits'])} hits ({', '.join(kinds)})",
                f"{median:.3f}",
                f"< {TARGET_SECONDS:g} s",
                "yes" if median < TARGET_SECONDS else "NO",
            ],
        ]
    print(f"Local store; median of {options.repeat} runs; whole processes.\n")
    print_table(["what", "found", "wall s", "target", "met"], rows)


def _time(argv: list[str], env: dict[str, str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(argv, env=env, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - started


def _scan(project: Path, env: dict[str, str]) -> tuple[float, dict[str, object]]:
    argv = [sys.executable, "-m", "credctl", "scan", "--format", "json", "src"]
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, cwd=project, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise SystemExit(f"credctl scan failed: {done.stderr.strip()}")
    return elapsed, json.loads(done.stdout)


if __name__ == "__main__":
    main()
