#include "daemon/operator_jobs.hpp"

#include "infra/jobs.hpp"
#include "infra/sqlite.hpp"
#include "test_daemon_support.hpp"

#include <doctest/doctest.h>

#include <set>

using namespace c4c;
using namespace c4c::daemon;
using c4c::daemon::test::TempDir;

namespace {

// An endpoint with events "a", "b", "c" queued and "b" set aside.
std::int64_t with_one_rejected(infra::StateStore& store)
{
    const auto endpoint = store.endpoint_id("acme", "integration_monitoring");
    const std::string payload = "{}";
    const std::vector<infra::PendingEvent> events{{"a", 1, payload}, {"b", 2, payload}, {"c", 3, payload}};
    std::size_t stored = 0;
    REQUIRE(store.commit_page("f", endpoint, events, "1", stored) == infra::CommitResult::committed);
    REQUIRE(store.reject(endpoint, store.peek(endpoint, 10, 1 << 20).at(1), "HTTP 400"));
    return endpoint;
}

}  // namespace

TEST_CASE("operator jobs: selections and results round-trip")
{
    CHECK(selection_arguments({true, {}}) == R"({"all":true})");
    CHECK(selection_arguments({false, {3, 5}}) == R"({"ids":[3,5]})");
    CHECK(parse_selection(R"({"all":true})")->all);
    CHECK(parse_selection(R"({"ids":[3,5]})")->ids == std::vector<std::int64_t>{3, 5});
    CHECK_FALSE(parse_selection(R"({"ids":[]})"));
    CHECK_FALSE(parse_selection(R"({"ids":["3"]})"));
    CHECK_FALSE(parse_selection("not json"));
    CHECK(parse_change(change_result({false, {}, 4, {}})).events == 4);
    CHECK(parse_change(change_result({false, {9}, 0, {}})).missing == std::vector<std::int64_t>{9});
    CHECK(parse_change(change_result({true, {}, 0, {}})).failed);
    CHECK(parse_change("garbage").failed);
}

TEST_CASE("operator jobs: the daemon requeues, wakes the endpoint and marks the job done in one go")
{
    TempDir dir;
    infra::StateStore store(dir.path);
    const auto endpoint = with_one_rejected(store);
    const auto id = store.rejected_events().at(0).id;
    infra::SqliteConnection command(store.file(), SQLITE_OPEN_READWRITE);
    const auto requeue = infra::submit_job(command, infra::k_job_rejected_requeue, selection_arguments({false, {id}}));
    const auto missing = infra::submit_job(command, infra::k_job_rejected_drop, selection_arguments({false, {777}}));
    const auto unknown = infra::submit_job(command, "some_future_kind", R"({"tenant":"acme"})");
    REQUIRE((requeue && missing && unknown));

    std::set<std::int64_t> woken;
    run_operator_jobs(store, [&](std::int64_t which) { woken.insert(which); });
    CHECK(woken == std::set<std::int64_t>{endpoint});
    CHECK(store.figures(endpoint).events == 3);
    CHECK(store.figures(endpoint).rejected == 0);
    CHECK(store.peek(endpoint, 10, 1 << 20).back().event_id == "b");

    auto job = infra::find_job(command, *requeue);
    CHECK(job->state == infra::JobState::done);
    CHECK(parse_change(job->result).events == 1);
    job = infra::find_job(command, *missing);
    CHECK(job->state == infra::JobState::failed);
    CHECK(parse_change(job->result).missing == std::vector<std::int64_t>{777});
    job = infra::find_job(command, *unknown);
    CHECK(job->state == infra::JobState::failed);
    CHECK(job->result.find("does not know the kind") != std::string::npos);
    CHECK(store.open_jobs().empty());

    woken.clear();
    run_operator_jobs(store, [&](std::int64_t which) { woken.insert(which); });
    CHECK(woken.empty());
}
