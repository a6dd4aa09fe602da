"""A tenant whose clock disagrees with the host's (CONTRACT.md sections 3 and 6), through the real binary.

The simulator's tenant stamps every record and its `Date` header from a clock moved by an offset. With the
tenant 15 minutes behind or ahead, every record state created after the first poll must reach Cloud ALM on
all three feeds, and the daemon must export the skew and warn about it once."""

import time
import unittest

from harness import DaemonTestCase, metric, wait_until
from test_webservice_messages import iso_to_ns

SOURCES = ("business_objects", "webservice_messages", "response_time_analysis")
USE_CASES = {"business_objects": "business_process_monitoring",
             "webservice_messages": "integration_monitoring",
             "response_time_analysis": "real_user_monitoring"}
SKEW = "c4c_alm_collector_tenant_clock_skew_seconds"


def states(sim, kind):
    """Every state each record of `kind` has had: (object id, record time in ms)."""
    if kind == "business_objects":
        return {(r["object_id"], int(r["change_ms"])) for r in sim.history(kind)}
    if kind == "webservice_messages":
        return {(r["message_id"], iso_to_ns(r["last_change"]) // 1_000_000) for r in sim.history(kind)}
    return {(r["step_id"], int(r["timestamp_ms"])) for r in sim.history(kind)}


def delivered(sim, kind):
    return {(r["object_id"], int(r["time_unix_nano"]) // 1_000_000) for r in sim.received(USE_CASES[kind])}


class ClockSkewTestCase(DaemonTestCase):
    sim_args = ("--objects", "8", "--messages", "20", "--rta-rows", "20")

    def start_daemon(self):
        daemon = self.daemon(sources=SOURCES, interval="500ms", page_size=7)
        daemon.start()
        # The first poll of every source is done once each has succeeded and its initial records are in.
        wait_until(lambda: (v := self.wait_metrics()) and all(
            (metric(v, "c4c_alm_collector_source_last_success_timestamp_seconds", source=s) or 0) > 0
            for s in SOURCES), 30, message="a first successful poll of every source")
        return daemon

    def change_everything(self, messages_changed=2):
        self.sim.change(kind="business_objects", count=2, add=1)
        self.sim.change(kind="webservice_messages", count=messages_changed, add=3)
        self.sim.change(kind="response_time_analysis", add=4)

    def assert_changes_arrive(self, before):
        """Every state created since `before` (kind -> states) reaches the sink, none twice."""
        for kind in SOURCES:
            new = states(self.sim, kind) - before[kind]
            self.assertTrue(new, kind)
            wait_until(lambda: new <= delivered(self.sim, kind), 30,
                       message=f"every {kind} state changed after the first poll at the sink")
        for kind in SOURCES:
            self.assertEqual(self.sim.sink(USE_CASES[kind])["duplicates"], 0, kind)

    def run_skewed(self, offset_s):
        self.sim.post("/_sim/clock", {"offset_s": offset_s})
        daemon = self.start_daemon()
        # Every state the tenant held at the start arrives too (its lookback windows hold them all).
        for kind in ("business_objects", "webservice_messages"):
            wait_until(lambda: states(self.sim, kind) <= delivered(self.sim, kind), 30,
                       message=f"every initial {kind} state at the sink")

        # Two rounds of changes, each stamped on the tenant's clock, polls in between.
        before = {kind: states(self.sim, kind) for kind in SOURCES}
        self.change_everything()
        time.sleep(1.5)
        self.change_everything()
        self.assert_changes_arrive(before)

        values = self.metrics()
        skew = metric(values, SKEW, tenant="acme-prod")
        self.assertIsNotNone(skew)
        self.assertAlmostEqual(skew, offset_s, delta=3)
        warnings = [line for line in daemon.logs().splitlines()
                    if "its clock is" in line and ("behind" if offset_s < 0 else "ahead of") in line]
        self.assertEqual(len(warnings), 1, warnings)
        self.assertIn("acme-prod", warnings[0])
        self.assertEqual(daemon.stop(), 0)


class TenantBehindTest(ClockSkewTestCase):
    sim_args = ClockSkewTestCase.sim_args + ("--clock-offset", "-15m")

    def test_nothing_changed_after_the_first_poll_is_lost_with_the_tenant_15_minutes_behind(self):
        self.assertEqual(self.sim.get("/_sim/clock")["offset_ms"], -900_000)
        self.run_skewed(-900)


class TenantAheadTest(ClockSkewTestCase):
    sim_args = ClockSkewTestCase.sim_args + ("--clock-offset", "15m")

    def test_nothing_changed_after_the_first_poll_is_lost_with_the_tenant_15_minutes_ahead(self):
        self.run_skewed(900)


class TenantClockStepsTest(ClockSkewTestCase):
    def test_a_tenant_clock_that_steps_back_15_minutes_while_polled_loses_nothing(self):
        daemon = self.start_daemon()
        values = self.metrics()
        self.assertAlmostEqual(metric(values, SKEW, tenant="acme-prod"), 0, delta=2)
        time.sleep(1)

        self.sim.post("/_sim/clock", {"offset_s": -900})
        before = {kind: states(self.sim, kind) for kind in SOURCES}
        # Only new messages: a message changed again gets a time after its last one, which the tenant's
        # clock, now behind, has not reached yet.
        self.change_everything(messages_changed=0)
        time.sleep(1.5)
        self.change_everything(messages_changed=0)
        self.assert_changes_arrive(before)
        wait_until(lambda: abs((metric(self.metrics(), SKEW, tenant="acme-prod") or 0) + 900) < 3, 10,
                   message="the new skew in the metrics")
        self.assertEqual(daemon.stop(), 0)


class NoDateHeaderTest(ClockSkewTestCase):
    sim_args = ClockSkewTestCase.sim_args + ("--clock-offset", "-15m")

    def test_without_a_date_header_the_newest_change_time_bounds_the_query(self):
        self.sim.post("/_sim/clock", {"date_header": False})
        daemon = self.start_daemon()
        before = {kind: states(self.sim, kind) for kind in SOURCES}
        self.change_everything()
        time.sleep(1.5)
        self.change_everything()
        self.assert_changes_arrive(before)
        values = self.metrics()
        self.assertEqual(metric(values, SKEW, tenant="acme-prod"), 0)  # nothing to tell it by
        self.assertEqual(daemon.stop(), 0)


if __name__ == "__main__":
    unittest.main()
