#include "infra/state_store.hpp"

#include "temp_dir.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <string>

using namespace c4c::infra;

namespace {

using unit_tests::TempDir;

PollRecord poll(bool ok, std::int64_t at, std::string outcome)
{
    PollRecord record;
    record.tenant = "acme";
    record.source = "business_objects";
    record.polled_at_ms = at;
    record.ok = ok;
    record.outcome = std::move(outcome);
    record.message = ok ? "" : "tenant acme source business_objects: HTTP 503";
    record.records = 10;
    record.stored = 2;
    return record;
}

}  // namespace

TEST_CASE("state status: a source's last poll replaces the one before, keeping its last success")
{
    TempDir dir;
    {
        StateStore store(dir.path);
        REQUIRE(store.record_poll(poll(true, 1000, "ok")));
        REQUIRE(store.record_poll(poll(false, 2000, "http_503")));
        REQUIRE(store.record_poll(poll(false, 3000, "timeout")));
        const auto polls = store.poll_records();
        REQUIRE(polls.size() == 1);
        CHECK(polls[0].polled_at_ms == 3000);
        CHECK_FALSE(polls[0].ok);
        CHECK(polls[0].outcome == "timeout");
        CHECK(polls[0].last_success_ms == 1000);
        CHECK(polls[0].consecutive_failures == 2);
        CHECK(polls[0].records == 10);
        CHECK(polls[0].stored == 2);
    }
    {
        auto reader = StateStore::open_read_only(dir.path);
        REQUIRE(reader);
        CHECK(reader->poll_records().at(0).outcome == "timeout");
    }
    StateStore store(dir.path);
    REQUIRE(store.record_poll(poll(true, 4000, "ok")));
    const auto polls = store.poll_records();
    CHECK(polls[0].consecutive_failures == 0);
    CHECK(polls[0].last_success_ms == 4000);
    CHECK(polls[0].message.empty());
}

TEST_CASE("state status: an endpoint's delivery state, checkpoints and endpoints as recorded")
{
    TempDir dir;
    StateStore store(dir.path);
    const auto endpoint = store.endpoint_id("acme", "integration_monitoring");
    CHECK(store.find_endpoint("acme", "integration_monitoring") == endpoint);
    CHECK_FALSE(store.find_endpoint("acme", "real_user_monitoring"));
    REQUIRE(store.record_delivery({endpoint, "paused", "HTTP 401", 5000}));
    REQUIRE(store.record_delivery({endpoint, "ok", "", 6000}));
    const auto records = store.delivery_records();
    REQUIRE(records.size() == 1);
    CHECK(records[0].state == "ok");
    CHECK(records[0].since_ms == 6000);

    std::size_t stored = 0;
    REQUIRE(store.commit_page("acme/webservice_messages/messages", endpoint, {}, "2025-01-01T00:00:00.000Z", stored) ==
            CommitResult::committed);
    const auto checkpoints = store.feed_checkpoints();
    REQUIRE(checkpoints.size() == 1);
    CHECK(checkpoints[0].feed == "acme/webservice_messages/messages");
    CHECK(checkpoints[0].value == "2025-01-01T00:00:00.000Z");
    CHECK(checkpoints[0].updated_at_ms > 0);
}
