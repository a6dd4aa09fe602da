"""Running under systemd: sd_notify (READY, RELOADING, STOPPING, WATCHDOG) and the log formats."""

import json
import os
import signal
import socket
import subprocess
import threading
import time
import unittest

from harness import BIN, DaemonTestCase, http, wait_until
from hostile import sanitized


class NotifySocket:
    """What systemd's NOTIFY_SOCKET is: a Unix datagram socket the service writes its state to.
    A thread receives as messages arrive, so their times are the daemon's send times."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.settimeout(0.1)
        self.lock = threading.Lock()
        self.messages = []  # (monotonic time, text)
        self.running = True
        self.thread = threading.Thread(target=self.receive, daemon=True)
        self.thread.start()

    def receive(self):
        while self.running:
            try:
                data = self.sock.recv(4096)
            except (socket.timeout, BlockingIOError):
                continue
            with self.lock:
                self.messages.append((time.monotonic(), data.decode()))

    def drain(self):
        with self.lock:
            return list(self.messages)

    def wait_for(self, text, timeout=30, after=0):
        def seen():
            return [m for m in self.drain()[after:] if text in m[1].split("\n")]
        return wait_until(seen, timeout, message=f"{text} on NOTIFY_SOCKET")[0]

    def close(self):
        self.running = False
        self.thread.join()
        self.sock.close()


class SystemdNotifyTest(DaemonTestCase):
    def test_ready_watchdog_reloading_and_stopping(self):
        notify = NotifySocket(os.path.join(self.workdir, "notify.sock"))
        self.addCleanup(notify.close)
        daemon = self.daemon()
        env = dict(os.environ, NOTIFY_SOCKET=notify.path, WATCHDOG_USEC="1000000")
        log = open(daemon.log_path, "a")
        self.addCleanup(log.close)
        process = subprocess.Popen([BIN, "--config", daemon.config], stdout=subprocess.DEVNULL, stderr=log, env=env)
        daemon.process = process

        notify.wait_for("READY=1")
        # READY=1 comes after the state store is open and the server listens.
        status, body = http("GET", f"http://127.0.0.1:{self.listen_port}/readyz")
        self.assertEqual(status, 200, body)

        # Watchdog pings from the event loop every half period (0.5 s), inside WATCHDOG_USEC (1 s).
        # Counted over the window rather than timed one by one: a receiver thread that runs late on a
        # busy machine bunches the times it sees, not the number of pings.
        window_start = time.monotonic()
        time.sleep(2.5)
        pings = [t for t, m in notify.drain() if "WATCHDOG=1" in m.split("\n") and t >= window_start]
        window = time.monotonic() - window_start
        self.assertGreaterEqual(len(pings), 3, "pings stalled")
        self.assertLessEqual(len(pings), window / 0.5 + 2, f"pinged more often than every half period: {len(pings)}")
        if not sanitized(BIN):  # a sanitizer build on a loaded machine runs late; the count above holds
            gaps = [b - a for a, b in zip(pings, pings[1:])]
            self.assertLess(max(gaps), 1.0, f"a gap beyond WATCHDOG_USEC: {gaps}")

        before = len(notify.drain())
        process.send_signal(signal.SIGHUP)
        reloading = notify.wait_for("RELOADING=1", after=before)
        self.assertRegex(reloading[1], r"MONOTONIC_USEC=\d+")
        index = notify.drain().index(reloading)
        notify.wait_for("READY=1", after=index + 1)

        before = len(notify.drain())
        process.send_signal(signal.SIGTERM)
        notify.wait_for("STOPPING=1", after=before)
        self.assertEqual(process.wait(30), 0)


class LogFormatTest(DaemonTestCase):
    def run_once(self, fmt, env_extra=None):
        daemon = self.daemon()
        with open(daemon.config) as f:
            text = f.read().replace('level = "debug"', f'level = "debug"\nformat = "{fmt}"')
        daemon.write_config(text)
        stderr_path = os.path.join(self.workdir, f"stderr-{fmt}.log")
        with open(stderr_path, "w") as stderr:
            st = os.fstat(stderr.fileno())
            env = dict(os.environ)
            env.pop("JOURNAL_STREAM", None)
            if env_extra:
                env.update({k: v.format(dev=st.st_dev, ino=st.st_ino) for k, v in env_extra.items()})
            done = subprocess.run([BIN, "--config", daemon.config, "--once"], stdout=subprocess.DEVNULL,
                                  stderr=stderr, env=env, timeout=120)
        self.assertEqual(done.returncode, 0)
        with open(stderr_path) as f:
            return [line for line in f.read().splitlines() if line]

    def test_json_lines_for_log_shippers(self):
        lines = self.run_once("json")
        self.assertTrue(lines)
        for line in lines:
            record = json.loads(line)
            self.assertEqual(set(record), {"ts", "level", "msg"})
            self.assertIn(record["level"], ("trace", "debug", "info", "warning", "error", "critical"))

    def test_text_on_a_terminal_carries_timestamps(self):
        lines = self.run_once("text")
        self.assertTrue(lines)
        for line in lines:
            self.assertRegex(line, r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:?\d\d ")

    def test_text_in_the_journal_has_priorities_and_no_duplicate_timestamps(self):
        lines = self.run_once("text", {"JOURNAL_STREAM": "{dev}:{ino}"})
        self.assertTrue(lines)
        for line in lines:
            self.assertRegex(line, r"^<[0-7]>")
            self.assertNotRegex(line, r"^<[0-7]>\d{4}-\d\d-\d\d")

    def test_an_inherited_journal_stream_that_is_not_our_stderr_is_ignored(self):
        lines = self.run_once("text", {"JOURNAL_STREAM": "1:1"})
        self.assertRegex(lines[0], r"^\d{4}-\d\d-\d\dT")


if __name__ == "__main__":
    unittest.main()
