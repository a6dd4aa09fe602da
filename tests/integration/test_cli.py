"""The command line, lifecycle and self-monitoring surface (CONTRACT.md sections 1 and 6)."""

import json
import os
import re
import signal
import subprocess
import time
import unittest

from harness import BIN, DaemonTestCase, http, metric, wait_until

USE_CASE = "business_process_monitoring"

REQUIRED_METRICS = [
    "c4c_alm_collector_build_info", "c4c_alm_collector_source_up", "c4c_alm_collector_source_records_total",
    "c4c_alm_collector_source_errors_total", "c4c_alm_collector_source_last_success_timestamp_seconds",
    "c4c_alm_collector_source_request_duration_seconds", "c4c_alm_collector_outbox_events",
    "c4c_alm_collector_outbox_oldest_event_age_seconds", "c4c_alm_collector_endpoint_events_sent_total",
    "c4c_alm_collector_endpoint_send_failures_total", "c4c_alm_collector_endpoint_events_rejected_total",
]


class CommandLineTest(DaemonTestCase):
    def test_version_and_usage_errors(self):
        done = subprocess.run([BIN, "--version"], capture_output=True, text=True)
        self.assertEqual(done.returncode, 0)
        self.assertRegex(done.stdout, r"^c4c-alm-collector \d+\.\d+\.\d+\n$")
        for args in ([], ["--bogus"], ["--config"], ["--config", "x.toml", "--dry-run"]):
            done = subprocess.run([BIN, *args], capture_output=True, text=True)
            self.assertEqual(done.returncode, 2, args)
            self.assertEqual(len(done.stderr.strip().splitlines()), 1, done.stderr)

    def test_check_accepts_a_good_config_and_names_problems_without_secrets(self):
        daemon = self.daemon()
        code, out, err = daemon.run("--check")
        self.assertEqual((code, out, err), (0, "config ok\n", ""))

        daemon.write_config(open(daemon.config).read().replace('timeout = "5s"', 'timeout = "5 parsecs"')
                            + '\nbogus_key = 1\n')
        code, out, err = daemon.run("--check")
        self.assertEqual(code, 2)
        self.assertEqual(out, "")
        lines = err.strip().splitlines()
        self.assertGreaterEqual(len(lines), 2)
        for line in lines:
            self.assertRegex(line, r"^[^:]+\.toml:\d+:\d+: ")
        self.assertIn("bogus_key", err)
        self.assertNotIn("demo-password", err)

    def test_check_reports_a_missing_credential_file(self):
        daemon = self.daemon()
        daemon.write_config(open(daemon.config).read().replace('password = "demo-password"',
                                                                'password_file = "no-such-credential"'))
        code, out, err = daemon.run("--check")
        self.assertEqual(code, 2)
        self.assertIn("no-such-credential", err)

    def test_check_rejects_a_duration_beyond_ten_years_at_its_key(self):
        daemon = self.daemon(interval="3651d", shutdown_timeout="87601h")
        code, out, err = daemon.run("--check")
        self.assertEqual((code, out), (2, ""))
        lines = err.strip().splitlines()
        self.assertEqual(len(lines), 2, err)
        self.assertRegex(lines[0], r"^[^:]+\.toml:2:20: shutdown_timeout: must be at most 3650d \(ten years\)$")
        self.assertRegex(lines[1], r"^[^:]+\.toml:\d+:\d+: tenants\[0\]\.sources\.business_objects\.interval: "
                                   r"must be at most 3650d \(ten years\)")
        self.assertEqual(self.daemon(interval="3650d").run("--check")[:2], (0, "config ok\n"))

    def test_once_delivers_everything_and_exits_0(self):
        daemon = self.daemon()
        code, out, _ = daemon.run("--once")
        self.assertEqual(code, 0, daemon.logs()[-3000:])
        total = len(self.sim.history("business_objects"))
        self.assertEqual(self.sim.sink(USE_CASE)["unique"], total)

    def test_once_with_the_sink_down_exits_1_and_keeps_the_events(self):
        self.sim.fault(target="logs", mode="status", status=503, count=-1)
        daemon = self.daemon(shutdown_timeout="2s")
        code, _, _ = daemon.run("--once")
        self.assertEqual(code, 1)
        self.assertEqual(self.sim.sink(USE_CASE)["unique"], 0)
        self.sim.clear_faults()
        code, _, _ = daemon.run("--once")
        self.assertEqual(code, 0, daemon.logs()[-3000:])
        self.assertEqual(self.sim.sink(USE_CASE)["unique"], len(self.sim.history("business_objects")))

    def test_dry_run_prints_events_and_changes_nothing(self):
        daemon = self.daemon()
        code, out, _ = daemon.run("--once", "--dry-run")
        self.assertEqual(code, 0, daemon.logs()[-3000:])
        lines = out.splitlines()
        self.assertEqual(len(lines), len(self.sim.history("business_objects")))
        for line in lines:
            record = json.loads(line)
            self.assertEqual(record["resource"]["sap.calm.use_case"], USE_CASE)
            self.assertEqual(record["resource"]["service.name"], "acme-prod")
            self.assertIn("timeUnixNano", record)
            keys = {a["key"] for a in record["attributes"]}
            self.assertIn("event.id", keys)
        self.assertEqual(self.sim.stats()["sink"].get(USE_CASE, {}).get("requests", 0), 0)
        self.assertFalse(os.path.exists(self.state_dir))


class LifecycleTest(DaemonTestCase):
    def test_metrics_health_and_readiness(self):
        daemon = self.daemon()
        daemon.start()
        values = self.wait_metrics()
        status, text = http("GET", f"http://127.0.0.1:{self.listen_port}/metrics")
        for name in REQUIRED_METRICS:
            self.assertIn(name, text)
        self.assertEqual(metric(values, "c4c_alm_collector_build_info"), 1)
        self.assertEqual(http("GET", f"http://127.0.0.1:{self.listen_port}/healthz")[0], 200)
        status, body = http("GET", f"http://127.0.0.1:{self.listen_port}/readyz")
        self.assertEqual(status, 200, body)
        self.assertEqual(json.loads(body)["status"], "ready")
        self.assertEqual(daemon.stop(), 0)

    def test_sigterm_stops_within_the_shutdown_timeout(self):
        # C4C hangs, so a poll is in flight when SIGTERM arrives: the simulator holds its request.
        self.sim.fault(target="odata", mode="hang", count=-1)
        daemon = self.daemon(shutdown_timeout="2s")
        daemon.start()
        self.wait_metrics()
        wait_until(lambda: self.sim.get("/_sim/requests?prefix=/sap/c4c/odata/")["requests"], 30,
                   message="a poll held by the hanging tenant")
        started = time.monotonic()
        self.assertEqual(daemon.stop(timeout=10), 0)
        self.assertLess(time.monotonic() - started, 5)

    def test_sighup_reloads_and_keeps_the_old_config_when_the_new_one_is_invalid(self):
        daemon = self.daemon()
        daemon.start()
        self.wait_metrics()
        good = open(daemon.config).read()
        daemon.write_config(good + "\nnot valid toml [[[\n")
        daemon.signal(signal.SIGHUP)
        wait_until(lambda: "reload rejected" in daemon.logs(), 10, message="the rejected reload in the log")
        self.assertEqual(http("GET", f"http://127.0.0.1:{self.listen_port}/healthz")[0], 200)

        # A valid new configuration adds a tenant; its events flow without a restart.
        second = good.split("[[tenants]]", 1)[1].replace('name = "acme-prod"', 'name = "acme-test"')
        daemon.write_config(good + "\n[[tenants]]" + second)
        daemon.signal(signal.SIGHUP)
        wait_until(lambda: "configuration reloaded" in daemon.logs(), 10, message="the reload")
        wait_until(lambda: (metric(self.metrics(), "c4c_alm_collector_source_up", tenant="acme-test") or 0) == 1, 20,
                   message="the new tenant polling")
        self.assertEqual(daemon.stop(), 0)


if __name__ == "__main__":
    unittest.main()
