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
# The whole suite runs in two pytest calls: everything but the schemathesis file on
# BOOKPLATE_TEST_WORKERS parallel workers (pytest-xdist, one test file per worker at a time so
# that module-scoped peers start once), then the schemathesis file on its own without xdist
# (schemathesis gives all its generated cases one node id, which xdist would collapse into one).
# BOOKPLATE_TEST_WORKERS=0 runs the first call serially. With arguments that name tests
# (./test.sh tests/unit, ./test.sh -k name ...) a single serial call runs exactly what was asked.
# Either call failing, or running no test (pytest's exit 5), fails the script.
workers=${BOOKPLATE_TEST_WORKERS:-3}
schemathesis=tests/functional/test_schemathesis.py
selecting=0
for arg in "$@"; do
  case "$arg" in
    -q|-v|-vv|-qq|-x|-ra|-rA|--tb=*|-p|no:cacheprovider|--durations=*) ;;
    *) selecting=1 ;;
  esac
done
run_pytest() {
  set +e
  .venv/bin/pytest "$@"
  local rc=$?
  set -e
  if [ "$rc" -eq 5 ]; then echo "pytest ran no test: $*"; return 1; fi
  return "$rc"
}
echo "== pytest"
if [ "$selecting" -eq 1 ]; then
  run_pytest "$@"; exit $?
fi
parallel=()
if [ "$workers" != "0" ]; then parallel=(-n "$workers" --dist loadfile); fi
rc=0
run_pytest "${parallel[@]}" --ignore "$schemathesis" "$@" || rc=$?
echo "== pytest (schemathesis, one process)"
run_pytest "$schemathesis" "$@" || { r=$?; [ "$rc" -ne 0 ] || rc=$r; }
exit "$rc"
