// The quarantine as the operator sees it (infra/state_quarantine.cpp, StateStore::retry_quarantined): list,
// counts, retry with a verdict per record in one transaction, drop.

#include "infra/state_store.hpp"

#include "temp_dir.hpp"

#include <doctest/doctest.h>

#include <sqlite3.h>

#include <filesystem>
#include <string>
#include <vector>

using namespace c4c::infra;

namespace {

using unit_tests::TempDir;

std::int64_t query_integer(const std::filesystem::path& file, const std::string& sql)
{
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
    sqlite3_stmt* statement = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &statement, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(statement) == SQLITE_ROW);
    const std::int64_t value = sqlite3_column_int64(statement, 0);
    sqlite3_finalize(statement);
    sqlite3_close(db);
    return value;
}

constexpr std::string_view k_feed = "acme/response_time_analysis/rta";

// An endpoint with event "e1" stored (record time 1) and three records quarantined: A, B (RTA) and C (business
// objects of another tenant).
std::int64_t with_three_quarantined(StateStore& store)
{
    const auto endpoint = store.endpoint_id("acme", "real_user_monitoring");
    const std::vector<QuarantineEntry> bad{
        {"acme", "response_time_analysis", "rta", "A", "unknown_timezone", "unknown SAP time zone 'MARS'", "raw A"},
        {"acme", "response_time_analysis", "rta", "B", "invalid_time", "malformed CTIMESTAMP 'x'", "raw B"}};
    const std::vector<PendingEvent> events{PendingEvent{"e1", 1, "{\"e\":1}"}};
    PageCommitted committed;
    REQUIRE(store.commit_page(k_feed, endpoint, PageCommit{events, bad, "10", 10'000'000'000}, committed) ==
            CommitResult::committed);
    const std::vector<QuarantineEntry> other{
        {"beta", "business_objects", "LeadCollection", "", "missing_key", "no ObjectID", "raw C"}};
    const auto beta = store.endpoint_id("beta", "business_process_monitoring");
    REQUIRE(store.commit_page("beta/business_objects/LeadCollection", beta, PageCommit{{}, other, "5", std::nullopt},
                              committed) == CommitResult::committed);
    return endpoint;
}

QuarantineVerdict normalized(std::int64_t endpoint, std::string id, std::int64_t time)
{
    QuarantineVerdict verdict;
    verdict.kind = QuarantineVerdict::Kind::normalized;
    verdict.endpoint = endpoint;
    verdict.event_id = std::move(id);
    verdict.record_time_ns = time;
    verdict.payload = "{\"id\":\"" + verdict.event_id + "\"}";
    return verdict;
}

}  // namespace

TEST_CASE("quarantine: records are listed oldest first and counted per source")
{
    TempDir dir;
    {
        StateStore store(dir.path);
        with_three_quarantined(store);
        const auto rows = store.quarantined_records();
        REQUIRE(rows.size() == 3);
        CHECK(rows[0].tenant == "acme");
        CHECK(rows[0].source == "response_time_analysis");
        CHECK(rows[0].feed == "rta");
        CHECK(rows[0].object_key == "A");
        CHECK(rows[0].reason == "unknown_timezone");
        CHECK(rows[0].detail == "unknown SAP time zone 'MARS'");
        CHECK(rows[0].raw == "raw A");
        CHECK(rows[0].first_seen_ms > 0);
        CHECK(rows[0].id < rows[1].id);
        CHECK(rows[2].object_key.empty());
    }
    // Through the operator's read-only connection as well.
    const auto store = StateStore::open_read_only(dir.path);
    REQUIRE(store);
    CHECK(store->quarantined_records().size() == 3);
    const auto counts = store->quarantine_counts();
    REQUIRE(counts.size() == 2);
    CHECK((counts[0].tenant == "acme" && counts[0].source == "response_time_analysis" && counts[0].records == 2));
    CHECK((counts[1].tenant == "beta" && counts[1].source == "business_objects" && counts[1].records == 1));
}

TEST_CASE("quarantine: retry queues what normalizes now, keeps what does not, in one transaction")
{
    TempDir dir;
    StateStore store(dir.path);
    const auto endpoint = with_three_quarantined(store);
    const auto rows = store.quarantined_records();
    const auto a = rows[0].id;
    const auto b = rows[1].id;
    const auto c = rows[2].id;

    SUBCASE("a missing id changes nothing")
    {
        bool asked = false;
        const auto change = store.retry_quarantined({false, {a, 999}}, [&](const QuarantinedRow&) {
            asked = true;
            return QuarantineVerdict{};
        });
        CHECK_FALSE(change.failed);
        CHECK(change.missing == std::vector<std::int64_t>{999});
        CHECK_FALSE(asked);
        CHECK(store.quarantined_records().size() == 3);
    }

    SUBCASE("a refusing `also` rolls everything back")
    {
        const auto change = store.retry_quarantined(
            {true, {}}, [&](const QuarantinedRow& row) { return normalized(endpoint, "new-" + row.object_key, 5); },
            [](const QuarantineChange&) { return false; });
        CHECK(change.failed);
        CHECK(store.quarantined_records().size() == 3);
        CHECK(store.figures(endpoint).events == 1);
        CHECK(query_integer(store.file(), "SELECT count(*) FROM seen") == 1);
    }

    SUBCASE("normalized, stored before, still bad, not tried")
    {
        std::vector<std::string> asked;
        bool also_saw_results = false;
        const auto change = store.retry_quarantined(
            {true, {}},
            [&](const QuarantinedRow& row) {
                asked.push_back(row.raw);
                if (row.object_key == "A") {
                    return normalized(endpoint, "event-A", 7'000'000'000);
                }
                if (row.object_key == "B") {
                    return normalized(endpoint, "e1", 1);  // this record state was stored (and maybe delivered) before
                }
                QuarantineVerdict verdict;
                verdict.kind = QuarantineVerdict::Kind::quarantined;
                verdict.reason = "invalid_value";
                verdict.detail = "still no ObjectID";
                return verdict;
            },
            [&](const QuarantineChange& seen) {
                also_saw_results = seen.records.size() == 3;
                return true;
            });
        REQUIRE(change.ok());
        CHECK(also_saw_results);
        CHECK(asked == std::vector<std::string>{"raw A", "raw B", "raw C"});
        REQUIRE(change.records.size() == 3);
        CHECK(change.records[0].id == a);
        CHECK(change.records[0].outcome == QuarantineOutcome::queued);
        CHECK(change.records[0].event_id == "event-A");
        CHECK(change.records[1].id == b);
        CHECK(change.records[1].outcome == QuarantineOutcome::already_stored);
        CHECK(change.records[2].id == c);
        CHECK(change.records[2].outcome == QuarantineOutcome::still_quarantined);
        CHECK(change.records[2].reason == "invalid_value");
        CHECK(change.endpoints == std::vector<std::int64_t>{endpoint});

        // A and B left the quarantine; C stays with the reason of now.
        const auto left = store.quarantined_records();
        REQUIRE(left.size() == 1);
        CHECK(left[0].id == c);
        CHECK(left[0].reason == "invalid_value");
        CHECK(left[0].detail == "still no ObjectID");
        // A's event is queued behind e1, once; its id is remembered for its feed, so no page enqueues it again.
        CHECK(store.figures(endpoint).events == 2);
        const auto queued = store.peek(endpoint, 10, 1 << 20);
        REQUIRE(queued.size() == 2);
        CHECK(queued[1].event_id == "event-A");
        CHECK(queued[1].payload == "{\"id\":\"event-A\"}");
        CHECK(query_integer(store.file(), "SELECT count(*) FROM seen WHERE event_id = 'event-A' AND record_time = "
                                          "7000000000 AND feed = (SELECT id FROM checkpoints WHERE feed = '" +
                                              std::string(k_feed) + "')") == 1);
        const std::vector<PendingEvent> again{PendingEvent{"event-A", 7'000'000'000, "{}"}};
        std::size_t stored = 9;
        REQUIRE(store.commit_page(k_feed, endpoint, again, "11", stored) == CommitResult::committed);
        CHECK(stored == 0);

        // The queue is whole after a restart too.
        const auto reopened = StateStore::open_read_only(dir.path);
        CHECK(reopened->figures(reopened->find_endpoint("acme", "real_user_monitoring").value()).events == 2);
    }

    SUBCASE("a record not tried stays as it was")
    {
        const auto change = store.retry_quarantined({false, {b}}, [](const QuarantinedRow&) {
            QuarantineVerdict verdict;
            verdict.detail = "source not configured";
            return verdict;
        });
        REQUIRE(change.ok());
        REQUIRE(change.records.size() == 1);
        CHECK(change.records[0].outcome == QuarantineOutcome::skipped);
        CHECK(change.records[0].detail == "source not configured");
        CHECK(change.endpoints.empty());
        CHECK(store.quarantined_records()[1].reason == "invalid_time");
    }
}

TEST_CASE("quarantine: drop deletes the selected records, or nothing when one is unknown")
{
    TempDir dir;
    StateStore store(dir.path);
    with_three_quarantined(store);
    const auto rows = store.quarantined_records();

    auto change = store.drop_quarantined({false, {rows[0].id, 4242}});
    CHECK(change.missing == std::vector<std::int64_t>{4242});
    CHECK(change.dropped == 0);
    CHECK(store.quarantined_records().size() == 3);

    change = store.drop_quarantined({false, {rows[0].id, rows[2].id}});
    REQUIRE(change.ok());
    CHECK(change.dropped == 2);
    const auto left = store.quarantined_records();
    REQUIRE(left.size() == 1);
    CHECK(left[0].id == rows[1].id);
    CHECK(store.quarantine_counts().at(0).records == 1);
}
