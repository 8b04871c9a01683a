"""Settings come from TOWNHALL_* variables, are checked, and refuse what would go wrong quietly."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from townhall.app import create_app
from townhall.councils import council_name
from townhall.settings import Settings


def test_defaults_are_the_embedded_demo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TOWNHALL_DATABASE_URL", raising=False)
    settings = Settings()
    assert settings.database_url == "sqlite:///townhall.db"
    assert settings.is_sqlite
    assert settings.council_code == "E09000012"


def test_values_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOWNHALL_DATABASE_URL", "postgresql://u@h/townhall")
    monkeypatch.setenv("TOWNHALL_COUNCIL_CODE", "E08000025")
    settings = Settings()
    assert settings.database_url == "postgresql://u@h/townhall"
    assert not settings.is_sqlite
    assert settings.council_name == "Birmingham Council"


def test_the_council_is_named_from_its_code_unless_named() -> None:
    assert council_name("E09000012") == "Hackney"
    assert Settings(council_code="E09000012").council_name == "Hackney Council"
    assert Settings(council_code="S12000036").council_name == "Council S12000036"
    assert Settings(council_name="London Borough of Hackney").council_name == (
        "London Borough of Hackney"
    )


def test_a_misspelt_variable_is_refused_with_a_suggestion(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TOWNHALL_DATABSE_URL", "sqlite:///elsewhere.db")
    with pytest.raises(ValidationError, match="did you mean TOWNHALL_DATABASE_URL"):
        Settings()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("council_code", "Hackney"),
        ("log_level", "LOUD"),
        ("idempotency_key_ttl_hours", 0),
        ("environment", "staging"),
    ],
)
def test_invalid_values_are_refused(field: str, value: object) -> None:
    with pytest.raises(ValidationError, match=field):
        Settings(**{field: value})  # type: ignore[arg-type]


def test_production_refuses_to_start_without_a_secret_key(settings: Settings) -> None:
    production = settings.model_copy(update={"environment": "production"})
    with pytest.raises(RuntimeError, match="TOWNHALL_SECRET_KEY"):
        create_app(production)
