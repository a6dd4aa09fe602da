"""Hostile peers, through the real binary: a C4C tenant or a Cloud ALM endpoint that never answers, trickles,
sends 2 GiB, breaks chunked encoding, closes mid-response, presents a bad TLS certificate, or redirects to
another host.

Each case checks that the daemon fails the exchange within its `timeout` (2 s here), counts it under a
sensible reason, stays responsive on /healthz throughout (polled every 200 ms, bounded latency), keeps its
memory small, sends nothing where it must not (TLS refused, redirect not followed with credentials), and
that nothing is lost: once the peer behaves again (it turns into a transparent proxy to the simulator, or
the daemon is pointed at the real sink with SIGHUP) every record state arrives, exactly once."""

import shutil
import signal
import socket
import tempfile
import threading
import time
import unittest
import urllib.request

from harness import BIN, C4C_PASSWORD, C4C_USER, Daemon, DaemonTestCase, metric, wait_until
from hostile import HostilePeer, make_certificates, process_status, sanitized, server_context

USE_CASE = "business_process_monitoring"
TENANT = "acme-prod"
SANITIZED = sanitized(BIN)
HEALTHZ_MAX_SECONDS = 5.0 if SANITIZED else 2.5  # worst /healthz latency tolerated on a loaded 2-core machine
# The client caps a body at 64 MiB; 2 GiB must never be buffered (ASan keeps freed memory in quarantine).
PEAK_RSS_LIMIT_KIB = (1024 if SANITIZED else 320) << 10
SENT_LIMIT_BYTES = 256 << 20    # what a 2 GiB peer may push before the daemon hangs up


def delivered_states(sim):
    return {(r["object_type"], r["object_id"], int(r["time_unix_nano"]) // 1_000_000) for r in sim.received(USE_CASE)}


def existing_states(sim):
    return {(r["collection"], r["object_id"], int(r["change_ms"])) for r in sim.history("business_objects")}


def loopback_other_host():
    """127.0.0.2 when it can be bound (Linux routes all of 127/8 to lo): another host for redirects;
    None where it cannot (another port on 127.0.0.1 would be the same host, not what the case checks)."""
    try:
        with socket.socket() as s:
            s.bind(("127.0.0.2", 0))
        return "127.0.0.2"
    except OSError:
        return None


def config_text(state_dir, listen, *, c4c_url, sink_url, c4c_ca="", sink_ca="", sink_auth="none"):
    sink_auth_lines = ['  auth = "basic"', '  user = "alm-user"', '  password = "alm-secret"'] \
        if sink_auth == "basic" else ['  auth = "none"']
    lines = [f'state_dir = "{state_dir}"', 'shutdown_timeout = "5s"', "",
             "[http]", f'listen = "{listen}"', "", "[log]", 'level = "info"', "",
             "[[tenants]]", f'name = "{TENANT}"', "",
             "  [tenants.c4c]", f'  url = "{c4c_url}"', f'  user = "{C4C_USER}"', f'  password = "{C4C_PASSWORD}"',
             '  timeout = "2s"', f'  ca_file = "{c4c_ca}"' if c4c_ca else "", "",
             "  [tenants.sources.business_objects]", '  interval = "1s"', "",
             f"  [tenants.endpoints.{USE_CASE}]", f'  url = "{sink_url}/api/calm-logs/v1/logs?useCase=BPM"',
             *sink_auth_lines, '  timeout = "2s"', f'  ca_file = "{sink_ca}"' if sink_ca else "", ""]
    return "\n".join(lines) + "\n"


class HealthProbe(threading.Thread):
    """Polls /healthz on a fresh connection every 200 ms and keeps every latency and failure."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.url = f"http://127.0.0.1:{port}/healthz"
        self.latencies = []
        self.failures = []
        self._done = threading.Event()
        self.start()

    def run(self):
        while not self._done.is_set():
            started = time.monotonic()
            try:
                with urllib.request.urlopen(self.url, timeout=10) as response:
                    response.read()
                    if response.status != 200:
                        self.failures.append(f"HTTP {response.status}")
            except OSError as e:
                self.failures.append(repr(e))
            self.latencies.append(time.monotonic() - started)
            self._done.wait(0.2)

    def finish(self):
        self._done.set()
        self.join(15)
        return self


class HostileTestCase(DaemonTestCase):
    sim_args = ("--objects", "5")
    certificates = None

    @classmethod
    def setUpClass(cls):
        cls.cert_dir = tempfile.mkdtemp(prefix="c4c-certs-")
        cls.certificates = make_certificates(cls.cert_dir)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.cert_dir, ignore_errors=True)

    def setUp(self):
        super().setUp()
        self.peers = []
        self.probe = None
        self.sim_address = ("127.0.0.1", int(self.sim.url.rsplit(":", 1)[1]))

    def tearDown(self):
        if self.probe:
            self.probe.finish()
        for peer in self.peers:
            peer.close()
        super().tearDown()

    def peer(self, mode, **kwargs):
        peer = HostilePeer(mode, upstream=self.sim_address, **kwargs)
        self.peers.append(peer)
        return peer

    def start_daemon(self, text):
        daemon = Daemon(self.workdir, text)
        self.daemons.append(daemon)
        daemon.start()
        self.wait_metrics()
        self.probe = HealthProbe(self.listen_port)
        return daemon

    def listen(self):
        return f"127.0.0.1:{self.listen_port}"

    def wait_count(self, name, reason, at_least=2, timeout=45, **labels):
        return wait_until(lambda: (v := self._try_metrics()) and
                          (metric(v, name, tenant=TENANT, reason=reason, **labels) or 0) >= at_least and v,
                          timeout, interval=0.2, message=f"{at_least} x {name}{{reason={reason}}}")

    def assert_responsive(self):
        wait_until(lambda: len(self.probe.latencies) >= 5, 15, message="five /healthz probes")
        probe = self.probe.finish()
        self.probe = None
        self.assertFalse(probe.failures, "/healthz failed during the hostile phase")
        self.assertLess(max(probe.latencies), HEALTHZ_MAX_SECONDS,
                        f"/healthz latency during the hostile phase: max {max(probe.latencies):.3f} s")

    def assert_all_delivered_once(self, timeout=45):
        wait_until(lambda: existing_states(self.sim) <= delivered_states(self.sim), timeout,
                   message="every business object state at the sink")
        sink = self.sim.sink(USE_CASE)
        self.assertEqual(sink["duplicates"], 0)
        self.assertEqual(sink["unique"], len(existing_states(self.sim)))

    def assert_memory_small(self, daemon):
        status = process_status(daemon.process.pid)
        sent = max(self.peers[0].bytes_sent or [0]) if self.peers else 0
        print(f"\n  {self.id().rsplit('.', 1)[-1]}: peak RSS {status['VmHWM'] / 1024:.0f} MiB, "
              f"RSS {status['VmRSS'] / 1024:.0f} MiB, most the peer pushed on one connection {sent / 2**20:.1f} MiB",
              end=" ", flush=True)
        self.assertLess(status["VmHWM"], PEAK_RSS_LIMIT_KIB,
                        f"peak RSS {status['VmHWM'] / 1024:.0f} MiB: the daemon buffered the hostile body")


class SharedHostileCases:
    """The cases both sides face alike. A side defines run_case(), assert_target_untouched() (the real
    peer behind the hostile one was never reached), redirect_path (where a redirect points on another
    host) and redirect_recovery (run_case options for getting back to the real peer)."""

    def test_one_byte_per_second(self):
        peer, _ = self.run_case("trickle", "timeout")
        # Each exchange was abandoned at its 2 s deadline, long before the ~120 s the answer takes.
        # The peer notices a closed connection at its next byte (within 2 s): the recovery may be quicker.
        wait_until(lambda: len(peer.bytes_sent) >= len([r for r in peer.requests if r["mode"] == "trickle"]), 10,
                   message="the peer saw every trickled connection closed")
        self.assertTrue(peer.bytes_sent)
        self.assertLessEqual(max(peer.bytes_sent), 6)

    def test_announced_2_gib_body(self):
        peer, _ = self.run_case("huge_length", "body_too_large")
        self.assertLess(max(peer.bytes_sent), SENT_LIMIT_BYTES)

    def test_streamed_2_gib_chunked_body(self):
        peer, _ = self.run_case("huge_chunked", "body_too_large")
        self.assertLess(max(peer.bytes_sent), SENT_LIMIT_BYTES)

    def test_invalid_chunked_encoding(self):
        self.run_case("bad_chunked", "protocol")

    def tls_case(self, certificate, log_text):
        def nothing_sent(peer, daemon):
            self.assertTrue(peer.tls_failures)
            self.assertEqual(peer.proxied_bytes, 0)
            self.assert_target_untouched()
            self.assertIn(log_text, daemon.logs())
        self.run_case("proxy", "tls", tls=server_context(self.certificates[certificate]),
                      ca=self.certificates["ca"], after=nothing_sent)

    def test_expired_certificate(self):
        self.tls_case("expired", "certificate has expired")

    def test_certificate_for_another_host(self):
        self.tls_case("wrong_host", "does not match the host name")

    def redirect_case(self, status):
        host = loopback_other_host()
        if host is None:
            self.skipTest("127.0.0.2 cannot be bound here: no other host to redirect to")
        other = HostilePeer("ok", host=host)
        self.peers.append(other)

        def not_followed(peer, daemon):
            self.assertEqual(other.requests, [], "the redirect was followed")
            self.assertEqual(other.connections, 0)
            # Both sides authenticate with Basic here; the credentials went only to the configured host.
            self.assertTrue(all(r["headers"].get("authorization", "").startswith("Basic ") for r in peer.requests))
        self.run_case("redirect", f"http_{status}", redirect_status=status, after=not_followed,
                      redirect_to=other.url + self.redirect_path, **self.redirect_recovery)

    def test_302_to_another_host(self):
        self.redirect_case(302)

    def test_307_to_another_host(self):
        self.redirect_case(307)


class HostileC4cTest(SharedHostileCases, HostileTestCase):
    """The C4C tenant is hostile; the Cloud ALM sink is the simulator."""

    redirect_path = "/sap/c4c/odata/v1/c4codataapi/OpportunityCollection?$format=json"
    redirect_recovery = {}

    def assert_target_untouched(self):
        self.assertEqual(self.sim.stats()["c4c_requests"]["odata"], 0)

    def run_case(self, mode, reason, *, tls=None, ca="", after=None, **peer_options):
        peer = self.peer(mode, tls=tls, **peer_options)
        daemon = self.start_daemon(config_text(self.state_dir, self.listen(), c4c_url=peer.url, sink_url=self.sim.url,
                                               c4c_ca=ca))
        values = self.wait_count("c4c_alm_collector_source_errors_total", reason, source="business_objects")
        self.assertEqual(metric(values, "c4c_alm_collector_source_up", tenant=TENANT, source="business_objects"), 0)
        self.assert_responsive()
        self.assert_memory_small(daemon)
        self.assertEqual(self.sim.sink(USE_CASE)["unique"], 0)
        if after:
            after(peer, daemon)
        # The tenant behaves again: the same daemon, without a restart, collects and delivers everything.
        peer.mode = "proxy"
        if tls is not None:
            peer.tls = server_context(self.certificates["good"])
        self.assert_all_delivered_once()
        wait_until(lambda: metric(self.metrics(), "c4c_alm_collector_source_up", tenant=TENANT,
                                  source="business_objects") == 1, 15, message="source_up back at 1")
        self.assertEqual(daemon.stop(), 0)
        return peer, daemon

    def test_never_answers(self):
        peer, _ = self.run_case("silent", "timeout")
        self.assertTrue(any(r["mode"] == "silent" for r in peer.requests))

    def test_closes_mid_response(self):
        self.run_case("close_mid", "closed")


class HostileCloudAlmTest(SharedHostileCases, HostileTestCase):
    """The Cloud ALM endpoint is hostile; C4C is the simulator. Events wait in the outbox meanwhile."""

    redirect_path = "/api/calm-logs/v1/logs?useCase=BPM"
    redirect_recovery = {"recover": "sighup"}

    def assert_target_untouched(self):
        self.assertEqual(self.sim.stats().get("sink", {}), {})

    def run_case(self, mode, reason, *, tls=None, ca="", after=None, recover="proxy", **peer_options):
        peer = self.peer(mode, tls=tls, **peer_options)
        daemon = self.start_daemon(config_text(self.state_dir, self.listen(), c4c_url=self.sim.url, sink_url=peer.url,
                                               sink_ca=ca, sink_auth="basic"))
        self.wait_count("c4c_alm_collector_endpoint_send_failures_total", reason, endpoint=USE_CASE)
        total = len(existing_states(self.sim))
        wait_until(lambda: metric(self.metrics(), "c4c_alm_collector_outbox_events", tenant=TENANT,
                                  endpoint=USE_CASE) == total, 15, message="every event waiting in the outbox")
        self.assert_responsive()
        self.assert_memory_small(daemon)
        self.assertEqual(self.sim.sink(USE_CASE)["unique"], 0)
        if after:
            after(peer, daemon)
        if recover == "proxy":
            # The endpoint behaves again: the same connection target now reaches the real sink.
            peer.mode = "proxy"
            if tls is not None:
                peer.tls = server_context(self.certificates["good"])
        else:
            # The operator points the daemon at the real sink.
            daemon.write_config(config_text(self.state_dir, self.listen(), c4c_url=self.sim.url,
                                            sink_url=self.sim.url, sink_auth="basic"))
            daemon.signal(signal.SIGHUP)
        self.assert_all_delivered_once()
        wait_until(lambda: metric(self.metrics(), "c4c_alm_collector_outbox_events", tenant=TENANT,
                                  endpoint=USE_CASE) == 0, 15, message="an empty outbox")
        self.assertEqual(daemon.stop(), 0)
        return peer, daemon

    def test_never_answers(self):
        peer, _ = self.run_case("silent", "timeout")
        self.assertTrue(any(r["method"] == "POST" for r in peer.requests))

    def test_closes_mid_response(self):
        self.run_case("close_mid", "closed", recover="sighup")


if __name__ == "__main__":
    unittest.main()
