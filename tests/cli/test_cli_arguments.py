"""Mistyped commands and options are usage errors: exit code 2, a message, never a traceback."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from townhall import __version__
from townhall.cli import app


@pytest.mark.parametrize(
    ("arguments", "complaint"),
    [
        (["demo", "--size", "huge"], "--size"),
        (["demo", "--council", "Hackney"], "--council"),
        (["demo", "--seed", "-1"], "--seed"),
        (["serve", "--port", "0"], "--port"),
        (["serve", "--port", "eighty"], "--port"),
        (["serve", "--workers", "0"], "--workers"),
        (["db", "downgrade"], "REVISION"),
        (["db", "revision"], "--message"),
        (["serve", "--colour"], "--colour"),
        (["deploy"], "deploy"),
    ],
)
def test_argument_errors_exit_with_code_2(arguments: list[str], complaint: str) -> None:
    result = CliRunner().invoke(app, arguments, prog_name="townhall")

    assert result.exit_code == 2, result.output
    assert complaint in result.stderr
    assert "Traceback" not in result.output


def test_no_command_shows_the_commands() -> None:
    result = CliRunner().invoke(app, [], prog_name="townhall")

    for command in ("serve", "demo", "db", "docs"):
        assert command in result.output


def test_version() -> None:
    result = CliRunner().invoke(app, ["--version"])

    assert result.exit_code == 0
    assert result.stdout.strip() == f"townhall {__version__}"
