"""Generated env files read back by their real consumers: python-dotenv, Node's dotenv, bash.

Every tricky value either reads back byte-identical in every consumer or is
refused by name. The table in docs/env-files.md comes from these runs.
"""

from __future__ import annotations

import json
import random
import shutil
import socketserver
import string
import subprocess
import threading
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from dotenv import dotenv_values
from hypothesis import given, settings
from hypothesis import strategies as st

from credctl.envfile import parse, render
from credctl.errors import EnvFileError
from tests.support.tricky_values import TRICKY

NODE_DIR = Path(__file__).parents[1] / "node"


def accepted(values: list[str], fmt: str = "dotenv") -> tuple[dict[str, str], list[str]]:
    """The values each written alone: those accepted by name, and the names refused."""
    kept: dict[str, str] = {}
    refused: list[str] = []
    for index, value in enumerate(values):
        name = f"V{index}"
        try:
            render([(name, value)], fmt)
        except EnvFileError as error:
            assert name in str(error)
            if value:
                assert value not in str(error)
            refused.append(name)
        else:
            kept[name] = value
    return kept, refused


def write(tmp_path: Path, entries: dict[str, str], fmt: str = "dotenv") -> Path:
    path = tmp_path / f"file.{fmt}"
    path.write_text(render(list(entries.items()), fmt), encoding="utf-8")
    return path


def read_with_bash(path: Path, names: list[str], shell: str = "bash") -> dict[str, str]:
    script = f"set -a; . {path}; " + "".join(f'printf "%s\\0" "${name}"; ' for name in names)
    completed = subprocess.run([shell, "-c", script], capture_output=True, check=True, env={})
    values = completed.stdout.decode("utf-8").split("\0")[:-1]
    return dict(zip(names, values, strict=True))


def read_with_node(path: Path) -> dict[str, str]:
    if shutil.which("node") is None or not (NODE_DIR / "node_modules" / "dotenv").is_dir():
        pytest.skip("Node's dotenv is not installed (make test runs npm install in tests/node)")
    completed = subprocess.run(
        ["node", str(NODE_DIR / "read-dotenv.js"), str(path)], capture_output=True, check=True
    )
    result: dict[str, str] = json.loads(completed.stdout)
    return result


def test_there_are_at_least_30_tricky_values() -> None:
    assert len(TRICKY) >= 30


def test_dotenv_python_dotenv_reads_back_identical(tmp_path: Path) -> None:
    kept, refused = accepted(TRICKY)
    assert len(kept) > len(refused)
    assert dict(dotenv_values(write(tmp_path, kept))) == kept


def test_dotenv_node_dotenv_reads_back_identical(tmp_path: Path) -> None:
    kept, _ = accepted(TRICKY)
    assert read_with_node(write(tmp_path, kept)) == kept


def test_dotenv_bash_reads_back_identical(tmp_path: Path) -> None:
    kept, _ = accepted(TRICKY)
    assert read_with_bash(write(tmp_path, kept), list(kept)) == kept


def test_dotenv_check_reader_reads_back_identical(tmp_path: Path) -> None:
    kept, _ = accepted(TRICKY)
    assert parse(write(tmp_path, kept).read_bytes().decode(), "dotenv") == kept


def test_refused_values_are_the_ones_no_quoting_can_carry() -> None:
    _, refused = accepted(TRICKY)
    refused_values = {TRICKY[int(name[1:])] for name in refused}
    assert refused_values == {
        "double \\\\ backslash",
        "ends with backslash\\",
        "crlf\r\nline",
        "cr\ronly",
        "multi\nline\nwith 'quote'",
        "both ' and \"",
        "${HOME}",
    }


@pytest.mark.parametrize("shell", ["bash", "dash", "zsh"])
def test_shell_format_evaluates_identically(tmp_path: Path, shell: str) -> None:
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed")
    kept, refused = accepted(TRICKY, "shell")
    assert refused == []
    assert read_with_bash(write(tmp_path, kept, "shell"), list(kept), shell) == kept
    assert parse(write(tmp_path, kept, "shell").read_bytes().decode(), "shell") == kept


@pytest.mark.parametrize("fmt", ["json", "yaml", "github"])
def test_structured_formats_carry_every_value(tmp_path: Path, fmt: str) -> None:
    kept, refused = accepted(TRICKY, fmt)
    assert refused == []
    text = write(tmp_path, kept, fmt).read_bytes().decode()
    assert parse(text, fmt) == kept


def test_docker_format_refuses_line_breaks_and_long_lines_by_name(tmp_path: Path) -> None:
    kept, refused = accepted(TRICKY, "docker")
    refused_values = [TRICKY[int(name[1:])] for name in refused]
    assert all("\n" in v or "\r" in v or len(v) > 65_535 for v in refused_values)
    assert any(len(v) > 65_535 for v in refused_values)
    assert parse(write(tmp_path, kept, "docker").read_bytes().decode(), "docker") == kept


def test_docker_refuses_a_line_over_64_kib_by_name() -> None:
    """docker's bufio.Scanner holds 65,536 bytes: a line and its newline must fit."""
    fits = "x" * (65_535 - len("KEY="))
    assert render([("KEY", fits)], "docker") == f"KEY={fits}\n"
    # 65,536 bytes, the second in only 16,383 characters: the limit counts UTF-8 bytes
    for too_long in (fits + "x", "🔑" * 16_383):
        with pytest.raises(EnvFileError) as refused:
            render([("KEY", too_long)], "docker")
        message = str(refused.value)
        assert message.startswith("the value of KEY cannot be written as docker")
        assert "64 KiB" in message
        assert too_long[:20] not in message


def run_docker_cli(tmp_path: Path, env_file: Path) -> tuple[str, list[str] | None]:
    """`docker run --env-file` against a stub daemon: the CLI's stderr and the Env it sent.

    The docker CLI parses the file itself and sends the variables in the
    create-container request, so no real daemon is needed to see what it read.
    """
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("the docker CLI is not installed")
    sent: list[list[str]] = []

    class StubDaemon(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def address_string(self) -> str:
            return "stub"

        def reply(self, code: int, body: bytes = b"") -> None:
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if body:
                self.wfile.write(body)

        def do_HEAD(self) -> None:
            self.reply(200)

        def do_GET(self) -> None:
            self.reply(200, b"OK")

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if "/containers/create" in self.path:
                sent.append(json.loads(body)["Env"])
            self.reply(500, b'{"message": "stub daemon: nothing runs"}')

    class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
        daemon_threads = True

        def handle_error(self, request: object, client_address: object) -> None:
            pass  # the CLI hangs up as soon as it has its answer

    socket_path = tmp_path / "docker.sock"
    socket_path.unlink(missing_ok=True)
    with Server(str(socket_path), StubDaemon) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        completed = subprocess.run(
            [docker, "run", "--rm", "--env-file", str(env_file), "credctl-test", "true"],
            env={"DOCKER_HOST": f"unix://{socket_path}", "HOME": str(tmp_path)},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        server.shutdown()
    assert completed.returncode != 0  # the stub never runs anything
    return completed.stderr, sent[0] if sent else None


def test_docker_cli_reads_back_identical(tmp_path: Path) -> None:
    kept, _ = accepted(TRICKY, "docker")
    _, sent = run_docker_cli(tmp_path, write(tmp_path, kept, "docker"))
    assert sent is not None
    assert dict(line.split("=", 1) for line in sent) == kept


def test_docker_cli_reads_the_longest_line_and_rejects_one_byte_more(tmp_path: Path) -> None:
    longest = "x" * (65_535 - len("KEY="))
    path = write(tmp_path, {"KEY": longest}, "docker")
    _, sent = run_docker_cli(tmp_path, path)
    assert sent == [f"KEY={longest}"]
    path.write_text(f"KEY={longest}x\n", encoding="utf-8")
    stderr, sent = run_docker_cli(tmp_path, path)
    assert sent is None
    assert "bufio.Scanner: token too long" in stderr


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(min_codepoint=1, exclude_categories=["Cs"]), max_size=60))
def test_any_text_reads_back_identical_or_is_refused(value: str) -> None:
    try:
        text = render([("VALUE", value)], "dotenv")
    except EnvFileError as error:
        assert "VALUE" in str(error)
        return
    import io

    assert dotenv_values(stream=io.StringIO(text)) == {"VALUE": value}
    assert parse(text, "dotenv") == {"VALUE": value}


def test_random_printable_values_in_bash_and_node(tmp_path: Path) -> None:
    generator = random.Random(20261124)
    alphabet = string.printable + "éü🔑中"
    values = [
        "".join(generator.choice(alphabet) for _ in range(generator.randint(0, 40)))
        for _ in range(300)
    ]
    kept, _ = accepted(values)
    path = write(tmp_path, kept)
    assert read_with_bash(path, list(kept)) == kept
    assert dict(dotenv_values(path)) == kept
    assert read_with_node(path) == kept
