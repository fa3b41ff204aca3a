#!/usr/bin/env bash
# Builds the release server and runs the benchmarks; writes BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null 2>&1 || { apt-get update && apt-get install -y wrk; }
cargo build --release --bin bearer-auth --example bcrypt_cost
python3 bench/run.py
