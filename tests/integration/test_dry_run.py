"""`--once --dry-run` writes nothing, and the state directory the daemon creates is private (mode 0700),
through the real binary against the simulator, with Response Time Analysis (whose pseudonymization key
lives in the state directory) enabled."""

import json
import os
import stat
import unittest

from harness import DaemonTestCase, pseudonym

SOURCES = ("response_time_analysis", "business_objects", "webservice_messages")
RTA_USE_CASE = "real_user_monitoring"


def snapshot(directory):
    """Every entry below `directory` (itself included) with its type, mode, size and modification time."""
    entries = {}
    for root, dirs, files in os.walk(directory):
        for name in [".", *dirs, *files]:
            path = os.path.normpath(os.path.join(root, name))
            st = os.lstat(path)
            entries[os.path.relpath(path, directory)] = (stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode),
                                                         st.st_size, st.st_mtime_ns)
    return entries


def rta_users(lines):
    """The sap.c4c.rta.user values of the dry run's RTA events."""
    users = []
    for line in lines:
        record = json.loads(line)
        if record["resource"]["sap.calm.use_case"] != RTA_USE_CASE:
            continue
        for attribute in record["attributes"]:
            if attribute["key"] == "sap.c4c.rta.user":
                users.append(attribute["value"]["stringValue"])
    return users


class DryRunTest(DaemonTestCase):
    sim_args = ("--objects", "10", "--messages", "10", "--rta-rows", "20")

    def setUp(self):
        super().setUp()
        self.old_umask = os.umask(0o022)  # a usual interactive umask: what the daemon must not rely on

    def tearDown(self):
        os.umask(self.old_umask)
        super().tearDown()

    def workdir_without_log(self):
        return {path: entry for path, entry in snapshot(self.workdir).items() if path != "daemon.log"}

    def clear_users(self):
        return {r["user"] for r in self.sim.history("response_time_analysis") if r["user"]}

    def test_a_dry_run_with_rta_creates_no_state_directory_and_no_key(self):
        daemon = self.daemon(sources=SOURCES)
        open(daemon.log_path, "a").close()  # the harness's log, there before the run like the config
        before = self.workdir_without_log()
        code, out, err = daemon.run("--once", "--dry-run")
        self.assertEqual(code, 0, err[-3000:])
        self.assertFalse(os.path.exists(self.state_dir))
        self.assertEqual(self.workdir_without_log(), before)  # not a file anywhere, not even beside the config

        # The events were printed, RTA users pseudonymized with a key that lived in memory only, and the
        # log says so.
        users = rta_users(out.splitlines())
        self.assertTrue(users)
        clear = self.clear_users()
        for user in users:
            self.assertRegex(user, r"^u_[0-9a-f]{32}$")
            self.assertNotIn(user, clear)
        self.assertIn("dry run: no pseudonymization key", err)
        self.assertIn("temporary key held in memory for this run only", err)
        self.assertEqual(self.sim.stats()["sink"].get(RTA_USE_CASE, {}).get("requests", 0), 0)

    def test_a_dry_run_changes_nothing_in_an_existing_state_directory_and_uses_its_key(self):
        daemon = self.daemon(sources=SOURCES)
        code, _, err = daemon.run("--once")
        self.assertEqual(code, 0, err[-3000:])
        self.assertTrue(os.path.exists(os.path.join(self.state_dir, "pseudonymization.key")))
        # New records since the normal run, so that the dry run has something to print.
        self.sim.change(kind="response_time_analysis", add=5)
        before = snapshot(self.state_dir)
        code, out, err = daemon.run("--once", "--dry-run")
        self.assertEqual(code, 0, err[-3000:])
        self.assertEqual(snapshot(self.state_dir), before)
        self.assertNotIn("temporary key", err)
        # The stored key gives the pseudonyms a normal run sends.
        expected = {pseudonym(self.state_dir, user) for user in self.clear_users()}
        users = rta_users(out.splitlines())
        self.assertTrue(users)
        self.assertLessEqual(set(users), expected)

    def test_a_dry_run_after_a_feed_was_added_runs_it_without_registering_anything(self):
        daemon = self.daemon(sources=("business_objects",))
        code, _, err = daemon.run("--once")
        self.assertEqual(code, 0, err[-3000:])
        before = snapshot(self.state_dir)
        # The state store knows no RTA or web-service endpoint yet: a dry run reads it and registers nothing.
        code, out, err = self.daemon(sources=SOURCES).run("--once", "--dry-run")
        self.assertEqual(code, 0, err[-3000:])
        self.assertEqual(snapshot(self.state_dir), before)
        self.assertTrue(rta_users(out.splitlines()), "the added RTA feed printed its events")

    def test_a_normal_run_creates_the_state_directory_with_mode_0700(self):
        parent = os.path.join(self.workdir, "var", "lib")
        self.state_dir = os.path.join(parent, "c4c-alm-collector")
        daemon = self.daemon(sources=SOURCES)
        code, _, err = daemon.run("--once")
        self.assertEqual(code, 0, err[-3000:])
        self.assertEqual(stat.S_IMODE(os.stat(self.state_dir).st_mode), 0o700)
        self.assertEqual(stat.S_IMODE(os.stat(parent).st_mode), 0o755)  # parents as the umask says
        key = os.path.join(self.state_dir, "pseudonymization.key")
        self.assertEqual(stat.S_IMODE(os.stat(key).st_mode), 0o600)
        self.assertNotIn("other users can read", err)

    def test_an_existing_world_readable_state_directory_is_left_alone_with_a_warning(self):
        os.makedirs(self.state_dir)
        os.chmod(self.state_dir, 0o755)
        daemon = self.daemon(sources=("business_objects",))
        code, _, err = daemon.run("--once")
        self.assertEqual(code, 0, err[-3000:])
        self.assertEqual(stat.S_IMODE(os.stat(self.state_dir).st_mode), 0o755)
        self.assertIn(f"state_dir {self.state_dir} has mode 0755: other users can read", err)


if __name__ == "__main__":
    unittest.main()
