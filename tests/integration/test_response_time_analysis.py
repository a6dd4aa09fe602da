"""Response Time Analysis -> Real User Monitoring, and Health Monitoring metrics, through the real binary."""

import base64
import json
import time
import unittest

from harness import C4C_PASSWORD, C4C_USER, DaemonTestCase, expected_event_id, http, metric, pseudonym, wait_until

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


class OrderAndCountTest(DaemonTestCase):
    sim_args = ("--rta-rows", "120")

    def rta_requests(self):
        return self.sim.get("/_sim/requests?prefix=/sap/c4c/odata/analytics/")["requests"]

    def test_without_orderby_the_simulator_changes_the_row_order_between_requests(self):
        # The daemon's test below means something only if the fake does what analytics services may do.
        path = ("/sap/c4c/odata/analytics/ds/RTA_DS.svc/RTA_DS?$format=json&$select=CSTEP_ID&$top=20"
                "&$filter=CTIMESTAMP%20ge%20%2701.01.2020%2000:00:00%20UTC%27")
        auth = {"Authorization": "Basic " + base64.b64encode(f"{C4C_USER}:{C4C_PASSWORD}".encode()).decode()}

        def ids(query):
            status, body = http("GET", self.sim.url + path + query, headers=auth)
            self.assertEqual(status, 200, body)
            return [row["CSTEP_ID"] for row in json.loads(body)["d"]["results"]]

        self.assertNotEqual(ids(""), ids(""))
        ordered = ids("&$orderby=CTIMESTAMP%20asc")
        self.assertEqual(ordered, ids("&$orderby=CTIMESTAMP%20asc"))
        stamps = {r["step_id"]: r["timestamp_ms"] for r in self.sim.history("response_time_analysis")}
        self.assertEqual([stamps[i] for i in ordered], sorted(stamps[i] for i in ordered))

    def test_one_poll_pages_over_ctimestamp_order_and_reads_every_row(self):
        daemon = self.daemon(sources=("response_time_analysis",), page_size=7)
        code, _, _ = daemon.run("--once")
        self.assertEqual(code, 0)
        requests = self.rta_requests()
        self.assertGreaterEqual(len(requests), 120 // 7)
        for request in requests:
            self.assertIn("$orderby=CTIMESTAMP%20asc", request["target"])
        # One walk with $skip over 18 pages: any page in another order would have skipped rows.
        self.assertEqual(delivered(self.sim), existing(self.sim))
        self.assertEqual(self.sim.sink(USE_CASE)["duplicates"], 0)

    def test_a_walk_short_of_count_keeps_the_checkpoint_and_the_missing_rows_come_next(self):
        # Every answer of the first poll leaves out the two oldest rows while __count still counts them.
        self.sim.fault(target="rta", mode="missing_rows", missing_rows=2, count=-1)
        daemon = self.daemon(sources=("response_time_analysis",), page_size=50)
        code, _, _ = daemon.run("--once")
        self.assertEqual(code, 0)
        oldest = sorted(existing(self.sim), key=lambda state: state[1])[:2]
        self.assertEqual(delivered(self.sim), existing(self.sim) - set(oldest))
        self.assertIn("promised 120 rows (__count) but the walk read 118", daemon.logs())

        self.sim.clear_faults()
        self.sim.change(kind="response_time_analysis", add=3)  # a later poll also moves on
        code, _, _ = daemon.run("--once")
        self.assertEqual(code, 0)
        self.assertEqual(delivered(self.sim), existing(self.sim))
        self.assertEqual(self.sim.sink(USE_CASE)["duplicates"], 0)


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
