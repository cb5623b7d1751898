"""`credctl init`: a starting project that validates as it is."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from credctl.results import Result

FILES = {
    "credentials.md": """# Credentials reference

| Service | Environment | Credential Type | Value/Reference | Rotation Schedule | Last Rotated | Owner |
|---------|-------------|-----------------|-----------------|-------------------|--------------|-------|
| Example | dev         | API Key         |                 | 90d               | never        | @you  |
""",
    "environments/dev.yaml": """# The local encrypted store under .credctl/ (git-ignored).
backend:
  type: local
naming: "{service}/{credential}"
env_file: {path: .env.dev, format: dotenv}
""",
    "policies/default.yaml": """defaults: {max_age: 90d, warn_before: 14d, require_owner: true}
credential_types:
  # A provider issues its keys (Stripe, Twilio, SendGrid…): a person rolls the key at the
  # provider, then 'credctl rotate ID --value-from-stdin'; or a `command` rotator asks the
  # provider's API for a new one and prints it.
  API Key:
    secret: true
    max_age: 90d
    rotator: manual
  # credctl makes the value only where its value is the truth: a secret your own services
  # share (`generate` + `self_contained: true`), or one a `command` then applies.
  Session Secret:
    secret: true
    max_age: 30d
    rotator: generate
    self_contained: true
    generator: {kind: token, bytes: 32, encoding: base64url}
  Client Secret: {secret: true, max_age: 180d, rotator: manual}
  Client ID: {secret: false, allow_never: true}
  Redirect URI: {secret: false, allow_never: true}
environments:
  dev: {max_age: 365d, require_owner: false}
""",
}
GITIGNORE_LINES = (".credctl/", ".env", ".env.*")


@dataclass
class Scaffolded(Result):
    """What `init` created or kept, one line per file."""

    actions: list[str]

    def notes(self) -> list[str]:
        return self.actions


def scaffold(folder: Path) -> Scaffolded:
    """Create what is missing; never overwrite."""
    said = []
    for relative, content in FILES.items():
        path = folder / relative
        if path.exists():
            said.append(f"kept {relative} (exists)")
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
        said.append(f"created {relative}")
    gitignore = folder / ".gitignore"
    present = gitignore.read_text(encoding="utf-8").splitlines() if gitignore.exists() else []
    missing = [line for line in GITIGNORE_LINES if line not in present]
    if missing:
        with gitignore.open("a", encoding="utf-8") as stream:
            if present and present[-1] != "":
                stream.write("\n")
            stream.write("# credctl: local state and generated env files\n")
            stream.write("".join(f"{line}\n" for line in missing))
        said.append(f"added {', '.join(missing)} to .gitignore")
    return Scaffolded(said)
