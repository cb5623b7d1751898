"""Settings: flags, then CREDCTL_* variables, then credctl.toml, then [tool.credctl]."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.projects import make_project, row
from tests.support.runner import credctl

ROWS = [row(), row(environment="dev")]


def environments_audited(result_stdout: str) -> set[str]:
    return {c["environment"] for c in json.loads(result_stdout)["credentials"]}


def test_pyproject_table_sets_defaults(tmp_path: Path) -> None:
    project = make_project(tmp_path, ROWS)
    (project / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool.credctl]\nenvironments = ["dev"]\nformat = "json"\n'
    )
    result = credctl(project, "audit")
    assert environments_audited(result.stdout) == {"dev"}


def test_credctl_toml_wins_over_pyproject(tmp_path: Path) -> None:
    project = make_project(tmp_path, ROWS)
    (project / "pyproject.toml").write_text('[tool.credctl]\nenvironments = ["dev"]\n')
    (project / "credctl.toml").write_text('environments = ["prod"]\nformat = "json"\n')
    assert environments_audited(credctl(project, "audit").stdout) == {"prod"}


def test_variables_win_over_files_and_flags_win_over_variables(tmp_path: Path) -> None:
    project = make_project(tmp_path, ROWS)
    (project / "credctl.toml").write_text('environments = ["prod"]\nformat = "json"\n')
    variables = {"CREDCTL_ENVIRONMENTS": "dev"}
    assert environments_audited(credctl(project, "audit", env=variables).stdout) == {"dev"}
    flagged = credctl(project, "audit", "--env", "prod", env=variables)
    assert environments_audited(flagged.stdout) == {"prod"}
    both = credctl(project, "audit", env={"CREDCTL_ENVIRONMENTS": "dev, prod"})
    assert environments_audited(both.stdout) == {"dev", "prod"}


def test_format_flag_wins_over_settings(tmp_path: Path) -> None:
    project = make_project(tmp_path, ROWS)
    (project / "credctl.toml").write_text('format = "json"\n')
    result = credctl(project, "status", "--format", "markdown")
    assert result.stdout.startswith("| Service | Environment |")


def test_unknown_setting_is_a_config_error(tmp_path: Path) -> None:
    project = make_project(tmp_path, ROWS)
    (project / "credctl.toml").write_text('colour = "blue"\n')
    result = credctl(project, "validate")
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: settings: colour: Extra inputs are not permitted")


def test_malformed_toml_is_a_config_error(tmp_path: Path) -> None:
    project = make_project(tmp_path, ROWS)
    (project / "credctl.toml").write_text("environments = [\n")
    result = credctl(project, "validate")
    assert result.exit_code == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("Error: credctl.toml or pyproject.toml:")


def test_table_setting_points_at_another_file(tmp_path: Path) -> None:
    project = make_project(tmp_path, ROWS)
    (project / "credentials.md").rename(project / "secrets-inventory.md")
    (project / "credctl.toml").write_text('table = "secrets-inventory.md"\n')
    result = credctl(project, "validate")
    assert result.exit_code == 0, result.output
    assert "in secrets-inventory.md" in result.stderr


def test_project_is_found_from_a_subfolder_and_by_variable(tmp_path: Path) -> None:
    project = make_project(tmp_path / "repo", ROWS)
    (project / "services" / "api").mkdir(parents=True)
    assert credctl(project / "services" / "api", "validate").exit_code == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert credctl(elsewhere, "validate").exit_code == 2
    by_variable = credctl(elsewhere, "validate", env={"CREDCTL_PROJECT_DIR": str(project)})
    assert by_variable.exit_code == 0
    by_flag = credctl(elsewhere, "--project-dir", str(project), "validate")
    assert by_flag.exit_code == 0
