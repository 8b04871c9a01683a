"""``/api/v1/me``: the signed-in resident's own council records."""

from __future__ import annotations

from fastapi import APIRouter

from townhall.platform.http.routing import api_router


def build_people_me_router() -> APIRouter:
    """The ``/api/v1/me`` operations about the resident's council records."""
    return api_router("/me", tag="me")
