"""`owners.yaml`: where each owner's reminders go, who has left, how often to repeat.

```yaml
default: {markdown: reminders/}            # owners without a channel of their own
owners:
  "@payments": {slack: {url_env: SLACK_PAYMENTS_WEBHOOK}}
  "@identity": {teams: {url: "https://…"}}
  "@platform": {webhook: {url_env: PLATFORM_HOOK}}
departed:                                  # people who left, and when
  alice@example.com: 2026-10-01
repeat_after: 7d
retry: {max_attempts: 4, base_delay: 1s}
```

A webhook address is a secret of its own (anyone holding a Slack webhook can post):
give it by environment variable (`url_env`) rather than in the file; credctl never
prints it.
"""

from __future__ import annotations

import os
from datetime import date, timedelta
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from credctl.errors import ConfigError, Problem
from credctl.fields import Strict
from credctl.model import Duration, RetryConfig, slugify

OWNERS_FILE = "owners.yaml"
ChannelKind = Literal["markdown", "slack", "teams", "webhook"]


class Endpoint(Strict):
    """A webhook address: in the file, or (better) in an environment variable."""

    url: str | None = None
    url_env: str | None = None

    @model_validator(mode="after")
    def _one_address(self) -> Endpoint:
        if (self.url is None) == (self.url_env is None):
            raise ValueError("give the address as url or as url_env (one of them)")
        if self.url is not None and not self.url.startswith(("http://", "https://")):
            raise ValueError("url must be an http(s) URL")
        return self

    def address(self, owner: str) -> str:
        """The URL to post to; a missing variable is a configuration error naming it."""
        if self.url is not None:
            return self.url
        assert self.url_env is not None
        value = os.environ.get(self.url_env, "")
        if not value.startswith(("http://", "https://")):
            raise ConfigError(
                Problem(
                    OWNERS_FILE,
                    None,
                    f"owner {owner}: {self.url_env} is not set to an http(s) URL",
                ),
                hint=f"export {self.url_env}=https://… in the job that runs credctl remind",
            )
        return value


class Channel(Strict):
    """Where one owner's digest goes: exactly one of these."""

    markdown: str | None = None  # a folder: one <owner>.md a digest; "-" for standard output
    slack: Endpoint | None = None
    teams: Endpoint | None = None
    webhook: Endpoint | None = None

    @model_validator(mode="after")
    def _one_channel(self) -> Channel:
        given = [kind for kind in ("markdown", "slack", "teams", "webhook") if getattr(self, kind)]
        if len(given) != 1:
            raise ValueError("name exactly one channel: markdown, slack, teams or webhook")
        return self

    @property
    def kind(self) -> ChannelKind:
        for kind in ("markdown", "slack", "teams", "webhook"):
            if getattr(self, kind) is not None:
                return kind
        raise AssertionError("validated to have one")


class OwnersFile(Strict):
    """The whole of owners.yaml."""

    default: Channel = Channel(markdown="-")
    owners: dict[str, Channel] = Field(default_factory=dict)
    # person (an owner, or an actor credctl records as rotated-by) -> the day they left
    departed: dict[str, date] = Field(default_factory=dict)
    repeat_after: Duration = timedelta(days=7)
    retry: RetryConfig = RetryConfig(max_attempts=4)

    def channel(self, owner: str) -> Channel:
        """The owner's channel (owners compared without case or punctuation), else default."""
        for name, channel in self.owners.items():
            if slugify(name) == slugify(owner):
                return channel
        return self.default

    def departure(self, person: str | None) -> tuple[str, date] | None:
        """The person as owners.yaml names them and the day they left, if they did
        (compared without case or punctuation, as owners are)."""
        if not person or not slugify(person):
            return None
        for name, left_on in self.departed.items():
            if slugify(name) == slugify(person):
                return name, left_on
        return None


def load_owners(root: Path) -> OwnersFile:
    """The project's owners.yaml, or the defaults (digests as Markdown on stdout)."""
    from credctl.project import load_yaml_model

    path = root / OWNERS_FILE
    return load_yaml_model(path, OWNERS_FILE, OwnersFile) if path.exists() else OwnersFile()
