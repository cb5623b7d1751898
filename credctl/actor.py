"""Who is acting: --actor, CREDCTL_ACTOR, the CI's actor variable, else the OS user."""

from __future__ import annotations

import getpass
import os
import unicodedata

from credctl.errors import UsageError

CI_ACTOR_VARIABLES = (
    "GITHUB_ACTOR",
    "GITLAB_USER_LOGIN",
    "BUILDKITE_BUILD_CREATOR",
    "CIRCLE_USERNAME",
    "BITBUCKET_STEP_TRIGGERER_UUID",
    "BUILD_REQUESTEDFOR",  # Azure Pipelines
)


def resolve_actor(explicit: str | None) -> str:
    """`--actor`, else `CREDCTL_ACTOR` (settings), else the CI's actor, else the OS user.

    The actor lands in store metadata and in the log's lines: a control character
    (a line break, an escape sequence) could forge them, so it is refused.
    """
    if explicit:
        return _checked_actor(explicit, "--actor / CREDCTL_ACTOR")
    for variable in CI_ACTOR_VARIABLES:
        if os.environ.get(variable):
            return _checked_actor(os.environ[variable], f"${variable}")
    try:
        return _checked_actor(getpass.getuser(), "the OS user name")
    except (KeyError, OSError):
        return "unknown"


def _checked_actor(actor: str, source: str) -> str:
    for character in actor:
        if unicodedata.category(character) in ("Cc", "Cf", "Zl", "Zp"):
            raise UsageError(
                f"the actor from {source} contains a control character "
                f"(U+{ord(character):04X}); an actor is a name such as alice or ci-bot",
                hint="pass a plain name: --actor NAME",
            )
    return actor
