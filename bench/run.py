#!/usr/bin/env python3
"""bearer-auth benchmarks: one run, one machine, every figure side by side.

Builds nothing: run `cargo build --release --bin bearer-auth --example
bcrypt_cost` first (bench/run.sh does). Drives the release server with wrk
(Debian's package) on loopback only, and writes BENCHMARKS.md.

Figures and goals:
  1. GET /secret against the 404 path of the same server (requests/s and p99):
     auth's overhead over a bare Rocket answer; goal >= 0.8.
  2. GET /secret with sessions on against sessions off; goal >= 0.5.
  3. POST /signin per second at bcrypt cost 10 against the bcrypt limit
     (cores / time of one verify at cost 10, measured in this run); goal >= 0.9.
  4. p99 of GET /secret while /signin is saturated; goal <= 20 ms.
  5. Peak memory (VmHWM) of the server over the run; goal <= 40 MB.
"""

import base64
import datetime
import http.client
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(REPO, "target", "release", "bearer-auth")
BCRYPT = os.path.join(REPO, "target", "release", "examples", "bcrypt_cost")
SECONDS = int(os.environ.get("BENCH_SECONDS", "6"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
PASSWORD = "correct horse"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(port, method, path, headers=None, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request(method, path, body=body, headers=headers or {})
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, dict(response.getheaders()), data


class Server:
    def __init__(self, name, **settings):
        self.name = name
        self.dir = tempfile.mkdtemp(prefix=f"bench-{name}-")
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("ROCKET_")}
        env.update({
            "ROCKET_CONFIG": os.path.join(REPO, "Rocket.toml"),
            "ROCKET_PROFILE": "release",
            "ROCKET_JWT_SECRET": "benchmark secret, thirty-two bytes or more",
            "ROCKET_PORT": str(self.port),
            "ROCKET_DATABASE_URL": os.path.join(self.dir, "bench.db"),
            "ROCKET_BCRYPT_COST": "10",
            "ROCKET_TOKEN_TTL": "3600",
            "ROCKET_LOG_LEVEL": "off",
        })
        env.update({f"ROCKET_{k.upper()}": str(v) for k, v in settings.items()})
        self.proc = subprocess.Popen([BIN], cwd=self.dir, env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            try:
                if request(self.port, "GET", "/health")[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.05)
        else:
            raise SystemExit(f"server {name} did not start")

    def signup(self, username):
        body = json.dumps({"username": username, "password": PASSWORD})
        status, _, data = request(self.port, "POST", "/signup",
                                  {"Content-Type": "application/json"}, body)
        assert status == 201, (status, data)
        return json.loads(data)["token"]

    def peak_rss_mb(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)
        shutil.rmtree(self.dir, ignore_errors=True)


def wrk(port, path, headers=(), method="GET", connections=32, seconds=SECONDS, background=False,
        rotate_authorization=()):
    """wrk on one path. `rotate_authorization`: Authorization values that
    successive requests take in turn (the signin load signs in several users,
    as real traffic does: the throttle counts a signin in flight as a failure
    until its password proves right, so one account signing in on many
    connections at once from one address would be throttled)."""
    script = None
    args = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for header in headers:
        args += ["-H", header]
    if method != "GET" or rotate_authorization:
        script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
        script.write(f'wrk.method = "{method}"\n')
        if rotate_authorization:
            values = ", ".join(json.dumps(v) for v in rotate_authorization)
            script.write(
                f"local values = {{{values}}}\n"
                "local i = 0\n"
                "request = function()\n"
                "  i = i % #values + 1\n"
                '  return wrk.format(nil, nil, {["Authorization"] = values[i]})\n'
                "end\n")
        script.close()
        args += ["-s", script.name]
    args.append(f"http://127.0.0.1:{port}{path}")
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    if background:
        return proc
    return parse_wrk(proc.communicate()[0])


def parse_wrk(output):
    def latency_ms(text):
        value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    p50 = latency_ms(re.search(r"^\s+50%\s+(\S+)", output, re.M).group(1))
    p99 = latency_ms(re.search(r"^\s+99%\s+(\S+)", output, re.M).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    return {"rps": rps, "p50": p50, "p99": p99,
            "non2xx": int(non2xx.group(1)) if non2xx else 0}


def median_of(runs):
    """The run with the median requests/s (its p99 goes with it)."""
    ordered = sorted(runs, key=lambda r: r["rps"])
    middle = dict(ordered[len(ordered) // 2])
    middle["p99"] = sorted(r["p99"] for r in runs)[len(runs) // 2]
    middle["p50"] = sorted(r["p50"] for r in runs)[len(runs) // 2]
    return middle


def alternate(port, paths, headers):
    """Runs each path ROUNDS times, interleaved, so that drifts of the machine
    hit all of them alike; returns the median run of each."""
    runs = {path: [] for path in paths}
    for _ in range(ROUNDS):
        for path in paths:
            runs[path].append(wrk(port, path, headers))
    return {path: median_of(r) for path, r in runs.items()}


def machine():
    cpu = "unknown"
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Model name:"):
                cpu = line.split(":", 1)[1].strip()
    except OSError:
        pass
    with open("/proc/meminfo") as f:
        mem_kb = int(f.readline().split()[1])
    rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "memory": f"{mem_kb / 1024 / 1024:.1f} GiB",
        "kernel": platform.release(),
        "rustc": rustc,
    }


def main():
    for tool in (BIN, BCRYPT):
        if not os.path.exists(tool):
            raise SystemExit(f"missing {tool}: run bench/run.sh")
    if not shutil.which("wrk"):
        raise SystemExit("missing wrk: apt-get install wrk")
    info = machine()
    cores = info["cores"]
    results = {}

    def bcrypt_verify_seconds():
        """The bcrypt yardstick: one verify at cost 10, on this machine, now."""
        return float(subprocess.run([BCRYPT, "10", "20"], capture_output=True, text=True,
                                    check=True).stdout)

    plain = Server("plain")
    token = plain.signup("bench")
    auth = f"Authorization: Bearer {token}"
    signers = [f"signer{i}" for i in range(8)]
    for name in signers:
        plain.signup(name)
    basics = ["Basic " + base64.b64encode(f"{name}:{PASSWORD}".encode()).decode()
              for name in signers]
    wrk(plain.port, "/secret", [auth], seconds=2)  # warm-up
    pair = alternate(plain.port, ["/secret", "/no/such/route"], [auth])
    results["secret"] = pair["/secret"]
    results["not_found"] = pair["/no/such/route"]
    # Signins against the yardstick, each round right after its own
    # measurement of a verify, so that both see the machine alike.
    wrk(plain.port, "/signin", method="POST", connections=8, seconds=2,
        rotate_authorization=basics)  # warm-up
    verifies, signins = [], []
    for _ in range(ROUNDS):
        verifies.append(bcrypt_verify_seconds())
        signins.append(wrk(plain.port, "/signin", method="POST", connections=8,
                           rotate_authorization=basics))
    verify = sorted(verifies)[len(verifies) // 2]
    results["bcrypt_verify_ms"] = verify * 1000
    results["bcrypt_limit"] = cores / verify
    results["signin"] = median_of(signins)
    # /secret while /signin is saturated.
    load = wrk(plain.port, "/signin", method="POST", connections=8,
               seconds=SECONDS + 4, background=True, rotate_authorization=basics)
    time.sleep(2)
    results["secret_under_signin"] = wrk(plain.port, "/secret", [auth], connections=4)
    results["signin_during"] = parse_wrk(load.communicate()[0])
    results["peak_rss_plain_mb"] = plain.peak_rss_mb()
    plain.stop()

    sessions = Server("sessions", sessions="true")
    token = sessions.signup("bench")
    auth = f"Authorization: Bearer {token}"
    wrk(sessions.port, "/secret", [auth], seconds=2)
    results["secret_sessions"] = alternate(sessions.port, ["/secret"], [auth])["/secret"]
    results["peak_rss_sessions_mb"] = sessions.peak_rss_mb()
    sessions.stop()

    # The same without the per-instance cache: every request reads the
    # database (the exact cross-instance mode). Not a goal; shown for the cost.
    uncached = Server("uncached", auth_cache_ttl_ms=0)
    token = uncached.signup("bench")
    auth = f"Authorization: Bearer {token}"
    wrk(uncached.port, "/secret", [auth], seconds=2)
    pair = alternate(uncached.port, ["/secret", "/no/such/route"], [auth])
    results["secret_uncached"] = pair["/secret"]
    results["not_found_uncached"] = pair["/no/such/route"]
    results["peak_rss_uncached_mb"] = uncached.peak_rss_mb()
    uncached.stop()

    # Sessions without the cache: the session row is read on every request.
    sessions_uncached = Server("sessions_uncached", sessions="true", auth_cache_ttl_ms=0)
    token = sessions_uncached.signup("bench")
    auth = f"Authorization: Bearer {token}"
    wrk(sessions_uncached.port, "/secret", [auth], seconds=2)
    results["secret_sessions_uncached"] = alternate(
        sessions_uncached.port, ["/secret"], [auth])["/secret"]
    results["peak_rss_sessions_uncached_mb"] = sessions_uncached.peak_rss_mb()
    sessions_uncached.stop()
    peak = max(v for k, v in results.items() if k.startswith("peak_rss_"))

    s, nf, ss = results["secret"], results["not_found"], results["secret_sessions"]
    figures = [
        ("/secret vs 404: requests/s", f"{s['rps']:.0f} / {nf['rps']:.0f}",
         s["rps"] / nf["rps"], ">= 0.8", s["rps"] / nf["rps"] >= 0.8),
        ("/secret vs 404: p99 (secret / 404; ratio 404 / secret)", f"{s['p99']:.2f} ms / {nf['p99']:.2f} ms",
         nf["p99"] / s["p99"], ">= 0.8", nf["p99"] / s["p99"] >= 0.8),
        ("/secret sessions on vs off: requests/s", f"{ss['rps']:.0f} / {s['rps']:.0f}",
         ss["rps"] / s["rps"], ">= 0.5", ss["rps"] / s["rps"] >= 0.5),
        ("/signin at cost 10 vs bcrypt limit", f"{results['signin']['rps']:.1f} / {results['bcrypt_limit']:.1f}",
         results["signin"]["rps"] / results["bcrypt_limit"], ">= 0.9",
         results["signin"]["rps"] / results["bcrypt_limit"] >= 0.9),
        ("p99 of /secret while /signin is saturated", f"{results['secret_under_signin']['p99']:.2f} ms",
         results["secret_under_signin"]["p99"], "<= 20 ms", results["secret_under_signin"]["p99"] <= 20),
        ("peak memory of the server (VmHWM)", f"{peak:.1f} MB", peak, "<= 40 MB", peak <= 40),
    ]
    print(json.dumps(results, indent=2))
    for name, raw, value, goal, ok in figures:
        print(f"{'ok  ' if ok else 'MISS'} {name}: {raw} -> {value:.2f} (goal {goal})")
    # Every run but the 404 one must have been answered 2xx throughout: an
    # error answered fast would flatter the figures.
    failed = [key for key, r in results.items()
              if isinstance(r, dict) and not key.startswith("not_found") and r["non2xx"]]
    write_markdown(info, results, figures)
    if failed:
        print(f"runs with non-2xx answers: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def write_markdown(info, results, figures):
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    rows = "\n".join(
        f"| {name} | {raw} | {value:.2f} | {goal} | {'met' if ok else 'missed'} |"
        for name, raw, value, goal, ok in figures
    )
    detail = "\n".join(
        f"| {key} | {r['rps']:.1f} | {r['p50']:.2f} | {r['p99']:.2f} | {r['non2xx']} |"
        for key, r in results.items() if isinstance(r, dict)
    )
    text = f"""# Benchmarks

Made by `bench/run.sh` ({now}): the release build, SQLite, loopback only,
wrk with one thread, 32 connections for `/secret` and the 404 path (each
{ROUNDS} interleaved runs of {SECONDS} s, the median kept), 8 for `/signin`
(eight users signing in in turn; {ROUNDS} runs, each right after a measurement
of one bcrypt verify, medians kept), 4 for `/secret` under signin load. The server and wrk share the machine, so
every figure is a floor, and runs on this virtual machine vary by +-20 %.

Machine: {info['cores']} cores ({info['cpu']}), {info['memory']} memory,
Linux {info['kernel']}, {info['rustc']}.

bcrypt at cost 10: one verify takes {results['bcrypt_verify_ms']:.1f} ms here, so
{info['cores']} cores can verify at most {results['bcrypt_limit']:.1f} passwords a second.

| figure | measured | ratio / value | goal | |
|---|---|---|---|---|
{rows}

Raw wrk figures:

| run | requests/s | p50 ms | p99 ms | non-2xx |
|---|---|---|---|---|
{detail}

(`not_found` and `not_found_uncached` answer 404 by design; every other run had no non-2xx answer,
or the harness fails. `signin_during` is the signin load that ran while
`secret_under_signin` was measured; `*_uncached` ran with
`auth_cache_ttl_ms = 0`. The 404 path is the server's own: the file server
of `static/` looks for the file, then the JSON catcher answers, which is why
it can be slower than `/secret`.)

Without the per-instance cache (`auth_cache_ttl_ms = 0`, every bearer request
reads the database): `/secret` {results['secret_uncached']['rps']:.0f} requests/s against
{results['not_found_uncached']['rps']:.0f} for the 404 path, a ratio of
{results['secret_uncached']['rps'] / results['not_found_uncached']['rps']:.2f} (the 0.8 goal {'met' if results['secret_uncached']['rps'] >= 0.8 * results['not_found_uncached']['rps'] else 'missed'} in this mode); with sessions on,
{results['secret_sessions_uncached']['rps']:.0f} requests/s, a ratio to
sessions off of {results['secret_sessions_uncached']['rps'] / results['secret_uncached']['rps']:.2f}.

## What the profile showed, and the fix

The first run of this harness (before the cache) missed the first goal:
`/secret` made 13,889 requests/s against 21,236 for the 404 path (0.65), p99
5.71 ms against 3.94 ms (0.69). The other figures then: sessions on/off
1.16, signin 30.3/s against a limit of 32.6/s (0.93), p99 under signin load
6.74 ms, peak memory 20.9 MB.

`perf record -e cpu-clock -g` on the server during the `/secret` run (this
virtual machine has no hardware counters) put 35 % of the samples in the
kernel's task switching (`finish_task_switch`, `_raw_spin_unlock_irqrestore`)
and `futex` wake-ups, with SQLite's `fcntl` locks (`posix_lock_inode`) and the
pool's mutex after them: the database read of each request, handed to the
blocking pool and back, costs two thread switches, and on two cores shared
with wrk every switch is a real one. With the read taken out (an experiment,
not kept) `/secret` made 43,726 requests/s against 29,822 for the 404 path.
Running the read with `block_in_place` instead of `spawn_blocking` made no
difference (0.61-0.64) and raised peak memory to 41 MB, so it was dropped.

The fix kept: a per-instance cache of the rows the guard reads
(`src/auth_cache.rs`, `auth_cache_ttl_ms`, default 1000 ms). Within the TTL a
repeated token costs no database read; this instance forgets an entry at once
when it deletes the user or ends the session; on PostgreSQL the others are
told by `NOTIFY` and forget it within about 50 ms, on a shared SQLite file
within one TTL (`tests/it/scaling.rs`). Single-use tokens never use it.

Since then the signin throttle records each attempt before bcrypt, in one
transaction under a write lock, so that parallel attempts cannot slip past
its limits: a good signin now writes twice (the attempt, then its clearing).
The first run after that change answered 513 of its signins 429 (one
account on eight connections: in-flight attempts count as failures), and a
run with eight accounts still a few: an attempt whose `now` was read a
second before another attempt's record saw a "latest failure" in its future
and waited although its failures were still free. Fixed in
`throttle::delay_wait` (free failures never wait), with a unit test; since
then the harness also fails on any non-2xx answer outside the 404 run, and
measures the bcrypt yardstick right before each signin round (one
yardstick at the start had given 0.89-0.90 against 0.95-1.00 measured side
by side).
"""
    with open(os.path.join(REPO, "BENCHMARKS.md"), "w") as f:
        f.write(text)


if __name__ == "__main__":
    sys.exit(main())
