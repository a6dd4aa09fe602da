"""Business objects -> Business Process Monitoring, end to end through the real binary."""

import os
import signal
import unittest

from harness import (COLLECTIONS, DaemonTestCase, delivered_states, existing_states, expected_event_id, metric,
                     wait_until)

USE_CASE = "business_process_monitoring"
ODATA_PATHS = [f"/sap/c4c/odata/v1/c4codataapi/{collection}?" for collection in COLLECTIONS]


class BusinessObjectsTest(DaemonTestCase):
    sim_args = ("--objects", "25", "--same-instant", "7")

    def wait_all_delivered(self, timeout=30):
        return wait_until(lambda: existing_states(self.sim) <= delivered_states(self.sim), timeout,
                          message="every business object state at the sink")

    def test_every_record_arrives_exactly_once_and_changes_follow(self):
        daemon = self.daemon(page_size=10)
        daemon.start()
        self.wait_all_delivered()
        sink = self.sim.sink(USE_CASE)
        self.assertEqual(sink["duplicates"], 0)
        self.assertEqual(sink["unique"], len(existing_states(self.sim)))
        self.assertEqual(delivered_states(self.sim), existing_states(self.sim))

        # Changed and new records arrive with the next polls; nothing old is sent again.
        before = sink["unique"]
        self.sim.change(kind="business_objects", count=3, add=2)
        self.wait_all_delivered()
        self.wait_polls_delivered(USE_CASE, *ODATA_PATHS)  # more polls re-read the overlap window
        sink = self.sim.sink(USE_CASE)
        self.assertEqual(sink["unique"], before + 4 * 5)
        self.assertEqual(sink["duplicates"], 0)

        values = self.metrics()
        self.assertEqual(metric(values, "c4c_alm_collector_source_up", tenant="acme-prod", source="business_objects"), 1)
        self.assertGreaterEqual(metric(values, "c4c_alm_collector_source_records_total", source="business_objects"),
                                sink["unique"])
        self.assertEqual(metric(values, "c4c_alm_collector_endpoint_events_sent_total", endpoint=USE_CASE), sink["unique"])
        self.assertEqual(metric(values, "c4c_alm_collector_outbox_events", endpoint=USE_CASE), 0)
        self.assertEqual(daemon.stop(), 0)

    def test_event_shape_matches_the_contract(self):
        daemon = self.daemon()
        daemon.start()
        self.wait_all_delivered()
        daemon.stop()
        records = self.sim.received(USE_CASE)
        self.assertTrue(records)
        for record in records:
            attributes = record["attributes"]
            self.assertEqual(attributes["sap.c4c.source"], "business_objects")
            self.assertIn(attributes["sap.c4c.object_type"], COLLECTIONS)
            self.assertTrue(attributes["sap.c4c.object_id"])
            self.assertEqual(record["severity_text"], "INFO")
            self.assertTrue(record["body"])
        # event.id from the simulator's own states, by the documented formula: a change to it (or to how
        # a field is rendered) would re-send the overlap window after an upgrade.
        expected = {expected_event_id("acme-prod", "business_objects", r["collection"], r["object_id"],
                                      int(r["change_ms"]) * 1_000_000) for r in self.sim.history("business_objects")}
        self.assertEqual({r["event_id"] for r in records}, expected)

    def test_restart_resumes_from_the_checkpoint_without_resending(self):
        daemon = self.daemon()
        daemon.start()
        self.wait_all_delivered()
        self.assertEqual(daemon.stop(), 0)
        first = self.sim.sink(USE_CASE)
        self.sim.change(kind="business_objects", collection="LeadCollection", count=2, add=1)
        daemon.start()
        self.wait_all_delivered()
        self.wait_polls_delivered(USE_CASE, *ODATA_PATHS)  # more polls re-read the overlap window
        sink = self.sim.sink(USE_CASE)
        self.assertEqual(sink["unique"], first["unique"] + 3)
        self.assertEqual(sink["duplicates"], 0)
        daemon.stop()


class SinkOutageTest(DaemonTestCase):
    sim_args = ("--objects", "40")

    def test_a_503_outage_loses_nothing(self):
        self.sim.fault(target="logs", mode="status", status=503, retry_after="1", count=-1)
        daemon = self.daemon()
        daemon.start()
        values = wait_until(lambda: (v := self.wait_metrics()) and
                            (metric(v, "c4c_alm_collector_outbox_events", endpoint=USE_CASE) or 0) >= 160 and v,
                            30, message="the outbox to fill while the sink is down")
        self.assertGreater(metric(values, "c4c_alm_collector_endpoint_send_failures_total", endpoint=USE_CASE), 0)
        self.assertEqual(self.sim.sink(USE_CASE)["unique"], 0)
        self.sim.clear_faults()
        wait_until(lambda: existing_states(self.sim) <= delivered_states(self.sim), 30,
                   message="delivery after the outage")
        self.assertEqual(self.sim.sink(USE_CASE)["duplicates"], 0)
        self.assertEqual(daemon.stop(), 0)


class KillDuringDeliveryTest(DaemonTestCase):
    sim_args = ("--objects", "2500")

    def test_kill_9_during_delivery_loses_nothing(self):
        daemon = self.daemon(extra_endpoint="  max_batch_events = 200")
        total = len(existing_states(self.sim))
        for round_ in range(3):
            daemon.start()
            wait_until(lambda: self.sim.sink(USE_CASE)["unique"] > round_ * total // 4 or
                       self.sim.sink(USE_CASE)["unique"] >= total, 60, message="some deliveries")
            daemon.kill()
        daemon.start()
        wait_until(lambda: existing_states(self.sim) <= delivered_states(self.sim), 90,
                   message="every state after kill -9 and restart")
        self.assertEqual(daemon.stop(), 0)


if __name__ == "__main__":
    unittest.main()
