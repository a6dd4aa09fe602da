#!/usr/bin/env python3
"""Soak test: the real daemon against the simulator for a long while, with faults injected at random.

    python3 tests/soak.py [--minutes 30] [--seed 1] [--bin build/c4c-alm-collector] [--sim-bin build/tests/c4c-sim]

Run on demand (not by ctest). The simulator changes its records every few seconds (`--change-every`) and
the script injects, at random, the faults of /_sim/faults: C4C 503 with Retry-After, 429, a hanging
answer, a truncated answer, garbage JSON, broken XML, SOAP faults, a 401; Cloud ALM 503/429 with
Retry-After, hangs, lost acknowledgements (truncate, garbage), and outages of 20-60 s. Once a minute it
prints the daemon's RSS, its open file descriptors (/proc/<pid>/fd), the outbox size, the sink's counts
and the /healthz latency.

At the end it clears the faults, waits for delivery to settle and checks:
  * nothing was lost: every record state in /_sim/history of each kind (business objects, web-service
    messages, RTA rows) arrived at the sink (duplicates from lost acknowledgements are allowed and
    reported). C4C keeps only the current state of a record, so a state that was replaced within 30 s
    (a message created and moved on in the same change tick) may never have been readable: those are
    listed with their lifetimes but not counted as lost; the sources poll every 2 s;
  * RSS and descriptors stayed flat: the figures of the last sampled minute against those of the
    warm-up minute (the second one), within RSS +25 % + 16 MiB and descriptors +16;
  * the daemon answered /healthz every minute and stops with exit code 0 on SIGTERM.
It exits 0 when all of that holds, 1 otherwise. Python standard library only."""

import argparse
import calendar
import os
import random
import re
import shutil
import signal
import statistics
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "integration"))

import harness  # noqa: E402
from harness import Simulator, free_port, http, metric, parse_metrics  # noqa: E402

RSS_GROWTH_FACTOR = 1.25
RSS_GROWTH_KIB = 16 << 10
FD_GROWTH = 16
SETTLE_SECONDS = 240
SHORT_LIVED_SECONDS = 30

USE_CASES = {"business_objects": "business_process_monitoring",
             "webservice_messages": "integration_monitoring",
             "response_time_analysis": "real_user_monitoring"}


def iso_to_ns(text):
    match = re.match(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d+))?Z$", text)
    seconds = calendar.timegm(tuple(int(match.group(i)) for i in range(1, 7)) + (0, 0, 0))
    return seconds * 1_000_000_000 + int((match.group(7) or "0").ljust(9, "0")[:9])


def existing(sim, kind):
    """{(object id, change time in ns): seconds until the record's next state, or None while current}."""
    history = sim.history(kind)
    if kind == "business_objects":
        states = [(r["object_id"], int(r["change_ms"]) * 1_000_000) for r in history]
    elif kind == "webservice_messages":
        states = [(r["message_id"], iso_to_ns(r["last_change"])) for r in history]
    else:
        states = [(r["step_id"], int(r["timestamp_ms"]) * 1_000_000) for r in history]
    by_record = {}
    for record, ns in states:
        by_record.setdefault(record, []).append(ns)
    lifetimes = {}
    for record, times in by_record.items():
        times.sort()
        for this, following in zip(times, times[1:] + [None]):
            lifetimes[(record, this)] = None if following is None else (following - this) / 1e9
    return lifetimes


def delivered(sim, kind):
    records = sim.received(USE_CASES[kind])
    if kind == "business_objects":  # EntityLastChangedOn has millisecond precision
        return {(r["object_id"], int(r["time_unix_nano"]) // 1_000_000 * 1_000_000) for r in records}
    return {(r["object_id"], int(r["time_unix_nano"])) for r in records}


def config_text(sim_url, state_dir, listen):
    lines = [f'state_dir = "{state_dir}"', 'shutdown_timeout = "10s"', "",
             "[http]", f'listen = "{listen}"', "", "[log]", 'level = "info"', "",
             "[[tenants]]", 'name = "soak"', "",
             "  [tenants.c4c]", f'  url = "{sim_url}"', f'  user = "{harness.C4C_USER}"',
             f'  password = "{harness.C4C_PASSWORD}"', '  timeout = "3s"', "",
             "  [tenants.sources.business_objects]", '  interval = "2s"', "  page_size = 40", "",
             "  [tenants.sources.webservice_messages]", '  interval = "2s"', "  page_size = 25", "",
             "  [tenants.sources.response_time_analysis]", '  interval = "2s"', "  page_size = 50", ""]
    for use_case in USE_CASES.values():
        lines += [f"  [tenants.endpoints.{use_case}]", f'  url = "{sim_url}/api/calm-logs/v1/logs?useCase={use_case}"',
                  '  auth = "none"', '  timeout = "3s"', "  max_batch_events = 100", ""]
    lines += ["  [tenants.endpoints.health_monitoring]", f'  url = "{sim_url}/api/calm-metrics/v1/metrics"',
              '  auth = "none"', '  timeout = "3s"', '  interval = "30s"', ""]
    return "\n".join(lines) + "\n"


def random_fault(rng):
    """One fault rule, and how long it stays (None: until its count is used up)."""
    c4c = rng.choice(["odata", "rta", "soap", "c4c"])
    sink = rng.choice(["logs", "logs", "sink"])
    choices = [
        ({"target": c4c, "mode": "status", "status": 503, "retry_after": str(rng.randint(1, 3)),
          "count": rng.randint(1, 4)}, None),
        ({"target": c4c, "mode": "status", "status": 429, "retry_after": "1", "count": rng.randint(1, 3)}, None),
        ({"target": c4c, "mode": "hang", "hang_ms": 8000, "count": rng.randint(1, 2)}, None),
        ({"target": c4c, "mode": "truncate", "count": rng.randint(1, 3)}, None),
        ({"target": rng.choice(["odata", "rta"]), "mode": "garbage", "count": rng.randint(1, 3)}, None),
        ({"target": "soap", "mode": rng.choice(["broken_xml", "soap_fault"]), "count": rng.randint(1, 3)}, None),
        ({"target": c4c, "mode": "status", "status": 401, "count": 1}, None),
        ({"target": sink, "mode": "status", "status": 503, "retry_after": str(rng.randint(1, 4)),
          "count": rng.randint(1, 5)}, None),
        ({"target": sink, "mode": "status", "status": 429, "retry_after": "2", "count": rng.randint(1, 3)}, None),
        ({"target": "logs", "mode": "hang", "hang_ms": 8000, "count": 1}, None),
        ({"target": "logs", "mode": rng.choice(["truncate", "garbage"]), "count": rng.randint(1, 2)}, None),
        ({"target": "sink", "mode": "status", "status": 503, "count": -1}, rng.uniform(20, 60)),  # an outage
    ]
    return rng.choice(choices)


def process_figures(pid):
    rss = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


def healthz_latency(port):
    started = time.monotonic()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as response:
            response.read()
            ok = response.status == 200
    except OSError:
        ok = False
    return ok, time.monotonic() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--bin", default=harness.BIN)
    parser.add_argument("--sim-bin", default=harness.SIM_BIN)
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, state)")
    args = parser.parse_args()
    harness.SIM_BIN = args.sim_bin
    rng = random.Random(args.seed)

    workdir = tempfile.mkdtemp(prefix="c4c-soak-")
    sim = Simulator("--seed", str(args.seed), "--objects", "150", "--messages", "80", "--rta-rows", "150",
                    "--change-every", "10s")
    port = free_port()
    config = os.path.join(workdir, "soak.toml")
    with open(config, "w") as f:
        f.write(config_text(sim.url, os.path.join(workdir, "state"), f"127.0.0.1:{port}"))
    log = open(os.path.join(workdir, "daemon.log"), "w")
    daemon = harness.subprocess.Popen([args.bin, "--config", config], stdout=harness.subprocess.DEVNULL, stderr=log)
    problems = []
    samples = []  # (minute, rss KiB, fds)
    print(f"soak: {args.minutes:g} min, seed {args.seed}, daemon pid {daemon.pid}, simulator {sim.url}, "
          f"work directory {workdir}", flush=True)
    print(f"{'min':>4} {'RSS MiB':>8} {'fds':>5} {'outbox':>7} {'sink unique bpm/iem/rum':>24} {'dups':>5} "
          f"{'faults':>6} {'src err':>7} {'send err':>8} {'healthz ms':>10}", flush=True)

    def sample(minute):
        rss, fds = process_figures(daemon.pid)
        ok, latency = healthz_latency(port)
        if not ok:
            problems.append(f"/healthz failed at minute {minute}")
        values = parse_metrics(http("GET", f"http://127.0.0.1:{port}/metrics")[1])
        outbox = metric(values, "c4c_alm_collector_outbox_events") or 0
        errors = metric(values, "c4c_alm_collector_source_errors_total") or 0
        failures = metric(values, "c4c_alm_collector_endpoint_send_failures_total") or 0
        stats = sim.stats()
        sink = stats.get("sink", {})
        unique = "/".join(str(sink.get(u, {}).get("unique", 0)) for u in USE_CASES.values())
        dups = sum(s.get("duplicates", 0) for s in sink.values())
        samples.append((minute, rss, fds))
        print(f"{minute:>4} {rss / 1024:>8.1f} {fds:>5} {outbox:>7.0f} {unique:>24} {dups:>5} "
              f"{stats.get('faults_fired', 0):>6} {errors:>7.0f} {failures:>8.0f} {latency * 1000:>10.0f}", flush=True)

    try:
        harness.wait_until(lambda: healthz_latency(port)[0], 20, message="the daemon's /healthz")
        start = time.monotonic()
        end = start + args.minutes * 60
        next_fault = start + rng.uniform(3, 10)
        outage_ends = None
        next_sample = start + 60
        minute = 0
        while time.monotonic() < end:
            now = time.monotonic()
            if daemon.poll() is not None:
                problems.append(f"the daemon exited with {daemon.returncode} during the run")
                break
            if outage_ends and now >= outage_ends:
                http("DELETE", sim.url + "/_sim/faults")
                outage_ends = None
            if now >= next_fault and not outage_ends:
                rule, duration = random_fault(rng)
                sim.fault(**rule)
                if duration:
                    outage_ends = now + duration
                next_fault = now + rng.uniform(5, 20)
            if now >= next_sample:
                minute += 1
                next_sample += 60
                sample(minute)
            time.sleep(0.5)

        sample(minute + 1)
        # Settle: no more faults; every record state known now must arrive.
        http("DELETE", sim.url + "/_sim/faults")
        wanted = {kind: existing(sim, kind) for kind in USE_CASES}
        settle_started = time.monotonic()

        def short_lived(kind, state):
            return wanted[kind][state] is not None and wanted[kind][state] < SHORT_LIVED_SECONDS

        missing = {}
        while time.monotonic() < settle_started + SETTLE_SECONDS:
            missing = {kind: set(wanted[kind]) - delivered(sim, kind) for kind in USE_CASES}
            if all(short_lived(kind, state) for kind in USE_CASES for state in missing[kind]):
                break
            time.sleep(2)
        print(f"settled after {time.monotonic() - settle_started:.0f} s: " +
              ", ".join(f"{kind} {len(wanted[kind]) - len(missing[kind])}/{len(wanted[kind])} delivered"
                        for kind in USE_CASES), flush=True)
        for kind, unseen in missing.items():
            # C4C keeps only a record's current state: one replaced before any poll could read it was
            # never observable. Polls run every 2 s; a state that lived SHORT_LIVED_SECONDS was observable
            # unless the daemon failed every poll meanwhile (the faults here cannot block it that long).
            short = {state for state in unseen if short_lived(kind, state)}
            lost = unseen - short
            if short:
                print(f"{kind}: {len(short)} state(s) replaced within {SHORT_LIVED_SECONDS} s were not seen "
                      f"(lifetimes {sorted(round(wanted[kind][s], 1) for s in short)} s)", flush=True)
            if lost:
                problems.append(f"{len(lost)} {kind} state(s) never arrived, e.g. " +
                                ", ".join(f"{record} at {ns} (lived {wanted[kind][(record, ns)]} s)"
                                          for record, ns in sorted(lost)[:3]))
        stats = sim.stats()
        print(f"sink: {stats.get('sink')}\nfaults fired: {stats.get('faults_fired')}", flush=True)

        if len(samples) >= 3:
            warm = samples[1]
            last = samples[-1]
            rss_limit = warm[1] * RSS_GROWTH_FACTOR + RSS_GROWTH_KIB
            print(f"RSS: minute {warm[0]} {warm[1] / 1024:.1f} MiB -> minute {last[0]} {last[1] / 1024:.1f} MiB "
                  f"(limit {rss_limit / 1024:.1f}); peak {max(s[1] for s in samples) / 1024:.1f} MiB, "
                  f"median {statistics.median(s[1] for s in samples) / 1024:.1f} MiB", flush=True)
            print(f"fds: minute {warm[0]} {warm[2]} -> minute {last[0]} {last[2]} (limit {warm[2] + FD_GROWTH}); "
                  f"max {max(s[2] for s in samples)}", flush=True)
            if last[1] > rss_limit:
                problems.append(f"RSS grew from {warm[1]} KiB to {last[1]} KiB")
            if last[2] > warm[2] + FD_GROWTH:
                problems.append(f"open descriptors grew from {warm[2]} to {last[2]}")
        else:
            print("fewer than 3 minutes sampled: RSS and descriptor growth not judged", flush=True)
    finally:
        if daemon.poll() is None:
            daemon.send_signal(signal.SIGTERM)
            try:
                code = daemon.wait(30)
                if code != 0:
                    problems.append(f"the daemon exited with {code} on SIGTERM")
            except harness.subprocess.TimeoutExpired:
                daemon.kill()
                daemon.wait()
                problems.append("the daemon did not stop within 30 s of SIGTERM")
        log.close()
        sim.stop()
        if problems or args.keep:
            print(f"work directory kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    for problem in problems:
        print(f"FAIL: {problem}")
    print("soak: OK" if not problems else "soak: FAILED")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
