#!/bin/sh
# Regenerate revision 0001 from the models while it is unreleased (before the first release,
# the schema has one revision; after it, add revisions with `townhall db revision`).
set -eu
cd "$(dirname "$0")/.."
tmp="$(mktemp -d)"
rm -f src/townhall/migrations/versions/0001_*.py
.venv/bin/python - "$tmp/gen.db" <<'PY'
import sys
from alembic import command
from townhall.platform.db import Database
from townhall.platform.migrations import alembic_config
command.revision(alembic_config(Database(f"sqlite:///{sys.argv[1]}")), message="initial schema", autogenerate=True, rev_id="0001")
PY
mv src/townhall/migrations/versions/0001_*.py src/townhall/migrations/versions/0001_initial_schema.py 2>/dev/null || true
.venv/bin/ruff format -q src/townhall/migrations/versions/0001_initial_schema.py
.venv/bin/ruff check -q --fix src/townhall/migrations/versions/0001_initial_schema.py || true
rm -rf "$tmp"
