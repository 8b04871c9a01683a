#!/bin/sh
# Copy the front-end assets the portal serves from node_modules into the package, so that the
# browser loads them from the instance itself and never from another site.
set -eu
modules="$1"
vendor="$2"
rm -rf "$vendor"
mkdir -p "$vendor/govuk-frontend" "$vendor/htmx"
cp -R "$modules/govuk-frontend/dist/govuk/." "$vendor/govuk-frontend/"
cp "$modules/htmx.org/dist/htmx.min.js" "$vendor/htmx/htmx.min.js"
