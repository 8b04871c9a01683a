"""``townhall people``: source systems, linkage and residents, from the command line.

This module only assembles the group: each part of the people domain adds its own commands
(``people_sources``: sources and syncs; ``people_linkage``: training the model;
``people_residents``: linking, undoing decisions, survivorship).
"""

from __future__ import annotations

import typer

from townhall.cli import people_linkage, people_residents, people_sources

people_app = typer.Typer(
    name="people",
    help="Source systems of people's records, linking them into residents, and decisions.",
    no_args_is_help=True,
)
people_sources.register(people_app)
people_linkage.register(people_app)
people_residents.register(people_app)
