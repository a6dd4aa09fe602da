"""Runs the real c4c-alm-collector binary against the real simulator (tests/fakes) on 127.0.0.1.

Everything here talks to live processes over real sockets; nothing is mocked."""

import base64
import glob
import hashlib
import hmac
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.request
import zlib

BIN = os.environ.get("C4C_BIN", os.path.join(os.path.dirname(__file__), "../../build/c4c-alm-collector"))
SIM_BIN = os.environ.get("C4C_SIM_BIN", os.path.join(os.path.dirname(__file__), "../../build/tests/c4c-sim"))

C4C_USER = "CRUN_USER"
C4C_PASSWORD = "demo-password"
COLLECTIONS = ["OpportunityCollection", "SalesOrderCollection", "LeadCollection", "ServiceRequestCollection"]



def chunk_events(raw_size, data, fmt=0, idx=None):
    """(event_id, payload bytes) of every event of one outbox_chunks row (infra/outbox_chunks.hpp): format 1
    is the payloads joined by commas as one gzip member plus a deflated index; format 0 (up to schema 5)
    the events packed and deflated."""
    if fmt == 1:
        text = zlib.decompress(data, 31)  # exactly one gzip member
        assert len(text) == raw_size, (len(text), raw_size)
        (index_size,) = struct.unpack_from("<I", idx, 0)
        index = zlib.decompress(idx[4:], -15)
        assert len(index) == index_size
        pos = at = 0
        events = []
        while pos < len(index):
            id_size, payload_size = struct.unpack_from("<II", index, pos)
            events.append((index[pos + 8:pos + 8 + id_size].decode(), text[at:at + payload_size]))
            pos += 8 + id_size
            at += payload_size + 1
        assert at == len(text) + 1
        return events
    raw = zlib.decompress(data, -15)  # raw deflate
    assert len(raw) == raw_size, (len(raw), raw_size)
    pos = 0
    events = []
    while pos < len(raw):
        id_size, payload_size = struct.unpack_from("<II", raw, pos)
        pos += 8
        events.append((raw[pos:pos + id_size].decode(), raw[pos + id_size:pos + id_size + payload_size]))
        pos += id_size + payload_size
    return events

def die_with_parent():
    """preexec_fn: the child is killed when the test runner dies (a timeout, ^C), leaving no orphans."""
    import ctypes
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:", "WARNING: ThreadSanitizer")


def sanitizer_report(text):
    """The part of a process's stderr from the first sanitizer finding on (builds with C4C_SANITIZE)."""
    positions = [text.find(marker) for marker in SANITIZER_MARKERS if marker in text]
    return text[max(0, min(positions) - 200):][:8000] if positions else ""


def faketime_library():
    """libfaketime's multi-threaded variant (Debian package faketime), or None when it is not installed."""
    for pattern in ("/usr/lib/*/faketime/libfaketimeMT.so.1", "/usr/lib/faketime/libfaketimeMT.so.1",
                    "/usr/local/lib/faketime/libfaketimeMT.so.1"):
        found = sorted(glob.glob(pattern))
        if found:
            return found[0]
    return None


def faketime_env(offset):
    """An environment in which a process sees the wall clock moved by `offset` ("+5d", "+31d"), with its
    monotonic clock left alone (timers keep their pace). Loaded directly rather than through the faketime
    wrapper, which forks: a signal to the wrapper would not reach the daemon."""
    env = dict(os.environ, LD_PRELOAD=faketime_library(), FAKETIME=offset, DONT_FAKE_MONOTONIC="1")
    # Under ASan the sanitizer's runtime must come first; libfaketime only wraps clock calls.
    env["ASAN_OPTIONS"] = ":".join(filter(None, [os.environ.get("ASAN_OPTIONS"), "verify_asan_link_order=0"]))
    return env


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout=30.0, interval=0.1, message="condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message} (last: {last!r})")


def http(method, url, body=None, headers=None, timeout=10):
    data = None
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


class Simulator:
    """The fake C4C tenant + Cloud ALM sink, one process."""

    def __init__(self, *args):
        self.process = subprocess.Popen([SIM_BIN, "--listen", "127.0.0.1:0", "--quiet", *args],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                        preexec_fn=die_with_parent)
        line = self.process.stdout.readline().strip()
        if "listening on" not in line:
            self.process.kill()
            raise RuntimeError(f"simulator did not start: {line!r} {self.process.stderr.read()}")
        self.url = line.split("listening on ", 1)[1]

    def get(self, path):
        # Listing tens of thousands of records takes a while in a sanitizer build.
        status, body = http("GET", self.url + path, timeout=120)
        assert status == 200, (path, status, body)
        return json.loads(body)

    def post(self, path, body):
        status, text = http("POST", self.url + path, body, {"Content-Type": "application/json"})
        assert status == 200, (path, status, text)
        return json.loads(text) if text else {}

    def stats(self):
        return self.get("/_sim/stats")

    def sink(self, use_case):
        return self.stats().get("sink", {}).get(use_case, {"records": 0, "unique": 0, "duplicates": 0, "requests": 0})

    def received(self, use_case):
        return self.get(f"/_sim/received?use_case={use_case}")["records"]

    def records(self, kind):
        return self.get(f"/_sim/records?kind={kind}")

    def history(self, kind):
        return self.get(f"/_sim/history?kind={kind}")

    def fault(self, **rule):
        return self.post("/_sim/faults", rule)

    def clear_faults(self):
        status, _ = http("DELETE", self.url + "/_sim/faults")
        assert status == 200

    def change(self, **body):
        return self.post("/_sim/change", body)

    def stop(self):
        """Stops the simulator; returns any sanitizer report it wrote (empty when none)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        report = ""
        if self.process.stderr and not self.process.stderr.closed:
            report = sanitizer_report(self.process.stderr.read())
        for stream in (self.process.stdout, self.process.stderr):
            if stream:
                stream.close()
        return report


def config_text(sim_url, state_dir, listen, *, sources=("business_objects",), interval="1s", page_size=None,
                extra_endpoint="", extra_source="", extra_top="", tenant="acme-prod", c4c_password=C4C_PASSWORD,
                endpoints=None, endpoint_bodies=None, shutdown_timeout="5s"):
    """A configuration for one tenant of the simulator, with the named sources and their endpoints.

    Each source's endpoint posts to the simulator's sink without auth, unless `endpoint_bodies` maps
    its use case to the keys to write instead; `endpoints` adds further endpoint tables."""
    use_case = {"business_objects": "business_process_monitoring",
                "webservice_messages": "integration_monitoring",
                "response_time_analysis": "real_user_monitoring"}
    lines = [f'state_dir = "{state_dir}"', f'shutdown_timeout = "{shutdown_timeout}"', extra_top, "",
             "[http]", f'listen = "{listen}"', "", "[log]", 'level = "debug"', "",
             "[[tenants]]", f'name = "{tenant}"', "", "  [tenants.c4c]", f'  url = "{sim_url}"',
             f'  user = "{C4C_USER}"', f'  password = "{c4c_password}"', '  timeout = "5s"', ""]
    for source in sources:
        lines += [f"  [tenants.sources.{source}]", f'  interval = "{interval}"']
        if page_size:
            lines.append(f"  page_size = {page_size}")
        lines += [extra_source, ""]
    for source in sources:
        lines.append(f"  [tenants.endpoints.{use_case[source]}]")
        body = (endpoint_bodies or {}).get(use_case[source])
        if body is None:
            lines += [f'  url = "{sim_url}/api/calm-logs/v1/logs?useCase={use_case[source]}"', '  auth = "none"']
        else:
            lines.append(body)
        lines += [extra_endpoint, ""]
    for name, body in (endpoints or {}).items():
        lines += [f"  [tenants.endpoints.{name}]", body, ""]
    return "\n".join(lines) + "\n"


class Daemon:
    """One c4c-alm-collector process with its own config file and state directory."""

    def __init__(self, workdir, text):
        self.workdir = workdir
        self.config = os.path.join(workdir, "c4c-alm-collector.toml")
        self.log_path = os.path.join(workdir, "daemon.log")
        self.write_config(text)
        self.process = None
        self.log = None

    def write_config(self, text):
        with open(self.config, "w") as f:
            f.write(text)

    def start(self, *args, env=None):
        self.log = open(self.log_path, "a")
        self.process = subprocess.Popen([BIN, "--config", self.config, *args], stdout=subprocess.PIPE,
                                        stderr=self.log, text=True, preexec_fn=die_with_parent, env=env)
        return self.process

    def run(self, *args, timeout=120, env=None):
        """Runs to completion (--once, --check): returns (exit code, stdout, stderr)."""
        done = subprocess.run([BIN, "--config", self.config, *args], capture_output=True, text=True, timeout=timeout,
                              env=env)
        with open(self.log_path, "a") as log:
            log.write(done.stderr)
        return done.returncode, done.stdout, done.stderr

    def signal(self, number):
        self.process.send_signal(number)

    def kill(self):
        self.process.kill()
        self.process.wait()
        self.close()

    def close(self):
        if self.process and self.process.stdout:
            self.process.stdout.close()
        if self.log and not self.log.closed:
            self.log.close()

    def stop(self, timeout=30):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                raise AssertionError("daemon did not stop within its shutdown timeout")
            finally:
                self.close()
        return self.process.returncode if self.process else None

    def logs(self):
        with open(self.log_path) as f:
            return f.read()


def delivered_states(sim, use_case="business_process_monitoring"):
    """Business-object states received by the sink: (collection, object id, change time in ms)."""
    return {(r["object_type"], r["object_id"], int(r["time_unix_nano"]) // 1_000_000) for r in sim.received(use_case)}


def existing_states(sim):
    """Every state any business object of the simulator has had: (collection, object id, change time in ms)."""
    return {(r["collection"], r["object_id"], int(r["change_ms"])) for r in sim.history("business_objects")}


def expected_event_id(tenant, source, object_type, record_key, change_time_unix_nano):
    """event.id as infra/event.hpp documents it, computed here without the daemon's code: hex of
    the first 16 bytes of SHA-256 over the five fields joined by 0x1f, the time in decimal ns."""
    text = "\x1f".join([tenant, source, object_type, record_key, str(change_time_unix_nano)])
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def pseudonym(state_dir, user):
    """The daemon's pseudonym of a C4C user (collectors/pseudonymizer.hpp): "u_" and the first 16 bytes
    of HMAC-SHA256 under the installation's key, read from the state directory."""
    with open(os.path.join(state_dir, "pseudonymization.key"), "rb") as f:
        key = f.read()
    assert len(key) == 32, len(key)
    return "u_" + hmac.new(key, user.encode(), hashlib.sha256).hexdigest()[:32]


def parse_metrics(text):
    """Prometheus text -> {(name, frozenset(labels)): value}."""
    values = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name_labels, value = line.rsplit(" ", 1)
        if "{" in name_labels:
            name, labels = name_labels.split("{", 1)
            labels = labels.rstrip("}")
            pairs = []
            for part in labels.split('",'):
                if part:
                    k, v = part.split("=", 1)
                    pairs.append((k.strip(), v.strip().strip('"')))
            values[(name, frozenset(pairs))] = float(value)
        else:
            values[(name_labels, frozenset())] = float(value)
    return values


def metric(values, name, **labels):
    """Sum of the series of `name` whose labels include `labels`."""
    total = None
    for (n, pairs), value in values.items():
        if n == name and set(labels.items()) <= set(pairs):
            total = (total or 0) + value
    return total


class DaemonTestCase(unittest.TestCase):
    """Gives each test a work directory, a simulator and helpers to run the daemon."""

    sim_args = ("--objects", "25")

    def setUp(self):
        self.workdir = tempfile.mkdtemp(prefix="c4c-it-")
        self.state_dir = os.path.join(self.workdir, "state")
        self.sim = Simulator(*self.sim_args)
        self.listen_port = free_port()
        self.daemons = []

    def run(self, result=None):
        """Runs the test as unittest does; then, when it failed anywhere (setUp, the test, a subtest,
        tearDown, a cleanup), prints the end of each daemon's log, and removes the work directory.
        Failures are counted on the result, the public interface: TestCase._outcome changes between
        Python versions (3.11 dropped the `errors` list this used to read, and printed nothing)."""
        if result is None:
            return super().run(result)  # unittest makes its own result; not how ctest runs the tests
        def problems():
            return len(result.failures) + len(result.errors) + len(getattr(result, "unexpectedSuccesses", ()))
        before = problems()
        try:
            return super().run(result)
        finally:
            if problems() > before or os.environ.get("C4C_TEST_VERBOSE"):
                for path in dict.fromkeys(daemon.log_path for daemon in getattr(self, "daemons", [])):
                    if os.path.exists(path):
                        with open(path, errors="replace") as f:
                            text = f.read()
                        print(f"\n--- the end of the daemon log {path} ({self.id()}) ---\n{text[-20000:]}\n"
                              "--- end of the daemon log ---", flush=True)
            if hasattr(self, "workdir"):
                shutil.rmtree(self.workdir, ignore_errors=True)

    def tearDown(self):
        reports = []
        for daemon in self.daemons:
            if daemon.process and daemon.process.poll() is None:
                daemon.process.kill()
                daemon.process.wait()
            daemon.close()
            if os.path.exists(daemon.log_path) and (report := sanitizer_report(daemon.logs())):
                reports.append(f"daemon ({daemon.log_path}):\n{report}")
        if report := self.sim.stop():
            reports.append(f"simulator:\n{report}")
        # Under ASan/UBSan a finding fails the test even when every assertion held.
        if reports:
            raise AssertionError("sanitizer findings:\n" + "\n".join(reports))

    def daemon(self, **kwargs):
        listen = kwargs.pop("listen", f"127.0.0.1:{self.listen_port}")
        daemon = Daemon(self.workdir, config_text(self.sim.url, self.state_dir, listen, **kwargs))
        self.daemons.append(daemon)
        return daemon

    def wait_polls_delivered(self, use_case, *prefixes, polls=3, timeout=60):
        """Waits until the daemon polled again and delivered what it found: each path prefix has had
        `polls` more requests at the simulator (so the polls between the first and the last began after
        this call and ended), then the use case's outbox is empty. Instead of sleeping for "a few polls"."""
        def counts():
            requests = self.sim.get("/_sim/requests")["requests"]
            return [sum(r["target"].startswith(prefix) for r in requests) for prefix in prefixes]
        before = counts()
        wait_until(lambda: all(now >= then + polls for now, then in zip(counts(), before)), timeout,
                   message=f"{polls} more requests to each of {prefixes}")
        wait_until(lambda: metric(self.metrics(), "c4c_alm_collector_outbox_events", endpoint=use_case) == 0, timeout,
                   message=f"an empty outbox for {use_case}")

    def metrics(self):
        status, text = http("GET", f"http://127.0.0.1:{self.listen_port}/metrics")
        self.assertEqual(status, 200)
        return parse_metrics(text)

    def wait_metrics(self, timeout=15):
        return wait_until(lambda: self._try_metrics(), timeout, message="the metrics endpoint")

    def _try_metrics(self):
        try:
            return self.metrics()
        except (OSError, AssertionError):
            return None
