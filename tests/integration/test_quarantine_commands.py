"""`quarantine list | retry | drop` (CONTRACT.md section 1) and the quarantined count of `status`, `GET /status`
and `GET /`, through the real binaries against the simulator.

How "the current code now normalizes it" is simulated: the simulator sends an RTA row in the SAP time-zone code
MARS, which no version maps (quarantined as unknown_timezone; the simulator shows the row's UTC digits with
that code). The test then rewrites that record's raw text in the state store by SQL, MARS -> UTC, as if an
upgrade had learned what MARS means; `quarantine retry` must normalize the stored text again with the code that
runs and deliver the row at its true instant. A business object without ObjectID stays quarantined on retry
(missing_key), with its reason reported."""

import json
import os
import re
import sqlite3
import subprocess
import time
import unittest

from harness import BIN, DaemonTestCase, http, wait_until

TENANT = "acme-prod"
SOURCES = ("response_time_analysis", "business_objects")
COMMAND_SECONDS = 10
SOURCE_DIR = os.environ.get("C4C_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "../.."))
COMPLETION = os.path.join(SOURCE_DIR, "conf/bash-completion/c4c-alm-collector")


def command(daemon, *args, timeout=60):
    """Runs an operator command on the daemon's config: (exit code, stdout, stderr, seconds taken)."""
    started = time.monotonic()
    done = subprocess.run([BIN, *args, "--config", daemon.config], capture_output=True, text=True, timeout=timeout)
    return done.returncode, done.stdout, done.stderr, time.monotonic() - started


class QuarantineCommandsTest(DaemonTestCase):
    sim_args = ("--objects", "5", "--rta-rows", "5")

    def run_json(self, daemon, *args):
        code, out, err, elapsed = command(daemon, *args, "--json")
        self.assertEqual((code, err), (0, ""), args)
        self.assertLess(elapsed, COMMAND_SECONDS)
        return json.loads(out)

    def quarantined(self, daemon):
        return self.run_json(daemon, "quarantine", "list")["quarantined"]

    def status_counts(self, status):
        [tenant] = [t for t in status["tenants"] if t["name"] == TENANT]
        return {s["name"]: s["quarantined"] for s in tenant["sources"]}

    def add_bad_records(self):
        """One bad record per feed, each followed by a good one two seconds later: with a one-second overlap the
        feeds' checkpoints pass the bad records at the first poll, so no later poll reads (and quarantines)
        them again once they are retried or dropped; the running code still reads MARS as unknown."""
        self.sim.change(kind="response_time_analysis", add=1, timezone="MARS")
        self.sim.change(kind="business_objects", collection="LeadCollection", count=0, add=1, malformed="no_key")
        time.sleep(2.2)
        self.sim.change(kind="response_time_analysis", add=1)
        self.sim.change(kind="business_objects", collection="LeadCollection", count=0, add=1)
        [mars] = [e for e in self.sim.history("response_time_analysis") if e.get("timezone") == "MARS"]
        return mars

    def daemon_with_short_overlap(self):
        return self.daemon(sources=SOURCES, extra_source='  overlap = "1s"')

    def teach_utc(self, record_id):
        """What an upgrade that learned the zone would make of the stored text: its code is one the daemon maps."""
        with sqlite3.connect(os.path.join(self.state_dir, "state.db"), timeout=10) as db:
            changed = db.execute("UPDATE quarantine SET raw = replace(raw, ' MARS\"', ' UTC\"') WHERE id = ?",
                                 (record_id,)).rowcount
        self.assertEqual(changed, 1)

    def rta_received(self):
        return {r["object_id"]: int(r["time_unix_nano"]) for r in self.sim.received("real_user_monitoring")}

    def test_list_status_retry_and_drop_while_the_daemon_runs(self):
        mars = self.add_bad_records()
        daemon = self.daemon_with_short_overlap()
        daemon.start()
        records = wait_until(lambda: (q := self.quarantined(daemon)) and len(q) == 2 and q, 60,
                             message="both bad records quarantined")
        by_source = {r["source"]: r for r in records}
        rta, lead = by_source["response_time_analysis"], by_source["business_objects"]
        self.assertEqual((rta["tenant"], rta["reason"], rta["feed"]), (TENANT, "unknown_timezone", "rta"))
        self.assertIn("MARS", rta["detail"])
        self.assertIn(" MARS", rta["raw"])
        self.assertEqual((lead["reason"], lead["feed"], lead["key"]), ("missing_key", "LeadCollection", ""))
        self.assertRegex(lead["first_seen"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        self.assertGreaterEqual(lead["age_seconds"], 0)

        # The table: id, tenant, source, key, reason, age, detail; no colour off a terminal.
        code, out, err, _ = command(daemon, "quarantine", "list")
        self.assertEqual((code, err), (0, ""))
        self.assertNotIn("\033[", out)
        self.assertRegex(out.splitlines()[0], r"^ID\s+TENANT\s+SOURCE\s+KEY\s+REASON\s+AGE\s+DETAIL$")
        self.assertRegex(out, rf"(?m)^{rta['id']}\s+{TENANT}\s+response_time_analysis\s+\S+\s+unknown_timezone\s+"
                              r"\d+s\s+.*MARS")
        self.assertRegex(out, rf"(?m)^{lead['id']}\s+{TENANT}\s+business_objects\s+-\s+missing_key\s+")

        # status, GET /status and the page count them per source.
        counts = {"response_time_analysis": 1, "business_objects": 1}
        self.assertEqual(self.status_counts(self.run_json(daemon, "status")), counts)
        code, body = http("GET", f"http://127.0.0.1:{self.listen_port}/status")
        self.assertEqual(code, 200)
        self.assertEqual(self.status_counts(json.loads(body)), counts)
        code, page = http("GET", f"http://127.0.0.1:{self.listen_port}/")
        self.assertEqual(code, 200)
        self.assertRegex(page, r'data-source="response_time_analysis">.*<td class="n">1</td></tr>')
        self.assertNotIn(mars["step_id"], self.rta_received())

        # The upgrade learned the zone: retried while the daemon runs, the row arrives within seconds, at its
        # true instant; the object without key stays, its reason said.
        self.teach_utc(rta["id"])
        started = time.monotonic()
        code, out, err, _ = command(daemon, "quarantine", "retry", str(rta["id"]), str(lead["id"]))
        self.assertEqual((code, err), (0, ""))
        self.assertIn(f"quarantined record {rta['id']}: normalized, event ", out)
        self.assertIn("queued (the running daemon delivers it now)", out)
        self.assertIn(f"quarantined record {lead['id']}: still quarantined (missing_key): ", out)
        self.assertIn("retried 2 quarantined record(s): 1 queued, 0 stored before, 1 still quarantined, 0 not tried",
                      out)
        wait_until(lambda: mars["step_id"] in self.rta_received(), 10, interval=0.05,
                   message="the retried row at the sink")
        self.assertLess(time.monotonic() - started, 5.0)
        self.assertEqual(self.rta_received()[mars["step_id"]], int(mars["timestamp_ms"]) * 1_000_000)
        self.assertRegex(daemon.logs(), r"operator job \d+: retried 2 quarantined record\(s\): 1 queued, 0 already "
                                        r"stored, 1 still quarantined")
        [left] = self.quarantined(daemon)
        self.assertEqual((left["id"], left["reason"]), (lead["id"], "missing_key"))
        self.assertEqual(self.status_counts(self.run_json(daemon, "status")),
                         {"response_time_analysis": 0, "business_objects": 1})

        # Retrying what is gone changes nothing and says so; --json reports per id.
        code, out, err, _ = command(daemon, "quarantine", "retry", str(rta["id"]))
        self.assertEqual((code, out), (1, ""))
        self.assertEqual(err, f"c4c-alm-collector: no quarantined record with id {rta['id']} (see quarantine list); "
                              "nothing was retried\n")
        result = self.run_json(daemon, "quarantine", "retry", "--all")
        self.assertEqual(result["by"], "daemon")
        self.assertEqual([(r["id"], r["outcome"], r["reason"]) for r in result["retried"]],
                         [(lead["id"], "still_quarantined", "missing_key")])

        # Dropped: gone from the list and from status; an unknown id is an error and drops nothing.
        code, out, err, _ = command(daemon, "quarantine", "drop", str(lead["id"]), "999")
        self.assertEqual((code, out), (1, ""))
        self.assertIn("no quarantined record with id 999", err)
        self.assertEqual(len(self.quarantined(daemon)), 1)
        code, out, err, _ = command(daemon, "quarantine", "drop", str(lead["id"]))
        self.assertEqual((code, err), (0, ""))
        self.assertEqual(out, "dropped 1 quarantined record(s)\n")
        self.assertEqual(self.quarantined(daemon), [])
        code, out, _, _ = command(daemon, "quarantine", "list")
        self.assertEqual((code, out), (0, "no quarantined records\n"))
        self.assertEqual(self.status_counts(self.run_json(daemon, "status")),
                         {"response_time_analysis": 0, "business_objects": 0})

        # The feeds moved on meanwhile, and nothing was sent twice.
        self.sim.change()
        self.wait_polls_delivered("real_user_monitoring", "/sap/c4c/odata/analytics")
        self.assertEqual(daemon.stop(), 0)
        self.assertEqual(self.sim.sink("real_user_monitoring")["duplicates"], 0)
        self.assertEqual(self.sim.sink("business_process_monitoring")["duplicates"], 0)

    def test_retry_and_drop_without_a_daemon(self):
        mars = self.add_bad_records()
        daemon = self.daemon_with_short_overlap()
        code, _, _ = daemon.run("--once")
        self.assertEqual(code, 0)
        records = self.quarantined(daemon)
        self.assertEqual(sorted(r["reason"] for r in records), ["missing_key", "unknown_timezone"])
        by_source = {r["source"]: r for r in records}
        rta, lead = by_source["response_time_analysis"], by_source["business_objects"]

        # Bash completes the subcommands, and the ids from `quarantine list`.
        def complete(*words):
            quoted = " ".join(f"'{word}'" for word in (BIN, *words))
            script = (f"source '{COMPLETION}'; COMP_WORDS=({quoted}); COMP_CWORD={len(words)}; "
                      "_c4c_alm_collector; echo \"${COMPREPLY[*]}\"")
            return subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=30).stdout.split()
        self.assertIn("quarantine", complete(""))
        self.assertEqual(complete("quarantine", ""), ["list", "retry", "drop"])
        self.assertEqual(complete("quarantine", "retry", "--a"), ["--all"])
        self.assertEqual(sorted(complete("quarantine", "drop", "--config", daemon.config, "")),
                         sorted(str(r["id"]) for r in records))

        # Without a daemon the command does the work itself; the event waits in the outbox for the next run.
        self.teach_utc(rta["id"])
        code, out, err, _ = command(daemon, "quarantine", "retry", "--all")
        self.assertEqual((code, err), (0, ""))
        self.assertIn("queued (it is delivered when the daemon runs)", out)
        self.assertIn(f"quarantined record {lead['id']}: still quarantined (missing_key)", out)
        status = self.run_json(daemon, "status")
        self.assertEqual(self.status_counts(status), {"response_time_analysis": 0, "business_objects": 1})
        [tenant] = status["tenants"]
        [rum] = [e for e in tenant["endpoints"] if e["name"] == "real_user_monitoring"]
        self.assertEqual(rum["outbox"]["events"], 1)

        # The same record state read again by a poll is not queued a second time.
        code, _, _ = daemon.run("--once")
        self.assertEqual(code, 0)
        self.assertEqual(self.rta_received()[mars["step_id"]], int(mars["timestamp_ms"]) * 1_000_000)
        self.assertEqual(self.sim.sink("real_user_monitoring")["duplicates"], 0)

        code, out, err, _ = command(daemon, "quarantine", "drop", str(lead["id"]), "--json")
        self.assertEqual((code, err), (0, ""))
        self.assertEqual(json.loads(out), {"dropped": 1, "by": "command"})
        self.assertEqual(self.quarantined(daemon), [])
        code, out, err, _ = command(daemon, "quarantine", "drop", str(lead["id"]))
        self.assertEqual((code, out), (1, ""))
        self.assertEqual(err, f"c4c-alm-collector: no quarantined record with id {lead['id']} (see quarantine "
                              "list); nothing was dropped\n")

    def test_usage_errors_exit_2_with_one_line(self):
        daemon = self.daemon(sources=SOURCES)
        for args in (["quarantine"], ["quarantine", "frob"], ["quarantine", "retry"], ["quarantine", "retry", "x"],
                     ["quarantine", "retry", "--all", "3"], ["quarantine", "drop"], ["quarantine", "drop", "--all"],
                     ["quarantine", "list", "4"]):
            code, out, err, _ = command(daemon, *args)
            self.assertEqual(code, 2, args)
            self.assertEqual(out, "", args)
            self.assertEqual(len(err.strip().splitlines()), 1, (args, err))
        # Before the daemon ever ran: nothing quarantined, nothing to retry.
        code, out, _, _ = command(daemon, "quarantine", "list")
        self.assertEqual((code, out), (0, "no quarantined records\n"))
        code, out, _, _ = command(daemon, "quarantine", "retry", "--all")
        self.assertEqual((code, out), (0, "no quarantined records to retry\n"))


if __name__ == "__main__":
    unittest.main()
