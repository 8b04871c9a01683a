"""``townhall addresses``: load a gazetteer into Townhall, write it out, match addresses.

This module owns the command group for the addresses domain. ``import`` and ``export`` read and
write the NLPG Data Transfer Format 7.3 or a plain CSV through
``townhall.domains.addresses.gazetteer_import``; ``match`` lives in ``address_matching`` and is
added to this group there. Commands print results on standard output and fail with one red line.
"""

from __future__ import annotations

import typer

addresses_app = typer.Typer(
    name="addresses",
    help="Import and export the gazetteer (NLPG DTF 7.3 or plain CSV) and match addresses.",
    no_args_is_help=True,
)
