#!/usr/bin/env bash
# The test command: the whole suite on SQLite, then again on PostgreSQL when
# BEARER_AUTH_TEST_POSTGRES names a server (each test creates and drops its
# own database there). Tests of PostgreSQL itself (server faults) need that
# server and run in both passes.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== tests on SQLite"
BEARER_AUTH_TEST_BACKEND=sqlite cargo test --all-targets "$@"

if [[ -n "${BEARER_AUTH_TEST_POSTGRES:-}" ]]; then
    echo "== tests on PostgreSQL ($BEARER_AUTH_TEST_POSTGRES)"
    BEARER_AUTH_TEST_BACKEND=postgres cargo test --all-targets "$@"
fi
