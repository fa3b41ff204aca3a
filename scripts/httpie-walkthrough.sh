#!/usr/bin/env bash
# The README's httpie walkthrough, run against a real server process and
# checked status by status: the default profile, then `strict` (sessions,
# single-use tokens, rotation, encryption), following X-Access-Token.
#
#   scripts/httpie-walkthrough.sh [path/to/bearer-auth]
#
# httpie always comes from PyPI, into the virtual environment target/httpie-venv.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
bin="$(realpath "${1:-$repo/target/debug/bearer-auth}")"

# Always httpie from PyPI, in its own venv, whatever `http` is on the PATH.
venv="$repo/target/httpie-venv"
if [[ ! -x "$venv/bin/http" ]]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet httpie
fi
HTTP=("$venv/bin/http")
HTTP+=(--ignore-stdin --timeout 30)

work="$(mktemp -d)"
server_pid=""
stop_server() {
    if [[ -n "$server_pid" ]]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
        server_pid=""
    fi
}
cleanup() {
    stop_server
    rm -rf "$work"
}
trap cleanup EXIT

failures=0
passes=0
# expect STATUS DESCRIPTION -- HTTPIE-ARGS...: runs httpie, prints what it got.
expect() {
    local want="$1" what="$2"
    shift 3
    "${HTTP[@]}" --print=hb "$@" > "$work/last" 2>&1 || true
    local got
    got="$(head -n1 "$work/last" | awk '{print $2}')"
    if [[ "$got" == "$want" ]]; then
        echo "ok   $want $what"
        passes=$((passes + 1))
    else
        echo "FAIL $what: wanted $want, got ${got:-nothing}"
        sed 's/^/     /' "$work/last" | head -n 20
        failures=$((failures + 1))
    fi
}
body() { sed -n '/^\r\?$/,$p' "$work/last" | tail -n +2; }
json_field() { body | python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
header() { grep -i "^$1:" "$work/last" | head -n1 | cut -d' ' -f2- | tr -d '\r'; }

start() { # profile, extra env...
    local profile="$1"
    shift
    stop_server
    port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
    rm -f "$work"/*.db*
    (cd "$work" && exec env ROCKET_CONFIG="$repo/Rocket.toml" ROCKET_PROFILE="$profile" \
        ROCKET_PORT="$port" ROCKET_DATABASE_URL="$work/walkthrough.db" ROCKET_BCRYPT_COST=4 \
        "$@" "$bin" > "$work/server-$profile.log" 2>&1) &
    server_pid=$!
    for _ in $(seq 1 100); do
        "${HTTP[@]}" --check-status ":$port/health" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "server did not start"; cat "$work/server-$profile.log"; exit 1
}

echo "== default profile"
start debug
expect 201 "signup" -- POST ":$port/signup" username=alice password='correct horse'
expect 200 "signin with -a" -- -a alice:'correct horse' POST ":$port/signin"
token="$(json_field '["token"]')"
expect 200 "bearer request" -- ":$port/secret" "Authorization:Bearer $token"
expect 200 "bearer with -A bearer" -- -A bearer -a "$token" ":$port/users"
expect 401 "bad token" -- ":$port/secret" "Authorization:Bearer not.a.token"
expect 401 "wrong password" -- -a alice:wrong POST ":$port/signin"
expect 409 "taken username" -- POST ":$port/signup" username=alice password='correct horse'

echo "== strict profile"
start strict ROCKET_JWT_SECRET="$(head -c 48 /dev/urandom | base64)" \
    ROCKET_TOKEN_ENCRYPTION_KEY="$(head -c 32 /dev/urandom | base64)"
expect 201 "signup" -- POST ":$port/signup" username=alice password='correct horse'
expect 200 "signin with -a" -- -a alice:'correct horse' POST ":$port/signin"
token="$(json_field '["token"]')"
for step in 1 2 3; do
    expect 200 "request $step with the latest token" -- ":$port/secret" "Authorization:Bearer $token"
    fresh="$(header X-Access-Token)"
    expect 401 "replay of the spent token" -- ":$port/secret" "Authorization:Bearer $token"
    token="$fresh"
done
expect 200 "list sessions" -- ":$port/sessions" "Authorization:Bearer $token"
token="$(header X-Access-Token)"
expect 204 "log out" -- DELETE ":$port/sessions/current" "Authorization:Bearer $token"
expect 401 "after log-out" -- ":$port/secret" "Authorization:Bearer $token"

echo "walkthrough: $passes passed, $failures failed"
[[ "$failures" -eq 0 ]]
