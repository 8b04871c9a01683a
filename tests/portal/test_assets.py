"""The front-end assets: served by the instance, complete, and the versions the templates expect."""

from __future__ import annotations

import json
import re
from importlib.metadata import version
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from townhall.portal.views import STATIC_DIRECTORY

ROOT = Path(__file__).resolve().parents[2]
GOVUK = "/static/vendor/govuk-frontend"
ASSETS = {
    f"{GOVUK}/govuk-frontend.min.css": "text/css",
    f"{GOVUK}/govuk-frontend.min.js": "text/javascript",
    f"{GOVUK}/assets/manifest.json": "application/json",
    "/static/vendor/htmx/htmx.min.js": "text/javascript",
    "/static/vendor/swagger-ui/swagger-ui-bundle.js": "text/javascript",
    "/static/vendor/swagger-ui/swagger-ui.css": "text/css",
    "/static/portal/init.js": "text/javascript",
    "/static/portal/portal.css": "text/css",
    "/static/portal/favicon.svg": "image/svg+xml",
}


@pytest.fixture(autouse=True)
def _vendored() -> None:
    assert (STATIC_DIRECTORY / "vendor" / "govuk-frontend").is_dir(), (
        "the front-end assets are missing: run `make install`"
    )


@pytest.mark.parametrize("path", sorted(ASSETS))
def test_assets_are_served_by_the_instance(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] == ASSETS[path]
    # Assets hold no personal data: browsers may cache them (they revalidate with the ETag).
    assert response.headers.get("cache-control") != "no-store"
    assert response.headers["etag"]


def test_every_font_and_image_the_stylesheet_uses_resolves(client: TestClient) -> None:
    css = client.get(f"{GOVUK}/govuk-frontend.min.css").text
    urls = set(re.findall(r"url\(([^)]+)\)", css))
    assert any("fonts/" in url for url in urls)
    for url in sorted(urls):
        assert not url.startswith(("/", "http")), f"{url} must be relative to the stylesheet"
        response = client.get(f"{GOVUK}/{url}")
        assert response.status_code == 200, url


def test_the_icons_of_the_manifest_resolve(client: TestClient) -> None:
    manifest = client.get(f"{GOVUK}/assets/manifest.json").json()
    for icon in manifest["icons"]:
        assert client.get(f"{GOVUK}/assets/{icon['src']}").status_code == 200


def test_the_init_script_imports_the_vendored_module(client: TestClient) -> None:
    script = client.get("/static/portal/init.js").text
    imported = re.search(r'from "([^"]+)"', script)
    assert imported is not None
    assert client.get(f"/static/portal/{imported.group(1)}").status_code == 200


def test_govuk_frontend_is_the_major_version_govuk_frontend_jinja_targets() -> None:
    installed = json.loads((ROOT / "node_modules/govuk-frontend/package.json").read_text())
    declared = json.loads((ROOT / "package.json").read_text())["dependencies"]["govuk-frontend"]
    served = (STATIC_DIRECTORY / "vendor/govuk-frontend/govuk-frontend.min.js").read_text()
    # govuk-frontend-jinja N.x is written against GOV.UK Frontend (N + 2).x (its README's table).
    frontend_major = int(version("govuk-frontend-jinja").split(".")[0]) + 2
    assert int(installed["version"].split(".")[0]) == frontend_major
    assert declared.lstrip("~^").split(".")[0] == str(frontend_major)
    assert served.startswith(f'const version="{installed["version"]}"'), "run `make install`"
