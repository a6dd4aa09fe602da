#!/usr/bin/env python3
"""./run demo: the daemon against the bundled simulator, showing events as Cloud ALM receives them.

Starts tests/fakes' simulator (a C4C tenant that keeps changing, and a Cloud ALM sink) and the daemon
with the demo configuration, then prints what arrives at the sink until Ctrl-C."""

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

DEMO_CONFIG = """# Written by ./run demo: one tenant of the bundled simulator, every feed, every use case.
state_dir = "{state_dir}"
shutdown_timeout = "5s"

[http]
listen = "{listen}"

[log]
level = "info"

[[tenants]]
name = "demo-tenant"

  [tenants.c4c]
  url = "{sim}"
  user = "CRUN_USER"
  password = "${{C4C_DEMO_PASSWORD}}"

  [tenants.sources.webservice_messages]
  interval = "5s"
  [tenants.sources.response_time_analysis]
  interval = "5s"
  [tenants.sources.business_objects]
  interval = "5s"

  [tenants.endpoints.integration_monitoring]
  url = "{sim}/api/calm-logs/v1/logs?useCase=IEM"
  [tenants.endpoints.real_user_monitoring]
  url = "{sim}/api/calm-logs/v1/logs?useCase=RUM"
  [tenants.endpoints.business_process_monitoring]
  url = "{sim}/api/calm-logs/v1/logs?useCase=BPM"
  [tenants.endpoints.health_monitoring]
  url = "{sim}/api/calm-metrics/v1/metrics"
  interval = "10s"
"""


def get(url):
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--listen", default="127.0.0.1:9479", help="the daemon's /metrics address")
    args = parser.parse_args()

    work = os.path.join(os.path.abspath(args.build), "demo")
    os.makedirs(work, exist_ok=True)
    sim = subprocess.Popen([os.path.join(args.build, "tests", "c4c-sim"), "--listen", "127.0.0.1:0", "--quiet",
                            "--change-every", "5s", "--objects", "50"], stdout=subprocess.PIPE, text=True,
                           start_new_session=True)
    sim_url = sim.stdout.readline().strip().split("listening on ", 1)[1]
    config = os.path.join(work, "demo.toml")
    with open(config, "w") as f:
        f.write(DEMO_CONFIG.format(state_dir=os.path.join(work, "state"), listen=args.listen, sim=sim_url))
    log_path = os.path.join(work, "daemon.log")
    env = dict(os.environ, C4C_DEMO_PASSWORD="demo-password")
    daemon = subprocess.Popen([os.path.join(args.build, "c4c-alm-collector"), "--config", config],
                              stderr=open(log_path, "w"), env=env, start_new_session=True)
    print(f"simulator (C4C tenant + Cloud ALM sink): {sim_url}")
    print(f"daemon: config {config}, log {log_path}, metrics http://{args.listen}/metrics")
    print("events arriving at Cloud ALM (Ctrl-C to stop):\n")

    # Both children run in their own sessions, so Ctrl-C reaches only this script, which stops the daemon
    # first (it flushes to disk) and the simulator after it.
    stop = []
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    shown = set()
    try:
        while not stop and daemon.poll() is None:
            time.sleep(2)
            if stop:
                break
            stats = get(sim_url + "/_sim/stats")
            for use_case in ("business_process_monitoring", "integration_monitoring", "real_user_monitoring"):
                records = get(f"{sim_url}/_sim/received?use_case={use_case}")["records"]
                fresh = [r for r in records if r["event_id"] not in shown]
                for record in fresh[:3]:
                    print(f"  {use_case:28} {record['severity_text']:5} {record['body'][:90]}")
                if len(fresh) > 3:
                    print(f"  {use_case:28} ... and {len(fresh) - 3} more")
                shown.update(r["event_id"] for r in fresh)
            counts = ", ".join(f"{k}: {v.get('unique', 0)}" for k, v in sorted(stats.get("sink", {}).items()))
            print(f"-- received so far: {counts}; health metric pushes: {stats.get('metrics_posts', 0)}")
    finally:
        if daemon.poll() is None:
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(15)
        sim.terminate()
        sim.wait(10)
    if daemon.returncode not in (0, None, -signal.SIGTERM):
        print(f"daemon exited with {daemon.returncode}; see {log_path}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
