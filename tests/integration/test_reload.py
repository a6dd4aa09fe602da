"""Reload (SIGHUP) and stop through the real binary (CONTRACT.md sections 1 and 5).

A reload that fails after the new configuration was validated keeps every tenant running; a reload that
changes one tenant restarts that tenant only; a stop while Cloud ALM has accepted a batch that still
waits for its turn in the exporter's pipeline never sends that batch again."""

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import time
import unittest

from harness import DaemonTestCase, chunk_events, config_text, http, metric, wait_until

USE_CASE = "business_process_monitoring"
LOGS = "/api/calm-logs/v1/logs"
ODATA = "/sap/c4c/odata/v1/"


def waiting_event_ids(path):
    """event.id of every event still queued in the outbox (schema 3 and later): above its endpoint's
    delivered watermark in the chunks, and not in a gap taken out ahead of the watermark."""
    with sqlite3.connect(path) as db:
        delivered = dict(db.execute("SELECT id, delivered FROM endpoints"))
        gaps = db.execute("SELECT endpoint, first_seq, last_seq FROM outbox_gaps").fetchall()
        chunks = db.execute("SELECT endpoint, first_seq, raw_size, data, format, idx FROM outbox_chunks").fetchall()
    waiting = set()
    for endpoint, seq, raw_size, data, fmt, idx in chunks:
        for event_id, _ in chunk_events(raw_size, data, fmt, idx):
            taken = any(e == endpoint and first <= seq <= last for e, first, last in gaps)
            if seq > delivered[endpoint] and not taken:
                waiting.add(event_id)
            seq += 1
    return waiting


class ReloadTestCase(DaemonTestCase):
    sim_args = ("--objects", "5")

    def tenant_block(self, tenant, service, interval="1s", endpoint=None):
        """The [[tenants]] table of one tenant whose business objects are read through `service`, so
        that the simulator's request log tells the tenants apart."""
        text = config_text(self.sim.url, self.state_dir, f"127.0.0.1:{self.listen_port}", tenant=tenant,
                           interval=interval, extra_source=f'  service = "{service}"',
                           endpoint_bodies={USE_CASE: endpoint} if endpoint else None)
        return "[[tenants]]" + text.split("[[tenants]]", 1)[1]

    def two_tenants(self, a, b):
        head = config_text(self.sim.url, self.state_dir, f"127.0.0.1:{self.listen_port}").split("[[tenants]]", 1)[0]
        return head + a + "\n" + b

    def requests(self, prefix):
        return self.sim.get(f"/_sim/requests?prefix={prefix}")["requests"]

    def reloaded(self, daemon, text, timeout=20):
        """Sends SIGHUP and waits for the reload's outcome line: returns the new part of the log."""
        before = len(daemon.logs())
        daemon.signal(signal.SIGHUP)
        return wait_until(lambda: (tail := daemon.logs()[before:]) and
                          any(word in tail for word in ("configuration reloaded", "reload failed", "reload rejected"))
                          and tail, timeout, message=f"the outcome of the reload ({text})")


class FailedReloadTest(ReloadTestCase):
    def broken_ca_file(self):
        """A PEM file whose first certificate is sound, so that loading the configuration accepts it, and
        whose second block is not: the TLS library refuses the file when the HTTP client is built."""
        directory = os.path.join(self.workdir, "ca")
        os.makedirs(directory)
        if not shutil.which("openssl"):
            self.skipTest("openssl is not installed")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-keyout", "key.pem", "-out", "cert.pem", "-days", "2", "-subj", "/CN=reload test"],
                       cwd=directory, check=True, capture_output=True, timeout=60)
        path = os.path.join(directory, "broken.pem")
        with open(os.path.join(directory, "cert.pem")) as cert, open(path, "w") as out:
            out.write(cert.read())
            out.write("-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n")
        return path

    def test_a_reload_that_cannot_be_built_keeps_every_tenant_polling_and_delivering(self):
        broken = self.broken_ca_file()
        a = self.tenant_block("acme-prod", "svc_a")
        b = self.tenant_block("acme-test", "svc_b")
        daemon = self.daemon()
        daemon.write_config(self.two_tenants(a, b))
        daemon.start()
        self.wait_metrics()
        self.wait_polls_delivered(USE_CASE, ODATA + "svc_a/", ODATA + "svc_b/", polls=2)
        values = self.metrics()
        self.assertEqual(metric(values, "c4c_alm_collector_config_last_reload_successful"), 1)
        self.assertEqual(metric(values, "c4c_alm_collector_reload_failures_total"), 0)

        # acme-test's C4C connection gets the broken CA file (and a new service): the configuration is
        # valid, --check says so, but the tenant cannot be built.
        broken_b = b.replace('  timeout = "5s"', f'  timeout = "5s"\n  ca_file = "{broken}"', 1)
        broken_b = broken_b.replace('service = "svc_b"', 'service = "svc_b2"')
        self.assertNotEqual(broken_b, b)
        daemon.write_config(self.two_tenants(a, broken_b))
        self.assertEqual(daemon.run("--check")[:2], (0, "config ok\n"))
        tail = self.reloaded(daemon, "a CA file the TLS library refuses")
        self.assertIn("reload failed", tail)
        self.assertIn("acme-test", tail)
        self.assertIn(broken, tail)
        self.assertNotIn("reload rejected", tail)
        self.assertNotIn("configuration reloaded", tail)

        # Both tenants poll and deliver on with the running configuration, nothing was stopped, and
        # /readyz tells the truth: every tenant runs.
        values = self.metrics()
        self.assertEqual(metric(values, "c4c_alm_collector_config_last_reload_successful"), 0)
        self.assertEqual(metric(values, "c4c_alm_collector_reload_failures_total"), 1)
        self.sim.change(kind="business_objects", count=2, add=1)
        self.wait_polls_delivered(USE_CASE, ODATA + "svc_a/", ODATA + "svc_b/", polls=3)
        self.assertEqual(self.requests(ODATA + "svc_b2/"), [])
        values = self.metrics()
        for tenant in ("acme-prod", "acme-test"):
            self.assertEqual(metric(values, "c4c_alm_collector_source_up", tenant=tenant), 1, tenant)
        status, body = http("GET", f"http://127.0.0.1:{self.listen_port}/readyz")
        self.assertEqual(status, 200, body)
        self.assertEqual(json.loads(body)["status"], "ready")
        self.assertEqual(self.sim.sink(USE_CASE)["duplicates"], 0)

        # A CA file that cannot be read at all is refused by validation: the same outcome, counted too.
        daemon.write_config(self.two_tenants(a, broken_b.replace(broken, broken + ".missing")))
        self.assertIn("reload rejected", self.reloaded(daemon, "a missing CA file"))
        self.assertEqual(metric(self.metrics(), "c4c_alm_collector_reload_failures_total"), 2)

        # Without the broken file the same change goes through: acme-test reads svc_b2 now.
        daemon.write_config(self.two_tenants(a, b.replace('service = "svc_b"', 'service = "svc_b2"')))
        self.assertIn("configuration reloaded", self.reloaded(daemon, "the fixed configuration"))
        self.wait_polls_delivered(USE_CASE, ODATA + "svc_a/", ODATA + "svc_b2/", polls=2)
        self.assertEqual(metric(self.metrics(), "c4c_alm_collector_config_last_reload_successful"), 1)
        self.assertEqual(daemon.stop(), 0)


class PartialReloadTest(ReloadTestCase):
    client_id = "sb-reload-test"
    client_secret = "reload-secret"
    sim_args = ("--objects", "5", "--oauth-client", f"{client_id}:{client_secret}")

    def endpoint(self):
        return "\n".join([f'  url = "{self.sim.url}{LOGS}?useCase=BPM"', '  auth = "oauth2"',
                          f'  token_url = "{self.sim.url}/oauth/token"', f'  client_id = "{self.client_id}"',
                          f'  client_secret = "{self.client_secret}"'])

    def poll_starts(self, prefix):
        """Arrival times (ms) of the first request of each poll whose requests start with `prefix`: a
        poll reads four collections at once, so a request more than 300 ms after the one before begins one."""
        times = [r["time_ms"] for r in self.requests(prefix)]
        return [t for i, t in enumerate(times) if i == 0 or t - times[i - 1] > 300]

    def test_a_reload_changing_one_tenant_leaves_the_other_polling_on_its_schedule_with_its_token(self):
        a = self.tenant_block("acme-prod", "svc_a", interval="1s", endpoint=self.endpoint())
        b = self.tenant_block("acme-test", "svc_b", interval="1s", endpoint=self.endpoint())
        daemon = self.daemon()
        daemon.write_config(self.two_tenants(a, b))
        daemon.start()
        self.wait_metrics()
        self.wait_polls_delivered(USE_CASE, ODATA + "svc_a/", ODATA + "svc_b/", polls=2)
        self.assertEqual(self.sim.stats()["tokens_issued"], 2, "one token per endpoint")

        # acme-test reads another service now; acme-prod's table is byte for byte the same. The signal
        # goes 400 ms after a poll of acme-prod began: a restart would poll at once, 600 ms early.
        daemon.write_config(self.two_tenants(a, b.replace('service = "svc_b"', 'service = "svc_b2"')))
        starts = len(self.poll_starts(ODATA + "svc_a/"))
        wait_until(lambda: len(self.poll_starts(ODATA + "svc_a/")) > starts, 10, interval=0.02,
                   message="a poll of acme-prod")
        time.sleep(0.4)
        reload_ms = time.time() * 1000
        tail = self.reloaded(daemon, "acme-test changed")
        self.assertIn("configuration reloaded", tail)
        self.assertRegex(tail, r"restarted acme-test \(new or changed\), stopped acme-test, unchanged acme-prod")

        # acme-test picks up its change; acme-prod polls on, every poll one interval after the last.
        wait_until(lambda: len(self.requests(ODATA + "svc_b2/")) >= 8, 20, message="acme-test reading svc_b2")
        wait_until(lambda: len([t for t in self.poll_starts(ODATA + "svc_a/") if t > reload_ms]) >= 4, 20,
                   message="four polls of acme-prod after the reload")
        starts = self.poll_starts(ODATA + "svc_a/")
        gaps = [later - earlier for earlier, later in zip(starts, starts[1:])]
        self.assertGreaterEqual(min(gaps), 900, f"a poll of acme-prod off its schedule: gaps {gaps} ms")
        self.assertLess(max(gaps), 2000, f"acme-prod's polls were interrupted: gaps {gaps} ms")
        last_b = max(r["time_ms"] for r in self.requests(ODATA + "svc_b/"))
        self.assertLess(last_b, min(r["time_ms"] for r in self.requests(ODATA + "svc_b2/")))
        # One new token: acme-test's new endpoint; acme-prod kept its own.
        self.sim.change(kind="business_objects", count=2, add=1)
        self.wait_polls_delivered(USE_CASE, ODATA + "svc_a/", ODATA + "svc_b2/", polls=2)
        self.assertEqual(self.sim.stats()["tokens_issued"], 3)
        self.assertEqual(self.sim.sink(USE_CASE)["duplicates"], 0)
        self.assertEqual(daemon.stop(), 0)


class StopDuringPipelineTest(DaemonTestCase):
    sim_args = ("--objects", "25")

    def test_a_stop_while_an_accepted_batch_waits_for_its_turn_never_sends_it_again(self):
        # 100 events in the outbox, delivered in batches of 10 with two in flight.
        daemon = self.daemon(shutdown_timeout="2s", extra_endpoint='  max_batch_events = 10\n  timeout = "20s"')
        self.sim.fault(target="logs", mode="status", status=503, count=-1)
        self.assertEqual(daemon.run("--once")[0], 1)
        self.sim.clear_faults()
        self.assertEqual(len(waiting_event_ids(os.path.join(self.state_dir, "state.db"))), 100)

        # The first batch goes alone, then two at a time; the fourth request is held unanswered, and the
        # batch sent beside it is accepted and waits for its turn behind it (taken out in sending order).
        fired = self.sim.get("/_sim/faults")["faults_fired"]
        self.sim.fault(target="logs", mode="hang", hang_ms=20000, skip=3, count=1)
        daemon.start()
        wait_until(lambda: self.sim.get("/_sim/faults")["faults_fired"] == fired + 1, 20, message="the held request")

        def accepted_requests_settled():
            before = self.sim.sink(USE_CASE)["requests"]
            time.sleep(0.5)
            return before >= 3 and self.sim.sink(USE_CASE)["requests"] == before
        wait_until(accepted_requests_settled, 20, message="the lane beside the held request waiting for its turn")
        requests = self.sim.sink(USE_CASE)["requests"]
        self.assertEqual(daemon.stop(), 0)

        # Nothing Cloud ALM accepted is left in the outbox; the held batch and those never sent are. The
        # batch that waited behind the held one was taken out ahead of the delivered watermark (a gap).
        path = os.path.join(self.state_dir, "state.db")
        accepted = {r["event_id"] for r in self.sim.received(USE_CASE)}
        self.assertEqual(len(accepted), 10 * requests)
        queued = waiting_event_ids(path)
        self.assertEqual(accepted & queued, set())
        self.assertEqual(len(accepted) + len(queued), 100)
        with sqlite3.connect(path) as db:
            self.assertGreaterEqual(db.execute("SELECT count(*) FROM outbox_gaps").fetchone()[0], 1)

        # The restart delivers the rest, nothing twice.
        self.sim.clear_faults()
        daemon.start()
        wait_until(lambda: self.sim.sink(USE_CASE)["unique"] == 100, 30, message="every event at the sink")
        self.assertEqual(daemon.stop(), 0)
        self.assertEqual(self.sim.sink(USE_CASE)["duplicates"], 0)
        self.assertEqual(self.sim.sink(USE_CASE)["records"], 100)


if __name__ == "__main__":
    unittest.main()
