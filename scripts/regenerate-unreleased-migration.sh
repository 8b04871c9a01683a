#!/usr/bin/env bash
# Regenerate the newest migration revision from the models while it has not landed on main yet:
#   scripts/regenerate-unreleased-migration.sh 0002 "gazetteer api"
# It deletes versions/<ID>_*.py, points HEAD back at the revision before it, and writes the
# revision again with `townhall db revision` (autogenerate against all current models). Once a
# revision has landed it is released: change the schema with a new revision instead.
set -eu
cd "$(dirname "$0")/.."
id="$1"
message="$2"
previous="$(printf '%04d' $((10#$id - 1)))"
rm -f src/townhall/migrations/versions/"$id"_*.py
printf '%s\n' "$previous" > src/townhall/migrations/HEAD
.venv/bin/townhall db revision -m "$message"
.venv/bin/ruff format -q src/townhall/migrations/versions/"$id"_*.py
.venv/bin/ruff check -q --fix src/townhall/migrations/versions/"$id"_*.py || true
