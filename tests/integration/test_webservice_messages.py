"""Web-service messages (SOAP) -> Integration and Exception Monitoring, through the real binary."""

import calendar
import re
import unittest

from harness import DaemonTestCase, expected_event_id, metric, wait_until

USE_CASE = "integration_monitoring"


def iso_to_ns(text):
    match = re.match(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d+))?Z$", text)
    assert match, text
    seconds = calendar.timegm(tuple(int(match.group(i)) for i in range(1, 7)) + (0, 0, 0))
    fraction = (match.group(7) or "0").ljust(9, "0")[:9]
    return seconds * 1_000_000_000 + int(fraction)


def existing(sim):
    return {(m["message_id"], iso_to_ns(m["last_change"])) for m in sim.history("webservice_messages")}


def delivered(sim):
    return {(r["object_id"], int(r["time_unix_nano"])) for r in sim.received(USE_CASE)}


class WebserviceMessagesTest(DaemonTestCase):
    sim_args = ("--messages", "60")

    def test_all_messages_arrive_once_and_a_changed_status_is_a_new_event(self):
        daemon = self.daemon(sources=("webservice_messages",), page_size=7)
        daemon.start()
        wait_until(lambda: existing(self.sim) <= delivered(self.sim), 30, message="every message at the sink")
        sink = self.sim.sink(USE_CASE)
        self.assertEqual(sink["duplicates"], 0)
        self.assertEqual(sink["unique"], len(existing(self.sim)))

        records = self.sim.received(USE_CASE)
        failed = [r for r in records if r["attributes"].get("sap.c4c.message.status_code") == "4"]
        self.assertTrue(failed, "the simulator has failed messages")
        for record in failed:
            self.assertEqual(record["severity_text"], "ERROR")
        self.assertTrue(all(r["attributes"]["sap.c4c.source"] == "webservice_messages" for r in records))
        # event.id by the documented formula, from the simulator's own message states.
        expected = {expected_event_id("acme-prod", "webservice_messages", "BusinessDocumentMessage", m["message_id"],
                                      int(m["last_change_unix_nano"])) for m in self.sim.history("webservice_messages")}
        self.assertEqual({r["event_id"] for r in records}, expected)

        before = sink["unique"]
        self.sim.change(kind="webservice_messages", count=2, add=3)
        wait_until(lambda: existing(self.sim) <= delivered(self.sim), 30, message="changed messages")
        # More polls re-read the overlap window (the simulator's default SOAP path).
        self.wait_polls_delivered(USE_CASE, "/sap/bc/srt/scs/sap/querybusinessdocumentmessagemoni")
        sink = self.sim.sink(USE_CASE)
        self.assertEqual(sink["unique"], before + 5)
        self.assertEqual(sink["duplicates"], 0)
        values = self.metrics()
        self.assertGreater(metric(values, "c4c_alm_collector_source_failed_messages_total"), 0)
        self.assertEqual(daemon.stop(), 0)

    def test_broken_xml_is_counted_retried_and_loses_nothing(self):
        self.sim.fault(target="soap", mode="broken_xml", count=2)
        daemon = self.daemon(sources=("webservice_messages",), page_size=10)
        daemon.start()
        wait_until(lambda: existing(self.sim) <= delivered(self.sim), 45, message="every message after broken pages")
        values = self.metrics()
        self.assertGreaterEqual(metric(values, "c4c_alm_collector_source_errors_total", source="webservice_messages",
                                       reason="parse"), 2)
        self.assertEqual(self.sim.sink(USE_CASE)["duplicates"], 0)
        self.assertEqual(daemon.stop(), 0)

    def test_a_soap_fault_marks_the_source_down_with_its_text(self):
        self.sim.fault(target="soap", mode="soap_fault", count=-1)
        daemon = self.daemon(sources=("webservice_messages",))
        daemon.start()
        # The simulator's faultstring (tests/fakes/faults.cpp), as the operator has to see it.
        wait_until(lambda: "Simulated fault: web service temporarily unavailable (SRT_CORE 004)" in daemon.logs(), 20,
                   message="the SOAP fault's text in the log")
        values = wait_until(lambda: (v := self.metrics()) and metric(
            v, "c4c_alm_collector_source_up", source="webservice_messages") == 0 and v, 20, message="source down")
        self.assertIsNotNone(values)
        self.sim.clear_faults()
        wait_until(lambda: existing(self.sim) <= delivered(self.sim), 45, message="recovery")
        self.assertEqual(daemon.stop(), 0)


if __name__ == "__main__":
    unittest.main()
