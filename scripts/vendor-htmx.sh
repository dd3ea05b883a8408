#!/usr/bin/env bash
# Refreshes the htmx file the staff pages load (src/bookplate/web/static/htmx.min.js) from the
# npm registry: Bookplate serves it itself, no page loads anything from another host.
# Change VERSION and SHA256 together, run this, and commit the file.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=2.0.8
SHA256=22283ef68cb7545914f0a88a1bdedc7256a703d1d580c1d255217d0a50d31313
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "htmx.org@${VERSION}" >/dev/null && tar xzf "htmx.org-${VERSION}.tgz")
echo "${SHA256}  ${work}/package/dist/htmx.min.js" | sha256sum -c --quiet
cp "${work}/package/dist/htmx.min.js" src/bookplate/web/static/htmx.min.js
echo "htmx ${VERSION} copied to src/bookplate/web/static/htmx.min.js"
