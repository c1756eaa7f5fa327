#!/usr/bin/env bash
# Property-based HTTP testing of a running server with schemathesis (from PyPI): it reads the
# OpenAPI document at /api/customer-support/v3/api-docs, generates requests for every operation
# (examples, boundary values, random data, stateful sequences through response links) signed in
# as the administrator, and fails on any 5xx, undocumented status code, wrong content type, or
# response that does not match its documented schema.
#
#   ADMIN_EMAIL=... ADMIN_PASSWORD=... scripts/schemathesis.sh http://127.0.0.1:8010 [seconds]
#
# Start the server with RATE_LIMIT_PER_IP=0 RATE_LIMIT_PER_USER=0 (or the run becomes a 429
# test) on a throwaway database: the run creates, edits and deletes data.
set -euo pipefail

base="${1:?usage: scripts/schemathesis.sh BASE_URL [SECONDS]}"
seconds="${2:-60}"
version="4.32.5"
case "$base" in
  http://127.0.0.1:* | http://localhost:* | http://\[::1\]:*) ;;
  *) echo "schemathesis.sh: only loopback targets are allowed, got $base" >&2; exit 2 ;;
esac

if ! command -v st >/dev/null || ! st --version 2>/dev/null | grep -q "$version"; then
  if ! command -v python3 >/dev/null; then
    if [ "${REQUIRE_ALL_BACKENDS:-0}" = "1" ]; then
      echo "REQUIRE_ALL_BACKENDS=1 but python3 is missing for schemathesis" >&2
      exit 1
    fi
    echo "SKIPPED: schemathesis: no python3"
    exit 0
  fi
  python3 -m pip install --quiet --disable-pip-version-check "schemathesis==$version"
fi

up=0
for _ in $(seq 1 150); do
  if curl -fsS "$base/api/health" >/dev/null 2>&1; then
    up=1
    break
  fi
  sleep 0.2
done
if [ "$up" != 1 ]; then
  echo "schemathesis.sh: no server answering at $base/api/health" >&2
  exit 1
fi
token="$(curl -fsS -X POST -H 'Content-Type: application/json' \
  -d "{\"email\":\"${ADMIN_EMAIL:?}\",\"password\":\"${ADMIN_PASSWORD:?}\"}" \
  "$base/api/customer-support/auth/login" | python3 -c 'import json, sys; print(json.load(sys.stdin)["accessToken"])')"

st run "$base/api/customer-support/v3/api-docs" \
  --header "Authorization: Bearer $token" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance \
  --max-time "$seconds" \
  --workers 2 \
  --request-timeout 10
