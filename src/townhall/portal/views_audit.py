"""The data protection officer's pages (being built)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.templating import Jinja2Templates

from townhall.platform.context import AppContext


def build_audit_pages(context: AppContext, templates: Jinja2Templates) -> APIRouter:
    """The pages under ``/staff/audit``."""
    del context, templates
    return APIRouter(include_in_schema=False)
