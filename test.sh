#!/usr/bin/env bash
# Installs the test peers (scripts/test-peers.sh) and the test dependencies into .venv, then
# runs every check Bookplate has:
# lint, types, layer contracts, the dependency audit (scripts/audit.py, docs/security.md), the
# OpenAPI drift check and the whole pytest suite.
# Storage tests run on SQLite, and on PostgreSQL too when BOOKPLATE_TEST_POSTGRES_URL is set
# (for example postgresql+psycopg://postgres@127.0.0.1:5432/test).
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}
bash scripts/test-peers.sh \
  || echo "warning: could not install the test peers (slapd, SimpleSAMLphp, oidc-provider, chromium); their tests will skip (or fail under CI=true)"
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e '.[test]'
echo "== ruff";          .venv/bin/ruff check src tests bench tools
echo "== mypy";          .venv/bin/mypy src tools
echo "== import-linter"; .venv/bin/lint-imports
echo "== dependency audit"; .venv/bin/python scripts/audit.py
echo "== openapi drift"; .venv/bin/bookplate openapi --out /tmp/bookplate-openapi.json >/dev/null
diff -u docs/api/openapi.json /tmp/bookplate-openapi.json \
  || { echo "docs/api/openapi.json is out of date: run 'bookplate openapi --out docs/api/openapi.json' and review the diff"; exit 1; }
echo "== pytest"
set +e
.venv/bin/pytest "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then echo "pytest ran no test"; exit 1; fi
exit "$rc"
