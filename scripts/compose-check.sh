#!/usr/bin/env bash
# Build the image and start compose.yaml's stack (api, worker, PostgreSQL, Redis) on a real
# container engine, then check it as an operator would: /ready answers 200 with the schema at the
# newest migration, the image's HEALTHCHECK passes, the worker runs, a key made inside the api
# container is accepted by the Alma Users API, and a patron written through it reads back.
# Always ends with `compose down -v`; exits non-zero on the first failed step.
#
# Needs root on Debian: installs docker.io, docker-compose and debootstrap when missing, starts
# dockerd when no engine answers (and stops it at the end). No registry is needed: the Debian
# base image is made here with debootstrap, and stand-ins for python:3.11-slim, postgres:16 and
# redis:7 are built from it (scripts/compose-check/*.Dockerfile). To check with the real images
# instead, set BOOKPLATE_CHECK_REAL_IMAGES=1. docs/operations.md, "Containers", has a run.
set -euo pipefail
cd "$(dirname "$0")/.."

PROJECT=${BOOKPLATE_CHECK_PROJECT:-bookplate-check}
READY_TIMEOUT=${BOOKPLATE_CHECK_READY_TIMEOUT:-180}
MIRROR=${BOOKPLATE_CHECK_DEBIAN_MIRROR:-http://deb.debian.org/debian}
STARTED=$(date +%s)
DOCKERD_PID=""
UP=0

say() { printf '[compose-check %4ss] %s\n' "$(( $(date +%s) - STARTED ))" "$*"; }
fail() { say "FAIL: $*"; exit 1; }

# --- tools ----------------------------------------------------------------------------------
missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
if ! docker compose version >/dev/null 2>&1 && ! command -v docker-compose >/dev/null; then
  missing+=(docker-compose)
fi
command -v debootstrap >/dev/null || missing+=(debootstrap)
if ((${#missing[@]})); then
  [[ $(id -u) == 0 ]] || fail "missing ${missing[*]}; install them (apt-get) or run as root"
  say "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if docker compose version >/dev/null 2>&1; then
  COMPOSE=(docker compose -p "$PROJECT")
else
  COMPOSE=(docker-compose -p "$PROJECT")
fi

cleanup() {
  local rc=$?
  if ((UP)); then
    if ((rc != 0)); then
      say "last log lines of the stack:"
      "${COMPOSE[@]}" logs --no-color --tail 40 2>&1 | sed 's/^/    /' || true
    fi
    say "compose down -v"
    "${COMPOSE[@]}" down -v --remove-orphans >/dev/null 2>&1 || say "compose down failed"
  fi
  if [[ -n $DOCKERD_PID ]]; then
    say "stopping the dockerd this script started (pid $DOCKERD_PID)"
    kill "$DOCKERD_PID" 2>/dev/null || true
    for _ in $(seq 1 30); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 1; done
  fi
  if ((rc == 0)); then say "OK"; else say "exit $rc"; fi
  exit "$rc"
}
trap cleanup EXIT

# --- engine ---------------------------------------------------------------------------------
if ! docker info >/dev/null 2>&1; then
  log=${BOOKPLATE_CHECK_DOCKERD_LOG:-/tmp/bookplate-dockerd.log}
  say "no engine answers: starting dockerd ${BOOKPLATE_DOCKERD_ARGS:---storage-driver overlay2} (log $log)"
  # shellcheck disable=SC2086  # BOOKPLATE_DOCKERD_ARGS is split into words on purpose
  setsid dockerd ${BOOKPLATE_DOCKERD_ARGS:---storage-driver overlay2} >"$log" 2>&1 </dev/null &
  DOCKERD_PID=$!
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { tail -20 "$log"; fail "dockerd did not start"; }
fi
say "engine: $(docker version -f 'server {{.Server.Version}}, client {{.Client.Version}}')"
say "compose: $("${COMPOSE[@]}" version --short 2>/dev/null || "${COMPOSE[@]}" version | head -1)"

# --- base images ----------------------------------------------------------------------------
if [[ ${BOOKPLATE_CHECK_REAL_IMAGES:-0} != 1 ]]; then
  if ! docker image inspect bookplate/debian:bookworm >/dev/null 2>&1; then
    rootfs=$(mktemp -d /tmp/bookplate-rootfs.XXXXXX)
    say "debootstrap bookworm (minbase) into $rootfs"
    debootstrap --variant=minbase bookworm "$rootfs" "$MIRROR" >/tmp/bookplate-debootstrap.log 2>&1 \
      || { tail -20 /tmp/bookplate-debootstrap.log; rm -rf "$rootfs"; fail "debootstrap"; }
    tar -C "$rootfs" -c . | docker import - bookplate/debian:bookworm >/dev/null
    rm -rf "$rootfs"
  fi
  say "base images: bookplate/debian:bookworm, building the stand-ins"
  context=$(mktemp -d /tmp/bookplate-context.XXXXXX)
  cp scripts/compose-check/* "$context/"
  mkdir "$context/extra-ca" && touch "$context/extra-ca/.keep"
  cp /usr/local/share/ca-certificates/*.crt "$context/extra-ca/" 2>/dev/null || true
  for name in python:3.11 postgres:15 redis:7; do
    docker build -q -t "bookplate/${name}-bookworm" -f "$context/${name%%:*}.Dockerfile" \
      "$context" >/dev/null 2>/tmp/bookplate-build-base.log \
      || { tail -20 /tmp/bookplate-build-base.log; rm -rf "$context"; fail "building the ${name%%:*} stand-in"; }
  done
  rm -rf "$context"
  export BOOKPLATE_BASE_IMAGE=bookplate/python:3.11-bookworm
  export BOOKPLATE_POSTGRES_IMAGE=bookplate/postgres:15-bookworm
  export BOOKPLATE_REDIS_IMAGE=bookplate/redis:7-bookworm
fi
export BOOKPLATE_IMAGE=${BOOKPLATE_IMAGE:-bookplate:compose-check}
PORT=${BOOKPLATE_PORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
export BOOKPLATE_PORT=$PORT
BASE_URL="http://127.0.0.1:$PORT"

# --- build and start ------------------------------------------------------------------------
say "building the stack (base ${BOOKPLATE_BASE_IMAGE:-python:3.11-slim})"
"${COMPOSE[@]}" build >/tmp/bookplate-compose-build.log 2>&1 \
  || { tail -30 /tmp/bookplate-compose-build.log; fail "compose build"; }
UP=1
say "compose up -d (api on $BASE_URL)"
"${COMPOSE[@]}" up -d 2>&1 | sed 's/^/    /'

# --- checks ---------------------------------------------------------------------------------
code=""
api_id=$("${COMPOSE[@]}" ps -q api)
for _ in $(seq 1 "$READY_TIMEOUT"); do
  code=$(curl -s -o /tmp/bookplate-ready.json -w '%{http_code}' "$BASE_URL/ready" || true)
  [[ $code == 200 ]] && break
  [[ $(docker inspect -f '{{.State.Running}}' "$api_id") == true ]] \
    || fail "the api container stopped ($(docker inspect -f '{{.State.Status}} {{.State.ExitCode}}' "$api_id"))"
  sleep 1
done
[[ $code == 200 ]] || fail "/ready answered ${code:-nothing} within ${READY_TIMEOUT}s: $(cat /tmp/bookplate-ready.json 2>/dev/null)"
say "/ready: 200 $(cat /tmp/bookplate-ready.json)"

head=$("${COMPOSE[@]}" exec -T api python3 -c \
  'from bookplate.storage.migrate import head_revision; print(head_revision())' | tr -d '\r')
stored=$("${COMPOSE[@]}" exec -T db psql -U bookplate -d bookplate -Atc \
  'select version_num from alembic_version' | tr -d '\r')
[[ -n $head && $stored == "$head" ]] || fail "database at revision '$stored', image expects '$head'"
say "schema: database at $stored, the image's newest migration is $head"
"${COMPOSE[@]}" exec -T api bookplate db check >/dev/null || fail "bookplate db check"
say "bookplate db check: tables match the migrations"

for _ in $(seq 1 90); do
  health=$(docker inspect -f '{{.State.Health.Status}}' "$api_id")
  [[ $health == healthy ]] && break
  [[ $health == unhealthy ]] && fail "the image's HEALTHCHECK reports unhealthy"
  sleep 1
done
[[ $health == healthy ]] || fail "HEALTHCHECK still '$health' after 90s"
say "api container: HEALTHCHECK healthy"
worker_id=$("${COMPOSE[@]}" ps -q worker)
[[ -n $worker_id && $(docker inspect -f '{{.State.Running}}' "$worker_id") == true ]] \
  || fail "the worker is not running"
say "worker container: running ($(docker inspect -f '{{.Config.Cmd}}' "$worker_id"))"

key=$("${COMPOSE[@]}" exec -T api bookplate quickstart --no-serve | tr -d '\r' \
  | sed -n 's/^API key ([^)]*): //p')
[[ -n $key ]] || fail "bookplate quickstart printed no key"
say "key made inside the api container with 'bookplate quickstart --no-serve'"

auth=(-H "Authorization: apikey $key" -H "Accept: application/json")
code=$(curl -s -o /tmp/bookplate-user.json -w '%{http_code}' -X POST "${auth[@]}" \
  -H "Content-Type: application/json" "$BASE_URL/almaws/v1/users" -d '{
    "record_type": {"value": "PUBLIC"}, "primary_id": "compose-check-1",
    "first_name": "Compose", "last_name": "Check",
    "account_type": {"value": "INTERNAL"}, "status": {"value": "ACTIVE"},
    "user_group": {"value": "UNDERGRAD"}, "expiry_date": "2030-08-30Z",
    "user_identifier": [{"id_type": {"value": "BARCODE"}, "value": "CC0000001"}]}')
[[ $code == 200 ]] || fail "POST /almaws/v1/users answered $code: $(head -c 400 /tmp/bookplate-user.json)"
say "POST /almaws/v1/users: 200"
code=$(curl -s -o /tmp/bookplate-user.json -w '%{http_code}' "${auth[@]}" \
  "$BASE_URL/almaws/v1/users/CC0000001")
[[ $code == 200 ]] || fail "GET /almaws/v1/users/CC0000001 answered $code"
read_back=$(python3 -c 'import json, sys; print(json.load(sys.stdin)["primary_id"])' </tmp/bookplate-user.json)
[[ $read_back == compose-check-1 ]] || fail "the barcode read back user '$read_back'"
say "GET /almaws/v1/users/CC0000001 (by barcode): 200, primary_id $read_back"
code=$(curl -s -o /tmp/bookplate-user.json -w '%{http_code}' -H "Accept: application/json" \
  -H "Authorization: apikey not-a-key" "$BASE_URL/almaws/v1/users")
# docs/alma-compatibility.md: an unknown key answers 403 with Alma's UNAUTHORIZED error list
if [[ $code != 403 ]] || ! grep -q '"errorCode":"UNAUTHORIZED"' /tmp/bookplate-user.json; then
  fail "a wrong key answered $code: $(head -c 400 /tmp/bookplate-user.json)"
fi
say "a wrong key: 403, errorCode UNAUTHORIZED"
rm -f /tmp/bookplate-ready.json /tmp/bookplate-user.json
