#include "daemon/housekeeping.hpp"

#include "infra/state_store.hpp"
#include "infra/time.hpp"
#include "temp_dir.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using c4c::collectors::SourceConfig;
using c4c::daemon::Config;
using c4c::daemon::Housekeeping;
using c4c::daemon::k_seen_margin;
using c4c::daemon::seen_horizon;
using c4c::daemon::TenantConfig;
using c4c::infra::FeedCheckpoint;
using c4c::infra::PageCommit;
using c4c::infra::PageCommitted;
using c4c::infra::PendingEvent;
using c4c::infra::StateStore;
using unit_tests::TempDir;

namespace {

constexpr std::int64_t k_s = 1'000'000'000;
constexpr std::int64_t k_margin = std::chrono::duration_cast<std::chrono::nanoseconds>(k_seen_margin).count();
constexpr std::int64_t k_day = 86400 * k_s;
constexpr std::int64_t k_checkpoint = 1'795'650'000 * k_s;  // 25.11.2026 23:40 UTC

Config config_with(std::chrono::milliseconds overlap, std::chrono::milliseconds lookback = 24h)
{
    Config config;
    TenantConfig tenant;
    tenant.name = "acme";
    for (const char* name : {"business_objects", "response_time_analysis", "webservice_messages"}) {
        SourceConfig source;
        source.name = name;
        source.overlap = overlap;
        source.lookback = lookback;
        tenant.sources.emplace(name, source);
    }
    tenant.sources.at("webservice_messages").enabled = false;
    config.tenants.push_back(tenant);
    return config;
}

FeedCheckpoint row(std::string feed, std::optional<std::int64_t> checkpoint_ns)
{
    return FeedCheckpoint{1, std::move(feed), checkpoint_ns ? std::to_string(*checkpoint_ns) : std::string(),
                          checkpoint_ns};
}

}  // namespace

TEST_CASE("seen horizon: a feed's checkpoint minus its source's overlap, never by wall-clock age")
{
    const Config config = config_with(1h);
    const auto bo = row("acme/business_objects/LeadCollection", k_checkpoint);
    const std::int64_t expected = k_checkpoint - 3600 * k_s - k_margin;
    CHECK(seen_horizon(bo, config, k_checkpoint + 60 * k_s) == expected);
    // A stop of any length: the horizon stays where the feed's next poll starts reading.
    for (const std::int64_t stop : {3 * k_day, 30 * k_day, 3650 * k_day}) {
        CAPTURE(stop);
        CHECK(seen_horizon(bo, config, k_checkpoint + stop) == expected);
    }
    // A disabled source reads from its checkpoint once enabled again.
    CHECK(seen_horizon(row("acme/webservice_messages/messages", k_checkpoint), config, k_checkpoint + 5 * k_day) ==
          expected);
}

TEST_CASE("seen horizon: a checkpoint ahead of now counts as now; without an instant, now minus lookback")
{
    const Config config = config_with(10min, 2h);
    const std::int64_t now = k_checkpoint;
    CHECK(seen_horizon(row("acme/response_time_analysis/rta", now + 3600 * k_s), config, now) ==
          now - 600 * k_s - k_margin);
    CHECK(seen_horizon(row("acme/response_time_analysis/rta", std::nullopt), config, now) ==
          now - 7200 * k_s - k_margin);
}

TEST_CASE("seen horizon: a feed of a tenant or source no longer configured uses the defaults")
{
    const Config config = config_with(1h);
    const SourceConfig defaults;
    const std::int64_t overlap = std::chrono::duration_cast<std::chrono::nanoseconds>(defaults.overlap).count();
    CHECK(seen_horizon(row("gone/business_objects/LeadCollection", k_checkpoint), config, k_checkpoint) ==
          k_checkpoint - overlap - k_margin);
    CHECK(seen_horizon(row("acme/other_source/x", k_checkpoint), config, k_checkpoint) ==
          k_checkpoint - overlap - k_margin);
    CHECK(seen_horizon(row("no-slashes", k_checkpoint), config, k_checkpoint) == k_checkpoint - overlap - k_margin);
}

TEST_CASE("housekeeping: after a long stop each feed keeps the ids its window can re-read; a quiet feed holds "
          "back no other")
{
    TempDir dir;
    Config config = config_with(1h);
    StateStore store(dir.path);
    const auto endpoint = store.endpoint_id("acme", "business_process_monitoring");
    const auto commit = [&](const std::string& feed, const std::vector<std::pair<std::string, std::int64_t>>& ids,
                            std::int64_t checkpoint_ns) {
        std::vector<PendingEvent> events;
        for (const auto& [id, time] : ids) {
            events.push_back(PendingEvent{id, time, "{}"});
        }
        const std::string text = std::to_string(checkpoint_ns / 1'000'000);
        PageCommitted result;
        REQUIRE(store.commit_page(feed, endpoint, PageCommit{events, {}, text, checkpoint_ns}, result) ==
                c4c::infra::CommitResult::committed);
        return result.stored;
    };
    // The busy feed read up to its checkpoint; one id lies inside its re-read window (plus margin), one
    // before it. The quiet feed's checkpoint is a month older.
    const std::int64_t inside = k_checkpoint - 3600 * k_s - k_margin + k_s;
    const std::int64_t before = k_checkpoint - 3600 * k_s - k_margin - k_s;
    commit("acme/business_objects/Busy", {{"inside", inside}, {"before", before}, {"last", k_checkpoint}},
           k_checkpoint);
    commit("acme/business_objects/Quiet", {{"quiet", k_checkpoint - 30 * k_day}}, k_checkpoint - 30 * k_day);

    // The daemon comes back 40 days later (the old rule, now - 72 h, forgot everything here).
    Housekeeping housekeeping;
    const auto later = std::chrono::system_clock::time_point(std::chrono::nanoseconds(k_checkpoint + 40 * k_day));
    housekeeping.tick(store, config, later);
    CHECK(commit("acme/business_objects/Busy", {{"inside", inside}, {"last", k_checkpoint}}, k_checkpoint) == 0);
    CHECK(commit("acme/business_objects/Quiet", {{"quiet", k_checkpoint - 30 * k_day}}, k_checkpoint - 30 * k_day) ==
          0);
    CHECK(commit("acme/business_objects/Busy", {{"before", before}}, k_checkpoint) == 1);  // was forgotten
}

TEST_CASE("housekeeping: rejected events and quarantined records go after the retention")
{
    TempDir dir;
    Config config = config_with(1h);
    StateStore store(dir.path);
    const auto endpoint = store.endpoint_id("acme", "business_process_monitoring");
    const std::vector<PendingEvent> events{PendingEvent{"e1", k_checkpoint, "{}"}};
    const std::vector<c4c::infra::QuarantineEntry> bad{
        {"acme", "business_objects", "LeadCollection", "", "missing_key", "no ObjectID", R"({"ID":"1"})"}};
    PageCommitted result;
    REQUIRE(store.commit_page("acme/business_objects/LeadCollection", endpoint,
                              PageCommit{events, bad, "1", k_checkpoint},
                              result) == c4c::infra::CommitResult::committed);
    REQUIRE(store.reject(endpoint, store.peek(endpoint, 1, 1 << 20).at(0), "HTTP 400"));
    CHECK(store.figures(endpoint).rejected == 1);

    Housekeeping within;
    within.tick(store, config, std::chrono::system_clock::now() + std::chrono::days(29));
    CHECK(store.figures(endpoint).rejected == 1);
    Housekeeping past;
    past.tick(store, config, std::chrono::system_clock::now() + std::chrono::days(31));
    CHECK(store.figures(endpoint).rejected == 0);
    config.retention = std::chrono::days(60);
    // Quarantined again, and kept by a longer retention.
    REQUIRE(store.commit_page("acme/business_objects/LeadCollection", endpoint, PageCommit{{}, bad, "1", k_checkpoint},
                              result) == c4c::infra::CommitResult::committed);
    CHECK(result.newly_quarantined.size() == 1);
    Housekeeping longer;
    longer.tick(store, config, std::chrono::system_clock::now() + std::chrono::days(31));
    REQUIRE(store.commit_page("acme/business_objects/LeadCollection", endpoint, PageCommit{{}, bad, "1", k_checkpoint},
                              result) == c4c::infra::CommitResult::committed);
    CHECK(result.newly_quarantined.empty());
}
