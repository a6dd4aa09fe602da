#include "daemon/status.hpp"

#include "daemon/status_recorder.hpp"
#include "test_daemon_support.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

using namespace c4c;
using namespace c4c::daemon;
using c4c::daemon::test::TempDir;

namespace {

Config two_sources(const std::filesystem::path& state_dir)
{
    return test::acme_config(state_dir, {{"business_objects", "business_process_monitoring"},
                                         {"webservice_messages", "integration_monitoring"}});
}

std::int64_t ms(std::int64_t seconds)
{
    return seconds * 1000;
}

}  // namespace

TEST_CASE("status: ages for a person and sizes")
{
    CHECK(format_age(std::nullopt) == "-");
    CHECK(format_age(-1.0) == "-");
    CHECK(format_age(0.4) == "0s");
    CHECK(format_age(59.9) == "59s");
    CHECK(format_age(60) == "1m");
    CHECK(format_age(3599) == "59m");
    CHECK(format_age(3600) == "1h");
    CHECK(format_age(3600 + 5 * 60) == "1h05m");
    CHECK(format_age(86400 * 2 + 4 * 3600 + 59) == "2d4h");
    CHECK(format_bytes(0) == "0 B");
    CHECK(format_bytes(1023) == "1023 B");
    CHECK(format_bytes(1536) == "1.5 KiB");
    CHECK(format_bytes(std::size_t{3} << 30) == "3.0 GiB");
    CHECK(age_seconds(ms(10), ms(12)) == 2.0);
    CHECK(age_seconds(ms(12), ms(10)) == 0.0);
}

TEST_CASE("status: without a store every source waits and nothing is queued")
{
    TempDir dir;
    const auto config = two_sources(dir.path);
    const auto status =
        collect_status(config, nullptr, {}, std::chrono::system_clock::time_point(std::chrono::seconds(5)));
    CHECK_FALSE(status.note.empty());
    REQUIRE(status.tenants.size() == 1);
    REQUIRE(status.tenants[0].sources.size() == 2);
    CHECK(status.tenants[0].sources[0].state == "waiting");
    CHECK(status.tenants[0].endpoints[0].figures.events == 0);
    const auto json = nlohmann::json::parse(status_json(status));
    CHECK(json["generated_at"] == "1970-01-01T00:00:05.000Z");
    CHECK(json["daemon"]["running"] == false);
    CHECK(json["daemon"]["pid"].is_null());
    CHECK(json["tenants"][0]["sources"][0]["last_poll"].is_null());
    CHECK(json["tenants"][0]["sources"][0]["checkpoint"].is_null());
}

TEST_CASE("status: the store's checkpoints, polls, queues and delivery states")
{
    TempDir dir;
    auto config = two_sources(dir.path);
    infra::StateStore store(dir.path);
    const auto bpm = store.endpoint_id("acme", "business_process_monitoring");
    const auto iem = store.endpoint_id("acme", "integration_monitoring");
    std::size_t stored = 0;
    const std::string payload = R"({"x":1})";
    const std::vector<infra::PendingEvent> events{{"e1", 1, payload}, {"e2", 2, payload}};
    REQUIRE(store.commit_page("acme/business_objects/LeadCollection", bpm, events, "100000", stored) ==
            infra::CommitResult::committed);
    REQUIRE(store.commit_page("acme/business_objects/OpportunityCollection", bpm, {}, "40000", stored) ==
            infra::CommitResult::committed);
    REQUIRE(store.commit_page("acme/webservice_messages/messages", iem, {}, "not a time", stored) ==
            infra::CommitResult::committed);

    collectors::PollOutcome ok;
    ok.records = 2;
    ok.stored = 2;
    record_poll(store, "acme", "business_objects", ok, std::chrono::system_clock::time_point(std::chrono::seconds(90)));
    collectors::PollOutcome failed;
    failed.ok = false;
    failed.reason = collectors::FailureReason::http(503);
    failed.message = "tenant acme source webservice_messages: HTTP 503";
    record_poll(store, "acme", "webservice_messages", failed,
                std::chrono::system_clock::time_point(std::chrono::seconds(95)));
    DeliveryRecorder delivery(&store, iem);
    delivery.start();
    delivery.failed("http_401");
    delivery.paused(true, "HTTP 401: wrong client");

    const auto now = std::chrono::system_clock::time_point(std::chrono::seconds(100));
    const auto status = collect_status(config, &store, DaemonStatus{true, 42, "daemon"}, now);
    CHECK(status.note.empty());
    const auto& tenant = status.tenants.at(0);
    const auto& objects = tenant.sources.at(0);
    CHECK(objects.name == "business_objects");
    CHECK(objects.state == "ok");
    CHECK(objects.feeds.size() == 2);
    CHECK(objects.checkpoint_ms == 40000);  // the feed furthest behind
    const auto& messages = tenant.sources.at(1);
    CHECK(messages.state == "down");
    CHECK(messages.feeds.at(0).value == "not a time");
    CHECK_FALSE(messages.checkpoint_ms);
    const auto& process = tenant.endpoints.at(0);
    CHECK(process.name == "business_process_monitoring");
    CHECK(process.figures.events == 2);
    CHECK(process.oldest_ms.has_value());
    CHECK(process.state == "ok");
    const auto& integration = tenant.endpoints.at(1);
    CHECK(integration.state == "paused");
    CHECK(integration.reason == "HTTP 401: wrong client");

    const auto json = nlohmann::json::parse(status_json(status));
    CHECK(json["daemon"]["pid"] == 42);
    const auto& source = json["tenants"][0]["sources"][0];
    CHECK(source["checkpoint"]["instant"] == "1970-01-01T00:00:40.000Z");
    CHECK(source["checkpoint"]["age_seconds"] == 60.0);
    CHECK(source["last_poll"]["age_seconds"] == 10.0);
    CHECK(source["last_success"]["at"] == "1970-01-01T00:01:30.000Z");
    CHECK(json["tenants"][0]["sources"][1]["last_poll"]["outcome"] == "http_503");
    CHECK(json["tenants"][0]["sources"][1]["last_success"].is_null());
    CHECK(json["tenants"][0]["sources"][1]["consecutive_failures"] == 1);
    CHECK(json["tenants"][0]["endpoints"][0]["outbox"]["events"] == 2);
    CHECK(json["tenants"][0]["endpoints"][1]["paused"] == true);
}

TEST_CASE("status recorder: paused outlasts the failures of its retries; an accepted batch clears everything")
{
    TempDir dir;
    infra::StateStore store(dir.path);
    const auto id = store.endpoint_id("acme", "integration_monitoring");
    auto state = [&] { return store.delivery_records().at(0); };
    DeliveryRecorder recorder(&store, id);
    CHECK(store.delivery_records().empty());  // a recorder built and never started leaves no trace
    recorder.start();
    CHECK(state().state == "ok");
    recorder.failed("http_503");
    CHECK(state().state == "retrying");
    CHECK(state().reason == "http_503");
    const auto since = state().since_ms;
    recorder.failed("timeout");
    CHECK(state().reason == "timeout");
    CHECK(state().since_ms == since);
    recorder.paused(true, "HTTP 403");
    recorder.failed("http_403");
    CHECK(state().state == "paused");
    recorder.paused(false, {});
    CHECK(state().state == "ok");
    recorder.failed("http_500");
    recorder.sent();
    CHECK(state().state == "ok");
    // A refused batch fails, then is split; its last record set aside, delivery goes on.
    recorder.failed("http_400");
    CHECK(state().state == "retrying");
    recorder.rejected();
    CHECK(state().state == "ok");

    // A read-only store (--dry-run) records nothing.
    auto reader = infra::StateStore::open_read_only(dir.path);
    DeliveryRecorder quiet(reader.get(), id);
    quiet.start();
    quiet.paused(true, "x");
    CHECK(state().state == "ok");
}

TEST_CASE("status: the quarantined records of each source, counted from the store")
{
    TempDir dir;
    auto config = two_sources(dir.path);
    infra::StateStore store(dir.path);
    const auto bpm = store.endpoint_id("acme", "business_process_monitoring");
    const std::vector<infra::QuarantineEntry> bad{
        {"acme", "business_objects", "LeadCollection", "", "missing_key", "no ObjectID", "{\"a\":1}"},
        {"acme", "business_objects", "LeadCollection", "X", "invalid_time", "bad time", "{\"a\":2}"},
        {"other", "business_objects", "LeadCollection", "Y", "invalid_time", "bad time", "{\"a\":3}"}};
    infra::PageCommitted committed;
    REQUIRE(store.commit_page("acme/business_objects/LeadCollection", bpm, infra::PageCommit{{}, bad, "1", 1'000'000},
                              committed) == infra::CommitResult::committed);

    const auto status = collect_status(config, &store, DaemonStatus{}, std::chrono::system_clock::now());
    CHECK(status.tenants.at(0).sources.at(0).name == "business_objects");
    CHECK(status.tenants.at(0).sources.at(0).quarantined == 2);
    CHECK(status.tenants.at(0).sources.at(1).quarantined == 0);
    const auto json = nlohmann::json::parse(status_json(status));
    CHECK(json["tenants"][0]["sources"][0]["quarantined"] == 2);

    // The same through the operator's read-only connection.
    const auto reader = infra::StateStore::open_read_only(dir.path);
    CHECK(collect_status(config, reader.get(), DaemonStatus{}, std::chrono::system_clock::now())
              .tenants.at(0)
              .sources.at(0)
              .quarantined == 2);
}
