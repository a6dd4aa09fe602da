"""The simulator's Cloud ALM sink checks OTLP logs the way the tests rely on it: the fast scan it answers
batches with must accept what the full check accepts, refuse what it refuses (naming the problem), and
report the records it kept exactly. Runs the real c4c-sim on 127.0.0.1."""

import copy
import gzip
import json
import unittest
import zlib

import harness

LOGS = "/api/calm-logs/v1/logs"


def attr(key, value):
    if isinstance(value, bool):
        return {"key": key, "value": {"boolValue": value}}
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}
    return {"key": key, "value": {"stringValue": value}}


def record(event_id, time="1700000000000000000", **extra):
    return {"timeUnixNano": time, "observedTimeUnixNano": "1700000000500000000", "severityNumber": 9,
            "severityText": "INFO", "body": {"stringValue": f"body of {event_id}"},
            "attributes": [attr("event.id", event_id), attr("sap.c4c.object_type", "Opportunity"),
                           attr("sap.c4c.object_id", "OBJ-" + event_id), attr("sap.c4c.source", "business_objects"),
                           *[attr(k, v) for k, v in extra.items()]]}


def body(*records, use_case="business_process_monitoring"):
    return {"resourceLogs": [{"resource": {"attributes": [attr("service.name", "acme"),
                                                           attr("sap.calm.use_case", use_case)]},
                              "scopeLogs": [{"scope": {"name": "c4c-alm-collector"}, "logRecords": list(records)}]}]}


class SinkTest(unittest.TestCase):
    def setUp(self):
        self.sim = harness.Simulator()

    def tearDown(self):
        self.assertEqual(self.sim.stop(), "")

    def post(self, payload, gzipped=False):
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        headers = {"Content-Type": "application/json"}
        if gzipped:
            data = gzip.compress(data)
            headers["Content-Encoding"] = "gzip"
        return harness.http("POST", self.sim.url + LOGS, data, headers)

    def test_valid_bodies_are_counted_and_kept_with_every_field(self):
        # Escapes and non-ASCII text in the id and attributes, an integer timeUnixNano, the use case after
        # scopeLogs in its resource, members the sink does not know, nested values.
        odd = record('id-"quoted"\\ \u00e9\u4e2d\U0001F600', time=1700000000000000001)
        odd["attributes"].append({"key": "list", "value": {"arrayValue": {"values": [{"intValue": "1"}]}}})
        odd["flags"] = 0
        reordered = {"resourceLogs": [{"scopeLogs": [{"logRecords": [odd, record("b")]}],
                                       "resource": {"attributes": [attr("sap.calm.use_case", "integration_monitoring")]},
                                       "schemaUrl": "x"}], "extra": [1, 2.5e3, True, None]}
        self.assertEqual(self.post(reordered)[0], 200)
        self.assertEqual(self.post(body(record("a"), record("b"), record("a")), gzipped=True)[0], 200)

        stats = self.sim.stats()["sink"]
        self.assertEqual(stats["integration_monitoring"]["unique"], 2)
        self.assertEqual(stats["business_process_monitoring"]["records"], 3)
        self.assertEqual(stats["business_process_monitoring"]["unique"], 2)
        self.assertEqual(stats["business_process_monitoring"]["duplicates"], 1)
        self.assertEqual(stats["business_process_monitoring"]["gzip_requests"], 1)

        kept = self.sim.received("integration_monitoring")
        self.assertEqual([r["event_id"] for r in kept], ['id-"quoted"\\ \u00e9\u4e2d\U0001F600', "b"])
        self.assertEqual(kept[0]["time_unix_nano"], "1700000000000000001")
        self.assertEqual(kept[0]["object_id"], 'OBJ-id-"quoted"\\ \u00e9\u4e2d\U0001F600')
        self.assertEqual(kept[0]["attributes"]["list"], [1])
        bpm = self.sim.received("business_process_monitoring")
        self.assertEqual([(r["event_id"], r["count"]) for r in bpm], [("a", 2), ("b", 1)])
        self.assertEqual(bpm[1]["body"], "body of b")
        self.assertEqual(bpm[1]["severity_text"], "INFO")
        self.assertEqual(bpm[1]["source"], "business_objects")
        # Asked again after more arrived: the earlier records keep their fields, counts move on.
        self.assertEqual(self.post(body(record("b"), record("c")))[0], 200)
        bpm = self.sim.received("business_process_monitoring")
        self.assertEqual([(r["event_id"], r["count"], r["object_id"]) for r in bpm],
                         [("a", 2, "OBJ-a"), ("b", 2, "OBJ-b"), ("c", 1, "OBJ-c")])

    def test_invalid_bodies_are_refused_with_the_reason_and_not_counted(self):
        good = body(record("a"))
        cases = []
        broken = copy.deepcopy(good)
        del broken["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]["timeUnixNano"]
        cases.append((broken, "timeUnixNano is missing or not an integer"))
        broken = copy.deepcopy(good)
        broken["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]["timeUnixNano"] = "17e8"
        cases.append((broken, "timeUnixNano is missing or not an integer"))
        broken = copy.deepcopy(good)
        broken["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]["timeUnixNano"] = 1.5
        cases.append((broken, "timeUnixNano is missing or not an integer"))
        broken = copy.deepcopy(good)
        broken["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]["attributes"][0] = attr("event.id", 7)
        cases.append((broken, "lacks event.id"))
        broken = copy.deepcopy(good)
        broken["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]["attributes"][0] = attr("event.id", "")
        cases.append((broken, "lacks event.id"))
        broken = copy.deepcopy(good)
        broken["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]["attributes"].append({"key": "k"})
        cases.append((broken, "attributes must be an array of {key, value}"))
        broken = copy.deepcopy(good)
        broken["resourceLogs"][0]["resource"]["attributes"] = [attr("service.name", "acme")]
        cases.append((broken, "lacks sap.calm.use_case"))
        broken = copy.deepcopy(good)
        broken["resourceLogs"][0]["scopeLogs"] = {}
        cases.append((broken, "scopeLogs must be an array"))
        broken = copy.deepcopy(good)
        broken["resourceLogs"][0]["scopeLogs"][0]["logRecords"] = [5]
        cases.append((broken, "must be an object"))
        cases.append(({"resourceLogs": {}}, "resourceLogs"))
        cases.append(([], "resourceLogs"))
        text = json.dumps(good).encode()
        for invalid_json in (text[:-1], text + b"x", text.replace(b'"a"', b'"\\x"'), b'{"resourceLogs":[]} {}',
                             text.replace(b'"a"', b'"\xff"'), text.replace(b'"a"', b'"\x01"'), b"[" * 100000):
            cases.append((invalid_json, "body is not valid JSON"))
        for payload, reason in cases:
            with self.subTest(reason=reason, payload=str(payload)[:80]):
                status, answer = self.post(payload)
                self.assertEqual(status, 400, answer)
                self.assertIn(reason, json.loads(answer)["error"])
        self.assertEqual(self.sim.stats()["sink"], {})
        # The same sink still takes a good body.
        self.assertEqual(self.post(good)[0], 200)
        self.assertEqual([r["event_id"] for r in self.sim.received("business_process_monitoring")], ["a"])

    def post_gzip_bytes(self, data):
        return harness.http("POST", self.sim.url + LOGS, data,
                            {"Content-Type": "application/json", "Content-Encoding": "gzip"})

    def test_a_body_of_several_gzip_members_is_decoded_whole(self):
        # What the daemon sends for whole stored chunks: the envelope's prefix, each chunk and the commas
        # between them, and the suffix, each a gzip member of its own (RFC 1952 section 2.2).
        text = json.dumps(body(record("a"), record("b"), record("c")), separators=(",", ":")).encode()
        start = text.index(b'"logRecords":[') + len(b'"logRecords":[')
        end = text.rindex(b"]}]}]}")
        records = text[start:end]
        split = records.index(b',{"timeUnixNano"')
        members = [text[:start], records[:split], b",", records[split + 1:], text[end:]]
        self.assertEqual(b"".join(members), text)
        data = b"".join(gzip.compress(member) for member in members)
        status, answer = self.post_gzip_bytes(data)
        self.assertEqual(status, 200, answer)
        self.assertEqual([r["event_id"] for r in self.sim.received("business_process_monitoring")], ["a", "b", "c"])
        # The first member alone is no document: a decoder that stopped there would be refused.
        status, answer = self.post_gzip_bytes(gzip.compress(members[0]))
        self.assertEqual(status, 400, answer)

    def test_a_member_inflating_to_hundreds_of_times_its_size_is_decoded_whole(self):
        # The sink inflates into a buffer it grows as the output needs (from eight times the input).
        big = "x" * (6 << 20)
        text = json.dumps(body(record("a", note=big), record("b"))).encode()
        data = gzip.compress(text)
        self.assertGreater(len(text), 500 * len(data))
        status, answer = self.post_gzip_bytes(data)
        self.assertEqual(status, 200, answer)
        kept = self.sim.received("business_process_monitoring")
        self.assertEqual([r["event_id"] for r in kept], ["a", "b"])
        self.assertEqual(kept[0]["attributes"]["note"], big)

    def test_bytes_after_the_last_gzip_member_a_bad_crc_or_no_gzip_header_are_refused(self):
        data = gzip.compress(json.dumps(body(record("a"))).encode())
        for bad in (data + b"x", data + b"\0" * 8, data + data[:10],
                    data[:-8] + bytes([data[-8] ^ 1]) + data[-7:],  # CRC-32 of the member changed
                    zlib.compress(json.dumps(body(record("a"))).encode())):  # zlib's wrapper, not gzip's
            with self.subTest(tail=bad[-12:]):
                status, answer = self.post_gzip_bytes(bad)
                self.assertEqual(status, 400, answer)
                self.assertIn("gzip", json.loads(answer)["error"])
        self.assertEqual(self.sim.stats()["sink"], {})
        self.assertEqual(self.post_gzip_bytes(data)[0], 200)


if __name__ == "__main__":
    unittest.main()
