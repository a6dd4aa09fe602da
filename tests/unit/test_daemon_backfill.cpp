#include "daemon/backfill.hpp"

#include "daemon/cli_commands.hpp"
#include "daemon/operator_jobs.hpp"
#include "infra/job_events.hpp"
#include "infra/jobs.hpp"
#include "infra/sqlite.hpp"
#include "infra/time.hpp"
#include "test_daemon_support.hpp"

#include <doctest/doctest.h>

using namespace c4c;
using namespace c4c::daemon;
using c4c::daemon::test::TempDir;

namespace {

std::chrono::system_clock::time_point at_ms(std::int64_t ms)
{
    return std::chrono::system_clock::time_point(std::chrono::milliseconds(ms));
}

cli::Arguments backfill_command(std::string from, std::string to)
{
    cli::Arguments args;
    args.command = "backfill";
    args.config = "c.toml";
    args.tenant = "acme-prod";
    args.source = "business_objects";
    args.from = std::move(from);
    args.to = std::move(to);
    return args;
}

}  // namespace

TEST_CASE("backfill: a job's arguments round-trip; anything else is refused")
{
    const BackfillArguments arguments{"acme-prod", "business_objects", at_ms(1'795'000'000'000),
                                      at_ms(1'795'003'600'123)};
    const auto text = backfill_arguments(arguments);
    CHECK(text == R"({"from":"2026-11-18T11:06:40.000Z","source":"business_objects","tenant":"acme-prod",)"
                  R"("to":"2026-11-18T12:06:40.123Z"})");
    const auto parsed = parse_backfill_arguments(text);
    REQUIRE(parsed);
    CHECK(parsed->tenant == "acme-prod");
    CHECK(parsed->source == "business_objects");
    CHECK(parsed->from == arguments.from);
    CHECK(parsed->to == arguments.to);

    CHECK_FALSE(parse_backfill_arguments("not json"));
    CHECK_FALSE(parse_backfill_arguments(R"({"tenant":"a","source":"s","from":"2026-11-18T08:26:40Z"})"));
    CHECK_FALSE(parse_backfill_arguments(
        R"({"tenant":"a","source":"s","from":"2026-11-18T09:00:00Z","to":"2026-11-18T08:00:00Z"})"));
    CHECK_FALSE(parse_backfill_arguments(
        R"({"tenant":"","source":"s","from":"2026-11-18T08:00:00Z","to":"2026-11-18T09:00:00Z"})"));
}

TEST_CASE("backfill: progress keeps the cursors, the window's end and the last error; junk is a fresh start")
{
    BackfillProgress progress;
    progress.cursors["OpportunityCollection"] = "1795000000000";
    progress.cursors["LeadCollection"] = "";
    progress.to = at_ms(1'795'003'600'000);
    progress.read = 42;
    progress.error = "tenant acme-prod source business_objects: HTTP 503";
    const auto again = BackfillProgress::parse(progress.json());
    CHECK(again.cursors == progress.cursors);
    CHECK(again.to == progress.to);
    CHECK(again.read == 42);
    CHECK(again.error == progress.error);

    const auto fresh = BackfillProgress::parse("");
    CHECK(fresh.cursors.empty());
    CHECK_FALSE(fresh.to);
    CHECK(fresh.read == 0);
    CHECK(BackfillProgress::parse(R"({"cursors":[1],"read":-3})").cursors.empty());
}

TEST_CASE("backfill: usage errors are found before the configuration is read")
{
    CHECK(cli::check_backfill(backfill_command("2026-12-01T13:00:00Z", "2026-12-01T14:00:00Z")) == "");
    CHECK(cli::check_backfill(backfill_command("2026-12-01T13:00:00.5+01:00", "2026-12-01T14:00:00Z")) == "");
    CHECK(cli::check_backfill(backfill_command("2026-12-01T14:00:00Z", "2026-12-01T13:00:00Z")) ==
          "--from 2026-12-01T14:00:00.000Z is not before --to 2026-12-01T13:00:00.000Z");
    CHECK(cli::check_backfill(backfill_command("2026-12-01T13:00:00Z", "2026-12-01T13:00:00Z")).find("not before") !=
          std::string::npos);
    CHECK(cli::check_backfill(backfill_command("yesterday", "2026-12-01T14:00:00Z")) ==
          "--from 'yesterday' is not an ISO 8601 instant such as 2026-12-01T13:00:00Z");
    CHECK(cli::check_backfill(backfill_command("2026-12-01", "2026-12-02T00:00:00Z")).find("--from '2026-12-01'") == 0);
    CHECK(cli::check_backfill(backfill_command("2026-12-01T13:00:00Z", "2026-13-01T14:00:00Z")).find("--to") == 0);
    const auto tomorrow = infra::format_iso8601_ms(std::chrono::system_clock::now() + std::chrono::hours(24));
    const auto later = infra::format_iso8601_ms(std::chrono::system_clock::now() + std::chrono::hours(25));
    CHECK(cli::check_backfill(backfill_command(tomorrow, later)).find("is in the future") != std::string::npos);

    auto missing = backfill_command("2026-12-01T13:00:00Z", "2026-12-01T14:00:00Z");
    missing.source.clear();
    CHECK(cli::check_backfill(missing) == "backfill needs --source");
    auto words = backfill_command("2026-12-01T13:00:00Z", "2026-12-01T14:00:00Z");
    words.words = {"now"};
    CHECK(cli::check_backfill(words) == "backfill takes no words besides its options ('now')");
}

TEST_CASE("backfill: the quick operator jobs leave a backfill job to its runner")
{
    TempDir dir;
    infra::StateStore store(dir.path);
    infra::SqliteConnection command(store.file(), SQLITE_OPEN_READWRITE);
    const auto id = infra::submit_job(command, infra::k_job_backfill,
                                      backfill_arguments({"acme-prod", "business_objects", at_ms(0), at_ms(1000)}));
    REQUIRE(id);
    run_operator_jobs(store, [](std::int64_t) {});
    const auto job = infra::find_job(command, *id);
    REQUIRE(job);
    CHECK(job->state == infra::JobState::pending);
}
