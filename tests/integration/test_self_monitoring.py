"""The self-monitoring server (/metrics, /healthz, /readyz) under hostile clients, through the real binary:
slowloris clients, oversized headers, a few thousand connections at once, and the default bind address.

While the hostile clients are connected a fresh client must still get /healthz within a bounded time,
and the daemon must stay within its connection bound (512) in open file descriptors."""

import os
import re
import resource
import socket
import time
import unittest
import urllib.request

from harness import BIN, DaemonTestCase, wait_until
from hostile import open_fds, sanitized

MAX_CONNECTIONS = 512          # infra/http/server.hpp ServerOptions::max_connections
FD_MARGIN = 64                 # sqlite, log, listening socket, clients to the simulator, ...
READ_TIMEOUT_SECONDS = 10      # ServerOptions::read_timeout: a request must arrive within it
HEALTHZ_MAX_SECONDS = 5.0 if sanitized(BIN) else 2.5
SOURCE_DIR = os.environ.get("C4C_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "../.."))


def healthz_latency(port, timeout=10):
    """Seconds a fresh client waits for 200 from /healthz (raises on failure)."""
    started = time.monotonic()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=timeout) as response:
        response.read()
        assert response.status == 200, response.status
    return time.monotonic() - started


def connect_many(port, count, first_bytes=b""):
    sockets = []
    for _ in range(count):
        s = socket.socket()
        s.settimeout(5)
        try:
            s.connect(("127.0.0.1", port))
            if first_bytes:
                s.sendall(first_bytes)
        except OSError:
            s.close()
            continue
        sockets.append(s)
    return sockets


def closed_by_peer(s):
    """True when the server has closed this connection (EOF or reset), without waiting."""
    s.setblocking(False)
    try:
        data = s.recv(65536)
        return data == b"" or closed_by_peer(s)
    except BlockingIOError:
        return False
    except OSError:
        return True
    finally:
        s.setblocking(True)


def close_all(sockets):
    for s in sockets:
        try:
            s.close()
        except OSError:
            pass


def listening_addresses(pid):
    """The local addresses of the process's listening TCP sockets, as (ip, port)."""
    inodes = set()
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return []
    for fd in fds:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if match := re.match(r"socket:\[(\d+)\]", target):
            inodes.add(match.group(1))
    found = []
    for table, width in (("tcp", 8), ("tcp6", 32)):
        try:
            with open(f"/proc/{pid}/net/{table}") as f:
                lines = f.readlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state != "0A" or inode not in inodes:
                continue
            address, port = local.split(":")
            raw = bytes.fromhex(address)
            if width == 8:
                ip = socket.inet_ntop(socket.AF_INET, raw[::-1])
            else:
                ip = socket.inet_ntop(socket.AF_INET6, b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4)))
            found.append((ip, int(port, 16)))
    return found


class SelfMonitoringServerTest(DaemonTestCase):
    sim_args = ("--objects", "5")

    def setUp(self):
        super().setUp()
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < 4096 and hard > soft:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))
        self.fd_budget = resource.getrlimit(resource.RLIMIT_NOFILE)[0] - 100
        self.held = []
        self.daemon_ = self.daemon(interval="2s")
        self.daemon_.start()
        self.wait_metrics()
        self.pid = self.daemon_.process.pid
        self.baseline_fds = open_fds(self.pid)

    def tearDown(self):
        close_all(self.held)
        super().tearDown()

    def assert_within_bound(self):
        fds = open_fds(self.pid)
        self.assertLessEqual(fds, self.baseline_fds + MAX_CONNECTIONS + FD_MARGIN,
                             f"{fds} open descriptors (baseline {self.baseline_fds})")
        return fds

    def test_slowloris_clients_are_closed_and_healthz_keeps_answering(self):
        count = min(400, self.fd_budget)
        # Each client starts a request and never finishes its headers, adding a byte now and then.
        self.held = connect_many(self.listen_port, count, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: a")
        self.assertGreater(len(self.held), count * 9 // 10)
        started = time.monotonic()
        latencies = []
        while time.monotonic() - started < 4:
            for s in self.held[:50]:
                try:
                    s.send(b"a")
                except OSError:
                    pass
            latencies.append(healthz_latency(self.listen_port))
            self.assert_within_bound()
            time.sleep(0.5)
        self.assertLess(max(latencies), HEALTHZ_MAX_SECONDS, latencies)
        # The request deadline closes every one of them, dripping or not.
        wait_until(lambda: all(closed_by_peer(s) for s in self.held), READ_TIMEOUT_SECONDS + 20, interval=0.5,
                   message="the server to close every slowloris connection")
        close_all(self.held)
        wait_until(lambda: open_fds(self.pid) <= self.baseline_fds + 4, 15, message="descriptors back to the baseline")
        self.assertLess(healthz_latency(self.listen_port), HEALTHZ_MAX_SECONDS)

    def test_oversized_headers_are_refused_and_the_connection_closed(self):
        clients = []
        for _ in range(50):
            s = socket.create_connection(("127.0.0.1", self.listen_port), timeout=10)
            clients.append(s)
            self.held.append(s)
            try:
                s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * (256 << 10) + b"\r\n\r\n")
            except OSError:
                pass  # the server may close before taking it all; the answer below still counts
        answered = 0
        for s in clients:
            data = b""
            try:
                while chunk := s.recv(65536):
                    data += chunk
            except OSError:
                pass
            if data:
                self.assertTrue(data.startswith(b"HTTP/1.1 431"), data[:80])
                answered += 1
        self.assertGreater(answered, 0)  # a 431 before the close (others may see only the close)
        self.assertLess(healthz_latency(self.listen_port), HEALTHZ_MAX_SECONDS)
        self.assertEqual(self.daemon_.process.poll(), None)

    def test_thousands_of_connections_stay_bounded_and_a_fresh_client_is_served(self):
        count = min(3000, self.fd_budget)
        self.held = connect_many(self.listen_port, count)
        self.assertGreater(len(self.held), count * 9 // 10)
        # Half of them also start a request they never finish.
        for s in self.held[::2]:
            try:
                s.send(b"GET /metrics HTTP/1.1\r\n")
            except OSError:
                pass
        latencies = []
        for _ in range(10):
            latencies.append(healthz_latency(self.listen_port))
            fds = self.assert_within_bound()
            time.sleep(0.2)
        print(f"\n  {len(self.held)} connections held: /healthz max {max(latencies) * 1000:.0f} ms, "
              f"daemon fds {fds} (baseline {self.baseline_fds})", end=" ", flush=True)
        self.assertLess(max(latencies), HEALTHZ_MAX_SECONDS, latencies)
        close_all(self.held)
        self.held = []
        wait_until(lambda: open_fds(self.pid) <= self.baseline_fds + 4, READ_TIMEOUT_SECONDS + 20,
                   message="descriptors back to the baseline")
        self.assertEqual(self.daemon_.stop(), 0)


class DefaultListenAddressTest(DaemonTestCase):
    def test_the_default_is_loopback_in_the_code_and_the_reference_config(self):
        with open(os.path.join(SOURCE_DIR, "conf/c4c-alm-collector.toml")) as f:
            reference = f.read()
        self.assertRegex(reference, r'(?m)^#?\s*listen = "127\.0\.0\.1:9479"')
        self.assertNotRegex(reference, r'(?m)^#?\s*listen = "(0\.0\.0\.0|\[::\]|\*):')

        # Without [http] listen the daemon binds 127.0.0.1:9479 (or fails to, naming that address when
        # another process holds the port).
        daemon = self.daemon(listen="REMOVED")
        with open(daemon.config) as f:
            text = f.read()
        daemon.write_config(text.replace('listen = "REMOVED"', ""))
        process = daemon.start()
        try:
            found = wait_until(lambda: (process.poll() is not None and "exited") or
                               ("9479" in daemon.logs() and listening_addresses(process.pid)), 20,
                               message="the daemon to listen or exit")
            if found == "exited":
                self.assertIn('"127.0.0.1:9479"', daemon.logs())
            else:
                self.assertEqual(found, [("127.0.0.1", 9479)])
        finally:
            daemon.stop()


if __name__ == "__main__":
    unittest.main()
