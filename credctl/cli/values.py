"""Values a person gives: on standard input or at a hidden prompt, never in argv."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from credctl.errors import UsageError

if TYPE_CHECKING:
    from credctl.secret import Secret


def value_from_person(credential_id: str, *, prompt: bool) -> Secret:
    """A hidden prompt (asked again until the value passes), else all of standard input."""
    from credctl.values import given_value

    if not prompt:
        if sys.stdin is None:
            raise UsageError("standard input is closed: give the value on it (… | credctl set ID)")
        return given_value(sys.stdin.buffer.read(), credential_id)
    while True:
        text = click.prompt(
            f"New value for {credential_id}", hide_input=True, confirmation_prompt=True
        )
        try:
            return given_value(text, credential_id)
        except UsageError as error:
            click.echo(f"Error: {error}", err=True)
