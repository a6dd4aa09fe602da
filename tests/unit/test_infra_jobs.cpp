#include "infra/jobs.hpp"

#include "infra/sqlite.hpp"
#include "infra/state_store.hpp"
#include "temp_dir.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <string>

using namespace c4c::infra;

using unit_tests::TempDir;

TEST_CASE("jobs: a command queues a job on its own connection, the daemon's store finishes it")
{
    TempDir dir;
    StateStore daemon(dir.path);
    SqliteConnection command(daemon.file(), SQLITE_OPEN_READWRITE);

    const auto id = submit_job(command, k_job_rejected_requeue, R"({"all":true})");
    REQUIRE(id);
    auto job = find_job(command, *id);
    REQUIRE(job);
    CHECK(job->state == JobState::pending);
    CHECK(job->kind == k_job_rejected_requeue);
    CHECK(job->arguments == R"({"all":true})");

    auto open = daemon.open_jobs();
    REQUIRE(open.size() == 1);
    CHECK(open[0].id == *id);
    REQUIRE(daemon.update_job(*id, JobState::done, "", R"({"events":2})"));
    CHECK(daemon.open_jobs().empty());

    job = find_job(command, *id);
    REQUIRE(job);
    CHECK(job->state == JobState::done);
    CHECK(job->result == R"({"events":2})");
    // Only a pending job can be withdrawn; a finished one stays until pruned.
    CHECK_FALSE(withdraw_job(command, *id));
    CHECK(daemon.prune_jobs(std::chrono::system_clock::now() - std::chrono::hours(1)) == 0);
    CHECK(daemon.prune_jobs(std::chrono::system_clock::now() + std::chrono::hours(1)) == 1);
    CHECK_FALSE(find_job(command, *id));
}

TEST_CASE("jobs: a withdrawn job is gone and its id is never given again")
{
    TempDir dir;
    StateStore daemon(dir.path);
    SqliteConnection command(daemon.file(), SQLITE_OPEN_READWRITE);
    const auto first = submit_job(command, k_job_rejected_drop, R"({"ids":[1]})");
    REQUIRE(first);
    CHECK(withdraw_job(command, *first));
    CHECK(daemon.open_jobs().empty());
    const auto second = submit_job(command, k_job_rejected_drop, R"({"ids":[1]})");
    REQUIRE(second);
    CHECK(*second > *first);
    CHECK(job_state_name(JobState::failed) == "failed");
}
