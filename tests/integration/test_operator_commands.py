"""The operator commands (CONTRACT.md section 1) through the real binaries: `status` while a backlog drains
and after the daemon stopped, `rejected list | requeue | drop` with and without a running daemon."""

import json
import os
import subprocess
import time
import unittest

from harness import BIN, DaemonTestCase, wait_until

USE_CASE = "business_process_monitoring"
TENANT = "acme-prod"
COMMAND_SECONDS = 10  # an operator command never waits for the daemon beyond a moment
SOURCE_DIR = os.environ.get("C4C_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "../.."))
COMPLETION = os.path.join(SOURCE_DIR, "conf/bash-completion/c4c-alm-collector")


def command(daemon, *args, timeout=60):
    """Runs an operator command on the daemon's config: (exit code, stdout, stderr, seconds taken)."""
    started = time.monotonic()
    done = subprocess.run([BIN, *args, "--config", daemon.config], capture_output=True, text=True, timeout=timeout)
    return done.returncode, done.stdout, done.stderr, time.monotonic() - started


class OperatorTestCase(DaemonTestCase):
    def run_json(self, daemon, *args):
        code, out, err, elapsed = command(daemon, *args, "--json")
        self.assertEqual(code, 0, err)
        self.assertEqual(err, "")
        self.assertLess(elapsed, COMMAND_SECONDS)
        return json.loads(out)

    def status(self, daemon):
        return self.run_json(daemon, "status")

    def rejected(self, daemon):
        return self.run_json(daemon, "rejected", "list")["rejected"]

    @staticmethod
    def tenant(status):
        [tenant] = [t for t in status["tenants"] if t["name"] == TENANT]
        return tenant

    def source(self, status, name="business_objects"):
        [source] = [s for s in self.tenant(status)["sources"] if s["name"] == name]
        return source

    def endpoint(self, status, name=USE_CASE):
        [endpoint] = [e for e in self.tenant(status)["endpoints"] if e["name"] == name]
        return endpoint

    def event_ids(self, daemon):
        code, out, _ = daemon.run("--once", "--dry-run")
        self.assertEqual(code, 0)
        events = [json.loads(line) for line in out.splitlines()]
        return [next(a["value"]["stringValue"] for a in e["attributes"] if a["key"] == "event.id") for e in events]


class StatusTest(OperatorTestCase):
    sim_args = ("--objects", "1500")

    def test_status_while_a_backlog_drains_and_after_the_daemon_stopped(self):
        daemon = self.daemon(extra_endpoint="  max_batch_events = 20")

        # Before the daemon ever ran: every source waiting, nothing queued, the reason said.
        status = self.status(daemon)
        self.assertFalse(status["daemon"]["running"])
        self.assertIn("no state store", status["note"])
        self.assertEqual(self.source(status)["state"], "waiting")
        self.assertEqual(self.endpoint(status)["outbox"]["events"], 0)

        # The sink refuses while the source fills the outbox.
        self.sim.fault(target="logs", mode="status", status=503, retry_after="1", count=-1)
        daemon.start()
        total = len(self.sim.history("business_objects"))
        status = wait_until(lambda: (s := self.status(daemon)) and self.endpoint(s)["outbox"]["events"] == total and s,
                            60, message="the whole backlog in the outbox")
        self.assertTrue(status["daemon"]["running"])
        self.assertEqual(status["daemon"]["pid"], daemon.process.pid)
        source = self.source(status)
        self.assertEqual(source["state"], "ok")
        self.assertEqual(source["last_poll"]["outcome"], "ok")
        self.assertEqual(source["consecutive_failures"], 0)
        self.assertEqual(source["quarantined"], 0)
        self.assertIsNotNone(source["last_success"])
        self.assertRegex(source["checkpoint"]["instant"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        self.assertGreaterEqual(source["checkpoint"]["age_seconds"], 0)
        self.assertEqual(sorted(f["feed"] for f in source["feeds"]),
                         sorted(["OpportunityCollection", "SalesOrderCollection", "LeadCollection",
                                 "ServiceRequestCollection"]))
        endpoint = self.endpoint(status)
        self.assertGreater(endpoint["outbox"]["bytes"], total * 100)
        self.assertGreaterEqual(endpoint["outbox"]["oldest_age_seconds"], 0)
        self.assertEqual(endpoint["rejected"], 0)
        self.assertFalse(endpoint["paused"])
        self.assertEqual((endpoint["state"], endpoint["reason"]), ("retrying", "http_503"))

        # The table: one aligned row per source and endpoint, no colour when not on a terminal.
        code, out, err, _ = command(daemon, "status")
        self.assertEqual((code, err), (0, ""))
        self.assertNotIn("\033[", out)
        self.assertIn("daemon running (pid %d)" % daemon.process.pid, out)
        lines = out.splitlines()
        header = next(line for line in lines if line.startswith("TENANT") and "SOURCE" in line)
        row = next(line for line in lines if line.startswith(TENANT) and "business_objects" in line)
        self.assertEqual(row.index(" ok ") + 1, header.index("STATE"))
        header = next(line for line in lines if line.startswith("TENANT") and "ENDPOINT" in line)
        row = next(line for line in lines if line.startswith(TENANT) and USE_CASE in line)
        self.assertEqual(row.index("retrying"), header.index("STATE"))
        self.assertEqual(row.split()[3], str(total))
        self.assertIn(f"{TENANT}/{USE_CASE}: retrying since", out)

        # The sink is back: status, asked over and over while the backlog drains, shows it shrink and never
        # gets in the daemon's way.
        self.sim.clear_faults()
        depths = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            depths.append(self.endpoint(self.status(daemon))["outbox"]["events"])
            if depths[-1] == 0:
                break
        self.assertEqual(depths[-1], 0, depths)
        self.assertTrue(any(0 < depth < total for depth in depths), depths)
        self.assertEqual(depths, sorted(depths, reverse=True), depths)
        status = wait_until(lambda: (s := self.status(daemon)) and self.endpoint(s)["state"] == "ok" and s, 10,
                            message="the endpoint to report ok")
        self.assertIsNone(self.endpoint(status)["outbox"]["oldest_age_seconds"])
        sink = self.sim.sink(USE_CASE)
        self.assertEqual((sink["unique"], sink["duplicates"]), (total, 0))
        self.assertEqual(daemon.stop(), 0)

        # Stopped: the same picture from the store alone.
        status = self.status(daemon)
        self.assertFalse(status["daemon"]["running"])
        self.assertEqual(status["note"], "")
        self.assertEqual(self.source(status)["state"], "ok")
        self.assertEqual(self.endpoint(status)["outbox"]["events"], 0)
        code, out, _, _ = command(daemon, "status")
        self.assertEqual(code, 0)
        self.assertIn("daemon not running", out)

    def test_status_names_a_failing_source_and_needs_no_credentials(self):
        self.sim.fault(target="odata", mode="status", status=500, count=-1)
        daemon = self.daemon()
        daemon.start()
        status = wait_until(lambda: (s := self.status(daemon)) and self.source(s)["state"] == "down" and s, 30,
                            message="the source down in status")
        poll = self.source(status)["last_poll"]
        self.assertEqual(poll["outcome"], "http_500")
        self.assertIn("business_objects", poll["message"])
        self.assertIsNone(self.source(status)["last_success"])
        code, out, _, _ = command(daemon, "status")
        self.assertEqual(code, 0)
        self.assertRegex(out, rf"{TENANT}/business_objects: down \(\d+ failed polls?\): ")

        # An operator's shell has no systemd credentials: status reads no secret file.
        with open(daemon.config) as f:
            text = f.read()
        daemon.write_config(text.replace('password = "demo-password"', 'password_file = "only-under-systemd"'))
        self.assertEqual(self.source(self.status(daemon))["state"], "down")
        self.assertEqual(daemon.stop(), 0)


class RejectedTest(OperatorTestCase):
    sim_args = ("--objects", "10")

    def test_requeue_after_a_poison_record_is_fixed_at_the_sink(self):
        daemon = self.daemon(extra_endpoint="  max_batch_events = 10")
        ids = self.event_ids(daemon)
        poison = ids[len(ids) // 2]
        self.sim.fault(target="logs", reject_event_ids=[poison], count=-1)
        daemon.start()
        wait_until(lambda: self.sim.sink(USE_CASE)["unique"] == len(ids) - 1, 60, message="all but the poison record")

        [entry] = wait_until(lambda: self.rejected(daemon), 30, message="the poison record set aside")
        self.assertEqual((entry["event_id"], entry["tenant"], entry["endpoint"]), (poison, TENANT, USE_CASE))
        self.assertIn("400", entry["answer"])
        self.assertIn(poison, json.dumps(entry["record"]))
        code, out, err, _ = command(daemon, "rejected", "list")
        self.assertEqual((code, err), (0, ""))
        self.assertRegex(out, rf"(?m)^{entry['id']}\s+{TENANT}\s+{USE_CASE}\s+.*{poison}.*400")
        self.assertEqual(self.endpoint(self.status(daemon))["rejected"], 1)
        # Set aside, the rest delivered: the endpoint works (the refused batch's failure is not a retry).
        wait_until(lambda: self.endpoint(self.status(daemon))["state"] == "ok", 10, message="the endpoint ok")

        # Fixed at the sink: requeued, the running daemon delivers it within a second or two.
        self.sim.clear_faults()
        started = time.monotonic()
        code, out, err, _ = command(daemon, "rejected", "requeue", str(entry["id"]))
        self.assertEqual((code, err), (0, ""))
        self.assertIn("requeued 1 event(s): the running daemon delivers them now", out)
        wait_until(lambda: self.sim.sink(USE_CASE)["unique"] == len(ids), 10, interval=0.05,
                   message="the requeued record at the sink")
        self.assertLess(time.monotonic() - started, 4.0)
        self.assertEqual(self.rejected(daemon), [])
        status = self.status(daemon)
        self.assertEqual(self.endpoint(status)["rejected"], 0)
        self.assertEqual(self.sim.sink(USE_CASE)["duplicates"], 0)
        self.assertIn(poison, {r["event_id"] for r in self.sim.received(USE_CASE)})
        self.assertRegex(daemon.logs(), r"operator job \d+: requeued 1 set-aside event")

        # A second requeue of the same id: nothing is set aside under it any more.
        code, out, err, _ = command(daemon, "rejected", "requeue", str(entry["id"]))
        self.assertEqual(code, 1)
        self.assertEqual(len(err.strip().splitlines()), 1, err)
        self.assertIn(f"no set-aside event with id {entry['id']}", err)
        self.assertEqual(daemon.stop(), 0)

    def test_drop_and_requeue_without_a_daemon(self):
        daemon = self.daemon(extra_endpoint="  max_batch_events = 10")
        ids = self.event_ids(daemon)
        poison = [ids[3], ids[-2]]
        self.sim.fault(target="logs", reject_event_ids=poison, count=-1)
        code, _, _ = daemon.run("--once")
        self.assertEqual(code, 1)  # something was set aside
        listed = self.rejected(daemon)
        self.assertEqual(sorted(e["event_id"] for e in listed), sorted(poison))
        by_event = {e["event_id"]: e["id"] for e in listed}

        # Bash completes the subcommands, and the ids from `rejected list`.
        def complete(*words):
            quoted = " ".join(f"'{word}'" for word in (BIN, *words))
            script = (f"source '{COMPLETION}'; COMP_WORDS=({quoted}); COMP_CWORD={len(words)}; "
                      "_c4c_alm_collector; echo \"${COMPREPLY[*]}\"")
            return subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=30).stdout.split()
        self.assertEqual(complete("rejected", ""), ["list", "requeue", "drop"])
        self.assertEqual(complete("rejected", "requeue", "--a"), ["--all"])
        self.assertEqual(sorted(complete("rejected", "drop", "--config", daemon.config, "")),
                         sorted(str(i) for i in by_event.values()))

        code, out, err, _ = command(daemon, "rejected", "drop", str(by_event[poison[0]]))
        self.assertEqual((code, err), (0, ""))
        self.assertIn("dropped 1 set-aside event(s)", out)
        code, out, err, _ = command(daemon, "rejected", "requeue", "--all")
        self.assertEqual((code, err), (0, ""))
        self.assertIn("requeued 1 event(s): they are delivered when the daemon runs", out)
        status = self.status(daemon)
        self.assertEqual(self.endpoint(status)["outbox"]["events"], 1)
        self.assertEqual(self.endpoint(status)["rejected"], 0)
        code, out, _, _ = command(daemon, "rejected", "list")
        self.assertEqual((code, out), (0, "no set-aside events\n"))

        self.sim.clear_faults()
        code, _, _ = daemon.run("--once")
        self.assertEqual(code, 0)
        received = {r["event_id"] for r in self.sim.received(USE_CASE)}
        self.assertEqual(received, set(ids) - {poison[0]})
        self.assertEqual(self.sim.sink(USE_CASE)["duplicates"], 0)

        code, out, err, _ = command(daemon, "rejected", "requeue", "--all", "--json")
        self.assertEqual((code, err), (0, ""))
        self.assertEqual(json.loads(out), {"requeued": 0, "by": "command"})
        code, out, err, _ = command(daemon, "rejected", "drop", "999")
        self.assertEqual((code, out), (1, ""))
        self.assertEqual(err, "c4c-alm-collector: no set-aside event with id 999 (see rejected list); "
                              "nothing was dropped\n")

    def test_usage_errors_exit_2_with_one_line(self):
        daemon = self.daemon()
        for args in (["rejected"], ["rejected", "frob"], ["rejected", "requeue"], ["rejected", "requeue", "x"],
                     ["rejected", "requeue", "--all", "3"], ["rejected", "drop"], ["rejected", "drop", "--all"],
                     ["rejected", "list", "4"], ["status", "extra"], ["status", "--once"]):
            code, out, err, _ = command(daemon, *args)
            self.assertEqual(code, 2, args)
            self.assertEqual(out, "", args)
            self.assertEqual(len(err.strip().splitlines()), 1, (args, err))
        done = subprocess.run([BIN, "status"], capture_output=True, text=True)
        self.assertEqual(done.returncode, 2)
        self.assertIn("--config", done.stderr)


if __name__ == "__main__":
    unittest.main()
