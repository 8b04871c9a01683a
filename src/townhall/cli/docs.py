"""``townhall docs``: write the reference docs from the code, or check they are up to date.

This module owns the commands; what the files say is ``townhall.reference``'s job. Both commands
document the CLI they run in, found from the command context, so nothing here imports the app.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from typer.core import TyperGroup

from townhall.cli.console import console, fail
from townhall.reference import REFERENCE_DIR, stale_reference, write_reference

docs_app = typer.Typer(
    name="docs",
    help="Generate the settings and command-line references from the code.",
    no_args_is_help=True,
)

DirectoryOption = Annotated[
    Path,
    typer.Option(
        "--directory",
        file_okay=False,
        help="Where the reference lives, relative to the repository root you run this from.",
    ),
]


@docs_app.command()
def generate(ctx: typer.Context, directory: DirectoryOption = REFERENCE_DIR) -> None:
    """Write settings.md and cli.md from the Settings model and every command's --help."""
    changed = write_reference(directory, _root_command(ctx))
    if not changed:
        console().print(f"The reference in {directory} is already up to date.")
    for path in changed:
        console().print(f"Wrote {path}")


@docs_app.command()
def check(ctx: typer.Context, directory: DirectoryOption = REFERENCE_DIR) -> None:
    """Exit with code 1, naming the files, if the reference differs from what the code generates."""
    stale = stale_reference(directory, _root_command(ctx))
    if stale:
        names = ", ".join(str(path) for path in stale)
        fail(f"The reference is out of date ({names}): run `make docs` and commit the result.")
    console().print(f"The reference in {directory} matches the code.")


def _root_command(ctx: typer.Context) -> TyperGroup:
    root = ctx.find_root().command
    if not isinstance(root, TyperGroup):  # pragma: no cover - townhall is always a group
        fail("`townhall docs` must run inside the townhall command.")
    return root
