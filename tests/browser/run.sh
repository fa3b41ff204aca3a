#!/usr/bin/env bash
# Runs the browser end-to-end tests (tests/browser/*.test.mjs) against a built
# server, once with the `debug` profile and once with `strict`.
#
#   bash tests/browser/run.sh [path/to/bearer-auth]   (default target/debug/bearer-auth)
#
# Installs what is missing (Debian's Chromium, the npm packages), starts the
# server from a fresh temporary directory on a free port, waits for /health,
# runs `node --test tests/browser/` with BASE_URL and
# SCREENSHOT_DIR=target/screenshots/<profile>, then stops the server.
# Exits non-zero if any test fails.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

BIN="${1:-target/debug/bearer-auth}"
# A relative path is taken from the current directory, then from the repo.
if [[ "$BIN" != /* ]]; then
    if [[ -e "$BIN" ]]; then
        BIN="$(pwd)/$BIN"
    else
        BIN="$REPO/$BIN"
    fi
fi
if [[ ! -x "$BIN" ]]; then
    echo "run.sh: no server binary at $BIN (build it with cargo build first)" >&2
    exit 2
fi

cd "$REPO"

SUDO=""
if [[ "$(id -u)" -ne 0 ]] && command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
fi

# ------------------------------------------------------------ what is missing
if [[ ! -x /usr/bin/chromium ]]; then
    echo "==> installing Chromium (Debian packages)"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update
    $SUDO apt-get install -y chromium chromium-driver
fi
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "==> installing Node.js (Debian packages)"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update
    $SUDO apt-get install -y nodejs npm
fi
if [[ ! -d tests/browser/node_modules ]]; then
    echo "==> npm ci in tests/browser"
    (cd tests/browser && npm ci --no-audit --no-fund)
fi

# ------------------------------------------------------------------ helpers
SERVER_PID=""
WORK_DIRS=()

stop_server() {
    if [[ -n "$SERVER_PID" ]]; then
        if kill -0 "$SERVER_PID" 2>/dev/null; then
            kill -TERM "$SERVER_PID" 2>/dev/null || true
            # Rocket shuts down gracefully (Rocket.toml allows it grace + mercy
            # seconds); bound the wait a little above that.
            for _ in $(seq 1 200); do
                kill -0 "$SERVER_PID" 2>/dev/null || break
                sleep 0.1
            done
            if kill -0 "$SERVER_PID" 2>/dev/null; then
                echo "run.sh: server did not stop on SIGTERM, killing it" >&2
                kill -KILL "$SERVER_PID" 2>/dev/null || true
            fi
        fi
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=""
    fi
}

cleanup() {
    stop_server
    if ((${#WORK_DIRS[@]})); then
        rm -rf "${WORK_DIRS[@]}"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
    node -e '
        const server = require("net").createServer();
        server.listen(0, "127.0.0.1", () => {
            console.log(server.address().port);
            server.close();
        });'
}

healthy() {
    node -e '
        fetch(process.argv[1], { signal: AbortSignal.timeout(2000) })
            .then((r) => process.exit(r.status === 200 ? 0 : 1), () => process.exit(1));' "$1"
}

# Any ROCKET_* from the caller's environment would change what is tested.
while IFS= read -r name; do
    unset "$name"
done < <(compgen -e | grep '^ROCKET_' || true)

# ------------------------------------------------------------------ the runs
failed=()
for profile in debug strict; do
    echo
    echo "==> browser tests, profile $profile"
    work="$(mktemp -d "${TMPDIR:-/tmp}/bearer-auth-browser.XXXXXX")"
    WORK_DIRS+=("$work")
    # The server looks for static/ in its working directory.
    ln -s "$REPO/static" "$work/static"
    port="$(free_port)"
    base_url="http://127.0.0.1:$port"
    shots="$REPO/target/screenshots/$profile"
    mkdir -p "$shots"

    server_env=(
        "ROCKET_CONFIG=$REPO/Rocket.toml"
        "ROCKET_PROFILE=$profile"
        "ROCKET_ADDRESS=127.0.0.1"
        "ROCKET_PORT=$port"
        "ROCKET_DATABASE_URL=$work/browser.db"
        "ROCKET_BCRYPT_COST=4"
    )
    expect_sessions=0
    if [[ "$profile" == strict ]]; then
        server_env+=(
            "ROCKET_JWT_SECRET=$(head -c 48 /dev/urandom | base64 | tr -d '\n/+=')"
            "ROCKET_TOKEN_ENCRYPTION_KEY=$(head -c 32 /dev/urandom | base64)"
        )
        expect_sessions=1
    fi

    (cd "$work" && exec env "${server_env[@]}" "$BIN") >"$work/server.log" 2>&1 &
    SERVER_PID=$!

    up=0
    for _ in $(seq 1 120); do
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            break
        fi
        if healthy "$base_url/health"; then
            up=1
            break
        fi
        sleep 0.25
    done
    if ((!up)); then
        echo "run.sh: the server ($profile) did not answer GET /health with 200" >&2
        tail -n 40 "$work/server.log" >&2 || true
        stop_server
        failed+=("$profile")
        continue
    fi

    status=0
    BASE_URL="$base_url" SCREENSHOT_DIR="$shots" EXPECT_SESSIONS="$expect_sessions" \
        node --test tests/browser/ || status=$?

    stop_server
    cp "$work/server.log" "$shots/server.log" 2>/dev/null || true
    if ((status != 0)); then
        echo "run.sh: browser tests failed with profile $profile (server log: $shots/server.log)" >&2
        tail -n 20 "$work/server.log" >&2 || true
        failed+=("$profile")
    fi
done

echo
if ((${#failed[@]})); then
    echo "run.sh: browser tests FAILED for: ${failed[*]}" >&2
    exit 1
fi
echo "run.sh: browser tests passed for: debug strict"
