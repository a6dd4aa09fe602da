#include "test_exporters_support.hpp"

// GCC 12 reports a false -Wmismatched-new-delete for an Asio awaitable frame in this file (the frame's
// class-specific operator new and delete do match).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

#include "exporters/health_monitoring.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>

using namespace exporter_tests;
using c4c::exporters::HealthExporter;
using c4c::exporters::HealthOptions;
using c4c::exporters::MetricPoint;

namespace {

constexpr std::string_view k_metrics_path = "/api/calm-metrics/v1/metrics";

std::vector<MetricPoint> snapshot()
{
    std::vector<MetricPoint> points;
    points.push_back({"c4c.source.availability",
                      "1 when the last poll succeeded",
                      "1",
                      MetricPoint::Kind::gauge,
                      {{"sap.c4c.source", std::string("webservice_messages")}},
                      1.0,
                      0});
    points.push_back({"c4c.source.records",
                      "Records read from C4C",
                      "{record}",
                      MetricPoint::Kind::sum,
                      {{"sap.c4c.source", std::string("webservice_messages")}},
                      std::int64_t{42},
                      0});
    return points;
}

c4c::exporters::EndpointConfig health_endpoint(const Harness& h)
{
    auto config = h.endpoint(k_metrics_path);
    config.use_case = "health_monitoring";
    config.gzip = true;
    return config;
}

HealthOptions fast_options()
{
    HealthOptions options;
    options.interval = 100ms;
    options.first_delay = 0ms;
    options.start_time = std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000));
    return options;
}

}  // namespace

TEST_CASE("health: push_once sends an OTLP metrics document, gzip")
{
    Harness h;
    RecordingObserver observer;
    HealthExporter exporter(health_endpoint(h), h.resource(""), h.client, observer, snapshot, fast_options());

    CHECK(h.run(exporter.push_once()));
    REQUIRE(h.alm.received.size() == 1);
    const auto& request = h.alm.received[0];
    CHECK(request.path == k_metrics_path);
    CHECK(request.content_type == "application/json");
    CHECK(request.content_encoding == "gzip");
    REQUIRE(request.body_ok);
    const auto doc = nlohmann::json::parse(request.body);
    const auto& resource = doc["resourceMetrics"][0]["resource"]["attributes"];
    CHECK(resource[0]["value"]["stringValue"] == "acme-prod");
    CHECK(resource[3]["value"]["stringValue"] == "health_monitoring");
    const auto& metrics = doc["resourceMetrics"][0]["scopeMetrics"][0]["metrics"];
    REQUIRE(metrics.size() == 2);
    CHECK(metrics[0]["gauge"]["dataPoints"][0]["asDouble"] == 1.0);
    CHECK(metrics[1]["sum"]["dataPoints"][0]["asInt"] == "42");
    CHECK(metrics[1]["sum"]["dataPoints"][0]["startTimeUnixNano"] == "1700000000000000000");
    CHECK(metrics[1]["sum"]["aggregationTemporality"] == 2);
    CHECK(observer.sent_calls == 1);
    CHECK(observer.failures.empty());
}

TEST_CASE("health: a failed push is counted and reported false; 401 pauses until a push succeeds")
{
    LogCapture logs;
    Harness h;
    RecordingObserver observer;
    unsigned status = 503;
    h.alm.respond = [&](const Received&) { return answer(status, "busy", {{"Retry-After", "30"}}); };
    HealthExporter exporter(health_endpoint(h), h.resource("health_monitoring"), h.client, observer, snapshot,
                            fast_options());

    CHECK_FALSE(h.run(exporter.push_once()));
    CHECK(observer.failures == std::vector<std::string>{"http_503"});

    status = 401;
    CHECK_FALSE(h.run(exporter.push_once()));
    CHECK_FALSE(h.run(exporter.push_once()));
    CHECK(observer.paused_calls == std::vector<bool>{true});
    CHECK(logs.count("check credentials") == 1);

    status = 200;
    CHECK(h.run(exporter.push_once()));
    CHECK(observer.paused_calls == std::vector<bool>{true, false});

    // Nothing to report: nothing is sent.
    HealthExporter empty(
        health_endpoint(h), h.resource("health_monitoring"), h.client, observer,
        [] { return std::vector<MetricPoint>{}; }, fast_options());
    const auto before = h.alm.received.size();
    CHECK(h.run(empty.push_once()));
    CHECK(h.alm.received.size() == before);
}

void start(Harness& h, HealthExporter& exporter, asio::cancellation_signal& stop, bool& done)
{
    asio::co_spawn(h.io, exporter.run(),
                   asio::bind_cancellation_slot(stop.slot(), [&done](std::exception_ptr) { done = true; }));
}

asio::awaitable<void> push_periodically(Harness& h, HealthExporter& exporter, asio::cancellation_signal& stop,
                                        bool& done)
{
    start(h, exporter, stop, done);
    CHECK(co_await eventually([&] { return h.alm.received.size() >= 4; }, 2s));
    // Pushes are an interval apart (measured over two, as arrival times jitter with each exchange).
    CHECK(h.alm.received[3].at - h.alm.received[1].at >= 170ms);

    // A Retry-After longer than the interval postpones the next push.
    h.alm.respond = [](const Received&) { return answer(429, "slow down", {{"Retry-After", "1"}}); };
    const auto count = h.alm.received.size();
    CHECK(co_await eventually([&] { return h.alm.received.size() == count + 1; }, 1s));
    co_await pause_for(500ms);
    CHECK(h.alm.received.size() == count + 1);
    h.alm.respond = [](const Received&) { return answer(200); };

    stop.emit(asio::cancellation_type::terminal);
    CHECK(co_await eventually([&] { return done; }, 1s));
}

TEST_CASE("health: run() pushes every interval until cancelled, and honours a long Retry-After")
{
    Harness h;
    RecordingObserver observer;
    HealthExporter exporter(health_endpoint(h), h.resource("health_monitoring"), h.client, observer, snapshot,
                            fast_options());
    asio::cancellation_signal stop;
    bool done = false;
    h.run(push_periodically(h, exporter, stop, done));
    CHECK(done);
    CHECK(observer.failures_of("http_429") == 1);
}
