"""The reference docs in docs/reference/ are generated from the code and cannot fall behind it."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from pydantic import Field
from typer import rich_utils
from typer.core import TyperGroup
from typer.main import get_command
from typer.testing import CliRunner

from townhall.cli import app
from townhall.reference import (
    CLI_FILE,
    SETTINGS_FILE,
    generate_reference,
    help_text,
    render_settings_reference,
    stale_reference,
    write_reference,
)
from townhall.settings import Settings

REPOSITORY = Path(__file__).resolve().parent.parent


def townhall_command() -> TyperGroup:
    command = get_command(app)
    assert isinstance(command, TyperGroup)
    return command


class SettingsWithANewKnob(Settings):
    """The settings as they would be after someone adds a field."""

    parking_zone_radius_metres: int = Field(
        default=400, ge=1, description="How far a permit reaches from the resident's address."
    )


@pytest.mark.parametrize("name", [SETTINGS_FILE, CLI_FILE])
def test_the_committed_reference_matches_the_code(name: str) -> None:
    committed = REPOSITORY / "docs" / "reference" / name
    generated = generate_reference(townhall_command())[name]

    assert committed.exists(), f"docs/reference/{name} is missing: run `make docs`"
    assert committed.read_text(encoding="utf-8") == generated, (
        f"docs/reference/{name} is out of date with the code: run `make docs` and commit it"
    )


def test_a_new_setting_makes_the_settings_reference_stale(tmp_path: Path) -> None:
    write_reference(tmp_path, townhall_command())

    stale = stale_reference(tmp_path, townhall_command(), SettingsWithANewKnob)

    assert stale == [tmp_path / SETTINGS_FILE]
    row = next(
        line
        for line in render_settings_reference(SettingsWithANewKnob).splitlines()
        if "TOWNHALL_PARKING_ZONE_RADIUS_METRES" in line
    )
    assert row == (
        "| `TOWNHALL_PARKING_ZONE_RADIUS_METRES` | integer, at least 1 | `400` "
        "| How far a permit reaches from the resident's address. |"
    )


def test_a_new_command_makes_the_cli_reference_stale(tmp_path: Path) -> None:
    write_reference(tmp_path, townhall_command())
    extended = townhall_command()
    extra = typer.Typer()

    @extra.command()
    def issue_permits() -> None:
        """Issue every parking permit that is due."""

    extended.commands["issue-permits"] = get_command(extra)

    assert stale_reference(tmp_path, extended) == [tmp_path / CLI_FILE]
    assert "## `townhall issue-permits`" in generate_reference(extended)[CLI_FILE]


def test_a_setting_without_a_description_is_refused() -> None:
    class Undocumented(Settings):
        secret_feature: bool = False

    with pytest.raises(ValueError, match="'secret_feature' has no description"):
        render_settings_reference(Undocumented)


def test_help_is_the_same_whatever_the_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    plain = help_text(townhall_command(), ["serve"])
    # What a CI runner with FORCE_COLOR, or a narrow terminal, would set in typer.
    monkeypatch.setattr(rich_utils, "FORCE_TERMINAL", True)
    monkeypatch.setattr(rich_utils, "COLOR_SYSTEM", "truecolor")
    monkeypatch.setattr(rich_utils, "MAX_WIDTH", 40)

    assert help_text(townhall_command(), ["serve"]) == plain
    assert "\x1b[" not in plain
    assert plain.startswith(" Usage: townhall serve [OPTIONS]")
    assert rich_utils.MAX_WIDTH == 40  # and typer's own settings are put back


def test_every_command_and_option_has_help() -> None:
    reference = generate_reference(townhall_command())[CLI_FILE]

    for path in (["serve"], ["demo"], ["db", "upgrade"], ["db", "revision"], ["docs", "check"]):
        assert f"## `townhall {' '.join(path)}`" in reference
    command = townhall_command()
    for group in [command, *(c for c in command.commands.values() if isinstance(c, TyperGroup))]:
        for sub in group.commands.values():
            assert sub.help, f"{sub.name} has no docstring"
            for param in sub.params:
                assert getattr(param, "help", None), f"{sub.name} {param.name} has no help"


def test_docs_check_names_the_stale_files(tmp_path: Path) -> None:
    runner = CliRunner()
    directory = ["--directory", str(tmp_path)]

    generated = runner.invoke(app, ["docs", "generate", *directory])
    assert generated.exit_code == 0, generated.output
    assert runner.invoke(app, ["docs", "check", *directory]).exit_code == 0

    (tmp_path / CLI_FILE).write_text("edited by hand\n", encoding="utf-8")
    checked = runner.invoke(app, ["docs", "check", *directory])

    assert checked.exit_code == 1
    assert str(tmp_path / CLI_FILE) in checked.stderr
    assert str(tmp_path / SETTINGS_FILE) not in checked.stderr
    assert "run `make docs`" in checked.stderr
