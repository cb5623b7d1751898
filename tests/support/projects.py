"""Build throw-away credctl projects for tests."""

from __future__ import annotations

from pathlib import Path

from tests.support.dates import day

HEADER = (
    "| Service | Environment | Credential Type | Value/Reference | Rotation Schedule "
    "| Last Rotated | Owner |\n"
    "|---|---|---|---|---|---|---|\n"
)
POLICY = """\
defaults: {max_age: 90d, warn_before: 14d, require_owner: true}
credential_types:
  API Key: {
    secret: true, max_age: 90d,
    rotator: generate, self_contained: true,
    generator: {kind: token, bytes: 32, encoding: base64url}
  }
  Client Secret: {secret: true, max_age: 180d, rotator: manual}
  Client ID: {secret: false, allow_never: true}
  Redirect URI: {secret: false, allow_never: true}
environments:
  dev: {max_age: 365d, require_owner: false}
"""
LOCAL_ENV = "backend: {type: local}\nenv_file: {path: .env.dev}\n"


def row(
    service: str = "Stripe",
    environment: str = "prod",
    credential_type: str = "API Key",
    reference: str = "",
    schedule: str = "90d",
    last_rotated: str = "",
    owner: str = "@payments",
) -> str:
    cells = [service, environment, credential_type, reference, schedule, last_rotated, owner]
    return "| " + " | ".join(cells) + " |\n"


def make_project(
    folder: Path,
    rows: list[str] | None = None,
    *,
    environments: dict[str, str] | None = None,
    policies: dict[str, str] | None = None,
    table_text: str | None = None,
) -> Path:
    """A project with local-store environments `prod` and `dev` unless told otherwise."""
    (folder / "environments").mkdir(parents=True, exist_ok=True)
    (folder / "policies").mkdir(exist_ok=True)
    for name, text in (environments or {"prod": LOCAL_ENV, "dev": LOCAL_ENV}).items():
        (folder / "environments" / f"{name}.yaml").write_text(text)
    for name, text in (policies or {"default.yaml": POLICY}).items():
        (folder / "policies" / name).write_text(text)
    if table_text is None:
        table_text = "# Credentials\n\n" + HEADER + "".join(rows if rows is not None else [row()])
    (folder / "credentials.md").write_text(table_text)
    return folder


def stripe_google_and_twilio(root: Path) -> Path:
    """Stripe (rotated 333 days ago), Google's secret and redirect URI, Twilio in dev."""
    return make_project(
        root,
        [
            row(last_rotated=day(333)),
            row(service="Google", credential_type="Client Secret", schedule="180d"),
            row(
                service="Google",
                credential_type="Redirect URI",
                reference="https://app.example.com/cb",
                schedule="never",
            ),
            row(service="Twilio", environment="dev", owner=""),
        ],
    )


def prod_and_ownerless_dev(root: Path) -> Path:
    """Stripe in prod, and in dev with no owner."""
    return make_project(root, [row(), row(environment="dev", owner="")])
