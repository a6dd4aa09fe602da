#include "test_exporters_support.hpp"
#include "timing.hpp"

#include "exporters/cloud_alm.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>

#include <sqlite3.h>
#include <unistd.h>
#include <zlib.h>

#include <filesystem>

using namespace exporter_tests;
using c4c::exporters::CloudAlmExporter;
using c4c::exporters::DeliveryOptions;

namespace {

constexpr std::string_view k_logs_path = "/api/calm-logs/v1/logs";

DeliveryOptions fast_options()
{
    DeliveryOptions options;
    options.backoff_base = 20ms;
    options.backoff_max = 100ms;
    options.pause_base = 50ms;
    options.pause_max = 200ms;
    options.idle_wake = 2s;
    return options;
}

std::multiset<std::string> ids_of(const std::vector<exporters::OutboxRow>& rows)
{
    std::multiset<std::string> ids;
    for (const auto& row : rows) {
        ids.insert(row.event_id);
    }
    return ids;
}

/// Ids the fake answered 2xx for.
std::multiset<std::string> accepted_ids(const FakeAlm& alm, const std::set<std::size_t>& accepted_indexes)
{
    std::multiset<std::string> ids;
    for (std::size_t i : accepted_indexes) {
        for (auto& id : alm.received[i].event_ids()) {
            ids.insert(id);
        }
    }
    return ids;
}

/// Starts exporter.run() on the loop; `stop` cancels it, `done` tells it ended.
struct Running {
    asio::cancellation_signal stop;
    bool done = false;
    std::exception_ptr error;

    void start(asio::io_context& io, CloudAlmExporter& exporter)
    {
        asio::co_spawn(io, exporter.run(), asio::bind_cancellation_slot(stop.slot(), [this](std::exception_ptr e) {
                           error = e;
                           done = true;
                       }));
    }
};

}  // namespace

TEST_CASE("log lines: waits read naturally")
{
    CHECK(c4c::exporters::format_wait(250ms) == "250 ms");
    CHECK(c4c::exporters::format_wait(1000ms) == "1 s");
    CHECK(c4c::exporters::format_wait(1500ms) == "1.5 s");
    CHECK(c4c::exporters::format_wait(60s) == "60 s");
    CHECK(c4c::exporters::format_wait(5min) == "5 min");
    CHECK(c4c::exporters::format_wait(10min) == "10 min");
}

TEST_CASE("cloud_alm: every row delivered once in gzip batches within the limits, then removed")
{
    Harness h;
    MemoryOutbox outbox;
    RecordingObserver observer;
    outbox.add_events(53, 200);
    const auto all_ids = ids_of(outbox.rows);

    auto config = h.endpoint(k_logs_path);
    config.gzip = true;
    config.max_batch_events = 7;
    config.max_batch_bytes = 2500;  // about five records with the envelope
    CloudAlmExporter exporter(h.io.get_executor(), config, h.resource(), h.client, outbox, observer, fast_options());

    CHECK(h.run(exporter.drain(5s)));
    CHECK(outbox.rows.empty());
    CHECK(outbox.rejected.empty());
    CHECK(observer.sent_events == 53);
    CHECK(observer.failures.empty());

    std::multiset<std::string> delivered;
    for (const auto& request : h.alm.received) {
        CHECK(request.method == "POST");
        CHECK(request.path == k_logs_path);
        CHECK(request.content_type == "application/json");
        CHECK(request.content_encoding == "gzip");
        CHECK(request.authorization.empty());
        REQUIRE(request.body_ok);
        CHECK(request.body.size() <= config.max_batch_bytes);
        const auto json = nlohmann::json::parse(request.body);
        const auto& resource = json["resourceLogs"][0]["resource"]["attributes"];
        CHECK(resource[3]["value"]["stringValue"] == "business_process_monitoring");
        const auto ids = request.event_ids();
        CHECK(!ids.empty());
        CHECK(ids.size() <= 7);
        delivered.insert(ids.begin(), ids.end());
    }
    CHECK(delivered == all_ids);
    CHECK(h.alm.received.size() >= 11);  // 53 rows of ~420 bytes in bodies of at most 2500 bytes
}

TEST_CASE("cloud_alm: run() delivers on notify() and ends promptly when cancelled")
{
    Harness h;
    MemoryOutbox outbox;
    RecordingObserver observer;
    auto options = fast_options();
    options.idle_wake = 5s;  // longer than the test: only notify() can explain a prompt delivery
    CloudAlmExporter exporter(h.io.get_executor(), h.endpoint(k_logs_path), h.resource(), h.client, outbox, observer,
                              options);
    Running running;

    h.run([&]() -> asio::awaitable<void> {
        running.start(h.io, exporter);
        co_await pause_for(50ms);
        CHECK(h.alm.received.empty());

        outbox.add_events(3);
        const auto notified = std::chrono::steady_clock::now();
        exporter.notify();
        CHECK(co_await eventually([&] { return outbox.rows.empty(); }, 2s));
        CHECK(std::chrono::steady_clock::now() - notified < (unit_tests::k_sanitized ? 3s : 1s));  // idle_wake: 5 s
        CHECK(observer.sent_events == 3);

        // A second wave while run() idles again.
        co_await pause_for(20ms);
        outbox.add_events(2);
        exporter.notify();
        CHECK(co_await eventually([&] { return observer.sent_events == 5; }, 2s));

        const auto stopping = std::chrono::steady_clock::now();
        running.stop.emit(asio::cancellation_type::terminal);
        CHECK(co_await eventually([&] { return running.done; }, 3s));
        CHECK(std::chrono::steady_clock::now() - stopping < (unit_tests::k_sanitized ? 3000ms : 500ms));
    }());
    CHECK(running.done);
}

TEST_CASE("cloud_alm: 503 with Retry-After 1 is retried after at least a second, nothing lost")
{
    Harness h;
    MemoryOutbox outbox;
    RecordingObserver observer;
    outbox.add_events(10);
    const auto all_ids = ids_of(outbox.rows);
    h.alm.respond = [&h](const Received&) {
        if (h.alm.received.size() == 1) {
            return answer(503, R"({"error":"maintenance"})", {{"Retry-After", "1"}});
        }
        return answer(200, "{}");
    };
    CloudAlmExporter exporter(h.io.get_executor(), h.endpoint(k_logs_path), h.resource(), h.client, outbox, observer,
                              fast_options());

    CHECK(h.run(exporter.drain(5s)));
    REQUIRE(h.alm.received.size() == 2);
    CHECK(h.alm.received[1].at - h.alm.received[0].at >= 995ms);
    CHECK(h.alm.received[0].event_ids() == h.alm.received[1].event_ids());  // the same rows again
    CHECK(accepted_ids(h.alm, {1}) == all_ids);
    CHECK(outbox.rows.empty());
    CHECK(observer.failures == std::vector<std::string>{"http_503"});
    CHECK(observer.sent_events == 10);
}

TEST_CASE("cloud_alm: 400 splits batches down to the poison rows, which alone are moved aside")
{
    LogCapture logs;
    Harness h;
    MemoryOutbox outbox;
    RecordingObserver observer;
    outbox.add_events(40);
    const std::set<std::string> poison{"evt-6", "evt-23", "evt-24"};
    std::set<std::size_t> accepted;
    h.alm.respond = [&](const Received& request) {
        for (const auto& id : request.event_ids()) {
            if (poison.contains(id)) {
                return answer(400, "{\"error\":\"invalid log record " + id + "\",\"detail\":\"" +
                                       std::string(300, 'x') + "\"}");
            }
        }
        accepted.insert(h.alm.received.size() - 1);
        return answer(202, "");
    };
    auto config = h.endpoint(k_logs_path);
    config.gzip = true;
    config.max_batch_events = 16;
    CloudAlmExporter exporter(h.io.get_executor(), config, h.resource(), h.client, outbox, observer, fast_options());

    CHECK_FALSE(h.run(exporter.drain(5s)));  // something was refused
    CHECK(outbox.rows.empty());
    REQUIRE(outbox.rejected.size() == 3);
    std::set<std::string> rejected_ids;
    for (const auto& [row, answer_text] : outbox.rejected) {
        rejected_ids.insert(row.event_id);
        CHECK(answer_text.starts_with("HTTP 400: {\"error\":\"invalid log record evt-"));
        CHECK(answer_text.size() <= 200 + 10);
    }
    CHECK(rejected_ids == poison);
    CHECK(observer.rejected_events == 3);
    CHECK(observer.sent_events == 37);

    // Every other row was accepted exactly once.
    const auto delivered = accepted_ids(h.alm, accepted);
    CHECK(delivered.size() == 37);
    CHECK(std::set<std::string>(delivered.begin(), delivered.end()).size() == 37);
    for (const auto& id : poison) {
        CHECK_FALSE(delivered.contains(id));
    }
    CHECK(logs.count("refused event evt-6 for good") == 1);
    CHECK(logs.count("refused event evt-23 for good") == 1);
}

TEST_CASE("cloud_alm: an endpoint that refuses every request is paused with one line; nothing is moved aside")
{
    LogCapture logs;
    Harness h;
    MemoryOutbox outbox;
    RecordingObserver observer;
    outbox.add_events(40);
    const auto all_ids = ids_of(outbox.rows);
    bool refuse = true;
    std::set<std::size_t> accepted;
    h.alm.respond = [&](const Received&) {
        if (refuse) {
            return answer(400, R"({"error":"unknown serviceId"})");
        }
        accepted.insert(h.alm.received.size() - 1);
        return answer(200, "{}");
    };
    auto config = h.endpoint(k_logs_path);
    config.max_batch_events = 16;
    CloudAlmExporter exporter(h.io.get_executor(), config, h.resource(), h.client, outbox, observer, fast_options());
    Running running;

    h.run([&]() -> asio::awaitable<void> {
        running.start(h.io, exporter);
        CHECK(co_await eventually([&] { return exporter.refusing(); }, 2s));
        CHECK(exporter.paused());
        CHECK(observer.paused_calls == std::vector<bool>{true});
        CHECK(observer.up_calls == std::vector<bool>{false});
        co_await pause_for(300ms);  // probes with backoff: one row each, never moved aside
        // Split to single rows only until three in a row are refused with nothing accepted in between.
        REQUIRE(h.alm.received.size() >= 8);
        const std::vector<std::size_t> split{16, 8, 4, 2, 1, 1, 2, 1};
        for (std::size_t i = 0; i < split.size(); ++i) {
            CHECK(h.alm.received[i].event_ids().size() == split[i]);
        }
        const auto probes = h.alm.received.size() - split.size();
        CHECK(probes >= 1);
        CHECK(probes <= 8);
        for (std::size_t i = split.size(); i < h.alm.received.size(); ++i) {
            CHECK(h.alm.received[i].event_ids().size() == 1);
        }
        CHECK(outbox.rejected.empty());
        CHECK(outbox.rows.size() == 40);
        CHECK(observer.rejected_events == 0);

        refuse = false;
        CHECK(co_await eventually([&] { return outbox.rows.empty(); }, 3s));
        CHECK_FALSE(exporter.paused());
        CHECK_FALSE(exporter.refusing());
        CHECK(exporter.suspects() == 0);
        CHECK(observer.paused_calls == std::vector<bool>{true, false});
        CHECK(observer.up_calls == std::vector<bool>{false, true});
        running.stop.emit(asio::cancellation_type::terminal);
        CHECK(co_await eventually([&] { return running.done; }, 1s));
    }());

    CHECK(outbox.rejected.empty());
    CHECK(observer.rejected_events == 0);
    CHECK(observer.sent_events == 40);
    const auto delivered = accepted_ids(h.alm, accepted);
    CHECK(delivered == all_ids);  // every row once, none lost, none twice
    CHECK(logs.count("refuses every request") == 1);
    CHECK(logs.count("accepts requests again") == 1);
    CHECK(logs.count("for good") == 0);
}

TEST_CASE("cloud_alm: a refusing endpoint with nothing but suspects queued is probed with the oldest")
{
    Harness h;
    MemoryOutbox outbox;
    RecordingObserver observer;
    outbox.add_events(3);
    bool refuse = true;
    h.alm.respond = [&](const Received&) { return refuse ? answer(400, "unknown serviceId") : answer(200); };
    CloudAlmExporter exporter(h.io.get_executor(), h.endpoint(k_logs_path), h.resource(), h.client, outbox, observer,
                              fast_options());
    Running running;

    h.run([&]() -> asio::awaitable<void> {
        running.start(h.io, exporter);
        CHECK(co_await eventually([&] { return exporter.refusing(); }, 2s));
        CHECK(exporter.suspects() == 3);
        CHECK(co_await eventually([&] { return h.alm.received.size() >= 7; }, 2s));  // 3, 1, 2, 1, 1, then probes
        for (std::size_t i = 5; i < h.alm.received.size(); ++i) {
            CHECK(h.alm.received[i].event_ids() == std::vector<std::string>{"evt-1"});
        }
        refuse = false;
        CHECK(co_await eventually([&] { return outbox.rows.empty(); }, 2s));
        CHECK_FALSE(exporter.paused());
        running.stop.emit(asio::cancellation_type::terminal);
        CHECK(co_await eventually([&] { return running.done; }, 1s));
    }());
    CHECK(outbox.rejected.empty());
    CHECK(observer.sent_events == 3);
}

TEST_CASE("cloud_alm: a row refused alone is moved aside only after the endpoint accepted another request")
{
    Harness h;
    MemoryOutbox outbox;
    RecordingObserver observer;
    outbox.add_events(1);
    h.alm.respond = [&](const Received& request) {
        const auto ids = request.event_ids();
        return std::find(ids.begin(), ids.end(), "evt-1") != ids.end() ? answer(400, "bad record") : answer(200);
    };
    CloudAlmExporter exporter(h.io.get_executor(), h.endpoint(k_logs_path), h.resource(), h.client, outbox, observer,
                              fast_options());

    // Alone in the queue: nothing proves that the endpoint works, so the row stays.
    CHECK_FALSE(h.run(exporter.drain(2s)));
    CHECK(h.alm.received.size() == 1);
    CHECK(outbox.rows.size() == 1);
    CHECK(outbox.rejected.empty());
    CHECK(exporter.suspects() == 1);
    CHECK_FALSE(exporter.paused());
    CHECK(observer.up_calls.empty());

    // Another request is accepted: the row goes alone once more, and now it is moved aside.
    outbox.add_events(2);
    CHECK_FALSE(h.run(exporter.drain(2s)));  // false: a row was moved aside
    CHECK(outbox.rows.empty());
    REQUIRE(outbox.rejected.size() == 1);
    CHECK(outbox.rejected[0].first.event_id == "evt-1");
    CHECK(outbox.rejected[0].second == "HTTP 400: bad record");
    CHECK(exporter.suspects() == 0);
    CHECK(observer.sent_events == 2);
    REQUIRE(h.alm.received.size() == 3);
    CHECK(h.alm.received[1].event_ids() == std::vector<std::string>{"evt-2", "evt-3"});
    CHECK(h.alm.received[2].event_ids() == std::vector<std::string>{"evt-1"});
    CHECK(observer.up_calls.empty());  // never down: the endpoint accepted what it could
}

TEST_CASE("cloud_alm: a single oversize row goes alone, and its 413 moves it aside")
{
    Harness h;
    MemoryOutbox outbox;
    RecordingObserver observer;
    outbox.add_events(2);
    outbox.add_events(1, 5000);  // evt-3: bigger than max_batch_bytes on its own
    outbox.add_events(2);
    auto config = h.endpoint(k_logs_path);
    config.max_batch_bytes = 3000;
    h.alm.respond = [&](const Received& request) {
        return request.body.size() > config.max_batch_bytes ? answer(413, "Payload Too Large") : answer(200);
    };
    CloudAlmExporter exporter(h.io.get_executor(), config, h.resource(), h.client, outbox, observer, fast_options());

    CHECK_FALSE(h.run(exporter.drain(5s)));
    CHECK(outbox.rows.empty());
    REQUIRE(outbox.rejected.size() == 1);
    CHECK(outbox.rejected[0].first.event_id == "evt-3");
    CHECK(outbox.rejected[0].second == "HTTP 413: Payload Too Large");
    CHECK(observer.sent_events == 4);
    for (const auto& request : h.alm.received) {
        const auto ids = request.event_ids();
        if (std::find(ids.begin(), ids.end(), "evt-3") != ids.end()) {
            CHECK(ids.size() == 1);
        }
    }
}

TEST_CASE("cloud_alm: 401 pauses the endpoint with one clear line, and it resumes when accepted")
{
    LogCapture logs;
    Harness h;
    MemoryOutbox outbox;
    RecordingObserver observer;
    outbox.add_events(5);
    bool accept = false;
    h.alm.respond = [&](const Received&) { return accept ? answer(200) : answer(401, "Unauthorized"); };
    auto config = h.endpoint(k_logs_path);
    config.auth = c4c::exporters::AuthKind::basic;
    config.user = "alm-user";
    config.password = c4c::infra::Secret("pa55-w0rd-secret");
    CloudAlmExporter exporter(h.io.get_executor(), config, h.resource(), h.client, outbox, observer, fast_options());
    Running running;

    h.run([&]() -> asio::awaitable<void> {
        running.start(h.io, exporter);
        CHECK(co_await eventually([&] { return exporter.paused(); }, 2s));
        CHECK(observer.paused_calls == std::vector<bool>{true});
        co_await pause_for(300ms);  // several slow-paced attempts while paused
        CHECK(h.alm.received.size() >= 2);
        CHECK(h.alm.received.size() <= 6);
        CHECK(outbox.rows.size() == 5);

        accept = true;
        CHECK(co_await eventually([&] { return outbox.rows.empty(); }, 2s));
        CHECK(observer.paused_calls == std::vector<bool>{true, false});
        CHECK_FALSE(exporter.paused());
        running.stop.emit(asio::cancellation_type::terminal);
        CHECK(co_await eventually([&] { return running.done; }, 1s));
    }());

    CHECK(h.alm.received.front().authorization ==
          c4c::infra::http::basic_authorization("alm-user", "pa55-w0rd-secret"));
    CHECK(observer.failures_of("http_401") >= 2);
    CHECK(outbox.rejected.empty());
    const std::string text = logs.all();
    CHECK(logs.count("check credentials") == 1);  // one clear line, not one per attempt
    CHECK(logs.count("acme-prod") >= 1);
    CHECK(logs.count(h.alm.host()) >= 1);
    CHECK(text.find("pa55-w0rd-secret") == std::string::npos);
}

TEST_CASE("cloud_alm: drain() gives up within its budget while the endpoint fails, succeeds once it recovers")
{
    Harness h;
    MemoryOutbox outbox;
    RecordingObserver observer;
    outbox.add_events(4);
    bool healthy = false;
    h.alm.respond = [&](const Received&) { return healthy ? answer(200) : answer(500, "boom"); };
    CloudAlmExporter exporter(h.io.get_executor(), h.endpoint(k_logs_path), h.resource(), h.client, outbox, observer,
                              fast_options());

    const auto started = std::chrono::steady_clock::now();
    CHECK_FALSE(h.run(exporter.drain(300ms)));
    const auto took = std::chrono::steady_clock::now() - started;
    CHECK(took < (unit_tests::k_sanitized ? 3s : 1s));
    CHECK(h.alm.received.size() >= 2);  // retried with backoff within the budget
    CHECK(outbox.rows.size() == 4);
    CHECK(observer.failures_of("http_500") == h.alm.received.size());

    healthy = true;
    CHECK(h.run(exporter.drain(2s)));
    CHECK(outbox.rows.empty());
    CHECK(observer.sent_events == 4);
}

TEST_CASE("cloud_alm: a wrong URL (404) keeps the rows instead of moving them aside")
{
    Harness h;
    MemoryOutbox outbox;
    RecordingObserver observer;
    outbox.add_events(3);
    h.alm.respond = [](const Received&) { return answer(404, "Not Found"); };
    CloudAlmExporter exporter(h.io.get_executor(), h.endpoint("/wrong"), h.resource(), h.client, outbox, observer,
                              fast_options());
    CHECK_FALSE(h.run(exporter.drain(200ms)));
    CHECK(outbox.rows.size() == 3);
    CHECK(outbox.rejected.empty());
    CHECK(observer.failures_of("http_404") >= 1);
}

TEST_CASE("cloud_alm: drain() returns false at once when paused, and on an unreachable endpoint")
{
    Harness h;
    MemoryOutbox outbox;
    RecordingObserver observer;
    outbox.add_events(2);
    h.alm.respond = [](const Received&) { return answer(403, "Forbidden"); };
    CloudAlmExporter exporter(h.io.get_executor(), h.endpoint(k_logs_path), h.resource(), h.client, outbox, observer,
                              fast_options());
    const auto started = std::chrono::steady_clock::now();
    CHECK_FALSE(h.run(exporter.drain(5s)));
    CHECK(std::chrono::steady_clock::now() - started < (unit_tests::k_sanitized ? 3s : 1s));  // the budget: 5 s
    CHECK(observer.paused_calls == std::vector<bool>{true});
    CHECK(outbox.rows.size() == 2);

    // Nothing listens there any more: connection refused is transient.
    auto config = h.endpoint(k_logs_path);
    h.alm.stop();
    MemoryOutbox other;
    other.add_events(1);
    RecordingObserver other_observer;
    CloudAlmExporter offline(h.io.get_executor(), config, h.resource(), h.client, other, other_observer,
                             fast_options());
    CHECK_FALSE(h.run(offline.drain(150ms)));
    CHECK(other.rows.size() == 1);
    CHECK(!other_observer.failures.empty());
    CHECK(other_observer.paused_calls.empty());
}

TEST_CASE("cloud_alm: a store that cannot remove delivered rows is retried, not spun on")
{
    Harness h;
    MemoryOutbox outbox;
    RecordingObserver observer;
    outbox.add_events(2);
    outbox.fail_remove = true;
    CloudAlmExporter exporter(h.io.get_executor(), h.endpoint(k_logs_path), h.resource(), h.client, outbox, observer,
                              fast_options());
    CHECK_FALSE(h.run(exporter.drain(150ms)));
    CHECK(h.alm.received.size() <= 10);  // backoff between attempts
    outbox.fail_remove = false;
    CHECK(h.run(exporter.drain(2s)));
    CHECK(outbox.rows.empty());
}

TEST_CASE("cloud_alm: while the endpoint accepts, two batches are in flight, acknowledged in sending order")
{
    Harness h;
    MemoryOutbox outbox;
    RecordingObserver observer;
    outbox.add_events(40);
    const auto all_ids = ids_of(outbox.rows);
    h.alm.delay = 100ms;
    auto config = h.endpoint(k_logs_path);
    config.max_batch_events = 5;
    CloudAlmExporter exporter(h.io.get_executor(), config, h.resource(), h.client, outbox, observer, fast_options());

    CHECK(h.run(exporter.drain(5s)));
    CHECK(outbox.rows.empty());
    REQUIRE(h.alm.received.size() == 8);
    std::multiset<std::string> delivered;
    for (const auto& request : h.alm.received) {
        const auto ids = request.event_ids();
        delivered.insert(ids.begin(), ids.end());
    }
    CHECK(delivered == all_ids);  // each once
    // The first batch goes alone (the second is sent once it was answered); after it, requests arrive
    // while the one before is unanswered, never more than two at once. Counted at the fake, not timed.
    CHECK(h.alm.received[0].unanswered_before == 0);
    CHECK(h.alm.received[1].unanswered_before == 0);
    std::size_t overlapped = 0;
    for (std::size_t i = 2; i < h.alm.received.size(); ++i) {
        overlapped += h.alm.received[i].unanswered_before == 1 ? 1 : 0;
    }
    CHECK(overlapped >= 3);
    CHECK(h.alm.max_unanswered == 2);
    // Taken out oldest first, whatever order the answers came in, each row once and only while queued.
    CHECK(std::is_sorted(outbox.removed.begin(), outbox.removed.end()));
    CHECK(outbox.removed.size() == 40);
    CHECK(outbox.refused == 0);
}

TEST_CASE("cloud_alm: a batch accepted behind one that failed is taken out; the failed one alone is sent again")
{
    Harness h;
    MemoryOutbox outbox;
    RecordingObserver observer;
    outbox.add_events(20);
    const auto all_ids = ids_of(outbox.rows);
    h.alm.delay = 30ms;
    bool failed_once = false;
    h.alm.respond = [&](const Received& request) {
        const auto ids = request.event_ids();
        if (!failed_once && !ids.empty() && ids.front() == "evt-6") {  // the second batch
            failed_once = true;
            return answer(503, R"({"error":"busy"})");
        }
        return answer(200, "{}");
    };
    auto config = h.endpoint(k_logs_path);
    config.max_batch_events = 5;
    CloudAlmExporter exporter(h.io.get_executor(), config, h.resource(), h.client, outbox, observer, fast_options());

    CHECK(h.run(exporter.drain(5s)));
    CHECK(outbox.rows.empty());
    CHECK(observer.failures == std::vector<std::string>{"http_503"});
    CHECK(observer.sent_events == 20);
    std::map<std::string, int> sent_times;
    for (const auto& request : h.alm.received) {
        for (const auto& id : request.event_ids()) {
            ++sent_times[id];
        }
    }
    CHECK(sent_times.size() == all_ids.size());
    for (const auto& [id, times] : sent_times) {
        const int batch = (std::stoi(id.substr(4)) - 1) / 5;  // evt-1..5 is the first batch
        CAPTURE(id);
        CHECK(times == (batch == 1 ? 2 : 1));  // only the refused batch went twice
    }
    // The batch behind the failed one (evt-11..15) was accepted first and taken out at once.
    REQUIRE(outbox.removed.size() == 20);
    CHECK(outbox.removed[5] == 11);
    CHECK(outbox.refused == 0);
}

TEST_CASE("cloud_alm: a stop while an accepted batch waits for its turn takes it out; only the one in flight stays")
{
    Harness h;
    MemoryOutbox outbox;
    RecordingObserver observer;
    outbox.add_events(40);
    // The fourth batch (evt-16..20) is answered late; the one sent beside it is accepted at once and
    // waits for its turn, since batches are taken out in sending order.
    h.alm.delay_for = [](const Received& request) {
        const auto ids = request.event_ids();
        return !ids.empty() && ids.front() == "evt-16" ? 5s : 0ms;
    };
    auto config = h.endpoint(k_logs_path);
    config.max_batch_events = 5;
    CloudAlmExporter exporter(h.io.get_executor(), config, h.resource(), h.client, outbox, observer, fast_options());
    Running running;

    h.run([&]() -> asio::awaitable<void> {
        running.start(h.io, exporter);
        // Five requests arrived and four were answered: evt-16..20 is the one in flight.
        REQUIRE(co_await eventually([&] { return h.alm.received.size() == 5 && h.alm.answered == 4; }, 3s));
        std::set<std::string> firsts;
        for (const auto& request : h.alm.received) {
            firsts.insert(request.event_ids().front());
        }
        CHECK(firsts == std::set<std::string>{"evt-1", "evt-6", "evt-11", "evt-16", "evt-21"});
        co_await pause_for(unit_tests::k_sanitized ? 300ms : 100ms);  // the client reads the 200 of evt-21..25
        CHECK(outbox.holds(21));  // accepted, waiting for its turn behind evt-16..20

        // The daemon's stop: cancellation, then the client closed under the request in flight.
        running.stop.emit(asio::cancellation_type::terminal);
        h.client.close();
        CHECK(co_await eventually([&] { return running.done; }, 3s));
    }());
    REQUIRE(running.done);
    // Accepted batches are out, the accepted one that waited included; the one in flight stays.
    for (std::int64_t seq = 1; seq <= 25; ++seq) {
        CAPTURE(seq);
        CHECK(outbox.holds(seq) == (seq >= 16 && seq <= 20));
    }
    CHECK(outbox.holds(26));  // never sent
    CHECK(observer.sent_events == 20);
    CHECK(outbox.refused == 0);
    CHECK(h.alm.received.size() == 5);
}

// ---- Compress once: whole chunks of the state store go as the gzip members they are stored as.

namespace {

struct StoreDir {
    std::filesystem::path path;
    StoreDir()
        : path(std::filesystem::temp_directory_path() /
               ("c4c-unit-gz-" + std::to_string(::getpid()) + "-" + std::to_string(next())))
    {
        std::filesystem::remove_all(path);
    }
    ~StoreDir() { std::filesystem::remove_all(path); }
    StoreDir(const StoreDir&) = delete;
    StoreDir& operator=(const StoreDir&) = delete;
    static int next()
    {
        static int counter = 0;
        return ++counter;
    }
};

/// An endpoint's queue in a real state store, as the daemon hands it to its exporter (daemon/runtime.cpp).
class StoreOutbox final : public exporters::Outbox {
public:
    StoreOutbox(c4c::infra::StateStore& store, std::int64_t endpoint) : m_store(store), m_endpoint(endpoint) {}
    std::vector<exporters::OutboxRow> peek(std::size_t max_events, std::size_t max_bytes, std::int64_t after) override
    {
        return m_store.peek(m_endpoint, max_events, max_bytes, after);
    }
    bool remove(std::span<const exporters::OutboxRow> rows) override { return m_store.remove(m_endpoint, rows); }
    bool reject(const exporters::OutboxRow& row, std::string_view answer_text) override
    {
        return m_store.reject(m_endpoint, row, answer_text);
    }
    std::size_t size() override { return m_store.figures(m_endpoint).events; }
    std::optional<exporters::CompressedRows> peek_compressed(std::size_t max_events, std::size_t max_json_bytes,
                                                             std::int64_t after) override
    {
        auto rows = m_store.peek_compressed(m_endpoint, max_events, max_json_bytes, after);
        compressed += rows ? 1 : 0;
        return rows;
    }
    bool remove_compressed(const exporters::CompressedRows& rows) override { return m_store.remove(m_endpoint, rows); }
    std::int64_t aligned_end(std::int64_t first_seq, std::int64_t last_seq) override
    {
        return m_store.aligned_end(m_endpoint, first_seq, last_seq);
    }

    std::size_t compressed = 0;  ///< batches peek_compressed() gave

private:
    c4c::infra::StateStore& m_store;
    std::int64_t m_endpoint;
};

/// A store with `count` events (those of MemoryOutbox::add_events) in pages of `page`, chunks cut at
/// `chunk_events` as the daemon cuts them for an endpoint of max_batch_events = chunk_events.
struct QueuedStore {
    StoreDir dir;
    c4c::infra::StateStore store{dir.path};
    std::int64_t endpoint = store.endpoint_id("acme-prod", "business_process_monitoring");
    std::vector<exporters::OutboxRow> rows;

    QueuedStore(std::size_t count, std::size_t page, std::size_t chunk_events)
    {
        store.set_chunk_limits(endpoint, chunk_events, std::size_t{4} << 20);
        MemoryOutbox source;
        source.add_events(count, 200);
        rows = source.rows;
        for (std::size_t at = 0; at < rows.size(); at += page) {
            std::vector<c4c::infra::PendingEvent> events;
            for (std::size_t i = at; i < std::min(rows.size(), at + page); ++i) {
                events.push_back({rows[i].event_id, static_cast<std::int64_t>(i + 1), rows[i].payload});
            }
            std::size_t stored = 0;
            REQUIRE(store.commit_page("acme-prod/business_objects/x", endpoint, events, std::to_string(at), stored) ==
                    c4c::infra::CommitResult::committed);
            REQUIRE(stored == events.size());
        }
    }
};

/// Every event.id the fake received in a request it accepted, counted.
std::multiset<std::string> received_ids(const FakeAlm& alm)
{
    std::multiset<std::string> ids;
    for (const auto& request : alm.received) {
        CHECK(request.body_ok);
        for (auto& id : request.event_ids()) {
            ids.insert(id);
        }
    }
    return ids;
}

}  // namespace

TEST_CASE("cloud_alm: whole chunks sent as stored gzip members decode to the body the slow path builds")
{
    QueuedStore queued(95, 20, 10);  // chunks of 10, 10 per page of 20
    const auto prefix = exporters::logs_envelope_prefix(
        exporters::ResourceInfo{"acme-prod", "https://my123456.crm.ondemand.com", "business_process_monitoring"});
    const auto envelope = exporters::gzip_envelope(prefix);
    for (const std::size_t max_events : {10u, 30u, 200u}) {
        const auto batch = queued.store.peek_compressed(queued.endpoint, max_events, std::size_t{4} << 20);
        REQUIRE(batch.has_value());
        CHECK(batch->events == std::min<std::size_t>(max_events, 95));
        const std::string body = exporters::gzip_members_body(envelope, batch->members);
        const auto rows = queued.store.peek(queued.endpoint, batch->events, std::size_t{4} << 20);
        REQUIRE(rows.size() == batch->events);
        const auto decoded = exporters::gunzip(body);  // zlib, reading every member
        REQUIRE(decoded.has_value());
        CHECK(*decoded == exporters::build_logs_body(prefix, rows));
        CHECK(decoded->size() == prefix.size() + batch->json_bytes + exporters::logs_envelope_suffix().size());
        // The first member alone is never a document: a decoder that stops there sends Cloud ALM invalid
        // JSON (400: the batch is split), never fewer records as if they were all.
        const auto first = exporters::gunzip(envelope.prefix);
        REQUIRE(first.has_value());
        CHECK(nlohmann::json::parse(*first, nullptr, false).is_discarded());
    }

    Harness h;
    StoreOutbox outbox(queued.store, queued.endpoint);
    RecordingObserver observer;
    auto config = h.endpoint(k_logs_path);
    config.gzip = true;
    config.max_batch_events = 20;
    CloudAlmExporter exporter(h.io.get_executor(), config, h.resource(), h.client, outbox, observer, fast_options());
    CHECK(h.run(exporter.drain(5s)));
    CHECK(outbox.size() == 0);
    CHECK(observer.sent_events == 95);
    CHECK(received_ids(h.alm) == ids_of(queued.rows));
    // Every batch is whole chunks, the first one (sent alone before the pipelined ones) too.
    CHECK(outbox.compressed == 5);
    for (const auto& request : h.alm.received) {
        CHECK(request.event_ids().size() <= 20);
    }
}

TEST_CASE("cloud_alm: an endpoint that reads only a body's first gzip member gets one-member bodies from then on")
{
    QueuedStore queued(95, 20, 10);  // chunks of 10, 10 per page of 20
    Harness h;
    h.alm.first_gzip_member_only = true;
    // Its JSON parser sees the envelope's prefix alone in a body of several members: 400.
    h.alm.respond = [](const Received& r) {
        return r.records().empty() ? answer(400, "invalid JSON") : answer(200, "{}");
    };
    StoreOutbox outbox(queued.store, queued.endpoint);
    RecordingObserver observer;
    auto config = h.endpoint(k_logs_path);
    config.gzip = true;
    config.max_batch_events = 20;
    CloudAlmExporter exporter(h.io.get_executor(), config, h.resource(), h.client, outbox, observer, fast_options());
    CHECK(h.run(exporter.drain(5s)));
    CHECK(outbox.size() == 0);
    CHECK(observer.sent_events == 95);
    CHECK(observer.rejected_events == 0);
    CHECK(observer.failures == std::vector<std::string>{"http_400"});
    // Every event reached Cloud ALM once in an accepted body; one body of several members was refused.
    std::multiset<std::string> accepted_ids;
    std::size_t refused = 0;
    for (const auto& request : h.alm.received) {
        if (request.records().empty()) {
            ++refused;
        }
        for (auto& id : request.event_ids()) {
            accepted_ids.insert(id);
        }
    }
    CHECK(accepted_ids == ids_of(queued.rows));
    CHECK(refused == 1);
    CHECK(outbox.compressed == 1);  // whole chunks were tried once
}

TEST_CASE("cloud_alm: batches over a cut chunk take the slow path, the ones behind it are whole chunks again")
{
    QueuedStore queued(50, 10, 10);  // chunks 1-10, 11-20, ..., 41-50
    std::multiset<std::string> expected = ids_of(queued.rows);
    const auto taken_head = queued.store.peek(queued.endpoint, 3, std::size_t{1} << 30);
    REQUIRE(queued.store.remove(queued.endpoint, taken_head));  // the watermark cuts the first chunk
    const auto taken_gap = queued.store.peek(queued.endpoint, 2, std::size_t{1} << 30, 14);
    REQUIRE(queued.store.remove(queued.endpoint, taken_gap));  // a gap cuts the second
    for (const auto& row : taken_head) {
        expected.erase(expected.find(row.event_id));
    }
    for (const auto& row : taken_gap) {
        expected.erase(expected.find(row.event_id));
    }

    Harness h;
    StoreOutbox outbox(queued.store, queued.endpoint);
    RecordingObserver observer;
    auto config = h.endpoint(k_logs_path);
    config.gzip = true;
    config.max_batch_events = 10;
    CloudAlmExporter exporter(h.io.get_executor(), config, h.resource(), h.client, outbox, observer, fast_options());
    CHECK(h.run(exporter.drain(5s)));
    CHECK(outbox.size() == 0);
    CHECK(received_ids(h.alm) == expected);
    // 4-13 and 14,17-20 (ending where the third chunk starts) read as rows; 21-30, 31-40, 41-50 whole.
    CHECK(outbox.compressed == 3);
    REQUIRE(h.alm.received.size() == 5);
    CHECK(std::count_if(h.alm.received.begin(), h.alm.received.end(),
                        [](const Received& request) { return request.event_ids().size() == 5; }) == 1);
}

TEST_CASE("cloud_alm: whole chunks refused with 400 are split into rows and delivered, nothing moved aside")
{
    QueuedStore queued(40, 10, 10);
    Harness h;
    StoreOutbox outbox(queued.store, queued.endpoint);
    RecordingObserver observer;
    int requests = 0;
    // The second request (the first of whole chunks) is refused, as by a decoder that reads one member.
    h.alm.respond = [&requests](const Received&) { return ++requests == 2 ? answer(400, "{}") : answer(200, "{}"); };
    auto config = h.endpoint(k_logs_path);
    config.gzip = true;
    config.max_batch_events = 10;
    CloudAlmExporter exporter(h.io.get_executor(), config, h.resource(), h.client, outbox, observer, fast_options());
    CHECK(h.run(exporter.drain(5s)));
    CHECK(outbox.size() == 0);
    CHECK(observer.sent_events == 40);
    CHECK(queued.store.figures(queued.endpoint).rejected == 0);
    std::multiset<std::string> accepted;
    for (std::size_t i = 0; i < h.alm.received.size(); ++i) {
        if (i != 1) {
            for (auto& id : h.alm.received[i].event_ids()) {
                accepted.insert(id);
            }
        }
    }
    CHECK(accepted == ids_of(queued.rows));
}

TEST_CASE("cloud_alm: chunks stored before schema 6 (packed and deflated) are delivered through the slow path")
{
    QueuedStore queued(30, 10, 10);
    const auto path = queued.store.file();
    // Rewrite every chunk as schema 5 stored it: (id size, payload size, id, payload) per event, raw deflate.
    {
        sqlite3* db = nullptr;
        REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
        sqlite3_stmt* update = nullptr;
        REQUIRE(sqlite3_prepare_v2(db,
                                   "UPDATE outbox_chunks SET format = 0, idx = NULL, data = ?2, raw_size = ?3 "
                                   "WHERE first_seq = ?1",
                                   -1, &update, nullptr) == SQLITE_OK);
        for (std::size_t first = 0; first < queued.rows.size(); first += 10) {
            std::string packed;
            const auto put = [&packed](std::size_t value) {
                for (int shift = 0; shift < 32; shift += 8) {
                    packed.push_back(static_cast<char>((value >> shift) & 0xff));
                }
            };
            for (std::size_t i = first; i < first + 10; ++i) {
                put(queued.rows[i].event_id.size());
                put(queued.rows[i].payload.size());
                packed += queued.rows[i].event_id + queued.rows[i].payload;
            }
            z_stream zs{};
            REQUIRE(deflateInit2(&zs, 1, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK);
            std::vector<char> buffer(deflateBound(&zs, static_cast<uLong>(packed.size())));
            zs.next_in = reinterpret_cast<Bytef*>(packed.data());
            zs.avail_in = static_cast<uInt>(packed.size());
            zs.next_out = reinterpret_cast<Bytef*>(buffer.data());
            zs.avail_out = static_cast<uInt>(buffer.size());
            REQUIRE(deflate(&zs, Z_FINISH) == Z_STREAM_END);
            const std::string data(buffer.data(), static_cast<std::size_t>(zs.total_out));
            deflateEnd(&zs);
            sqlite3_bind_int64(update, 1, static_cast<sqlite3_int64>(first + 1));
            sqlite3_bind_blob(update, 2, data.data(), static_cast<int>(data.size()), SQLITE_TRANSIENT);
            sqlite3_bind_int64(update, 3, static_cast<sqlite3_int64>(packed.size()));
            REQUIRE(sqlite3_step(update) == SQLITE_DONE);
            REQUIRE(sqlite3_changes(db) == 1);
            sqlite3_reset(update);
        }
        sqlite3_finalize(update);
        sqlite3_close(db);
    }
    c4c::infra::StateStore reopened(path.parent_path());
    CHECK(reopened.figures(queued.endpoint).events == 30);
    CHECK_FALSE(reopened.peek_compressed(queued.endpoint, 10, std::size_t{4} << 20).has_value());

    Harness h;
    StoreOutbox outbox(reopened, queued.endpoint);
    RecordingObserver observer;
    auto config = h.endpoint(k_logs_path);
    config.gzip = true;
    config.max_batch_events = 10;
    CloudAlmExporter exporter(h.io.get_executor(), config, h.resource(), h.client, outbox, observer, fast_options());
    CHECK(h.run(exporter.drain(5s)));
    CHECK(outbox.size() == 0);
    CHECK(outbox.compressed == 0);
    CHECK(received_ids(h.alm) == ids_of(queued.rows));
}
