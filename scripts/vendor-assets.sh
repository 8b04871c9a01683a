#!/bin/sh
# Copy the front-end assets the portal serves from node_modules into the package, so that the
# browser loads them from the instance itself and never from another site.
#
# Only what a browser fetches is copied (compiled CSS and JS, their source maps, fonts, images,
# the manifest and the licences), not the Sass and Nunjucks sources.
#
# GOV.UK Frontend's precompiled CSS points at its fonts and images with root-absolute URLs
# (`url(/assets/...)`). The portal serves them under /static/vendor/govuk-frontend/assets, so the
# URLs are rewritten to be relative to the stylesheet: they then resolve wherever it is served.
set -eu
modules="$1"
vendor="$2"
govuk="$modules/govuk-frontend/dist/govuk"

rm -rf "$vendor"
mkdir -p "$vendor/govuk-frontend" "$vendor/htmx" "$vendor/swagger-ui"

for file in govuk-frontend.min.js govuk-frontend.min.js.map govuk-frontend.min.css.map; do
  cp "$govuk/$file" "$vendor/govuk-frontend/$file"
done
cp -R "$govuk/assets" "$vendor/govuk-frontend/assets"
sed 's#url(/assets/#url(assets/#g' "$govuk/govuk-frontend.min.css" \
  > "$vendor/govuk-frontend/govuk-frontend.min.css"
if grep -q 'url(/' "$vendor/govuk-frontend/govuk-frontend.min.css"; then
  echo "vendor-assets: govuk-frontend.min.css still has root-absolute url(): update this script" >&2
  exit 1
fi

cp "$modules/htmx.org/dist/htmx.min.js" "$vendor/htmx/htmx.min.js"
cp "$modules/htmx.org/LICENSE" "$vendor/htmx/LICENSE"

# The API reference page (Swagger UI) is served from the instance too, like every other asset.
for file in swagger-ui-bundle.js swagger-ui-bundle.js.map swagger-ui.css swagger-ui.css.map LICENSE NOTICE; do
  cp "$modules/swagger-ui-dist/$file" "$vendor/swagger-ui/$file"
done
