"""Help that tells the truth: what each option's help says about repetition and defaults is
what the command accepts and does, and plan's legend names every symbol it prints."""

from __future__ import annotations

import getpass
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import click
import click.testing
import pytest

from credctl.cli import cli
from credctl.sync import ACTIONS
from tests.support.projects import make_project, row
from tests.support.runner import credctl

DEFAULT = re.compile(r"[(;] ?default: ([^;)]+)[;)]")


def options() -> Iterator[tuple[str, click.Option]]:
    """Every option of the group and of each command, with the command's name."""
    for parameter in cli.params:  # --help and --version (eager) are Click's own
        if isinstance(parameter, click.Option) and not parameter.is_eager:
            yield "credctl", parameter
    for name, command in sorted(cli.commands.items()):
        for parameter in command.params:
            if isinstance(parameter, click.Option) and not parameter.is_eager:
                yield name, parameter


def own_default(option: click.Option) -> object:
    """The option's default, None when it has none (Click marks an unset one with UNSET)."""
    default = option.default
    return None if default is getattr(click.core, "UNSET", None) else default


def long_name(option: click.Option) -> str:
    return max(option.opts, key=len)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "project", [row(), row(environment="dev")])


def audited(result_stdout: str) -> set[str]:
    return {credential["environment"] for credential in json.loads(result_stdout)["credentials"]}


# --------------------------------------------------------------- the documented defaults
# Each default an option's help documents that depends on more than the option (a setting,
# a file, the environment): the check below shows the command doing what the help says.


def project_dir_default(project: Path) -> None:
    (project / "services" / "api").mkdir(parents=True)
    assert credctl(project / "services" / "api", "validate").exit_code == 0
    elsewhere = project.parent / "elsewhere"
    elsewhere.mkdir()
    assert credctl(elsewhere, "validate").exit_code == 2
    by_variable = credctl(elsewhere, "validate", env={"CREDCTL_PROJECT_DIR": str(project)})
    assert by_variable.exit_code == 0, by_variable.output


def table_default(project: Path) -> None:
    assert "in credentials.md" in credctl(project, "validate").stderr
    (project / "credentials.md").rename(project / "other.md")
    assert "in other.md" in credctl(project, "validate", env={"CREDCTL_TABLE": "other.md"}).stderr
    (project / "credentials.yaml").write_text(
        "- {service: Stripe, environment: prod, credential_type: API Key, value_reference: '',"
        " rotation_schedule: 90d, last_rotated: '', owner: '@payments'}\n"
    )
    assert "in credentials.yaml" in credctl(project, "validate").stderr


def environments_default(project: Path) -> None:
    assert audited(credctl(project, "audit", "--format", "json").stdout) == {"dev", "prod"}
    chosen = credctl(project, "audit", "--format", "json", env={"CREDCTL_ENVIRONMENTS": "dev"})
    assert audited(chosen.stdout) == {"dev"}


def format_default(project: Path) -> None:
    assert credctl(project, "validate").stderr.startswith("OK:")
    as_json = credctl(project, "validate", env={"CREDCTL_FORMAT": "json"})
    assert json.loads(as_json.stdout)["schema_version"] == 1
    # a format this command does not have: table
    assert credctl(project, "validate", env={"CREDCTL_FORMAT": "markdown"}).stdout == ""
    markdown = credctl(project, "status", env={"CREDCTL_FORMAT": "markdown"})
    assert markdown.stdout.startswith("| Service |")


def actor_default(project: Path) -> None:
    def actor_of_last_set(**variables: str) -> str:
        clean = {"GITHUB_ACTOR": "", "GITLAB_USER_LOGIN": "", **variables}
        stored = credctl(
            project, "set", "prod/stripe/api-key", input="v-" + str(variables), env=clean
        )
        assert stored.exit_code == 0, stored.output
        lines = (project / ".credctl" / "audit.jsonl").read_text().splitlines()
        return str(json.loads(lines[-1])["actor"])

    assert actor_of_last_set(CREDCTL_ACTOR="alice", GITHUB_ACTOR="ci-bot") == "alice"
    assert actor_of_last_set(GITHUB_ACTOR="ci-bot") == "ci-bot"
    assert actor_of_last_set() == getpass.getuser()


def env_format_default(project: Path) -> None:
    (project / "environments" / "dev.yaml").write_text("backend: {type: local}\n")
    assert credctl(project, "set", "dev/stripe/api-key", input="value").exit_code == 0
    without_file = credctl(project, "env", "--env", "dev", "-o", "-")
    assert without_file.stdout == "STRIPE_API_KEY='value'\n"  # dotenv
    (project / "environments" / "dev.yaml").write_text(
        "backend: {type: local}\nenv_file: {path: .env.dev, format: shell}\n"
    )
    assert credctl(project, "env", "--env", "dev", "-o", "-").stdout.startswith("export ")


def env_output_default(project: Path) -> None:
    assert credctl(project, "set", "dev/stripe/api-key", input="value").exit_code == 0
    written = credctl(project, "env", "--env", "dev")
    assert written.stderr == "wrote 1 variables to .env.dev (mode 0600)\n"  # LOCAL_ENV's path
    assert (project / ".env.dev").read_text() == "STRIPE_API_KEY='value'\n"


def policy_format_default(project: Path) -> None:
    environments = project / "environments"
    (environments / "prod.yaml").write_text("backend: {type: aws, region: eu-west-1}\n")
    (environments / "dev.yaml").write_text("backend: {type: vault, url: 'http://127.0.0.1:9'}\n")
    iam = credctl(project, "policy", "--env", "prod", "--for", "audit")
    assert json.loads(iam.stdout)["Version"] == "2012-10-17"
    hcl = credctl(project, "policy", "--env", "dev", "--for", "audit")
    assert hcl.exit_code == 0, hcl.output
    assert hcl.stdout.lstrip().startswith(("#", "path "))


def remind_state_default(project: Path) -> None:
    (project / "owners.yaml").write_text("default: {markdown: reminders/}\n")
    reminded = credctl(project, "remind", "--only-new", env={"CREDCTL_ACTOR": "tester"})
    assert reminded.exit_code == 0, reminded.output
    assert json.loads((project / ".credctl" / "remind-state.json").read_text())


DOCUMENTED: dict[tuple[str, str], Callable[[Path], None]] = {
    ("--project-dir", "CREDCTL_PROJECT_DIR, else the nearest folder with environments/"): (
        project_dir_default
    ),
    (
        "--table",
        "the table setting, else credentials.md, or credentials.yaml when only it exists",
    ): table_default,
    ("--env", "the environments setting, else all"): environments_default,
    ("--format", "the format setting where this command has it, else table"): format_default,
    ("--actor", "the actor setting, else the CI's actor, else the OS user"): actor_default,
    ("--format", "the environment file's, else dotenv"): env_format_default,
    ("--output", "env_file.path of the environment"): env_output_default,
    ("--format", "the store's own: iam for AWS, vault-hcl for Vault"): policy_format_default,
    ("--state", ".credctl/remind-state.json"): remind_state_default,
}


def documented_default(option: click.Option) -> str | None:
    found = DEFAULT.search(" ".join((option.help or "").split()))
    return found.group(1).strip() if found else None


def test_every_documented_default_is_checked_or_is_the_options_own() -> None:
    for command, option in options():
        documented = documented_default(option)
        where = f"credctl {command} {long_name(option)}"
        if documented is None:
            # a default worth saying (not off, empty or absent) is said: in the help or by Click
            meaningful = own_default(option) not in (None, False, (), 0)
            assert not meaningful or option.show_default, f"{where}: say its default"
            continue
        if own_default(option) is not None:
            assert documented == str(own_default(option)), where
        else:
            assert (long_name(option), documented) in DOCUMENTED, (
                f"{where} says 'default: {documented}': add the check that shows it to DOCUMENTED"
            )


@pytest.mark.parametrize(("name", "documented"), list(DOCUMENTED))
def test_the_command_does_what_the_documented_default_says(
    name: str, documented: str, project: Path
) -> None:
    assert any(
        long_name(option) == name and documented_default(option) == documented
        for _, option in options()
    ), f"no option {name} documents 'default: {documented}' any more"
    DOCUMENTED[name, documented](project)


def test_repeatable_is_said_exactly_where_an_option_takes_several_values() -> None:
    for command, option in options():
        help_text = " ".join((option.help or "").split())
        where = f"credctl {command} {long_name(option)}"
        if "(one;" in help_text:  # kept multiple to refuse a second value by name (below)
            assert option.multiple, where
            continue
        assert ("(repeatable" in help_text) == option.multiple, where


@pytest.mark.parametrize("command", [["env", "-o", "-"], ["run", "--", "true"]])
def test_an_option_documented_as_one_refuses_two(command: list[str], project: Path) -> None:
    option = next(o for o in cli.commands[command[0]].params if "--env" in o.opts)
    assert "(one;" in (option.help or "")
    twice = credctl(project, command[0], "--env", "prod", "--env", "dev", *command[1:])
    assert (twice.exit_code, twice.stderr) == (
        2,
        "Error: choose one environment with --env (available: prod, dev)\n",
    )


def test_a_repeatable_option_takes_several_values(project: Path) -> None:
    both = credctl(project, "audit", "--format", "json", "--env", "prod", "--env", "dev")
    assert audited(both.stdout) == {"prod", "dev"}


def test_plan_help_lists_every_symbol_a_plan_prints() -> None:
    text = click.testing.CliRunner().invoke(cli, ["plan", "--help"]).output
    for action, (symbol, _) in ACTIONS.items():
        assert re.search(rf"^  {re.escape(symbol)} {action}\b", text, re.MULTILINE), action
