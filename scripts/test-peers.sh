#!/usr/bin/env bash
# Installs what the tests start as real peers: Debian slapd + ldap-utils, xmlsec1 (pysaml2 signs
# and verifies with it), SimpleSAMLphp + PHP, the npm oidc-provider and axe-core, and Debian chromium for
# the Playwright browser tests (never `playwright install`: no downloads). Quick when already there.
# Needs root for apt-get; ./test.sh calls it and goes on without the peers when it fails
# (their tests then skip on a developer machine and fail under CI=true).
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v slapd >/dev/null 2>&1 || [ -x /usr/sbin/slapd ] || need_apt+=(slapd)
command -v ldapadd >/dev/null 2>&1 || need_apt+=(ldap-utils)
command -v xmlsec1 >/dev/null 2>&1 || need_apt+=(xmlsec1)
command -v php >/dev/null 2>&1 || need_apt+=(php-cli)
[ -d /usr/share/simplesamlphp ] || need_apt+=(simplesamlphp)
php -m 2>/dev/null | grep -qi '^dom$' || need_apt+=(php-xml)
php -m 2>/dev/null | grep -qi '^mbstring$' || need_apt+=(php-mbstring)
if [ "${#need_apt[@]}" -gt 0 ]; then
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need_apt[@]}"
fi
if [ ! -d tests/integration/auth/oidc_op/node_modules/oidc-provider ]; then
  (cd tests/integration/auth/oidc_op && npm ci --no-audit --no-fund)
fi
if [ ! -f tests/functional/axe/node_modules/axe-core/axe.min.js ]; then
  (cd tests/functional/axe && npm ci --no-audit --no-fund)  # axe-core for the staff UI tests
fi

if ! command -v chromium >/dev/null 2>&1; then
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium fonts-liberation
fi

