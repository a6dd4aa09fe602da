"""`backfill` (CONTRACT.md section 1) through the real binaries: a window already delivered is read from the
simulator again and every record state in it arrives at the sink again with its event.id, while the
sources' checkpoints stay and their polls go on; a `kill -9` of the daemon in the middle of a slow
backfill, then a restart: the job resumes from its cursor and completes; without a daemon the job waits
for one; usage errors exit 2."""

import json
import os
import pty
import select
import sqlite3
import subprocess
import time
import urllib.parse

from harness import BIN, DaemonTestCase, delivered_states, existing_states, wait_until

TENANT = "acme-prod"
USE_CASES = {"business_objects": "business_process_monitoring",
             "webservice_messages": "integration_monitoring",
             "response_time_analysis": "real_user_monitoring"}
COMMAND_SECONDS = 10  # without a terminal the command returns at once
SOURCE_DIR = os.environ.get("C4C_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "../.."))
COMPLETION = os.path.join(SOURCE_DIR, "conf/bash-completion/c4c-alm-collector")


def iso_ms(ms):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"


def command(daemon, *args, timeout=60):
    started = time.monotonic()
    done = subprocess.run([BIN, *args, "--config", daemon.config], capture_output=True, text=True, timeout=timeout)
    return done.returncode, done.stdout, done.stderr, time.monotonic() - started


class BackfillTestCase(DaemonTestCase):
    def store(self):
        return sqlite3.connect(f"file:{os.path.join(self.state_dir, 'state.db')}?mode=ro", uri=True)

    def checkpoints(self):
        with self.store() as db:
            return dict(db.execute("SELECT feed, value FROM checkpoints").fetchall())

    def job(self, job_id):
        with self.store() as db:
            row = db.execute("SELECT state, progress, result FROM jobs WHERE id = ?", (job_id,)).fetchone()
        self.assertIsNotNone(row, f"job {job_id}")
        return {"state": row[0], "progress": json.loads(row[1] or "{}"), "result": json.loads(row[2] or "{}")}

    def counts(self, source):
        """event.id -> (how often the sink received it, its time in ns)."""
        return {r["event_id"]: (r["count"], int(r["time_unix_nano"])) for r in self.sim.received(USE_CASES[source])}

    @staticmethod
    def window_of(counts, lower=0.25, upper=0.75):
        """A window [from, to) in whole ms over the middle of the received records' times."""
        times = sorted(t for _, t in counts.values())
        return times[int(len(times) * lower)] // 1_000_000, times[int(len(times) * upper)] // 1_000_000

    @staticmethod
    def inside(counts, window):
        start, end = window
        return {event_id for event_id, (_, t) in counts.items() if start * 1_000_000 <= t < end * 1_000_000}

    def backfill(self, daemon, source, window, *extra):
        code, out, err, elapsed = command(daemon, "backfill", "--tenant", TENANT, "--source", source, "--from",
                                          iso_ms(window[0]), "--to", iso_ms(window[1]), "--json", *extra)
        self.assertEqual(code, 0, err)
        self.assertLess(elapsed, COMMAND_SECONDS)
        answer = json.loads(out)
        self.assertEqual(answer["source"], source)
        self.assertEqual(answer["from"], iso_ms(window[0]))
        return answer, err

    def wait_again(self, source, ids, times=2, timeout=120):
        """Waits until the sink received every id in `ids` at least `times` times."""
        def missing():
            counts = self.counts(source)
            return [i for i in ids if counts.get(i, (0, 0))[0] < times]
        wait_until(lambda: not missing(), timeout, interval=0.5,
                   message=f"every {source} state of the window delivered again")


class BackfillTest(BackfillTestCase):
    sim_args = ("--objects", "25", "--messages", "60", "--rta-rows", "80")

    def test_a_delivered_window_arrives_again_checkpoints_stay_polls_go_on(self):
        sources = tuple(USE_CASES)
        daemon = self.daemon(sources=sources, interval="1s", page_size=7)
        daemon.start()
        wait_until(lambda: delivered_states(self.sim) == existing_states(self.sim), 60,
                   message="every business-object state delivered")
        for source, kind in (("webservice_messages", "webservice_messages"),
                             ("response_time_analysis", "response_time_analysis")):
            wait_until(lambda: len(self.counts(source)) >= len(self.sim.history(kind)), 60,
                       message=f"every {source} record delivered")
        before = {source: self.counts(source) for source in sources}
        for source in sources:
            self.assertTrue(all(count == 1 for count, _ in before[source].values()), source)
        checkpoints = self.checkpoints()

        # One backfill per source, all three at once, each over the middle half of what was delivered.
        windows = {source: self.window_of(before[source]) for source in sources}
        jobs = {}
        for source in sources:
            answer, err = self.backfill(daemon, source, windows[source])
            self.assertTrue(answer["daemon_running"])
            self.assertEqual(err, "")
            jobs[source] = answer["job"]
        for source in sources:
            again = self.inside(before[source], windows[source])
            self.assertGreater(len(again), 5, source)
            self.wait_again(source, again)
            wait_until(lambda: self.job(jobs[source])["state"] == "done", 30, message=f"job of {source} done")

        for source in sources:
            with self.subTest(source=source):
                after = self.counts(source)
                again = self.inside(before[source], windows[source])
                # Every state inside the window again, with the same event.id; nothing outside it.
                for event_id, (count, _) in before[source].items():
                    self.assertEqual(after[event_id][0], 2 if event_id in again else 1, event_id)
                self.assertEqual(set(after), set(before[source]))
                job = self.job(jobs[source])
                self.assertEqual(job["result"]["queued"], len(again))
                self.assertGreaterEqual(job["progress"]["read"], len(again))

        # The checkpoints are the sources' own: no feed appeared, business objects and RTA stand where
        # they stood (nothing changed at the tenant), web-service messages only moved on with their polls.
        now = self.checkpoints()
        self.assertEqual(set(now), set(checkpoints))
        for feed, value in checkpoints.items():
            if "/webservice_messages/" in feed:
                self.assertGreaterEqual(now[feed], value)
            else:
                self.assertEqual(now[feed], value, feed)

        # Regular polls go on: a change at the tenant is delivered once.
        self.sim.change(kind="business_objects", count=3, add=1)
        wait_until(lambda: delivered_states(self.sim) == existing_states(self.sim), 60,
                   message="the changed states delivered")
        self.assertEqual(self.sim.sink(USE_CASES["business_objects"])["duplicates"],
                         len(self.inside(before["business_objects"], windows["business_objects"])))

        # On a terminal the command follows the job to its end with a progress line.
        small = self.window_of(before["business_objects"], 0.1, 0.2)
        primary, secondary = pty.openpty()
        process = subprocess.Popen([BIN, "backfill", "--config", daemon.config, "--tenant", TENANT, "--source",
                                    "business_objects", "--from", iso_ms(small[0]), "--to", iso_ms(small[1])],
                                   stdout=secondary, stderr=subprocess.PIPE, text=True)
        os.close(secondary)
        output = b""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            ready, _, _ = select.select([primary], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(primary, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                output += chunk
            elif process.poll() is not None:
                break
        os.close(primary)
        self.assertEqual(process.wait(30), 0, process.stderr.read())
        text = output.decode(errors="replace")
        self.assertIn("backfill job", text)
        self.assertIn("delivered", text)
        self.assertRegex(text, r"\] read \d+  queued (\d+)  delivered \1  done")
        self.wait_again("business_objects", self.inside(before["business_objects"], small))


class BackfillKillTest(BackfillTestCase):
    sim_args = ("--objects", "25")

    def test_kill_9_in_the_middle_then_the_job_resumes_from_its_cursor_and_completes(self):
        daemon = self.daemon(sources=("business_objects",), interval="1s", page_size=5)
        daemon.start()
        wait_until(lambda: delivered_states(self.sim) == existing_states(self.sim), 60,
                   message="every business-object state delivered")
        before = self.counts("business_objects")
        times = sorted(t for _, t in before.values())
        window = (times[0] // 1_000_000, times[-1] // 1_000_000 + 1)
        # Slow answers: each page of 5 rows takes about a second.
        self.sim.fault(target="odata", mode="trickle", trickle_bytes=600, trickle_delay_ms=100, count=-1)
        answer, _ = self.backfill(daemon, "business_objects", window)
        job_id = answer["job"]

        def half_way():
            job = self.job(job_id)
            cursors = job["progress"].get("cursors", {})
            return job["state"] == "running" and cursors.get("SalesOrderCollection") and job
        progress = wait_until(half_way, 120, interval=0.2, message="the backfill half-way")
        daemon.process.kill()
        daemon.process.wait()
        daemon.close()
        job = self.job(job_id)
        self.assertEqual(job["state"], "running")
        self.assertTrue(progress["progress"]["cursors"]["OpportunityCollection"])
        requests_before = len(self.sim.get("/_sim/requests")["requests"])

        daemon.start()
        wait_until(lambda: self.job(job_id)["state"] == "done", 240, interval=0.5, message="the resumed job done")
        self.wait_again("business_objects", set(before))

        # Resumed: after the restart no collection the job had begun was read from the window's start again.
        start = "ge%20datetimeoffset%27" + urllib.parse.quote(iso_ms(window[0]), safe="")
        after = self.sim.get("/_sim/requests")["requests"][requests_before:]
        for collection in progress["progress"]["cursors"]:
            restarted = [r["target"] for r in after if f"/{collection}?" in r["target"] and start in r["target"]]
            self.assertEqual(restarted, [], collection)
        self.assertIn("resuming the window", daemon.logs())


class BackfillWithoutDaemonTest(BackfillTestCase):
    sim_args = ("--objects", "10")

    def test_the_job_waits_for_the_daemon_and_usage_errors_exit_2(self):
        daemon = self.daemon(sources=("business_objects",), interval="1s")
        code, _, err = daemon.run("--once")
        self.assertEqual(code, 0, err)
        before = self.counts("business_objects")
        window = self.window_of(before, 0.0, 0.5)

        for args, message in (
                (("--from", "2026-12-01T14:00:00Z", "--to", "2026-12-01T13:00:00Z"), "is not before --to"),
                (("--from", "yesterday", "--to", "2026-12-01T13:00:00Z"), "is not an ISO 8601 instant"),
                (("--from", "2026-12-01T13:00:00Z"), "backfill needs --to"),
                (("--from", "2200-01-01T00:00:00Z", "--to", "2200-01-02T00:00:00Z"), "is in the future"),
                (("--tenant", "nobody", "--from", "2026-12-01T13:00:00Z", "--to", "2026-12-01T14:00:00Z"),
                 "has no tenant 'nobody'"),
                (("--source", "response_time_analysis", "--from", "2026-12-01T13:00:00Z", "--to",
                  "2026-12-01T14:00:00Z"), "has no enabled source 'response_time_analysis'")):
            with self.subTest(args=args):
                full = ["--tenant", TENANT, "--source", "business_objects", *args]
                # The later --tenant/--source win, as with any repeated option.
                code, out, err, _ = command(daemon, "backfill", *full)
                self.assertEqual(code, 2, err)
                self.assertIn(message, err)
                self.assertEqual(len(err.strip().splitlines()), 1, err)
                self.assertEqual(out, "")

        answer, err = self.backfill(daemon, "business_objects", window)
        self.assertFalse(answer["daemon_running"])
        self.assertIn("no daemon is running", err)
        self.assertIn(f"job {answer['job']} waits", err)
        self.assertEqual(self.job(answer["job"])["state"], "pending")

        daemon.start()
        wait_until(lambda: self.job(answer["job"])["state"] == "done", 60, message="the waiting job done")
        self.wait_again("business_objects", self.inside(before, window))

    def test_bash_completion_of_backfill(self):
        daemon = self.daemon(sources=("business_objects",))

        def complete(*words):
            quoted = " ".join(f"'{word}'" for word in (BIN, *words))
            script = (f"source '{COMPLETION}'; COMP_WORDS=({quoted}); COMP_CWORD={len(words)}; "
                      "_c4c_alm_collector; echo \"${COMPREPLY[*]}\"")
            return subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=30).stdout.split()
        self.assertIn("backfill", complete("b"))
        self.assertEqual(complete("backfill", "--d"), ["--detach"])
        self.assertEqual(complete("backfill", "--config", daemon.config, "--tenant", ""), [TENANT])
        self.assertEqual(complete("backfill", "--tenant", TENANT, "--source", "w"), ["webservice_messages"])
        self.assertEqual(complete("backfill", "--tenant", TENANT, "--s"), ["--source"])
