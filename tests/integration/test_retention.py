"""Growth (issue 14, item 8), through the real binary: rejected events and quarantined records are deleted after
the retention (30 days by default, `retention` in the configuration), and the state store's file gives back
the space of a large backlog once it is delivered (incremental vacuum)."""

import json
import os
import sqlite3
import time
import unittest

from harness import DaemonTestCase, faketime_env, faketime_library, metric, wait_until

USE_CASE = "business_process_monitoring"


def table_count(path, table):
    with sqlite3.connect(path) as db:
        count = db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    db.close()
    return count


def query(path, sql):
    """One value, as the file's last commit left it (a reader of a WAL database sees every committed page)."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        value = db.execute(sql).fetchone()[0]
    db.close()
    return value


class RetentionTest(DaemonTestCase):
    sim_args = ("--objects", "10")

    @unittest.skipUnless(faketime_library(), "libfaketime is not installed (Debian package faketime)")
    def test_rejected_and_quarantined_records_go_after_the_retention(self):
        # A record without its key, then changes ten minutes later: the feeds' windows move past it.
        self.sim.change(kind="business_objects", collection="LeadCollection", count=0, add=1, malformed="no_key")
        self.sim.post("/_sim/clock", {"offset_s": 600})
        self.sim.change(kind="business_objects", count=2, add=1)
        daemon = self.daemon(extra_endpoint="  max_batch_events = 5")
        code, out, _ = daemon.run("--once", "--dry-run")
        self.assertEqual(code, 0)
        ids = [next(a["value"]["stringValue"] for a in json.loads(line)["attributes"] if a["key"] == "event.id")
               for line in out.splitlines()]
        poison = ids[len(ids) // 2]
        self.sim.fault(target="logs", reject_event_ids=[poison], count=-1)

        daemon.start()
        wait_until(lambda: self.sim.sink(USE_CASE)["unique"] == len(ids) - 1, 60, message="all but the poison record")
        values = wait_until(lambda: (v := self._try_metrics()) and
                            metric(v, "c4c_alm_collector_endpoint_events_rejected_total", endpoint=USE_CASE) == 1 and v,
                            30, message="the poison record moved aside")
        self.assertEqual(metric(values, "c4c_alm_collector_source_records_quarantined_total", reason="missing_key"), 1)
        self.assertEqual(daemon.stop(), 0)
        path = os.path.join(self.state_dir, "state.db")
        self.assertEqual(table_count(path, "rejected"), 1)
        self.assertEqual(table_count(path, "quarantine"), 1)

        # 31 days later, for the daemon and the tenant: a retention of 40 days keeps both.
        self.sim.clear_faults()
        self.sim.post("/_sim/clock", {"offset_s": 31 * 86400 + 600})
        daemon.write_config(daemon_config := open(daemon.config).read().replace(
            'shutdown_timeout = "5s"', 'shutdown_timeout = "5s"\nretention = "40d"'))
        self.assertIn('retention = "40d"', daemon_config)
        daemon.start(env=faketime_env("+31d"))
        self.wait_metrics()
        time.sleep(1)
        self.assertEqual(daemon.stop(), 0)
        self.assertEqual(table_count(path, "rejected"), 1)
        self.assertEqual(table_count(path, "quarantine"), 1)

        # The default of 30 days: both go at the start, and are logged once.
        daemon.write_config(daemon_config.replace('retention = "40d"\n', ""))
        daemon.start(env=faketime_env("+31d"))
        wait_until(lambda: "deleted 1 rejected event(s) and 1 quarantined record(s) kept longer than the retention "
                   "(30d)" in daemon.logs(), 15, message="the retention's purge")
        self.assertEqual(daemon.stop(), 0)
        self.assertEqual(table_count(path, "rejected"), 0)
        self.assertEqual(table_count(path, "quarantine"), 0)
        self.assertEqual(self.sim.sink(USE_CASE)["duplicates"], 0)


class VacuumTest(DaemonTestCase):
    sim_args = ("--objects", "25000")  # 100,000 records

    def test_the_file_gives_back_the_space_of_a_delivered_backlog(self):
        total = 100_000
        # Cloud ALM is down while the whole tenant is read: a backlog of 100,000 events.
        self.sim.fault(target="logs", mode="status", status=503, count=-1)
        daemon = self.daemon()
        daemon.start()
        wait_until(lambda: (v := self._try_metrics()) and
                   metric(v, "c4c_alm_collector_outbox_events", endpoint=USE_CASE) == total, 120, interval=0.5,
                   message="the backlog in the outbox")
        path = os.path.join(self.state_dir, "state.db")
        page_size = query(path, "PRAGMA page_size")
        backlog_bytes = query(path, "PRAGMA page_count") * page_size
        chunk_bytes = query(path, "SELECT sum(length(data)) FROM outbox_chunks")
        self.assertGreater(chunk_bytes, 8 << 20)

        self.sim.clear_faults()
        wait_until(lambda: self.sim.sink(USE_CASE)["unique"] >= total, 300, interval=1, message="the backlog delivered")
        # The next housekeeping round (every 30 s) gives the backlog's pages back, all but a slack of 4 MiB that
        # new pages reuse (the event ids in `seen` stay: they guard the feeds' re-read windows).
        slack = 4 << 20
        expected = backlog_bytes - chunk_bytes + slack + (1 << 20)
        wait_until(lambda: query(path, "PRAGMA page_count") * page_size <= expected, 90, interval=1,
                   message=f"the file to shrink from {backlog_bytes} bytes to at most {expected}")
        print(f"{backlog_bytes} bytes with the backlog ({chunk_bytes} of events), "
              f"{query(path, 'PRAGMA page_count') * page_size} once delivered")
        self.assertLessEqual(query(path, "PRAGMA freelist_count") * page_size, slack)
        self.assertEqual(daemon.stop(), 0)
        self.assertLessEqual(os.path.getsize(path), expected)  # the WAL checkpointed into the file at the stop
        self.assertEqual(self.sim.sink(USE_CASE)["duplicates"], 0)


if __name__ == "__main__":
    unittest.main()
