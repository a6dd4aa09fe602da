// A backfill's pages in the state store (StateStore::commit_page with a BackfillPage, infra/job_events.hpp).

#include "infra/job_events.hpp"

#include "infra/jobs.hpp"
#include "infra/sqlite.hpp"
#include "infra/state_store.hpp"
#include "temp_dir.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <string>
#include <vector>

using namespace c4c::infra;

namespace {

using unit_tests::TempDir;

// Ids are string literals: a PendingEvent only views its id.
std::vector<PendingEvent> pending(const std::vector<std::string_view>& ids)
{
    static const std::string payload = R"({"n":1})";
    std::vector<PendingEvent> events;
    for (std::size_t i = 0; i < ids.size(); ++i) {
        // One event.id always comes with one record time.
        events.push_back(PendingEvent{ids[i], 1000 + static_cast<std::int64_t>(ids[i].front()), payload});
    }
    return events;
}

CommitResult backfill_page(StateStore& store, std::int64_t endpoint, std::int64_t job,
                           const std::vector<std::string_view>& ids, std::string_view progress, std::size_t& stored)
{
    const auto events = pending(ids);
    const BackfillPage backfill{job, progress};
    PageCommitted result;
    const auto status = store.commit_page("acme/business_objects/Lead", endpoint,
                                          PageCommit{events, {}, "ignored", std::nullopt, &backfill}, result);
    stored = result.stored;
    return status;
}

std::int64_t running_job(StateStore& store)
{
    SqliteConnection command(store.file(), SQLITE_OPEN_READWRITE);
    const auto id = submit_job(command, k_job_backfill, R"({"tenant":"acme"})");
    REQUIRE(id);
    REQUIRE(store.update_job(*id, JobState::running, "", ""));
    return *id;
}

}  // namespace

TEST_CASE("backfill page: states delivered before are stored again, the feed's checkpoint stays")
{
    TempDir dir;
    StateStore store(dir.path);
    const auto endpoint = store.endpoint_id("acme", "business_process_monitoring");
    std::size_t stored = 0;
    auto regular = pending({"a", "b"});
    REQUIRE(store.commit_page("acme/business_objects/Lead", endpoint, regular, "1700", stored) ==
            CommitResult::committed);
    REQUIRE(store.remove(endpoint, store.peek(endpoint, 10, 1 << 20)));
    CHECK(store.figures(endpoint).events == 0);

    const auto job = running_job(store);
    REQUIRE(backfill_page(store, endpoint, job, {"a", "b", "c"}, R"({"cursors":{"Lead":"1800"}})", stored) ==
            CommitResult::committed);
    CHECK(stored == 3);
    CHECK(store.checkpoint("acme/business_objects/Lead") == "1700");
    const auto rows = store.peek(endpoint, 10, 1 << 20);
    REQUIRE(rows.size() == 3);
    CHECK(rows[0].event_id == "a");
    CHECK(rows[2].event_id == "c");

    SqliteConnection command(store.file(), SQLITE_OPEN_READONLY);
    const auto row = find_job(command, job);
    REQUIRE(row);
    CHECK(row->state == JobState::running);
    CHECK(row->progress == R"({"cursors":{"Lead":"1800"}})");

    // "c" was new to the feed too: its own polls do not store it a second time.
    auto later = pending({"c"});
    REQUIRE(store.commit_page("acme/business_objects/Lead", endpoint, later, "1900", stored) ==
            CommitResult::committed);
    CHECK(stored == 0);
}

TEST_CASE("backfill page: a resumed job does not store its own events twice; another job does")
{
    TempDir dir;
    StateStore store(dir.path);
    const auto endpoint = store.endpoint_id("acme", "business_process_monitoring");
    const auto job = running_job(store);
    std::size_t stored = 0;
    REQUIRE(backfill_page(store, endpoint, job, {"a", "b"}, "{}", stored) == CommitResult::committed);
    CHECK(stored == 2);
    REQUIRE(backfill_page(store, endpoint, job, {"b", "c"}, "{}", stored) == CommitResult::committed);
    CHECK(stored == 1);
    CHECK(store.figures(endpoint).events == 3);

    const auto second = running_job(store);
    REQUIRE(backfill_page(store, endpoint, second, {"a", "b", "c"}, "{}", stored) == CommitResult::committed);
    CHECK(stored == 3);
}

TEST_CASE("backfill page: a job that is gone stores nothing, progress and events roll back together")
{
    TempDir dir;
    StateStore store(dir.path);
    const auto endpoint = store.endpoint_id("acme", "business_process_monitoring");
    std::size_t stored = 0;
    REQUIRE(backfill_page(store, endpoint, 4711, {"a"}, "{}", stored) == CommitResult::failed);
    CHECK(stored == 0);
    CHECK(store.figures(endpoint).events == 0);
    CHECK(store.peek(endpoint, 10, 1 << 20).empty());
    // Nothing of the failed page was kept: the job's table has no row, `seen` does not know the id.
    auto regular = pending({"a"});
    REQUIRE(store.commit_page("acme/business_objects/Lead", endpoint, regular, "1", stored) == CommitResult::committed);
    CHECK(stored == 1);
}

TEST_CASE("backfill page: the job's figures count what left the outbox; rows go with their job")
{
    TempDir dir;
    StateStore store(dir.path);
    const auto endpoint = store.endpoint_id("acme", "business_process_monitoring");
    // A regular page first, so the job's events do not start the queue.
    std::size_t stored = 0;
    auto regular = pending({"x"});
    REQUIRE(store.commit_page("acme/business_objects/Lead", endpoint, regular, "1", stored) == CommitResult::committed);
    const auto job = running_job(store);
    REQUIRE(backfill_page(store, endpoint, job, {"a", "b", "c"}, "{}", stored) == CommitResult::committed);

    SqliteConnection command(store.file(), SQLITE_OPEN_READONLY);
    auto figures = job_event_figures(command, job);
    REQUIRE(figures);
    CHECK(figures->queued == 3);
    CHECK(figures->delivered == 0);

    REQUIRE(store.remove(endpoint, store.peek(endpoint, 2, 1 << 20)));  // "x" and "a"
    figures = job_event_figures(command, job);
    REQUIRE(figures);
    CHECK(figures->queued == 3);
    CHECK(figures->delivered == 1);
    REQUIRE(store.remove(endpoint, store.peek(endpoint, 10, 1 << 20)));
    CHECK(job_event_figures(command, job)->delivered == 3);

    REQUIRE(store.update_job(job, JobState::done, "{}", "{}"));
    CHECK(store.prune_job_events() == 0);  // the job is still there
    CHECK(store.prune_jobs(std::chrono::system_clock::now() + std::chrono::hours(1)) == 1);
    CHECK(store.prune_job_events() == 3);
    CHECK(job_event_figures(command, job)->queued == 0);
}
