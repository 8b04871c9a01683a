"""Templates compiled once per process still render each app's own values."""

from __future__ import annotations

from fastapi.testclient import TestClient

from townhall.app import create_app
from townhall.settings import Settings


def test_apps_sharing_compiled_templates_show_each_their_own_council(settings: Settings) -> None:
    # Every app's environment shares one bytecode cache (ADR 38): the second app renders from
    # code the first compiled, and must still show its own council and its own navigation.
    camden = settings.model_copy(
        update={"council_name": "London Borough of Camden", "api_docs_enabled": False}
    )
    with TestClient(create_app(settings)) as hackney_client:
        hackney = hackney_client.get("/").text
    with TestClient(create_app(camden)) as camden_client:
        served = camden_client.get("/").text
    assert "London Borough of Hackney" in hackney
    assert 'href="/api/docs"' in hackney
    assert "London Borough of Camden" in served
    assert "London Borough of Hackney" not in served
    assert 'href="/api/docs"' not in served
