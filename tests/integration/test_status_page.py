"""The status page on the monitoring port (CONTRACT.md section 6, `GET /`), in a real browser: headless
Chromium loads it from the running daemon, runs its script (which reloads the figures every 5 s) and the
test reads the rendered DOM: a row for every tenant's source and endpoint, and a source made to fail turns
red with its state written out.

Needs Debian's `chromium` (`./run test` installs it). Without it the test is skipped, visibly, except in CI
(CI=true), where it fails."""

import json
import os
import re
import shutil
import subprocess
import tempfile
import unittest
from html.parser import HTMLParser

from harness import DaemonTestCase, config_text, http, wait_until

CHROMIUM = next((path for path in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if path), None)
# Virtual time: the page's 5 s refresh runs twice before the DOM is taken (fetches pause virtual time).
VIRTUAL_TIME_MS = 12000

SOURCES = {"acme-prod": ["business_objects", "webservice_messages"], "beta-test": ["response_time_analysis"]}
ENDPOINTS = {"acme-prod": ["business_process_monitoring", "integration_monitoring"],
             "beta-test": ["health_monitoring", "real_user_monitoring"]}


class Rows(HTMLParser):
    """The table rows of the rendered page: {(tenant, source or endpoint): (row class, row text)}, the body's
    attributes, and all text."""

    def __init__(self):
        super().__init__()
        self.rows = {}
        self.body = {}
        self.text = []
        self._row = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "body":
            self.body = attrs
        elif tag == "tr" and "data-tenant" in attrs:
            name = attrs.get("data-source") or attrs.get("data-endpoint")
            self._row = [(attrs["data-tenant"], name), attrs.get("class", ""), []]

    def handle_endtag(self, tag):
        if tag == "tr" and self._row:
            key, cls, text = self._row
            self.rows[key] = (cls, " ".join(" ".join(text).split()))
            self._row = None

    def handle_data(self, data):
        self.text.append(data)
        if self._row:
            self._row[2].append(data)


class StatusPageTest(DaemonTestCase):
    sim_args = ("--objects", "10", "--messages", "20", "--rta-rows", "20")

    def setUp(self):
        if not CHROMIUM:
            if os.environ.get("CI") == "true":
                self.fail("chromium is not installed, and CI=true: ./run test installs Debian's chromium")
            self.skipTest("chromium is not installed (Debian package chromium): the browser test is skipped")
        super().setUp()

    def render(self):
        """The page's DOM after Chromium loaded it and ran its script."""
        profile = tempfile.mkdtemp(prefix="chromium-", dir=self.workdir)
        done = subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--disable-dev-shm-usage", f"--user-data-dir={profile}", f"--virtual-time-budget={VIRTUAL_TIME_MS}",
             "--dump-dom", f"http://127.0.0.1:{self.listen_port}/"],
            capture_output=True, text=True, timeout=120)
        self.assertEqual(done.returncode, 0, done.stderr[-3000:])
        self.assertIn("</html>", done.stdout, done.stderr[-3000:])
        page = Rows()
        page.feed(done.stdout)
        return page

    def source_states(self):
        """{(tenant, source): state} from /status; {} while the daemon does not answer yet."""
        try:
            code, body = http("GET", f"http://127.0.0.1:{self.listen_port}/status")
        except OSError:
            return {}
        self.assertEqual(code, 200)
        status = json.loads(body)
        return {(t["name"], s["name"]): s["state"] for t in status["tenants"] for s in t["sources"]}

    def test_every_source_and_endpoint_is_shown_and_a_failing_source_turns_red(self):
        listen = f"127.0.0.1:{self.listen_port}"
        text = config_text(self.sim.url, self.state_dir, listen, tenant="acme-prod",
                           sources=("business_objects", "webservice_messages"))
        second = config_text(self.sim.url, self.state_dir, listen, tenant="beta-test",
                             sources=("response_time_analysis",),
                             endpoints={"health_monitoring": f'  url = "{self.sim.url}/api/calm-metrics/v1/metrics"\n'
                                                             '  auth = "none"'})
        daemon = self.daemon()
        daemon.write_config(text + second[second.index("[[tenants]]"):])
        daemon.start()
        wait_until(lambda: (states := self.source_states()) and set(states.values()) == {"ok"}, 30,
                   message="every source polled")

        # One self-contained document: no external script, style, image or font.
        code, raw = http("GET", f"http://127.0.0.1:{self.listen_port}/")
        self.assertEqual(code, 200)
        self.assertIsNone(re.search(r"""(?:src|href)\s*=\s*["'](?!data:|#)""", raw), raw)
        self.assertNotIn("@import", raw)

        page = self.render()
        self.assertGreaterEqual(int(page.body.get("data-refreshes", "0")), 1, "the page's refresh did not run")
        rendered = " ".join(page.text)
        for tenant, sources in SOURCES.items():
            self.assertIn(tenant, rendered)
            for source in sources:
                self.assertIn(source, rendered)
                cls, row = page.rows[(tenant, source)]
                self.assertEqual(cls, "good", row)
                self.assertIn("OK", row)
        for tenant, endpoints in ENDPOINTS.items():
            for endpoint in endpoints:
                self.assertIn(endpoint, rendered)
                cls, row = page.rows[(tenant, endpoint)]
                self.assertIn(cls, ("good", "warn"), row)
        self.assertEqual(len(page.rows), 7)
        self.assertIn("All 3 sources OK", rendered)

        # The tenant's SOAP service fails: its source turns red, its state and reason written out.
        self.sim.fault(target="soap", mode="status", status=500, count=-1)
        wait_until(lambda: self.source_states().get(("acme-prod", "webservice_messages")) == "down", 30,
                   message="webservice_messages down")
        page = self.render()
        cls, row = page.rows[("acme-prod", "webservice_messages")]
        self.assertEqual(cls, "bad", row)
        self.assertIn("DOWN", row)
        self.assertIn("http_500", row)
        self.assertIn(".bad .state{background:#c62828}", raw)  # red, behind white text
        for key in (("acme-prod", "business_objects"), ("beta-test", "response_time_analysis")):
            self.assertEqual(page.rows[key][0], "good", page.rows[key])
        self.assertIn("1 of 3 sources DOWN", " ".join(page.text))

        # Repaired: green again at the next look.
        self.sim.clear_faults()
        wait_until(lambda: self.source_states().get(("acme-prod", "webservice_messages")) == "ok", 30,
                   message="webservice_messages ok again")
        self.assertEqual(self.render().rows[("acme-prod", "webservice_messages")][0], "good")
        self.assertEqual(daemon.stop(), 0)


if __name__ == "__main__":
    unittest.main()
