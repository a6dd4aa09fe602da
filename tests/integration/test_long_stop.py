"""A long stop (issue 14, item 2), through the real binary: the daemon stopped for days, then started with its
clock and the tenant's both that far ahead (libfaketime for the daemon, the simulator's clock offset for the
tenant). The first polls re-read each feed's window behind its checkpoint; nothing delivered before the stop
may be sent again, however long it was, and nothing changed during it may be lost."""

import os
import sqlite3
import time
import unittest

from harness import DaemonTestCase, faketime_env, faketime_library, metric, wait_until

SOURCES = ("business_objects", "webservice_messages", "response_time_analysis")
USE_CASES = ("business_process_monitoring", "integration_monitoring", "real_user_monitoring")


def existing(sim):
    """Every record state the tenant ever had, per use case, as (object id, time in ns)."""
    return {
        "business_process_monitoring": {(r["object_id"], int(r["change_ms"]) * 1_000_000)
                                        for r in sim.history("business_objects")},
        "integration_monitoring": {(m["message_id"], int(m["last_change_unix_nano"]))
                                   for m in sim.history("webservice_messages")},
        "real_user_monitoring": {(r["step_id"], int(r["timestamp_ms"]) * 1_000_000)
                                 for r in sim.history("response_time_analysis")},
    }


def delivered(sim, use_case):
    return {(r["object_id"], int(r["time_unix_nano"])) for r in sim.received(use_case)}


@unittest.skipUnless(faketime_library(), "libfaketime is not installed (Debian package faketime)")
class LongStopTest(DaemonTestCase):
    sim_args = ("--objects", "25", "--messages", "40", "--rta-rows", "60")

    def wait_all_delivered(self, what):
        def done():
            expected = existing(self.sim)
            return all(expected[use_case] <= delivered(self.sim, use_case) for use_case in USE_CASES)
        wait_until(done, 60, message=what)

    def test_no_record_state_is_sent_twice_after_a_stop_of_five_days(self):
        # A wide overlap: every feed's first polls after the stop re-read an hour of what was delivered.
        daemon = self.daemon(sources=SOURCES, extra_source='  overlap = "1h"')
        daemon.start()
        self.wait_all_delivered("every record state delivered before the stop")
        self.assertEqual(daemon.stop(), 0)
        before = {use_case: self.sim.sink(use_case)["unique"] for use_case in USE_CASES}

        # Five days later: the tenant's clock has moved on, and records changed meanwhile.
        self.sim.post("/_sim/clock", {"offset_s": 5 * 86400})
        self.sim.change()
        daemon.start(env=faketime_env("+5d"))
        self.wait_all_delivered("the changes made during the stop")
        # A few more polls re-read the windows again.
        polls = lambda: metric(self.metrics(), "c4c_alm_collector_source_records_total") or 0
        seen = wait_until(lambda: self._try_metrics() and polls(), 15, message="polls after the restart")
        wait_until(lambda: polls() > seen, 15, message="more polls")
        time.sleep(2)

        for use_case in USE_CASES:
            sink = self.sim.sink(use_case)
            self.assertEqual(sink["duplicates"], 0, f"{use_case}: a record state delivered before the stop came again")
            self.assertGreater(sink["unique"], before[use_case], f"{use_case}: the changes of the stop arrived")
            self.assertEqual(delivered(self.sim, use_case), existing(self.sim)[use_case])
        values = self.metrics()
        for source in SOURCES:
            self.assertEqual(metric(values, "c4c_alm_collector_source_up", source=source), 1, source)
        self.assertEqual(daemon.stop(), 0)

        # The ids of the re-read windows are still known; nothing older than a feed's window was kept for it.
        with sqlite3.connect(os.path.join(self.state_dir, "state.db")) as db:
            rows = db.execute("SELECT feed, checkpoint_ns FROM checkpoints").fetchall()
            self.assertEqual(len(rows), 4 + 1 + 1, rows)  # four collections, messages, rta
            self.assertTrue(all(checkpoint is not None for _, checkpoint in rows), rows)
        db.close()


if __name__ == "__main__":
    unittest.main()
