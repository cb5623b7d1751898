"""A report format and a rotator are one module and one registry entry each
(docs/architecture.md): registered here at run time, they work through the same code
paths as the built-in ones. Store types have the same proof in test_backend_registry."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from credctl.render import RENDERERS, Renderer, RenderOptions, render
from credctl.rotation.rotators import ROTATORS, RotatorType
from credctl.settings import load_settings
from tests.support.plugins import FIXED_VALUE
from tests.support.projects import LOCAL_ENV, make_project, row

POLICY = """\
defaults: {max_age: 90d, warn_before: 14d, require_owner: false}
credential_types:
  API Key: {secret: true, rotator: fixed}
"""


def run(project: Path, *args: str, stdin: str = "") -> tuple[int, str]:
    """credctl's entry point in this process; its exit code and standard output."""
    import contextlib
    import os
    import sys

    from credctl.cli import main

    raw = io.BytesIO()
    out = io.TextIOWrapper(raw, encoding="utf-8")
    previous = os.getcwd()
    os.chdir(project)
    code = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
            sys.stdin = io.TextIOWrapper(io.BytesIO(stdin.encode()))
            try:
                main(list(args))
            except SystemExit as stop:
                code = int(stop.code or 0)
    finally:
        os.chdir(previous)
        sys.stdin = sys.__stdin__
    out.flush()
    return code, raw.getvalue().decode("utf-8")


def test_a_report_format_is_one_module_and_one_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(RENDERERS, "csv", Renderer("csv", "tests.support.plugins", "a test"))
    monkeypatch.delenv("CREDCTL_LOCAL_KEY", raising=False)
    project = make_project(tmp_path, [row()])
    # the settings accept it by the registry, as they do the built-in formats
    monkeypatch.setenv("CREDCTL_FORMAT", "csv")
    assert load_settings(project).format == "csv"
    from credctl.audit import run_audit
    from credctl.backends.pool import backends_for
    from credctl.project import load_project

    loaded = load_project(load_settings(project))
    with backends_for(loaded) as backends:
        report = run_audit(loaded, loaded.select([]), backends)
    assert render(report, "csv", RenderOptions()) == "id,status\nprod/stripe/api-key,missing\n"


def test_a_rotator_is_one_module_and_one_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(
        ROTATORS,
        "fixed",
        RotatorType("fixed", "tests.support.plugins", "a test", first_value=False),
    )
    monkeypatch.delenv("CREDCTL_LOCAL_KEY", raising=False)
    project = make_project(
        tmp_path,
        [row(environment="dev")],
        environments={"dev": LOCAL_ENV},
        policies={"default.yaml": POLICY},
    )
    assert run(project, "validate")[0] == 0  # the policy names it and validates
    assert run(project, "set", "dev/stripe/api-key", stdin="first value")[0] == 0
    code, out = run(project, "rotate", "dev/stripe/api-key", "--format", "json")
    assert code == 0, out
    [result] = json.loads(out)["results"]
    assert result["outcome"] == "rotated"
    assert run(project, "get", "dev/stripe/api-key")[1] == FIXED_VALUE


def test_an_unknown_rotator_is_a_validate_error_naming_the_registered_ones(tmp_path: Path) -> None:
    project = make_project(tmp_path, [row()], policies={"default.yaml": POLICY})
    code, _ = run(project, "validate")
    assert code == 2
