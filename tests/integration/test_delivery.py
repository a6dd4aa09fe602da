"""Delivery to Cloud ALM under every fault (CONTRACT.md sections 4 and 5), through the real binary.

Each test runs the daemon against the simulator's sink with scripted faults: OAuth2 tokens, gzip,
Retry-After, a poison record, credentials refused, the outbox limit, a long outage, and kill -9 at
random moments during a large backlog."""

import email.utils
import json
import os
import random
import re
import signal
import sqlite3
import time
import unittest

from harness import DaemonTestCase, Simulator, chunk_events, config_text, delivered_states, existing_states, http, metric, wait_until

USE_CASE = "business_process_monitoring"
LOGS = "/api/calm-logs/v1/logs"


def queued_events(path):
    """(endpoint, event_id, payload) of every event in a schema 3 or later outbox, read from its chunks."""
    with sqlite3.connect(path) as db:
        delivered = dict(db.execute("SELECT id, delivered FROM endpoints"))
        chunks = db.execute("SELECT endpoint, first_seq, raw_size, data, format, idx FROM outbox_chunks "
                            "ORDER BY endpoint, first_seq").fetchall()
    events = []
    for endpoint, seq, raw_size, data, fmt, idx in chunks:
        for event_id, payload in chunk_events(raw_size, data, fmt, idx):
            if seq > delivered[endpoint]:
                events.append((endpoint, event_id, payload))
            seq += 1
    return events


def write_schema_2(path, events):
    """Replaces the store at `path` by the file the previous release (schema 2) would have: the same
    endpoints, seen ids and checkpoints, and `events` queued one row each in `outbox`."""
    with sqlite3.connect(path) as db:
        endpoints = db.execute("SELECT id, tenant, use_case FROM endpoints").fetchall()
        seen = db.execute("SELECT record_time, event_id FROM seen").fetchall()
        checkpoints = db.execute("SELECT feed, value, updated_at FROM checkpoints").fetchall()
    db.close()
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
    db = sqlite3.connect(path)
    db.executescript("""
        PRAGMA journal_mode=WAL;
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        INSERT INTO meta VALUES ('schema_version', '2');
        CREATE TABLE endpoints (id INTEGER PRIMARY KEY, tenant TEXT NOT NULL, use_case TEXT NOT NULL,
            UNIQUE (tenant, use_case));
        CREATE TABLE outbox (seq INTEGER PRIMARY KEY, endpoint INTEGER NOT NULL, event_id TEXT NOT NULL,
            record_time INTEGER NOT NULL, enqueued_at INTEGER NOT NULL, payload TEXT NOT NULL);
        CREATE INDEX outbox_by_endpoint ON outbox (endpoint, seq);
        CREATE TABLE seen (record_time INTEGER NOT NULL, event_id TEXT NOT NULL,
            PRIMARY KEY (record_time, event_id)) WITHOUT ROWID;
        CREATE TABLE checkpoints (feed TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at INTEGER NOT NULL);
        CREATE TABLE rejected (seq INTEGER PRIMARY KEY, endpoint INTEGER NOT NULL, event_id TEXT NOT NULL,
            payload TEXT NOT NULL, answer TEXT NOT NULL, rejected_at INTEGER NOT NULL);
    """)
    db.executemany("INSERT INTO endpoints VALUES (?, ?, ?)", endpoints)
    db.executemany("INSERT INTO seen VALUES (?, ?)", seen)
    db.executemany("INSERT INTO checkpoints VALUES (?, ?, ?)", checkpoints)
    db.executemany("INSERT INTO outbox (endpoint, event_id, record_time, enqueued_at, payload) VALUES (?, ?, 0, 0, ?)",
                   [(endpoint, event_id, payload.decode()) for endpoint, event_id, payload in events])
    db.commit()
    db.close()


def schema_version():
    """k_schema_version of infra/state_schema.hpp: the schema this build writes."""
    source = os.environ.get("C4C_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "../.."))
    with open(os.path.join(source, "infra/state_schema.hpp")) as f:
        return int(re.search(r"k_schema_version = (\d+);", f.read()).group(1))


def log_requests(sim):
    return sim.get("/_sim/requests?prefix=" + LOGS)["requests"]


class DeliveryTestCase(DaemonTestCase):
    def wait_all_delivered(self, timeout=60):
        return wait_until(lambda: existing_states(self.sim) <= delivered_states(self.sim), timeout,
                          message="every business object state at the sink")


class OAuth2Test(DeliveryTestCase):
    # An XSUAA-shaped client: '!' and '|' in the id, '+', '/' and '=' in the secret.
    client_id = "sb-c4c-alm!b1234|calm!b5678"
    client_secret = "s3cr+t/Pass=="
    sim_args = ("--objects", "25", "--oauth-client", f"{client_id}:{client_secret}", "--token-ttl", "3600")

    def endpoint(self):
        return "\n".join([f'  url = "{self.sim.url}{LOGS}?useCase=BPM"', '  auth = "oauth2"',
                          f'  token_url = "{self.sim.url}/oauth/token"', f'  client_id = "{self.client_id}"',
                          f'  client_secret = "{self.client_secret}"', "  max_batch_events = 20", "  gzip = true"])

    def test_token_is_cached_refreshed_once_on_401_gzip_is_used_and_no_secret_is_logged(self):
        daemon = self.daemon(endpoint_bodies={USE_CASE: self.endpoint()})
        self.assertEqual(daemon.run("--check")[0], 0, daemon.logs())
        daemon.start()
        self.wait_all_delivered()
        stats = self.sim.stats()
        sink = stats["sink"][USE_CASE]
        self.assertGreaterEqual(sink["requests"], 5)  # 100 records, at most 20 per batch
        self.assertLessEqual(sink["max_batch_records"], 20)
        self.assertEqual(stats["tokens_issued"], 1, "one token serves every batch until it nears expiry")
        self.assertEqual(sink["gzip_requests"], sink["requests"])
        self.assertEqual(sink["duplicates"], 0)

        # Cloud ALM revokes the token: the next batch gets a 401, the daemon fetches one new token and
        # the same batch goes through; nothing pauses.
        self.sim.fault(target="logs", mode="status", status=401, count=1)
        self.sim.change(kind="business_objects", count=2, add=1)
        self.wait_all_delivered()
        stats = self.sim.stats()
        self.assertEqual(stats["tokens_issued"], 2)
        self.assertEqual(stats["sink"][USE_CASE]["duplicates"], 0)
        values = self.metrics()
        self.assertEqual(metric(values, "c4c_alm_collector_endpoint_paused", endpoint=USE_CASE), 0)
        self.assertEqual(daemon.stop(), 0)

        logs = daemon.logs()
        self.assertNotIn(self.client_secret, logs)
        self.assertNotIn("simtok-", logs, "an access token reached the log")

    def test_a_short_lived_token_is_renewed_before_it_expires(self):
        self.sim.stop()
        self.sim = Simulator("--objects", "5", "--oauth-client", f"{self.client_id}:{self.client_secret}",
                             "--token-ttl", "2")
        daemon = self.daemon(interval="300ms", endpoint_bodies={USE_CASE: self.endpoint()})
        daemon.start()
        # New records every 300 ms keep batches going out over three token lifetimes. The changes stop
        # before every state is awaited: a target that moves every 300 ms is rarely met by a slow build.
        # Records are only added, never changed: a record changed twice between two polls has a state
        # that no poll could see, and that the sink would wait for in vain.
        deadline = time.monotonic() + 30
        while self.sim.stats()["tokens_issued"] < 3:
            self.assertLess(time.monotonic(), deadline, "three tokens within 30 s of 300 ms changes")
            self.sim.change(kind="business_objects", count=0, add=1)
            time.sleep(0.3)
        self.wait_all_delivered()
        stats = self.sim.stats()
        # Renewed ahead of expiry: no batch was ever sent with an expired token.
        self.assertEqual(stats["auth_failures"], 0)
        self.assertEqual(daemon.stop(), 0)


class RetryAfterTest(DeliveryTestCase):
    def first_refusal_and_next_attempt(self, status):
        requests = log_requests(self.sim)
        refused = [r for r in requests if r["status"] == status]
        self.assertEqual(len(refused), 1, requests)
        later = [r for r in requests if r["time_ms"] > refused[0]["time_ms"]]
        self.assertTrue(later, requests)
        return refused[0]["time_ms"], later[0]["time_ms"]

    def test_retry_after_seconds_is_honoured_to_the_second(self):
        self.sim.fault(target="logs", mode="status", status=429, retry_after="3", count=1)
        daemon = self.daemon()
        daemon.start()
        self.wait_all_delivered()
        refused, retried = self.first_refusal_and_next_attempt(429)
        self.assertGreaterEqual(retried - refused, 3000, "retried before Retry-After elapsed")
        self.assertLess(retried - refused, 4000, "waited well beyond Retry-After")
        self.assertEqual(self.sim.sink(USE_CASE)["duplicates"], 0)
        values = self.metrics()
        self.assertGreaterEqual(metric(values, "c4c_alm_collector_endpoint_send_failures_total", endpoint=USE_CASE), 1)
        self.assertEqual(daemon.stop(), 0)

    def test_retry_after_http_date_is_honoured_to_the_second(self):
        # An HTTP date has whole seconds: the retry must come at that second, not before, not much after.
        when = int(time.time()) + 4
        self.sim.fault(target="logs", mode="status", status=503, retry_after=email.utils.formatdate(when, usegmt=True),
                       count=1)
        daemon = self.daemon()
        daemon.start()
        self.wait_all_delivered()
        _, retried = self.first_refusal_and_next_attempt(503)
        self.assertGreaterEqual(retried, when * 1000 - 50, "retried before the Retry-After date")
        self.assertLess(retried, when * 1000 + 1000, "waited well beyond the Retry-After date")
        self.assertEqual(daemon.stop(), 0)

    def test_c4c_retry_after_is_honoured_too(self):
        self.sim.fault(target="odata", mode="status", status=429, retry_after="2", count=1)
        daemon = self.daemon(interval="1h")
        daemon.start()
        self.wait_all_delivered()
        requests = self.sim.get("/_sim/requests?prefix=/sap/c4c/odata/")["requests"]
        self.assertEqual(requests[0]["status"], 429)
        # The retry is the next request for the same page (other collections are read side by side).
        retry = next(r for r in requests[1:] if r["target"] == requests[0]["target"])
        self.assertGreaterEqual(retry["time_ms"] - requests[0]["time_ms"], 2000)
        self.assertLess(retry["time_ms"] - requests[0]["time_ms"], 3000)
        values = self.metrics()
        # Counted when it failed, before the retry that then succeeded.
        self.assertEqual(metric(values, "c4c_alm_collector_source_errors_total", source="business_objects"), 1)
        self.assertEqual(metric(values, "c4c_alm_collector_source_up", source="business_objects"), 1)
        self.assertEqual(daemon.stop(), 0)


class PoisonRecordTest(DeliveryTestCase):
    def test_a_poison_record_is_moved_aside_and_the_others_flow(self):
        daemon = self.daemon(extra_endpoint="  max_batch_events = 10")
        code, out, _ = daemon.run("--once", "--dry-run")
        self.assertEqual(code, 0)
        events = [json.loads(line) for line in out.splitlines()]
        ids = [next(a["value"]["stringValue"] for a in e["attributes"] if a["key"] == "event.id") for e in events]
        poison = ids[len(ids) // 2]
        self.sim.fault(target="logs", reject_event_ids=[poison], count=-1)

        daemon.start()
        wait_until(lambda: self.sim.sink(USE_CASE)["unique"] == len(ids) - 1, 60,
                   message="every record but the poison one")
        values = wait_until(lambda: (v := self.metrics()) and
                            metric(v, "c4c_alm_collector_endpoint_events_rejected_total", endpoint=USE_CASE) == 1 and v,
                            30, message="the rejection in the metrics")
        self.assertEqual(metric(values, "c4c_alm_collector_outbox_events", endpoint=USE_CASE), 0)
        received = {r["event_id"] for r in self.sim.received(USE_CASE)}
        self.assertNotIn(poison, received)
        self.assertEqual(received, set(ids) - {poison})
        self.assertEqual(daemon.stop(), 0)

        # Kept on disk with the endpoint's answer, and named in the log.
        with sqlite3.connect(os.path.join(self.state_dir, "state.db")) as db:
            rows = db.execute("SELECT event_id, answer, payload FROM rejected").fetchall()
        self.assertEqual(len(rows), 1)
        self.assertEqual(rows[0][0], poison)
        self.assertIn("400", rows[0][1])
        self.assertIn(poison, rows[0][2])
        self.assertIn(poison, daemon.logs())


class RefusingEndpointTest(DeliveryTestCase):
    def test_an_endpoint_refusing_every_request_is_paused_and_moves_nothing_aside(self):
        # A wrong serviceId: Cloud ALM answers 400 to every request, whatever it holds.
        self.sim.fault(target="logs", mode="status", status=400, count=-1)
        daemon = self.daemon(extra_endpoint="  max_batch_events = 10")
        daemon.start()
        self.wait_metrics()
        values = wait_until(lambda: (v := self.metrics()) and
                            metric(v, "c4c_alm_collector_endpoint_up", endpoint=USE_CASE) == 0 and v, 30,
                            message="endpoint_up 0")
        self.assertEqual(metric(values, "c4c_alm_collector_endpoint_paused", endpoint=USE_CASE), 1)
        time.sleep(4)  # probes at a growing interval, one record each
        values = self.metrics()
        self.assertEqual(metric(values, "c4c_alm_collector_endpoint_up", endpoint=USE_CASE), 0)
        self.assertEqual(metric(values, "c4c_alm_collector_endpoint_events_rejected_total", endpoint=USE_CASE), 0)
        self.assertEqual(metric(values, "c4c_alm_collector_outbox_events", endpoint=USE_CASE), 100)
        refused = log_requests(self.sim)
        self.assertLessEqual(len(refused), 15, "no split of every batch down to single records")
        self.assertEqual(self.sim.sink(USE_CASE)["unique"], 0)
        lines = [line for line in daemon.logs().splitlines() if "refuses every request" in line]
        self.assertEqual(len(lines), 1, lines)
        self.assertIn("acme-prod", lines[0])
        self.assertIn(USE_CASE, lines[0])

        # Cloud ALM is fixed: the whole queue goes, once.
        self.sim.clear_faults()
        self.wait_all_delivered(60)
        values = wait_until(lambda: (v := self.metrics()) and
                            metric(v, "c4c_alm_collector_outbox_events", endpoint=USE_CASE) == 0 and v, 30,
                            message="an empty outbox")
        self.assertEqual(metric(values, "c4c_alm_collector_endpoint_up", endpoint=USE_CASE), 1)
        self.assertEqual(metric(values, "c4c_alm_collector_endpoint_paused", endpoint=USE_CASE), 0)
        self.assertEqual(metric(values, "c4c_alm_collector_endpoint_events_rejected_total", endpoint=USE_CASE), 0)
        self.assertEqual(self.sim.sink(USE_CASE)["duplicates"], 0)
        self.assertEqual(self.sim.sink(USE_CASE)["unique"], 100)
        self.assertEqual(len([line for line in daemon.logs().splitlines() if "refuses every request" in line]), 1)
        self.assertIn("accepts requests again", daemon.logs())
        self.assertEqual(daemon.stop(), 0)
        with sqlite3.connect(os.path.join(self.state_dir, "state.db")) as db:
            self.assertEqual(db.execute("SELECT count(*) FROM rejected").fetchone()[0], 0)


class CredentialsRefusedTest(DeliveryTestCase):
    sim_args = ("--objects", "10", "--messages", "30", "--sink-user", "alm", "--sink-password", "right-password")

    def test_401_pauses_one_endpoint_with_one_log_line_and_the_others_go_on(self):
        def endpoint(use_case, password):
            return "\n".join([f'  url = "{self.sim.url}{LOGS}?useCase={use_case}"', '  auth = "basic"',
                              '  user = "alm"', f'  password = "{password}"'])

        def write(bpm_password):
            text = config_text(self.sim.url, self.state_dir, f"127.0.0.1:{self.listen_port}",
                               sources=("business_objects", "webservice_messages"), interval="500ms",
                               endpoint_bodies={USE_CASE: endpoint("BPM", bpm_password),
                                                "integration_monitoring": endpoint("IEM", "right-password")})
            daemon.write_config(text)

        daemon = self.daemon()

        write("wrong-password")
        daemon.start()
        wait_until(lambda: self.sim.sink("integration_monitoring")["unique"] >= 30, 30,
                   message="the other endpoint delivering")
        values = wait_until(lambda: (v := self.metrics()) and
                            metric(v, "c4c_alm_collector_endpoint_paused", endpoint=USE_CASE) == 1 and v, 30,
                            message="the endpoint to pause")
        self.assertEqual(metric(values, "c4c_alm_collector_endpoint_paused", endpoint="integration_monitoring"), 0)
        self.assertGreaterEqual(metric(values, "c4c_alm_collector_outbox_events", endpoint=USE_CASE), 40)
        self.assertEqual(self.sim.sink(USE_CASE)["unique"], 0)
        time.sleep(3)  # a slow pace: no hammering with refused credentials
        self.assertLessEqual(self.sim.stats()["auth_failures"], 2)
        pause_lines = [line for line in daemon.logs().splitlines() if "paused" in line and USE_CASE in line]
        self.assertEqual(len(pause_lines), 1, pause_lines)
        self.assertIn("acme-prod", pause_lines[0])
        self.assertNotIn("wrong-password", daemon.logs())

        # The operator fixes the password and reloads: the queued events go out, nothing lost.
        write("right-password")
        daemon.signal(signal.SIGHUP)
        self.wait_all_delivered(30)
        self.assertEqual(self.sim.sink(USE_CASE)["duplicates"], 0)
        self.assertEqual(daemon.stop(), 0)


class OutboxLimitTest(DeliveryTestCase):
    sim_args = ("--objects", "25")

    def test_a_full_outbox_stops_the_source_instead_of_dropping(self):
        self.sim.fault(target="logs", mode="status", status=503, count=-1)
        daemon = self.daemon(page_size=10, interval="300ms", extra_endpoint="  max_outbox_events = 30")
        daemon.start()
        values = wait_until(lambda: (v := self.wait_metrics()) and
                            metric(v, "c4c_alm_collector_source_blocked", source="business_objects") == 1 and v,
                            30, message="the source to stop at the outbox limit")
        queued = metric(values, "c4c_alm_collector_outbox_events", endpoint=USE_CASE)
        self.assertGreaterEqual(queued, 30)
        self.assertLess(queued, 30 + 10 + 1, "more than one page beyond the limit")
        status, body = http("GET", f"http://127.0.0.1:{self.listen_port}/readyz")
        self.assertEqual(status, 503)
        self.assertIn("outbox full", body)
        time.sleep(2)  # several intervals: the outbox does not grow, the source stays put
        values = self.metrics()
        self.assertEqual(metric(values, "c4c_alm_collector_outbox_events", endpoint=USE_CASE), queued)

        self.sim.clear_faults()
        self.wait_all_delivered()
        self.assertEqual(self.sim.sink(USE_CASE)["duplicates"], 0)
        self.assertEqual(self.sim.sink(USE_CASE)["unique"], len(existing_states(self.sim)))
        values = wait_until(lambda: (v := self.metrics()) and
                            metric(v, "c4c_alm_collector_source_blocked", source="business_objects") == 0 and v,
                            15, message="the source to resume")
        status, _ = http("GET", f"http://127.0.0.1:{self.listen_port}/readyz")
        self.assertEqual(status, 200)
        self.assertEqual(daemon.stop(), 0)


class LongOutageTest(DeliveryTestCase):
    sim_args = ("--objects", "50")

    def keep_changing(self, seconds):
        """C4C changes every second meanwhile (a change tick: new and changed records in every feed)."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.sim.change()
            time.sleep(1)

    def test_a_20_second_sink_outage_loses_nothing(self):
        # Polls every 500 ms while C4C changes every second: a record changed by two ticks is polled in
        # between, even when a poll starts late on a busy machine (its first state is awaited below).
        daemon = self.daemon(interval="500ms", extra_endpoint='  timeout = "2s"')
        daemon.start()
        self.wait_all_delivered()
        # 20 s without Cloud ALM while C4C keeps changing: first 503s, then a sink that never answers.
        self.sim.fault(target="logs", mode="status", status=503, count=-1)
        self.keep_changing(10)
        self.sim.clear_faults()
        self.sim.fault(target="logs", mode="hang", hang_ms=60000, count=-1)
        self.keep_changing(10)
        values = self.metrics()
        self.assertGreater(metric(values, "c4c_alm_collector_outbox_events", endpoint=USE_CASE), 0)
        self.assertGreater(metric(values, "c4c_alm_collector_endpoint_send_failures_total", endpoint=USE_CASE), 0)
        self.sim.clear_faults()
        started = time.monotonic()
        self.wait_all_delivered(90)
        print(f"recovered {time.monotonic() - started:.1f} s after the outage ended")
        self.assertEqual(daemon.stop(), 0)
        sink = self.sim.sink(USE_CASE)
        # A hung or refused batch is not recorded by the sink, so nothing arrives twice.
        self.assertEqual(sink["duplicates"], 0)
        self.assertEqual(set(existing_states(self.sim)) - delivered_states(self.sim), set())


class UpgradeTest(DeliveryTestCase):
    sim_args = ("--objects", "25")

    def test_events_queued_by_the_previous_schema_are_delivered_once_after_the_upgrade(self):
        # Cloud ALM is down: one run leaves every record in the outbox.
        self.sim.fault(target="logs", mode="status", status=503, count=-1)
        daemon = self.daemon(shutdown_timeout="1s")
        code, _, err = daemon.run("--once")
        self.assertEqual(code, 1, err)
        path = os.path.join(self.state_dir, "state.db")
        events = queued_events(path)
        total = len(existing_states(self.sim))
        self.assertEqual(len(events), total)
        self.assertEqual(len({event_id for _, event_id, _ in events}), total)
        # The same state as the previous release kept it: one row per event, no watermark.
        write_schema_2(path, events)

        self.sim.clear_faults()
        daemon.start()
        self.wait_all_delivered()
        sink = self.sim.sink(USE_CASE)
        self.assertEqual(sink["unique"], total)
        self.assertEqual(sink["duplicates"], 0, "seen ids and checkpoints came through the migration")
        values = wait_until(lambda: (v := self.metrics()) and
                            metric(v, "c4c_alm_collector_outbox_events", endpoint=USE_CASE) == 0 and v,
                            15, message="an empty outbox")
        self.assertIsNotNone(values)
        self.assertEqual(daemon.stop(), 0)
        with sqlite3.connect(path) as db:
            self.assertEqual(db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0],
                             str(schema_version()))
            self.assertIsNone(db.execute("SELECT name FROM sqlite_schema WHERE name = 'outbox'").fetchone())
            self.assertEqual(db.execute("SELECT count(*) FROM outbox_chunks").fetchone()[0], 0)
            self.assertEqual(db.execute("PRAGMA auto_vacuum").fetchone()[0], 2)  # incremental, after one VACUUM
            self.assertIsNotNone(db.execute("SELECT name FROM sqlite_schema WHERE name = 'quarantine'").fetchone())
        db.close()


class RandomKillTest(DeliveryTestCase):
    sim_args = ("--objects", "12500")  # 4 collections: 50,000 records

    def test_kill_9_at_random_moments_during_a_50k_backlog_loses_nothing(self):
        seed = int(os.environ.get("C4C_TEST_SEED", time.time()))
        rng = random.Random(seed)
        print(f"seed {seed} (C4C_TEST_SEED={seed} repeats this run)")
        total = len(existing_states(self.sim))
        self.assertEqual(total, 50_000)
        daemon = self.daemon(extra_endpoint="  max_batch_events = 500")
        for round_ in range(6):
            daemon.start()
            time.sleep(rng.uniform(0.2, 2.5))
            daemon.kill()
            print(f"kill -9 #{round_ + 1}: {self.sim.sink(USE_CASE)['unique']} of {total} delivered")
        daemon.start()
        # The cheap counter first: listing 50,000 records on every check would load the simulator.
        wait_until(lambda: self.sim.sink(USE_CASE)["unique"] >= total, 300, interval=1,
                   message="all 50,000 events at the sink")
        self.assertEqual(existing_states(self.sim) - delivered_states(self.sim), set())
        sink = self.sim.sink(USE_CASE)
        print(f"after 6 kills: {sink['unique']} unique, {sink['duplicates']} duplicates "
              "(batches accepted just before a kill are sent again: at least once)")
        self.assertEqual(sink["unique"], total)
        self.assertEqual(daemon.stop(), 0)


if __name__ == "__main__":
    unittest.main()
