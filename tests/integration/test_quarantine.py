"""Records that cannot be normalized (issue 14, item 4), through the real binary: RTA rows in every kind of
SAP time-zone code (the whole standard table converts; unknown codes do not), business objects and web-service
messages without their key or with an unparsable time. What cannot be normalized is quarantined (kept with its
raw text and reason, counted, logged once) and every feed moves on; a page that is not JSON at all stays a
request error."""

import json
import os
import re
import sqlite3
import time
import unittest

from harness import DaemonTestCase, metric, wait_until

SOURCES = ("business_objects", "webservice_messages", "response_time_analysis")
USE_CASE = {"business_objects": "business_process_monitoring", "webservice_messages": "integration_monitoring",
            "response_time_analysis": "real_user_monitoring"}
KIND_OF = {"business_objects": "business_objects", "webservice_messages": "webservice_messages",
           "response_time_analysis": "response_time_analysis"}

# Codes of SAP's standard table with their own rules: southern and half-hour zones, no DST, fixed offsets.
GOOD_CODES = ["NZST", "NZCHA", "HAW", "NFDL", "AUSLHI", "NEPAL", "IRAN", "AFGHAN", "RUS09", "ALAW", "CSTNO", "MSTNO",
              "CHILE", "PIERRE", "AZOREN", "WDFT", "UK", "UTC+3", "UTC-12", "UTC+14"]
# Not in the table as mapped (SAP's description would be needed, or customer-defined): never guessed.
UNKNOWN_CODES = ["MARS", "UTC+53", "ESTNO"]


def history_key(source, entry):
    if source == "business_objects":
        return entry["object_id"], int(entry["change_ms"]) * 1_000_000
    if source == "webservice_messages":
        return entry["message_id"], int(entry["last_change_unix_nano"])
    return entry["step_id"], int(entry["timestamp_ms"]) * 1_000_000


def quarantine_reason(source, entry):
    """The reason the daemon must quarantine this record state for, or None when it must deliver it."""
    if entry.get("malformed") == "no_key":
        return "missing_key"
    if entry.get("malformed") == "bad_time":
        return "invalid_time"
    if source == "response_time_analysis" and entry.get("timezone") in UNKNOWN_CODES:
        return "unknown_timezone"
    return None


class QuarantineTest(DaemonTestCase):
    sim_args = ("--objects", "10", "--messages", "10", "--rta-rows", "20")

    def expected(self):
        """Per source: the states to deliver, and the count of states to quarantine per reason."""
        deliver, quarantine = {}, {}
        for source in SOURCES:
            deliver[source] = set()
            quarantine[source] = {}
            for entry in self.sim.history(KIND_OF[source]):
                reason = quarantine_reason(source, entry)
                if reason:
                    quarantine[source][reason] = quarantine[source].get(reason, 0) + 1
                else:
                    deliver[source].add(history_key(source, entry))
        return deliver, quarantine

    def delivered(self, source):
        return {(r["object_id"], int(r["time_unix_nano"])) for r in self.sim.received(USE_CASE[source])}

    def quarantined_metric(self, values, source, reason=None):
        labels = {"source": source}
        if reason:
            labels["reason"] = reason
        return metric(values, "c4c_alm_collector_source_records_quarantined_total", **labels) or 0

    def wait_settled(self, what):
        """Every good state at the sink and every bad one counted."""
        def settled():
            deliver, quarantine = self.expected()
            values = self._try_metrics()
            return values and all(deliver[s] <= self.delivered(s) for s in SOURCES) and all(
                self.quarantined_metric(values, s) == sum(quarantine[s].values()) for s in SOURCES)
        wait_until(settled, 60, message=what)

    def test_bad_records_are_quarantined_once_and_every_feed_moves_on(self):
        for code in GOOD_CODES + UNKNOWN_CODES:
            self.sim.change(kind="response_time_analysis", add=1, timezone=code)
        self.sim.change(kind="response_time_analysis", add=1, malformed="bad_time")
        self.sim.change(kind="business_objects", collection="LeadCollection", count=0, add=1, malformed="no_key")
        self.sim.change(kind="business_objects", collection="OpportunityCollection", count=0, add=1,
                        malformed="bad_time")
        self.sim.change(kind="webservice_messages", count=0, add=1, malformed="no_key")
        self.sim.change(kind="webservice_messages", count=0, add=1, malformed="bad_time")

        # A wide overlap: every poll reads the bad records again.
        daemon = self.daemon(sources=SOURCES, page_size=7, extra_source='  overlap = "1h"')
        daemon.start()
        self.wait_settled("the good records at the sink, the bad ones counted")
        values = self.metrics()
        _, quarantine = self.expected()
        self.assertEqual(quarantine["response_time_analysis"], {"unknown_timezone": 3, "invalid_time": 1})
        for source in SOURCES:
            for reason, count in quarantine[source].items():
                self.assertEqual(self.quarantined_metric(values, source, reason), count, (source, reason))
            self.assertEqual(metric(values, "c4c_alm_collector_source_up", source=source), 1, source)
            self.assertEqual(metric(values, "c4c_alm_collector_source_errors_total", source=source, reason="parse"), 0)

        # Every code of SAP's table in the test converts to the row's true instant (the simulator shows each row
        # in its zone with the system tz database).
        rta = {entry["step_id"]: entry for entry in self.sim.history("response_time_analysis")}
        received = {r["object_id"]: int(r["time_unix_nano"]) for r in self.sim.received("real_user_monitoring")}
        for step_id, entry in rta.items():
            if entry.get("timezone") in GOOD_CODES:
                self.assertEqual(received.get(step_id), int(entry["timestamp_ms"]) * 1_000_000, entry["timezone"])

        # The feeds move on, and a record read again is neither counted nor logged again.
        self.sim.change()
        self.wait_settled("a change after the bad records")
        polls = metric(self.metrics(), "c4c_alm_collector_source_records_total")
        wait_until(lambda: metric(self.metrics(), "c4c_alm_collector_source_records_total") > polls, 15,
                   message="more polls over the bad records")
        time.sleep(2)
        values = self.metrics()
        _, quarantine = self.expected()
        for source in SOURCES:
            self.assertEqual(self.quarantined_metric(values, source), sum(quarantine[source].values()), source)
        log = daemon.logs()
        lines = [line for line in log.splitlines() if " quarantined (" in line]
        self.assertEqual(len(lines), sum(sum(q.values()) for q in quarantine.values()), "\n".join(lines))
        self.assertEqual(sum("unknown SAP time zone 'MARS'" in line for line in lines), 1)
        for source in SOURCES:
            for reason, count in quarantine[source].items():
                self.assertEqual(sum(f"source {source}: " in line and f"quarantined ({reason})" in line
                                     for line in lines), count, (source, reason))
        self.assertTrue(any("record without key of LeadCollection quarantined (missing_key): LeadCollection: "
                            "row ID '" in line for line in lines), "\n".join(lines))
        # User IDs are pseudonymized in events and never logged.
        users = {entry["user"] for entry in rta.values()}
        for user in users:
            self.assertNotIn(user, log)

        # A page that is not JSON at all is an error of the request (retried), not a quarantine.
        self.sim.fault(target="rta", mode="garbage", count=1)
        self.sim.change(kind="response_time_analysis", add=2)
        self.wait_settled("the rows after a garbage page")
        values = self.metrics()
        self.assertEqual(metric(values, "c4c_alm_collector_source_errors_total", source="response_time_analysis",
                                reason="parse"), 1)
        self.assertEqual(self.quarantined_metric(values, "response_time_analysis"), 4)
        self.assertEqual(daemon.stop(), 0)
        for source in SOURCES:
            self.assertEqual(self.sim.sink(USE_CASE[source])["duplicates"], 0, source)

        # Kept in the state store as C4C sent them, with the reason, the key when there is one, and the time.
        with sqlite3.connect(os.path.join(self.state_dir, "state.db")) as db:
            rows = db.execute("SELECT tenant, source, feed, object_key, reason, detail, raw, first_seen "
                              "FROM quarantine ORDER BY id").fetchall()
        db.close()
        self.assertEqual(len(rows), sum(sum(q.values()) for q in quarantine.values()))
        by_reason = {}
        for tenant, source, feed, key, reason, detail, raw, first_seen in rows:
            self.assertEqual(tenant, "acme-prod")
            self.assertGreater(first_seen, (time.time() - 600) * 1000)
            by_reason.setdefault((source, reason), []).append((feed, key, detail, raw))
        mars = [r for r in by_reason[("response_time_analysis", "unknown_timezone")] if "MARS" in r[3]]
        self.assertEqual(len(mars), 1)
        feed, key, detail, raw = mars[0]
        self.assertEqual(feed, "rta")
        row = json.loads(raw)
        self.assertTrue(row["CTIMESTAMP"].endswith(" MARS"))
        self.assertEqual(key, row["CSTEP_ID"])
        self.assertIn(row["CUSER"], users)  # the raw text as sent, for a later retry
        feed, key, detail, raw = [r for r in by_reason[("business_objects", "missing_key")] if r[0] == "LeadCollection"][0]
        self.assertEqual(key, "")
        self.assertNotIn('"ObjectID"', raw)
        self.assertIn("has no ObjectID", detail)
        self.assertIn("/Date(not a time)/", by_reason[("business_objects", "invalid_time")][0][3])
        feed, key, detail, raw = by_reason[("webservice_messages", "invalid_time")][0]
        self.assertEqual(feed, "messages")
        self.assertTrue(raw.startswith("<BusinessDocumentMessage>") and raw.endswith("</BusinessDocumentMessage>"))
        self.assertIn("<LastChangeDateTime>not a time</LastChangeDateTime>", raw)
        self.assertIn(key, raw)


if __name__ == "__main__":
    unittest.main()
