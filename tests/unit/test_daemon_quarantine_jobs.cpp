#include "daemon/quarantine_jobs.hpp"

#include "collectors/response_time_analysis.hpp"
#include "daemon/operator_jobs.hpp"
#include "infra/jobs.hpp"
#include "infra/sqlite.hpp"
#include "test_daemon_support.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <set>

using namespace c4c;
using namespace c4c::daemon;
using c4c::daemon::test::TempDir;

namespace {

constexpr std::string_view k_mars = R"({"CTIMESTAMP":"25.11.2026 10:41:12 MARS","CUSER":"U1","CSTEP_ID":"S2",)"
                                    R"("CUI_COMPONENT":"C","KRESPONSE_TIME":"12"})";
constexpr std::string_view k_no_key = R"({"ID":"4711","EntityLastChangedOn":"/Date(1700000000000)/"})";

Config one_tenant(const std::filesystem::path& state_dir)
{
    Config config = test::acme_config(state_dir, {{"response_time_analysis", "real_user_monitoring"},
                                                  {"business_objects", "business_process_monitoring"}});
    collectors::ResponseTimeAnalysisSettings settings;
    settings.pseudonymize_users = false;
    config.tenants.at(0).sources.at("response_time_analysis").settings = settings;
    return config;
}

// What the collectors committed: an RTA row in an unknown zone, a business object without key, and a row of a
// tenant no longer configured.
void quarantine_three(infra::StateStore& store)
{
    const std::vector<infra::QuarantineEntry> rta{
        {"acme", "response_time_analysis", "rta", "S2", "unknown_timezone", "unknown SAP time zone 'MARS'", k_mars},
        {"gone", "response_time_analysis", "rta", "S3", "unknown_timezone", "unknown SAP time zone 'MARS'", k_mars}};
    const std::vector<infra::QuarantineEntry> objects{
        {"acme", "business_objects", "LeadCollection", "", "missing_key", "no ObjectID", k_no_key}};
    infra::PageCommitted committed;
    REQUIRE(store.commit_page("acme/response_time_analysis/rta", store.endpoint_id("acme", "real_user_monitoring"),
                              infra::PageCommit{{}, rta, "1", 1'000'000'000},
                              committed) == infra::CommitResult::committed);
    REQUIRE(store.commit_page(
                "acme/business_objects/LeadCollection", store.endpoint_id("acme", "business_process_monitoring"),
                infra::PageCommit{{}, objects, "1", 1'000'000}, committed) == infra::CommitResult::committed);
}

}  // namespace

TEST_CASE("quarantine jobs: results round-trip")
{
    infra::QuarantineChange change;
    change.records.push_back({3, infra::QuarantineOutcome::queued, "", "", "abc"});
    change.records.push_back({4, infra::QuarantineOutcome::still_quarantined, "unknown_timezone", "MARS", ""});
    const auto parsed = parse_quarantine_result(quarantine_result(change));
    REQUIRE(parsed.ok());
    REQUIRE(parsed.records.size() == 2);
    CHECK(parsed.records[0].outcome == infra::QuarantineOutcome::queued);
    CHECK(parsed.records[0].event_id == "abc");
    CHECK(parsed.records[1].outcome == infra::QuarantineOutcome::still_quarantined);
    CHECK(parsed.records[1].reason == "unknown_timezone");
    CHECK(parse_quarantine_result(quarantine_result({false, {}, {}, 2, {}})).dropped == 2);
    CHECK(parse_quarantine_result(quarantine_result({false, {9}, {}, 0, {}})).missing == std::vector<std::int64_t>{9});
    CHECK(parse_quarantine_result(quarantine_result({true, {}, {}, 0, {}})).failed);
    CHECK(parse_quarantine_result("garbage").failed);
    CHECK(parse_quarantine_result(R"({"records":[1],"dropped":0})").failed);
}

TEST_CASE("quarantine jobs: the daemon normalizes again with the current code, queues and wakes in one go")
{
    TempDir dir;
    const Config config = one_tenant(dir.path);
    infra::StateStore store(dir.path);
    quarantine_three(store);
    const auto rows = store.quarantined_records();
    REQUIRE(rows.size() == 3);
    const auto rum = store.find_endpoint("acme", "real_user_monitoring").value();

    // As if an upgrade had learned the zone: the record's text now reads in one the code maps.
    infra::SqliteConnection command(store.file(), SQLITE_OPEN_READWRITE);
    REQUIRE(command.exec("UPDATE quarantine SET raw = replace(raw, 'MARS', 'CET') WHERE tenant = 'acme'"));
    const auto retry = infra::submit_job(command, infra::k_job_quarantine_retry, selection_arguments({true, {}}));
    const auto drop_all = infra::submit_job(command, infra::k_job_quarantine_drop, selection_arguments({true, {}}));
    REQUIRE((retry && drop_all));

    // The other operator jobs leave these alone.
    run_operator_jobs(store, [](std::int64_t) {});
    CHECK(infra::find_job(command, *retry)->state == infra::JobState::pending);

    std::set<std::int64_t> woken;
    run_quarantine_jobs(store, config, Registry{}, [&](std::int64_t which) { woken.insert(which); });
    CHECK(woken == std::set<std::int64_t>{rum});

    const auto job = infra::find_job(command, *retry);
    CHECK(job->state == infra::JobState::done);
    const auto result = parse_quarantine_result(job->result);
    REQUIRE(result.records.size() == 3);
    CHECK(result.records[0].outcome == infra::QuarantineOutcome::queued);
    CHECK(result.records[1].outcome == infra::QuarantineOutcome::skipped);
    CHECK(result.records[1].detail == "tenant gone has no source response_time_analysis configured");
    CHECK(result.records[2].outcome == infra::QuarantineOutcome::still_quarantined);
    CHECK(result.records[2].reason == "missing_key");
    // drop takes ids only: failed with the reason.
    CHECK(infra::find_job(command, *drop_all)->state == infra::JobState::failed);

    // The event is the one the page path makes of the row, encoded for its endpoint.
    const auto queued = store.peek(rum, 10, 1 << 20);
    REQUIRE(queued.size() == 1);
    CHECK(queued[0].event_id == result.records[0].event_id);
    const auto record = nlohmann::json::parse(queued[0].payload);
    CHECK(record["timeUnixNano"] == std::to_string(1795599672LL * 1'000'000'000));
    CHECK(queued[0].payload.find("\"S2\"") != std::string::npos);
    const auto left = store.quarantined_records();
    REQUIRE(left.size() == 2);
    CHECK(left[0].tenant == "gone");

    // Retried again: the same record state is never queued twice.
    REQUIRE(command.exec("INSERT INTO quarantine (digest, tenant, source, feed, object_key, reason, detail, raw, "
                         "first_seen) SELECT 'again', 'acme', source, feed, 'S2', reason, detail, raw, first_seen "
                         "FROM quarantine WHERE tenant = 'gone'"));
    REQUIRE(command.exec("UPDATE quarantine SET raw = replace(raw, 'MARS', 'CET') WHERE digest = 'again'"));
    const auto again = retry_quarantine(store, config, Registry{}, {true, {}});
    REQUIRE(again.ok());
    REQUIRE(again.records.size() == 3);
    CHECK(again.records[2].outcome == infra::QuarantineOutcome::already_stored);
    CHECK(store.figures(rum).events == 1);
    CHECK(store.quarantined_records().size() == 2);
}
