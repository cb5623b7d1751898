"""Shell completion from the project: environment names, credential ids, services, types
and formats, for bash, zsh and fish, read from the files without opening a store."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from credctl.cli import main
from credctl.project import load_project
from credctl.settings import load_settings
from tests.support.projects import make_project, row
from tests.support.runner import REPO, inherited_environment

# The repository's own example project (credentials.md, environments/, policies/).
EXAMPLE = load_project(load_settings(REPO))
ENVIRONMENTS = ["dev", "prod", "staging"]
IDS = [credential.id for credential in EXAMPLE.credentials]
SECRET_IDS = [credential.id for credential in EXAMPLE.credentials if not credential.is_config]


def variables(**extra: str) -> dict[str, str]:
    environment = inherited_environment()
    environment["PYTHONPATH"] = os.pathsep.join(
        [str(REPO / "tests" / "support" / "guard"), str(REPO)]
    )
    return {**environment, **extra}


@pytest.fixture
def ask(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Asker:
    """Ask credctl's completion entry point, in this process, as a shell's script does."""

    def ask_completion(shell: str, words: str, folder: Path = REPO) -> list[str]:
        for name in ("CREDCTL_PROJECT_DIR", "CREDCTL_TABLE"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.chdir(folder)
        monkeypatch.setenv("_CREDCTL_COMPLETE", f"{shell}_complete")
        for name, value in position(shell, words).items():
            monkeypatch.setenv(name, value)
        with pytest.raises(SystemExit) as exited:
            main([])
        captured = capsys.readouterr()
        assert (exited.value.code, captured.err) == (0, "")
        return offered(shell, captured.out)

    return ask_completion


Asker = Callable[..., list[str]]


def position(shell: str, words: str) -> dict[str, str]:
    """COMP_WORDS and COMP_CWORD as the shell's script sets them."""
    if shell == "fish":  # fish passes the whole line, and the word being completed
        incomplete = "" if words.endswith(" ") else words.split(" ")[-1]
        return {"COMP_WORDS": words, "COMP_CWORD": incomplete}
    return {"COMP_WORDS": words, "COMP_CWORD": str(len(words.split(" ")) - 1)}


def offered(shell: str, output: str) -> list[str]:
    """The words in the entry point's answer to `shell`."""
    lines = output.splitlines()
    if shell == "bash":  # type,value
        return [line.split(",", 1)[1] for line in lines if line]
    if shell == "zsh":  # type, value, help: three lines each
        return [lines[index + 1] for index in range(0, len(lines) - 2, 3)]
    # fish: type,value[TAB help]
    return [line.split(",", 1)[1].split("\t")[0] for line in lines if line]


SHELLS = ["bash", "zsh", "fish"]


@pytest.mark.parametrize("shell", SHELLS)
def test_environment_names(ask: Asker, shell: str) -> None:
    assert sorted(EXAMPLE.environments) == ENVIRONMENTS
    for command in ("audit", "status", "plan", "sync", "env", "run", "rotate", "doctor", "log"):
        assert ask(shell, f"credctl {command} --env ") == ENVIRONMENTS, command
    assert ask(shell, "credctl audit --env p") == ["prod"]
    assert ask(shell, "credctl audit --env dev --env s") == ["staging"]


@pytest.mark.parametrize("shell", SHELLS)
def test_credential_ids(ask: Asker, shell: str) -> None:
    assert "prod/stripe/api-key" in SECRET_IDS
    assert "prod/google/redirect-uri" in set(IDS) - set(SECRET_IDS)
    # get prints any credential; set and rotate take those with a value in a store
    assert ask(shell, "credctl get ") == IDS
    assert ask(shell, "credctl log --id ") == IDS
    assert ask(shell, "credctl set ") == SECRET_IDS
    assert ask(shell, "credctl rotate ") == SECRET_IDS
    assert ask(shell, "credctl rotate --due prod/stripe/a") == ["prod/stripe/api-key"]
    assert ask(shell, "credctl rotate prod/stripe/api-key dev/go") == ["dev/google/client-secret"]


@pytest.mark.parametrize("shell", SHELLS)
def test_services_types_and_formats(ask: Asker, shell: str) -> None:
    services = ask(shell, "credctl env --service ")
    assert services == sorted({credential.id.split("/")[1] for credential in EXAMPLE.credentials})
    assert ask(shell, "credctl rotate --service st") == ["stripe"]
    types = ask(shell, "credctl run --type ")
    assert {"api-key", "client-secret", "database-password", "redirect-uri"} <= set(types)
    assert ask(shell, "credctl rotate --type database-") == ["database-password"]
    assert ask(shell, "credctl audit --format ") == [
        "table",
        "json",
        "markdown",
        "junit",
        "sarif",
        "github",
        "html",
    ]
    assert ask(shell, "credctl env --format d") == ["dotenv", "docker"]


def test_zsh_and_fish_show_what_each_id_is() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "credctl"],
        cwd=REPO,
        env=variables(
            _CREDCTL_COMPLETE="fish_complete",
            COMP_WORDS="credctl get prod/stripe/api",
            COMP_CWORD="prod/stripe/api",
        ),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert completed.stdout == "plain,prod/stripe/api-key\tStripe API Key (@payments)\n"


def test_the_project_dir_and_table_given_on_the_line_are_used(ask: Asker, tmp_path: Path) -> None:
    folder = make_project(tmp_path / "other", [row(service="Acme"), row(environment="dev")])
    (folder / "other.md").write_text(
        (folder / "credentials.md").read_text().replace("Acme", "Zeta")
    )
    line = f"credctl --project-dir {folder} get "
    assert ask("bash", line) == ["prod/acme/api-key", "dev/stripe/api-key"]
    assert ask("bash", f"credctl get --project-dir {folder} --table other.md ") == [
        "prod/zeta/api-key",
        "dev/stripe/api-key",
    ]
    assert ask("bash", f"credctl --project-dir {folder} audit --env ") == ["dev", "prod"]


def test_completion_opens_no_store_and_imports_no_sdk() -> None:
    probe = (
        "import sys\n"
        "from credctl.cli import main\n"
        "try:\n"
        "    main([])\n"
        "except SystemExit:\n"
        "    pass\n"
        "loaded = [m for m in ('boto3', 'botocore', 'hvac', 'requests') if m in sys.modules]\n"
        "loaded += [m for m in sys.modules if m.startswith('credctl.backends.') and\n"
        "           m.rsplit('.', 1)[1] in ('aws', 'vault', 'local')]\n"
        "print('loaded:', loaded, file=sys.stderr)\n"
    )
    for words in ("credctl get ", "credctl audit --env ", "credctl run --type "):
        completed = subprocess.run(
            [sys.executable, "-c", probe],
            cwd=REPO,
            env=variables(
                _CREDCTL_COMPLETE="bash_complete",
                COMP_WORDS=words,
                COMP_CWORD=str(len(words.split(" ")) - 1),
            ),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert completed.stdout.strip()
        assert completed.stderr == "loaded: []\n", words


def test_a_broken_project_completes_what_it_can_and_never_fails(ask: Asker, tmp_path: Path) -> None:
    folder = make_project(tmp_path, [row()])
    (folder / "environments" / "prod.yaml").write_text("backend: {type: nosuch}\n")
    (folder / "policies" / "default.yaml").write_text("{{{ not yaml")
    for shell in SHELLS:
        assert ask(shell, "credctl audit --env ", folder) == ["dev", "prod"]
        assert ask(shell, "credctl get ", folder) == []
    assert ask("bash", "credctl get ", tmp_path.parent) == []  # no project at all


def credctl_on_path(tmp_path: Path) -> dict[str, str]:
    """Variables under which `credctl` on PATH is this repository's credctl."""
    folder = tmp_path / "bin"
    folder.mkdir()
    launcher = folder / "credctl"
    launcher.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m credctl "$@"\n')
    launcher.chmod(0o755)
    environment = variables()
    environment["PATH"] = f"{folder}{os.pathsep}{environment.get('PATH', '')}"
    return environment


def test_bash_completes_through_the_script_credctl_prints(tmp_path: Path) -> None:
    script = (
        'eval "$(_CREDCTL_COMPLETE=bash_source credctl)"\n'
        # bash empties COMPREPLY before it calls a completion function; so does this
        "COMPREPLY=(); COMP_WORDS=(credctl rotate --env ''); COMP_CWORD=3\n"
        "_credctl_completion credctl\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
        "COMPREPLY=(); COMP_WORDS=(credctl get prod/stripe/); COMP_CWORD=2\n"
        "_credctl_completion credctl\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    completed = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", script],
        cwd=REPO,
        env=credctl_on_path(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    stripe = [i for i in IDS if i.startswith("prod/stripe/")]
    assert completed.stdout.splitlines() == [*ENVIRONMENTS, *stripe]


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed (make shells)")
def test_zsh_runs_the_script_credctl_prints(tmp_path: Path) -> None:
    # _describe and compadd exist only inside zsh's completion widgets: stand-ins print
    # what the script hands them
    script = (
        "compdef() { :; }\n"
        '_describe() { print -l -- "${(@P)3}"; }\n'
        'compadd() { print -l -- "${(@P)${@[-1]}}"; }\n'
        'eval "$(_CREDCTL_COMPLETE=zsh_source credctl)"\n'
        "words=(credctl audit --env ''); CURRENT=4; _credctl_completion\n"
    )
    completed = subprocess.run(
        ["zsh", "-f", "-c", script],
        cwd=REPO,
        env=credctl_on_path(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    kinds = {name: EXAMPLE.environments[name].backend.type for name in ENVIRONMENTS}
    assert completed.stdout.splitlines() == [f"{name}:{kinds[name]} store" for name in kinds]


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed (make shells)")
def test_fish_completes_through_the_script_credctl_prints(tmp_path: Path) -> None:
    script = (
        "env _CREDCTL_COMPLETE=fish_source credctl | source\n"
        "complete -C 'credctl audit --env '\n"
        "complete -C 'credctl set prod/stripe/'\n"
    )
    completed = subprocess.run(
        ["fish", "--no-config", "-c", script],
        cwd=REPO,
        env=credctl_on_path(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    offered = [line.split("\t")[0] for line in completed.stdout.splitlines()]
    stripe = [i for i in SECRET_IDS if i.startswith("prod/stripe/")]
    assert offered == [*ENVIRONMENTS, *sorted(stripe)]
