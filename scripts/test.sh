#!/usr/bin/env bash
# The test command: the whole suite on SQLite, then again on PostgreSQL when
# BEARER_AUTH_TEST_POSTGRES names a server (each test creates and drops its
# own database there).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== tests on SQLite"
env -u BEARER_AUTH_TEST_POSTGRES cargo test --all-targets "$@"

if [[ -n "${BEARER_AUTH_TEST_POSTGRES:-}" ]]; then
    echo "== tests on PostgreSQL ($BEARER_AUTH_TEST_POSTGRES)"
    cargo test --all-targets "$@"
fi
