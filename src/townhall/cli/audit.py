"""``townhall audit``: verify the audit chain, sign checkpoints, purge (being built)."""

from __future__ import annotations

import typer

audit_app = typer.Typer(
    name="audit",
    help="Verify the audit trail of uses of personal data, sign checkpoints, purge old records.",
    no_args_is_help=True,
)
