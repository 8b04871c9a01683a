"""Access control put into an app: signing keys, the token endpoint, verification, OpenAPI.

This module owns joining the parts of ``townhall.platform.auth`` to one app built by
``create_app``: it makes the app's ``SigningKeys`` and ``AccessControl`` (the authority
``require(scope)`` asks), mounts ``/oauth/token`` and ``/.well-known/jwks.json``, marks the
framework's own routes (the OpenAPI document) public, and describes access in the OpenAPI
document: the ``oauth2`` client-credentials scheme with every known scope, and on each protected
operation its security requirement and the 401, 403 and 429 that ``require`` can answer.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from townhall.platform.auth.access import AccessControl
from townhall.platform.auth.dependencies import (
    AUTHORITY_STATE,
    Access,
    access_of,
    every_route,
    mark_public,
    route_access,
)
from townhall.platform.auth.keys import instance_signing_keys
from townhall.platform.auth.oauth import TOKEN_PATH, build_oauth_router, oauth_schemas
from townhall.platform.auth.scopes import KNOWN_SCOPES
from townhall.platform.context import AppContext
from townhall.platform.http.problems import PROBLEM_JSON, error_responses
from townhall.platform.http.routing import add_operations

SECURITY_SCHEME = "oauth2"


def install_access_control(app: FastAPI, context: AppContext) -> AccessControl:
    """Give ``app`` its token endpoint, key set and token verification; returns the verifier."""
    settings, database = context.settings, context.database
    keys = instance_signing_keys(settings, database)
    access_control = AccessControl(settings, database, keys)
    setattr(app.state, AUTHORITY_STATE, access_control)
    add_operations(app, build_oauth_router(database, settings, keys))
    for route in app.routes:
        if getattr(route, "path", None) == app.openapi_url and access_of(route) is None:
            # The framework's own route for the document: public, like the reference it feeds.
            mark_public(route)
    return access_control


def describe_access(app: FastAPI, document: dict[str, Any]) -> None:
    """Add the security scheme, and each protected operation's requirement and refusals."""
    components = document.setdefault("components", {})
    components.setdefault("securitySchemes", {})[SECURITY_SCHEME] = {
        "type": "oauth2",
        "description": (
            "OAuth 2.0 client credentials: exchange the client's id and secret at "
            f"`{TOKEN_PATH}` for a short-lived bearer token carrying the scopes granted to it."
        ),
        "flows": {
            "clientCredentials": {
                "tokenUrl": TOKEN_PATH,
                "scopes": {scope.name: scope.description for scope in KNOWN_SCOPES},
            }
        },
    }
    components.setdefault("schemas", {}).update(oauth_schemas())
    paths = document.get("paths", {})
    for route in every_route(app):
        if not getattr(route, "include_in_schema", False):
            continue
        accesses = route_access(route)
        if not accesses:
            continue
        for method in getattr(route, "methods", None) or ():
            operation = paths.get(getattr(route, "path_format", ""), {}).get(method.lower())
            if operation is not None:
                _describe_operation(operation, accesses)


def _describe_operation(operation: dict[str, Any], accesses: tuple[Access, ...]) -> None:
    scopes = sorted({a.requirement for a in accesses if a.kind == "scope" and a.requirement})
    if scopes:
        operation["security"] = [{SECURITY_SCHEME: scopes}]
    errors = [error for access in accesses for error in access.errors]
    responses = operation.setdefault("responses", {})
    for status, declared in error_responses(*errors).items():
        if str(status) in responses:
            continue
        responses[str(status)] = {
            "description": declared["description"],
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
