"""The resident's page "How your data is used" (being built)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.templating import Jinja2Templates

from townhall.platform.context import AppContext


def build_data_uses_pages(context: AppContext, templates: Jinja2Templates) -> APIRouter:
    """The pages under ``/account/data-uses``."""
    del context, templates
    return APIRouter(include_in_schema=False)
