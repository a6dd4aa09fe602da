"""Response Time Analysis -> Real User Monitoring, and Health Monitoring metrics, through the real binary."""

import json
import time
import unittest

from harness import DaemonTestCase, expected_event_id, metric, pseudonym, wait_until

USE_CASE = "real_user_monitoring"


def existing(sim):
    return {(r["step_id"], int(r["timestamp_ms"]) * 1_000_000) for r in sim.history("response_time_analysis")}


def delivered(sim):
    return {(r["object_id"], int(r["time_unix_nano"])) for r in sim.received(USE_CASE)}


class ResponseTimeAnalysisTest(DaemonTestCase):
    sim_args = ("--rta-rows", "80", "--rta-timezone", "AUSNSW")

    def test_every_row_arrives_once_with_its_utc_time_and_no_clear_user(self):
        daemon = self.daemon(sources=("response_time_analysis",), page_size=25)
        daemon.start()
        wait_until(lambda: existing(self.sim) <= delivered(self.sim), 30, message="every RTA row at the sink")
        sink = self.sim.sink(USE_CASE)
        self.assertEqual(sink["duplicates"], 0)
        self.assertEqual(sink["unique"], len(existing(self.sim)))
        users = {r["user"] for r in self.sim.history("response_time_analysis")}
        for record in self.sim.received(USE_CASE):
            text = json.dumps(record)
            for user in users:
                self.assertNotIn(user, text)
            self.assertIn("sap.c4c.rta.response_time_ms", record["attributes"])
        self.assertEqual(daemon.stop(), 0)
        # event.id by the documented formula, from the simulator's rows and the installation's key: the
        # record key is the UTC second, the pseudonym, the UI component and the step id.
        expected = set()
        for row in self.sim.history("response_time_analysis"):
            seconds = int(row["timestamp_ms"]) // 1000
            user = pseudonym(self.state_dir, row["user"]) if row["user"] else ""  # an empty user stays empty
            key = "\x1f".join([str(seconds), user, row["ui_component"], row["step_id"]])
            expected.add(expected_event_id("acme-prod", "response_time_analysis", "ResponseTimeAnalysis", key,
                                           seconds * 1_000_000_000))
        self.assertEqual({r["event_id"] for r in self.sim.received(USE_CASE)}, expected)


class HealthMonitoringTest(DaemonTestCase):
    sim_args = ("--objects", "5")

    def test_health_endpoint_receives_metrics_and_an_outage_shows_as_availability_0(self):
        daemon = self.daemon(endpoints={"health_monitoring": '  url = "{}/api/calm-metrics/v1/metrics"\n'
                                        '  interval = "1s"'.format(self.sim.url)})
        daemon.start()
        wait_until(lambda: self.sim.stats().get("metrics_posts", 0) >= 2, 30, message="health pushes")
        bodies = self.sim.get("/_sim/metrics_received")["bodies"]
        names = {m["name"] for body in bodies for rm in body["resourceMetrics"] for sm in rm["scopeMetrics"]
                 for m in sm["metrics"]}
        self.assertIn("c4c.source.availability", names)
        self.assertIn("c4c.source.records", names)

        self.sim.fault(target="odata", mode="status", status=500, count=-1)

        def availability_zero():
            for body in self.sim.get("/_sim/metrics_received")["bodies"][-3:]:
                for rm in body["resourceMetrics"]:
                    for sm in rm["scopeMetrics"]:
                        for m in sm["metrics"]:
                            if m["name"] == "c4c.source.availability":
                                for point in m["gauge"]["dataPoints"]:
                                    if point.get("asDouble", point.get("asInt")) in (0, "0", 0.0):
                                        return True
            return False

        wait_until(availability_zero, 30, message="availability 0 pushed to Health Monitoring")
        values = self.metrics()
        self.assertEqual(metric(values, "c4c_alm_collector_source_up", source="business_objects"), 0)
        self.assertGreater(metric(values, "c4c_alm_collector_source_errors_total", source="business_objects",
                                  reason="http_500"), 0)
        self.assertEqual(daemon.stop(), 0)


if __name__ == "__main__":
    unittest.main()
