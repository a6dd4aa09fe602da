#include "infra/state_store.hpp"

#include "infra/state_schema.hpp"
#include "temp_dir.hpp"

#include <doctest/doctest.h>

#include <sqlite3.h>
#include <zlib.h>

#include <chrono>
#include <filesystem>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

using c4c::infra::CommitResult;
using c4c::infra::PendingEvent;
using c4c::infra::StateStore;
using c4c::infra::StoredEvent;

namespace {

using unit_tests::TempDir;

std::vector<PendingEvent> pending(const std::vector<std::string>& ids, const std::vector<std::string>& payloads)
{
    std::vector<PendingEvent> events;
    for (std::size_t i = 0; i < ids.size(); ++i) {
        events.push_back(PendingEvent{ids[i], static_cast<std::int64_t>(1000 + i), payloads[i]});
    }
    return events;
}

// The tables schemas 1 and 2 had alike (they differ in `seen`).
const char* const k_schema_1_and_2_tables = R"sql(
PRAGMA journal_mode=WAL;
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE endpoints (id INTEGER PRIMARY KEY, tenant TEXT NOT NULL, use_case TEXT NOT NULL, UNIQUE (tenant, use_case));
CREATE TABLE outbox (seq INTEGER PRIMARY KEY, endpoint INTEGER NOT NULL, event_id TEXT NOT NULL,
    record_time INTEGER NOT NULL, enqueued_at INTEGER NOT NULL, payload TEXT NOT NULL);
CREATE INDEX outbox_by_endpoint ON outbox (endpoint, seq);
CREATE TABLE checkpoints (feed TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at INTEGER NOT NULL);
CREATE TABLE rejected (seq INTEGER PRIMARY KEY, endpoint INTEGER NOT NULL, event_id TEXT NOT NULL,
    payload TEXT NOT NULL, answer TEXT NOT NULL, rejected_at INTEGER NOT NULL);
)sql";

/// Writes a state.db of schema 1 or 2 into `dir`: the tables both had, then `sql` (its `seen` and its
/// rows), through a connection of the test's own.
void write_old_store(const std::filesystem::path& dir, const char* sql)
{
    std::filesystem::create_directories(dir);
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open((dir / "state.db").c_str(), &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db, k_schema_1_and_2_tables, nullptr, nullptr, nullptr) == SQLITE_OK);
    CHECK(sqlite3_exec(db, sql, nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(db);
}

}  // namespace

TEST_CASE("state store: a page and its checkpoint are committed together and survive a reopen")
{
    TempDir dir;
    std::vector<std::string> ids{"a", "b", "c"};
    std::vector<std::string> payloads{R"({"n":1})", R"({"n":2})", R"({"n":3})"};
    std::int64_t endpoint = 0;
    {
        StateStore store(dir.path);
        endpoint = store.endpoint_id("acme", "business_process_monitoring");
        REQUIRE(endpoint > 0);
        CHECK(store.endpoint_id("acme", "business_process_monitoring") == endpoint);
        CHECK(store.checkpoint("acme/business_objects/Lead") == "");
        std::size_t stored = 0;
        auto events = pending(ids, payloads);
        REQUIRE(store.commit_page("acme/business_objects/Lead", endpoint, events, "1700", stored) ==
                CommitResult::committed);
        CHECK(stored == 3);
        CHECK(store.figures(endpoint).events == 3);
        CHECK(store.figures(endpoint).bytes == 21);
    }
    StateStore reopened(dir.path);
    CHECK(reopened.checkpoint("acme/business_objects/Lead") == "1700");
    CHECK(reopened.figures(endpoint).events == 3);
    auto rows = reopened.peek(endpoint, 10, 1 << 20);
    REQUIRE(rows.size() == 3);
    CHECK(rows[0].event_id == "a");
    CHECK(rows[2].payload == R"({"n":3})");
    CHECK(rows[0].seq < rows[1].seq);
}

TEST_CASE("state store: an event id is stored once, even after it was delivered")
{
    TempDir dir;
    StateStore store(dir.path);
    auto endpoint = store.endpoint_id("acme", "integration_monitoring");
    std::vector<std::string> ids{"x", "y"};
    std::vector<std::string> payloads{"{}", "{}"};
    auto events = pending(ids, payloads);
    std::size_t stored = 0;
    REQUIRE(store.commit_page("f", endpoint, events, "1", stored) == CommitResult::committed);
    CHECK(stored == 2);
    REQUIRE(store.commit_page("f", endpoint, events, "2", stored) == CommitResult::committed);
    CHECK(stored == 0);
    CHECK(store.checkpoint("f") == "2");

    auto rows = store.peek(endpoint, 10, 1 << 20);
    REQUIRE(store.remove(endpoint, rows));
    CHECK(store.figures(endpoint).events == 0);
    REQUIRE(store.commit_page("f", endpoint, events, "3", stored) == CommitResult::committed);
    CHECK(stored == 0);
    CHECK(store.peek(endpoint, 10, 1 << 20).empty());
}

TEST_CASE("state store: peek respects event and byte limits, endpoints are separate")
{
    TempDir dir;
    StateStore store(dir.path);
    auto first = store.endpoint_id("acme", "business_process_monitoring");
    auto second = store.endpoint_id("other", "business_process_monitoring");
    CHECK(first != second);
    std::vector<std::string> ids, payloads;
    for (int i = 0; i < 10; ++i) {
        ids.push_back("id" + std::to_string(i));
        payloads.push_back(std::string(100, 'p'));
    }
    auto events = pending(ids, payloads);
    std::size_t stored = 0;
    REQUIRE(store.commit_page("f", first, events, "1", stored) == CommitResult::committed);
    CHECK(store.peek(first, 4, 1 << 20).size() == 4);
    CHECK(store.peek(first, 100, 350).size() == 3);
    CHECK(store.peek(first, 100, 10).size() == 1);  // one row always goes, even when alone too large
    CHECK(store.peek(second, 100, 1 << 20).empty());
    CHECK(store.oldest(first).has_value());
    CHECK_FALSE(store.oldest(second).has_value());
}

TEST_CASE("state store: a refused event moves to the rejected table and stays on disk")
{
    TempDir dir;
    StateStore store(dir.path);
    auto endpoint = store.endpoint_id("acme", "real_user_monitoring");
    std::vector<std::string> ids{"good", "poison"};
    std::vector<std::string> payloads{"{}", R"({"bad":true})"};
    auto events = pending(ids, payloads);
    std::size_t stored = 0;
    REQUIRE(store.commit_page("f", endpoint, events, "1", stored) == CommitResult::committed);
    auto rows = store.peek(endpoint, 10, 1 << 20);
    REQUIRE(store.reject(endpoint, rows[1], "HTTP 400: invalid record"));
    CHECK(store.figures(endpoint).events == 1);
    CHECK(store.figures(endpoint).rejected == 1);

    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open_v2(store.file().c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
    sqlite3_stmt* statement = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, "SELECT event_id, answer FROM rejected", -1, &statement, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(statement) == SQLITE_ROW);
    CHECK(std::string(reinterpret_cast<const char*>(sqlite3_column_text(statement, 0))) == "poison");
    CHECK(std::string(reinterpret_cast<const char*>(sqlite3_column_text(statement, 1))) == "HTTP 400: invalid record");
    sqlite3_finalize(statement);
    sqlite3_close(db);
}

TEST_CASE("state store: pruning forgets only ids older than the horizon")
{
    TempDir dir;
    StateStore store(dir.path);
    auto endpoint = store.endpoint_id("acme", "business_process_monitoring");
    std::vector<std::string> ids{"old", "new"};
    std::vector<std::string> payloads{"{}", "{}"};
    std::vector<PendingEvent> events{PendingEvent{ids[0], 1'000'000'000, payloads[0]},
                                     PendingEvent{ids[1], 3'000'000'000, payloads[1]}};
    std::size_t stored = 0;
    REQUIRE(store.commit_page("f", endpoint, events, "1", stored) == CommitResult::committed);
    auto horizon = std::chrono::system_clock::time_point(std::chrono::seconds(2));
    CHECK(store.prune_seen(horizon) == 1);
    REQUIRE(store.commit_page("f", endpoint, events, "2", stored) == CommitResult::committed);
    CHECK(stored == 1);  // "old" is accepted again, "new" is still known
}

TEST_CASE("state store: a schema 1 file is migrated, keeping its seen ids, outbox and checkpoints")
{
    TempDir dir;
    {
        const char* v1 = R"sql(
INSERT INTO meta VALUES ('schema_version', '1');
INSERT INTO endpoints VALUES (1, 'acme', 'business_process_monitoring');
INSERT INTO outbox VALUES (7, 1, 'queued', 2000, 0, '{"q":1}');
CREATE TABLE seen (event_id TEXT PRIMARY KEY, record_time INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX seen_by_time ON seen (record_time);
INSERT INTO seen VALUES ('delivered', 1000), ('queued', 2000);
INSERT INTO checkpoints VALUES ('f', '42', 0);
)sql";
        write_old_store(dir.path, v1);
    }
    StateStore store(dir.path);
    const auto endpoint = store.endpoint_id("acme", "business_process_monitoring");
    CHECK(endpoint == 1);
    CHECK(store.checkpoint("f") == "42");
    CHECK(store.figures(endpoint).events == 1);
    std::vector<std::string> ids{"delivered", "queued", "new"};
    std::vector<std::string> payloads{"{}", "{}", "{}"};
    std::vector<PendingEvent> events{PendingEvent{ids[0], 1000, payloads[0]}, PendingEvent{ids[1], 2000, payloads[1]},
                                     PendingEvent{ids[2], 3000, payloads[2]}};
    std::size_t stored = 0;
    REQUIRE(store.commit_page("f", endpoint, events, "43", stored) == CommitResult::committed);
    CHECK(stored == 1);
    const auto rows = store.peek(endpoint, 10, 1 << 20);
    REQUIRE(rows.size() == 2);
    CHECK(rows[0].event_id == "queued");
    CHECK(rows[1].event_id == "new");
    CHECK(store.prune_seen(std::chrono::system_clock::time_point(std::chrono::microseconds(2))) == 1);
}

TEST_CASE("state store: read-only open of a missing store gives nothing and creates nothing")
{
    TempDir dir;
    CHECK(StateStore::open_read_only(dir.path) == nullptr);
    CHECK_FALSE(std::filesystem::exists(dir.path));
}

TEST_CASE("state store: read-only open of a stopped store's file creates no file (no -wal, no -shm)")
{
    TempDir dir;
    {
        StateStore store(dir.path);
        const auto endpoint = store.endpoint_id("t", "u");
        std::size_t stored = 0;
        const std::vector<PendingEvent> events{PendingEvent{"e1", 1000, "{}"}};
        REQUIRE(store.commit_page("f", endpoint, events, "42", stored) == CommitResult::committed);
    }
    const auto listing = [&dir] {
        std::set<std::string> names;
        for (const auto& entry : std::filesystem::directory_iterator(dir.path)) {
            names.insert(entry.path().filename().string());
        }
        return names;
    };
    const auto before = listing();
    CHECK(before.count("state.db-wal") == 0);
    {
        auto reader = StateStore::open_read_only(dir.path);
        REQUIRE(reader != nullptr);
        CHECK(reader->checkpoint("f") == "42");
        CHECK(listing() == before);
    }
    CHECK(listing() == before);
}

TEST_CASE("state store: the WAL is checkpointed by the store's own thread, and nothing is lost")
{
    TempDir dir;
    // Chunks are deflated, and this test needs the WAL to fill: each event gets its own slice of random
    // bytes (deflate finds nothing to shorten).
    std::mt19937 random(7);
    std::string noise(std::size_t{8} << 20, ' ');
    for (auto& c : noise) {
        c = static_cast<char>(random());
    }
    auto payload_of = [&](std::size_t n) {
        return std::string_view(noise).substr((n * 4001) % (noise.size() - 4000), 4000);
    };
    constexpr std::size_t k_pages = 40;
    constexpr std::size_t k_page_events = 500;  // 40 pages of 2 MB: some 6000 WAL frames of 16 KiB
    std::int64_t endpoint = 0;
    {
        StateStore store(dir.path);
        endpoint = store.endpoint_id("acme", "business_process_monitoring");
        for (std::size_t page = 0; page < k_pages; ++page) {
            std::vector<std::string> ids;
            for (std::size_t i = 0; i < k_page_events; ++i) {
                ids.push_back("p" + std::to_string(page) + "-" + std::to_string(i));
            }
            std::vector<PendingEvent> events;
            for (std::size_t i = 0; i < ids.size(); ++i) {
                events.push_back(PendingEvent{ids[i], static_cast<std::int64_t>(page * k_page_events + i),
                                              payload_of(page * k_page_events + i)});
            }
            std::size_t stored = 0;
            REQUIRE(store.commit_page("acme/bo/Lead", endpoint, events, std::to_string(page), stored) ==
                    CommitResult::committed);
            REQUIRE(stored == k_page_events);
        }
        // The thread was woken past 1000 frames; it runs on its own, so give it a moment.
        for (int i = 0; i < 500 && store.wal_checkpoints() == 0; ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        CHECK(store.wal_checkpoints() >= 1);
        // The log restarted instead of growing by all 80 MB written: the committing thread completes a
        // checkpoint past 4000 frames (64 MiB), and the log is cut back to 64 MiB when it restarts.
        CHECK(std::filesystem::file_size(dir.path / "state.db-wal") <= std::uint64_t{66} << 20);
    }
    StateStore reopened(dir.path);
    CHECK(reopened.checkpoint("acme/bo/Lead") == std::to_string(k_pages - 1));
    CHECK(reopened.figures(endpoint).events == k_pages * k_page_events);
    const auto rows = reopened.peek(endpoint, 5, 1 << 20);
    REQUIRE(rows.size() == 5);
    CHECK(rows[0].event_id == "p0-0");
    CHECK(rows[0].payload == payload_of(0));
    CHECK(rows[4].payload == payload_of(4));
}

namespace {

// Rows of outbox_chunks in the store's file, read through a connection of the test's own.
int chunk_rows(const std::filesystem::path& file)
{
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
    sqlite3_stmt* statement = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, "SELECT count(*) FROM outbox_chunks", -1, &statement, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(statement) == SQLITE_ROW);
    const int count = sqlite3_column_int(statement, 0);
    sqlite3_finalize(statement);
    sqlite3_close(db);
    return count;
}

// Commits `count` events named prefix0, prefix1, ... with `payload` in one page.
void commit_events(StateStore& store, std::int64_t endpoint, const std::string& prefix, std::size_t count,
                   const std::string& payload, std::int64_t first_time = 0)
{
    std::vector<std::string> ids;
    for (std::size_t i = 0; i < count; ++i) {
        ids.push_back(prefix + std::to_string(i));
    }
    std::vector<PendingEvent> events;
    for (std::size_t i = 0; i < count; ++i) {
        events.push_back(PendingEvent{ids[i], first_time + static_cast<std::int64_t>(i), payload});
    }
    std::size_t stored = 0;
    REQUIRE(store.commit_page("feed", endpoint, events, prefix, stored) == CommitResult::committed);
    REQUIRE(stored == count);
}

/// `size` bytes from `random`, each `first + random() % count`: printable text ('!', 90) or bytes of every
/// value (0, 256).
std::string random_payload(std::mt19937& random, std::size_t size, unsigned first, unsigned count)
{
    std::string payload(size, '\0');
    for (auto& c : payload) {
        c = static_cast<char>(first + random() % count);
    }
    return payload;
}

// Takes the `count` oldest events out as delivered, checking they are the expected ones.
void deliver(StateStore& store, std::int64_t endpoint, std::size_t count, const std::string& first_id)
{
    const auto rows = store.peek(endpoint, count, std::size_t{1} << 30);
    REQUIRE(rows.size() == count);
    CHECK(rows.front().event_id == first_id);
    REQUIRE(store.remove(endpoint, rows));
}

}  // namespace

TEST_CASE("state store: delivered chunks are deleted, and the delivered watermark survives a reopen")
{
    TempDir dir;
    const std::string payload(50, 'p');
    std::int64_t endpoint = 0;
    {
        StateStore store(dir.path);
        endpoint = store.endpoint_id("acme", "business_process_monitoring");
        commit_events(store, endpoint, "a", 5000, payload, 0);  // one chunk per page
        commit_events(store, endpoint, "b", 5000, payload, 10'000);
        commit_events(store, endpoint, "c", 5000, payload, 20'000);
        CHECK(chunk_rows(store.file()) == 3);
        CHECK(store.figures(endpoint).events == 15000);
        deliver(store, endpoint, 6000, "a0");
        CHECK(store.figures(endpoint).events == 9000);
        CHECK(store.figures(endpoint).bytes == 9000 * payload.size());
        CHECK(chunk_rows(store.file()) == 2);  // the second still holds b1000..b4999
    }
    {
        StateStore store(dir.path);
        CHECK(store.figures(endpoint).events == 9000);
        CHECK(store.figures(endpoint).bytes == 9000 * payload.size());
        deliver(store, endpoint, 4000, "b1000");
        CHECK(chunk_rows(store.file()) == 1);
        deliver(store, endpoint, 5000, "c0");
        CHECK(store.figures(endpoint).events == 0);
        CHECK(store.figures(endpoint).bytes == 0);
        CHECK(chunk_rows(store.file()) == 0);
        CHECK(store.peek(endpoint, 10, 1 << 20).empty());
        CHECK_FALSE(store.oldest(endpoint).has_value());
        // Delivered events are still known as seen, and new ones queue behind the watermark.
        std::vector<std::string> ids{"c0", "d0"};
        std::vector<std::string> payloads{payload, payload};
        auto events = pending(ids, payloads);
        events[0].record_time_ns = 20'000;
        std::size_t stored = 0;
        REQUIRE(store.commit_page("feed", endpoint, events, "d", stored) == CommitResult::committed);
        CHECK(stored == 1);
        const auto rows = store.peek(endpoint, 10, 1 << 20);
        REQUIRE(rows.size() == 1);
        CHECK(rows[0].event_id == "d0");
    }
    StateStore reopened(dir.path);
    const auto rows = reopened.peek(endpoint, 10, 1 << 20);
    REQUIRE(rows.size() == 1);
    CHECK(rows[0].event_id == "d0");
    CHECK(reopened.figures(endpoint).events == 1);
}

TEST_CASE("state store: a large page is cut into chunks of at most 1 MiB, read back in order across them")
{
    TempDir dir;
    StateStore store(dir.path);
    const auto endpoint = store.endpoint_id("acme", "business_process_monitoring");
    std::mt19937 random(42);
    std::vector<std::string> ids, payloads;
    for (int i = 0; i < 600; ++i) {
        ids.push_back("big" + std::to_string(i));
        payloads.push_back(random_payload(random, 4000, '!', 90));
    }
    std::size_t stored = 0;
    REQUIRE(store.commit_page("feed", endpoint, pending(ids, payloads), "1", stored) == CommitResult::committed);
    CHECK(stored == 600);
    CHECK(chunk_rows(store.file()) == 3);  // 2.4 MB of events
    std::size_t read = 0;
    std::int64_t after = 0;
    while (read < 600) {
        const auto rows = store.peek(endpoint, 70, std::size_t{1} << 30, after);  // batches across chunk ends
        REQUIRE_FALSE(rows.empty());
        for (const auto& row : rows) {
            REQUIRE(row.event_id == ids[read]);
            REQUIRE(row.payload == payloads[read]);
            ++read;
        }
        after = rows.back().seq;
    }
    CHECK(store.peek(endpoint, 10, 1 << 20, after).empty());
}

TEST_CASE("state store: events taken out of the middle of a queue are deleted, the rest keeps its order")
{
    TempDir dir;
    std::int64_t endpoint = 0;
    {
        StateStore store(dir.path);
        endpoint = store.endpoint_id("acme", "integration_monitoring");
        commit_events(store, endpoint, "m", 10, "{}");
        const auto rows = store.peek(endpoint, 10, 1 << 20);
        REQUIRE(rows.size() == 10);
        const std::vector<StoredEvent> middle{rows[3], rows[4], rows[7]};
        REQUIRE(store.remove(endpoint, middle));
        CHECK_FALSE(store.remove(endpoint, std::vector<StoredEvent>{rows[4]}));  // not queued any more
        CHECK(store.figures(endpoint).events == 7);
        REQUIRE(store.reject(endpoint, rows[5], "HTTP 400"));
        CHECK(store.figures(endpoint).events == 6);
        // Then the head: the watermark moves past the gap the middle left.
        const std::vector<StoredEvent> head{rows[0], rows[1], rows[2]};
        REQUIRE(store.remove(endpoint, head));
        CHECK(store.figures(endpoint).events == 3);
        CHECK_FALSE(store.reject(endpoint, rows[4], "gone already"));  // not queued any more
        CHECK(store.figures(endpoint).rejected == 1);
    }
    StateStore reopened(dir.path);
    CHECK(reopened.figures(endpoint).events == 3);
    CHECK(reopened.figures(endpoint).rejected == 1);
    const auto rows = reopened.peek(endpoint, 10, 1 << 20);
    REQUIRE(rows.size() == 3);
    CHECK(rows[0].event_id == "m6");
    CHECK(rows[1].event_id == "m8");
    CHECK(rows[2].event_id == "m9");
}

TEST_CASE("state store: a schema 2 file is migrated, each endpoint's queue keeping its events and order")
{
    TempDir dir;
    {
        const char* v2 = R"sql(
INSERT INTO meta VALUES ('schema_version', '2');
INSERT INTO endpoints VALUES (1, 'acme', 'business_process_monitoring'), (2, 'acme', 'integration_monitoring');
INSERT INTO outbox VALUES (3, 1, 'bpm-1', 100, 5000, '{"b":1}'), (4, 2, 'iem-1', 100, 6000, '{"i":1}'),
    (5, 1, 'bpm-2', 200, 7000, CAST('{"b":2}' AS BLOB)), (9, 2, 'iem-2', 300, 8000, '{"i":2}');
CREATE TABLE seen (record_time INTEGER NOT NULL, event_id TEXT NOT NULL, PRIMARY KEY (record_time, event_id)) WITHOUT ROWID;
INSERT INTO seen VALUES (100, 'bpm-1'), (100, 'iem-1'), (200, 'bpm-2'), (300, 'iem-2');
INSERT INTO checkpoints VALUES ('f', '42', 0);
INSERT INTO rejected VALUES (1, 2, 'poison', '{}', 'HTTP 400', 0);
)sql";
        write_old_store(dir.path, v2);
    }
    {
        StateStore store(dir.path);
        CHECK(store.checkpoint("f") == "42");
        const auto bpm = store.endpoint_id("acme", "business_process_monitoring");
        const auto iem = store.endpoint_id("acme", "integration_monitoring");
        CHECK(store.figures(bpm).events == 2);
        CHECK(store.figures(bpm).bytes == 14);
        CHECK(store.figures(iem).events == 2);
        CHECK(store.figures(iem).rejected == 1);
        CHECK(store.oldest(bpm) == std::chrono::system_clock::time_point(std::chrono::milliseconds(5000)));
        auto rows = store.peek(bpm, 10, 1 << 20);
        REQUIRE(rows.size() == 2);
        CHECK(rows[0].event_id == "bpm-1");
        CHECK(rows[0].payload == R"({"b":1})");
        CHECK(rows[1].payload == R"({"b":2})");
        REQUIRE(store.remove(bpm, std::vector<StoredEvent>{rows[0]}));
        commit_events(store, bpm, "bpm-new-", 1, "{}", 400);
        rows = store.peek(bpm, 10, 1 << 20);
        REQUIRE(rows.size() == 2);
        CHECK(rows[0].event_id == "bpm-2");
        CHECK(rows[1].event_id == "bpm-new-0");
        CHECK(rows[0].seq < rows[1].seq);
    }
    StateStore reopened(dir.path);
    const auto bpm = reopened.endpoint_id("acme", "business_process_monitoring");
    const auto iem = reopened.endpoint_id("acme", "integration_monitoring");
    CHECK(reopened.figures(bpm).events == 2);
    const auto iem_rows = reopened.peek(iem, 10, 1 << 20);
    REQUIRE(iem_rows.size() == 2);
    CHECK(iem_rows[0].event_id == "iem-1");
    CHECK(iem_rows[1].event_id == "iem-2");
    std::size_t stored = 0;
    std::vector<std::string> ids{"iem-2"};
    std::vector<std::string> payloads{"{}"};
    std::vector<PendingEvent> again{PendingEvent{ids[0], 300, payloads[0]}};
    REQUIRE(reopened.commit_page("f", iem, again, "43", stored) == CommitResult::committed);
    CHECK(stored == 0);  // seen ids came through the migration
}

TEST_CASE("state store: a large page with ids seen before stores only its new events, in order")
{
    TempDir dir;
    StateStore store(dir.path);
    const auto endpoint = store.endpoint_id("acme", "business_process_monitoring");
    // 100 events of 1 kB: large enough to be packed on the store's second thread.
    auto page = [](int first) {
        std::vector<std::string> ids, payloads;
        for (int i = first; i < first + 100; ++i) {
            ids.push_back("e" + std::to_string(i));
            payloads.push_back(std::to_string(i) + std::string(1000, 'x'));
        }
        return std::pair{ids, payloads};
    };
    auto [ids_a, payloads_a] = page(0);
    auto [ids_b, payloads_b] = page(50);  // e50..e99 were in the first page
    auto events_a = pending(ids_a, payloads_a);
    auto events_b = pending(ids_b, payloads_b);
    for (std::size_t i = 0; i < events_b.size(); ++i) {
        events_b[i].record_time_ns = 1050 + static_cast<std::int64_t>(i);  // the same record times as in page a
    }
    std::size_t stored = 0;
    REQUIRE(store.commit_page("feed", endpoint, events_a, "a", stored) == CommitResult::committed);
    CHECK(stored == 100);
    REQUIRE(store.commit_page("feed", endpoint, events_b, "b", stored) == CommitResult::committed);
    CHECK(stored == 50);
    CHECK(store.figures(endpoint).events == 150);
    const auto rows = store.peek(endpoint, 1000, std::size_t{1} << 30);
    REQUIRE(rows.size() == 150);
    for (std::size_t i = 0; i < rows.size(); ++i) {
        CAPTURE(i);
        CHECK(rows[i].event_id == "e" + std::to_string(i));
        CHECK(rows[i].payload == std::to_string(i) + std::string(1000, 'x'));
        CHECK(rows[i].seq == rows[0].seq + static_cast<std::int64_t>(i));
    }
}

namespace {

// Runs `sql` on the store's file through a connection of the test's own.
void exec_sql(const std::filesystem::path& file, const char* sql)
{
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(file.c_str(), &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db, sql, nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(db);
}

// Moves the event `id` aside with `answer`, as the exporter does with a record refused for good.
void reject_event(StateStore& store, std::int64_t endpoint, const std::string& id, const std::string& answer)
{
    for (const auto& row : store.peek(endpoint, 1000, std::size_t{1} << 30)) {
        if (row.event_id == id) {
            REQUIRE(store.reject(endpoint, row, answer));
            return;
        }
    }
    FAIL("event " << id << " is not queued");
}

}  // namespace

// ---------------------------------------------------------------------------------------------------
// Schema 5: seen forgotten per feed by its checkpoint, quarantine, retention, incremental vacuum.

namespace {

using c4c::infra::FeedCheckpoint;
using c4c::infra::PageCommit;
using c4c::infra::PageCommitted;
using c4c::infra::QuarantineEntry;
using c4c::infra::SeenHorizon;

// One integer a query on the store's file gives, through a connection of the test's own.
std::int64_t query_integer(const std::filesystem::path& file, const char* sql)
{
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
    sqlite3_stmt* statement = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, sql, -1, &statement, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(statement) == SQLITE_ROW);
    const std::int64_t value = sqlite3_column_int64(statement, 0);
    sqlite3_finalize(statement);
    sqlite3_close(db);
    return value;
}

const FeedCheckpoint& find_feed(const std::vector<FeedCheckpoint>& rows, std::string_view feed)
{
    for (const auto& row : rows) {
        if (row.feed == feed) {
            return row;
        }
    }
    FAIL("no checkpoint row for " << feed);
    return rows.front();
}

std::size_t commit_ids(StateStore& store, std::int64_t endpoint, std::string_view feed,
                       const std::vector<std::pair<std::string, std::int64_t>>& ids, std::int64_t checkpoint_ns)
{
    std::vector<PendingEvent> events;
    for (const auto& [id, time] : ids) {
        events.push_back(PendingEvent{id, time, "{}"});
    }
    const std::string text = std::to_string(checkpoint_ns);
    PageCommitted result;
    REQUIRE(store.commit_page(feed, endpoint, PageCommit{events, {}, text, checkpoint_ns}, result) ==
            CommitResult::committed);
    return result.stored;
}

}  // namespace

TEST_CASE("state store: requeued events go to the end of their queues, in one transaction with the job")
{
    TempDir dir;
    StateStore store(dir.path);
    const auto bpm = store.endpoint_id("acme", "business_process_monitoring");
    const auto iem = store.endpoint_id("acme", "integration_monitoring");
    commit_events(store, bpm, "b", 3, R"({"b":1})");
    commit_events(store, iem, "i", 2, R"({"i":1})", 100);
    reject_event(store, bpm, "b1", "HTTP 400: bad b1");
    reject_event(store, iem, "i0", "HTTP 400: bad i0");
    CHECK(store.figures(bpm).events == 2);
    CHECK(store.figures(bpm).rejected == 1);

    const auto rejected = store.rejected_events();
    REQUIRE(rejected.size() == 2);
    CHECK(rejected[0].event_id == "b1");
    CHECK(rejected[0].tenant == "acme");
    CHECK(rejected[0].use_case == "business_process_monitoring");
    CHECK(rejected[0].answer == "HTTP 400: bad b1");
    CHECK(rejected[0].payload == R"({"b":1})");
    CHECK(rejected[1].event_id == "i0");

    SUBCASE("an unknown id changes nothing")
    {
        const auto change = store.requeue_rejected({false, {rejected[0].id, 999}});
        CHECK_FALSE(change.ok());
        CHECK(change.missing == std::vector<std::int64_t>{999});
        CHECK(store.rejected_events().size() == 2);
        CHECK(store.figures(bpm).events == 2);
    }
    SUBCASE("a failing job rolls the requeue back")
    {
        const auto change = store.requeue_rejected({true, {}}, [](const auto&) { return false; });
        CHECK(change.failed);
        CHECK(store.rejected_events().size() == 2);
        CHECK(store.figures(bpm).rejected == 1);
    }
    SUBCASE("requeue by id, then all")
    {
        bool also_ran = false;
        auto change = store.requeue_rejected({false, {rejected[0].id}}, [&](const auto& done) {
            also_ran = true;
            return done.events == 1;
        });
        CHECK(change.ok());
        CHECK(also_ran);
        CHECK(change.endpoints == std::vector<std::int64_t>{bpm});
        CHECK(store.figures(bpm).events == 3);
        CHECK(store.figures(bpm).rejected == 0);
        auto rows = store.peek(bpm, 10, 1 << 20);
        REQUIRE(rows.size() == 3);
        CHECK(rows[2].event_id == "b1");
        CHECK(rows[2].payload == R"({"b":1})");
        CHECK(rows[1].seq < rows[2].seq);

        change = store.requeue_rejected({true, {}});
        CHECK(change.events == 1);
        CHECK(store.rejected_events().empty());
        CHECK(store.figures(iem).events == 2);
        CHECK(store.peek(iem, 10, 1 << 20).back().event_id == "i0");

        // The queue on disk says the same after a reopen, and delivers in that order.
        deliver(store, bpm, 2, "b0");
        StateStore reopened(dir.path);
        CHECK(reopened.figures(bpm).events == 1);
        CHECK(reopened.figures(bpm).rejected == 0);
        rows = reopened.peek(bpm, 10, 1 << 20);
        REQUIRE(rows.size() == 1);
        CHECK(rows[0].event_id == "b1");
    }
    SUBCASE("drop")
    {
        const auto change = store.drop_rejected({false, {rejected[1].id}});
        CHECK(change.ok());
        CHECK(change.events == 1);
        CHECK(store.figures(iem).rejected == 0);
        CHECK(store.figures(iem).events == 1);
        REQUIRE(store.rejected_events().size() == 1);
        CHECK(store.drop_rejected({false, {rejected[1].id}}).missing == std::vector<std::int64_t>{rejected[1].id});
    }
}

TEST_CASE("state store: a schema 3 file gains the operator tables and keeps its queue; read-only it reads as is")
{
    TempDir dir;
    std::int64_t endpoint = 0;
    {
        StateStore store(dir.path);
        endpoint = store.endpoint_id("acme", "business_process_monitoring");
        commit_events(store, endpoint, "e", 4, "{}");
        reject_event(store, endpoint, "e2", "HTTP 400");
    }
    // What schema 3 wrote: the same outbox, without the operator tables (4) and the quarantine, seen ids
    // without their feed and checkpoints without their instant (5).
    exec_sql(dir.path / "state.db",
             "DROP TABLE source_status; DROP TABLE endpoint_status; DROP TABLE jobs; DROP TABLE quarantine; "
             "CREATE TABLE seen3 (record_time INTEGER NOT NULL, event_id TEXT NOT NULL, "
             "PRIMARY KEY (record_time, event_id)) WITHOUT ROWID; "
             "INSERT INTO seen3 SELECT record_time, event_id FROM seen; DROP TABLE seen; "
             "ALTER TABLE seen3 RENAME TO seen; "
             "CREATE TABLE checkpoints3 (feed TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at INTEGER NOT NULL); "
             "INSERT INTO checkpoints3 SELECT feed, value, updated_at FROM checkpoints; DROP TABLE checkpoints; "
             "ALTER TABLE checkpoints3 RENAME TO checkpoints; "
             "UPDATE meta SET value = '3' WHERE key = 'schema_version';");
    {
        auto old = StateStore::open_read_only(dir.path);
        REQUIRE(old);
        CHECK(old->schema_version() == 3);
        CHECK_FALSE(old->writable());
        CHECK(old->figures(endpoint).events == 3);
        CHECK(old->figures(endpoint).rejected == 1);
        CHECK(old->poll_records().empty());
        CHECK(old->open_jobs().empty());
        // Its checkpoints as `status` shows them: before schema 5 they had no id of their feed and no instant.
        const auto checkpoints = old->feed_checkpoints();
        REQUIRE(checkpoints.size() == 1);
        CHECK(checkpoints[0].id == 0);
        CHECK(checkpoints[0].feed == "feed");
        CHECK(checkpoints[0].value == "e");
        CHECK_FALSE(checkpoints[0].checkpoint_ns.has_value());
        CHECK(checkpoints[0].updated_at_ms > 0);
    }
    StateStore store(dir.path);
    CHECK(store.schema_version() == c4c::infra::k_schema_version);
    CHECK(store.figures(endpoint).events == 3);
    CHECK(store.peek(endpoint, 10, 1 << 20).front().event_id == "e0");
    c4c::infra::PollRecord poll;
    poll.tenant = "acme";
    poll.source = "business_objects";
    poll.ok = true;
    poll.outcome = "ok";
    CHECK(store.record_poll(poll));
    CHECK(store.poll_records().size() == 1);
}

TEST_CASE("state store: a file a daemon is just creating reads as empty, read-only")
{
    TempDir dir;
    std::filesystem::create_directories(dir.path);
    exec_sql(dir.path / "state.db", "PRAGMA journal_mode=WAL;");
    auto store = StateStore::open_read_only(dir.path);
    REQUIRE(store);
    CHECK(store->schema_version() == 0);
    CHECK(store->rejected_events().empty());
    CHECK(store->feed_checkpoints().empty());
    CHECK(store->poll_records().empty());
}

TEST_CASE("state store: each feed's seen ids are forgotten by its own horizon")
{
    TempDir dir;
    StateStore store(dir.path);
    const auto endpoint = store.endpoint_id("acme", "business_process_monitoring");
    // A busy feed and a quiet one whose checkpoint stays far back.
    commit_ids(store, endpoint, "acme/business_objects/Busy", {{"b1", 100}, {"b2", 200}, {"b3", 300}}, 300);
    commit_ids(store, endpoint, "acme/business_objects/Quiet", {{"q1", 150}}, 150);
    const auto rows = store.feed_checkpoints();
    REQUIRE(rows.size() == 2);
    const auto& busy = find_feed(rows, "acme/business_objects/Busy");
    const auto& quiet = find_feed(rows, "acme/business_objects/Quiet");
    CHECK(busy.checkpoint_ns == 300);
    CHECK(quiet.value == "150");
    CHECK(busy.id != quiet.id);

    const std::vector<SeenHorizon> horizons{{busy.id, 250}, {quiet.id, 50}};
    CHECK(store.prune_seen(horizons, 0) == 2);  // b1, b2; q1 stays: the quiet feed can still read it
    CHECK(commit_ids(store, endpoint, "acme/business_objects/Quiet", {{"q1", 150}}, 150) == 0);
    CHECK(commit_ids(store, endpoint, "acme/business_objects/Busy", {{"b2", 200}, {"b3", 300}}, 300) == 1);
    CHECK(store.prune_seen(horizons, 0) == 1);  // b2 again
    // The old single-horizon form forgets across feeds.
    CHECK(store.prune_seen(std::chrono::system_clock::time_point(std::chrono::nanoseconds(1000))) == 2);
}

TEST_CASE("state store: quarantined records are kept once each, with their text, and go after the retention")
{
    TempDir dir;
    StateStore store(dir.path);
    const auto endpoint = store.endpoint_id("acme", "real_user_monitoring");
    const std::string raw_a = R"({"CTIMESTAMP":"25.11.2026 10:00:00 MARS","CSTEP_ID":"A"})";
    const std::string raw_b = R"({"CTIMESTAMP":"x","CSTEP_ID":"B"})";
    const std::vector<QuarantineEntry> bad{
        {"acme", "response_time_analysis", "rta", "A", "unknown_timezone", "unknown SAP time zone 'MARS'", raw_a},
        {"acme", "response_time_analysis", "rta", "B", "invalid_time", "malformed CTIMESTAMP 'x'", raw_b}};
    std::vector<PendingEvent> events{PendingEvent{"e1", 1, "{}"}};
    PageCommitted first;
    const std::string_view feed = "acme/response_time_analysis/rta";
    REQUIRE(store.commit_page(feed, endpoint, PageCommit{events, bad, "10", 10'000'000'000}, first) ==
            CommitResult::committed);
    CHECK(first.stored == 1);
    CHECK(first.newly_quarantined == std::vector<std::size_t>{0, 1});
    // Read again (an overlap window): nothing new, counted and logged once.
    PageCommitted again;
    REQUIRE(store.commit_page(feed, endpoint, PageCommit{events, bad, "11", 11'000'000'000}, again) ==
            CommitResult::committed);
    CHECK(again.stored == 0);
    CHECK(again.newly_quarantined.empty());
    CHECK(store.checkpoint("acme/response_time_analysis/rta") == "11");
    CHECK(query_integer(store.file(), "SELECT count(*) FROM quarantine") == 2);
    CHECK(query_integer(store.file(), "SELECT count(*) FROM quarantine WHERE tenant = 'acme' AND source = "
                                      "'response_time_analysis' AND feed = 'rta' AND object_key = 'A' AND reason = "
                                      "'unknown_timezone' AND raw = '{\"CTIMESTAMP\":\"25.11.2026 10:00:00 MARS\","
                                      "\"CSTEP_ID\":\"A\"}'") == 1);

    // A refused event, then the retention: what was set aside before the cutoff goes.
    const auto rows = store.peek(endpoint, 1, 1 << 20);
    REQUIRE(store.reject(endpoint, rows.at(0), "HTTP 400"));
    CHECK(store.figures(endpoint).rejected == 1);
    const auto kept = store.purge_set_aside(std::chrono::system_clock::now() - std::chrono::hours(1));
    CHECK(kept.rejected == 0);
    CHECK(kept.quarantined == 0);
    const auto purged = store.purge_set_aside(std::chrono::system_clock::now() + std::chrono::seconds(1));
    CHECK(purged.rejected == 1);
    CHECK(purged.quarantined == 2);
    CHECK(store.figures(endpoint).rejected == 0);
    CHECK(query_integer(store.file(), "SELECT count(*) FROM quarantine") == 0);
}

TEST_CASE("state store: a schema 3 file is migrated: its seen ids still count, checkpoints get their instants")
{
    TempDir dir;
    std::filesystem::create_directories(dir.path);
    {
        sqlite3* db = nullptr;
        REQUIRE(sqlite3_open((dir.path / "state.db").c_str(), &db) == SQLITE_OK);
        const char* v3 = R"sql(
PRAGMA page_size=16384;
PRAGMA journal_mode=WAL;
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE endpoints (id INTEGER PRIMARY KEY, tenant TEXT NOT NULL, use_case TEXT NOT NULL,
    delivered INTEGER NOT NULL DEFAULT 0, UNIQUE (tenant, use_case));
CREATE TABLE outbox_chunks (id INTEGER PRIMARY KEY, endpoint INTEGER NOT NULL, first_seq INTEGER NOT NULL,
    last_seq INTEGER NOT NULL, bytes INTEGER NOT NULL, raw_size INTEGER NOT NULL, enqueued_at INTEGER NOT NULL,
    data BLOB NOT NULL);
CREATE TABLE outbox_gaps (endpoint INTEGER NOT NULL, first_seq INTEGER NOT NULL, last_seq INTEGER NOT NULL,
    PRIMARY KEY (endpoint, first_seq)) WITHOUT ROWID;
CREATE TABLE seen (record_time INTEGER NOT NULL, event_id TEXT NOT NULL, PRIMARY KEY (record_time, event_id))
    WITHOUT ROWID;
CREATE TABLE checkpoints (feed TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at INTEGER NOT NULL);
CREATE TABLE rejected (seq INTEGER PRIMARY KEY, endpoint INTEGER NOT NULL, event_id TEXT NOT NULL,
    payload TEXT NOT NULL, answer TEXT NOT NULL, rejected_at INTEGER NOT NULL);
INSERT INTO meta VALUES ('schema_version', '3');
INSERT INTO endpoints VALUES (1, 'acme', 'business_process_monitoring', 0);
INSERT INTO seen VALUES (1000, 'delivered');
INSERT INTO checkpoints VALUES ('acme/business_objects/LeadCollection', '1795654682037', 0);
INSERT INTO checkpoints VALUES ('acme/response_time_analysis/rta', '1795650072', 0);
INSERT INTO checkpoints VALUES ('acme/webservice_messages/messages', '2026-11-26T02:10:56.115Z', 0);
INSERT INTO checkpoints VALUES ('acme/webservice_messages/other', 'garbage', 0);
)sql";
        REQUIRE(sqlite3_exec(db, v3, nullptr, nullptr, nullptr) == SQLITE_OK);
        sqlite3_close(db);
    }
    CHECK(query_integer(dir.path / "state.db", "PRAGMA auto_vacuum") == 0);
    {
        StateStore store(dir.path);
        const auto rows = store.feed_checkpoints();
        REQUIRE(rows.size() == 4);
        CHECK(find_feed(rows, "acme/business_objects/LeadCollection").checkpoint_ns == 1795654682037'000'000);
        CHECK(find_feed(rows, "acme/response_time_analysis/rta").checkpoint_ns == 1795650072'000'000'000);
        CHECK(find_feed(rows, "acme/webservice_messages/messages").checkpoint_ns == 1795659056'115'000'000);
        CHECK_FALSE(find_feed(rows, "acme/webservice_messages/other").checkpoint_ns.has_value());
        CHECK(store.checkpoint("acme/business_objects/LeadCollection") == "1795654682037");
        // An id stored by the old version still keeps its record state from being stored twice.
        CHECK(commit_ids(store, 1, "acme/business_objects/LeadCollection", {{"delivered", 1000}, {"new", 2000}},
                         1795654682037'000'000) == 1);
        // Ids of no known feed go once every feed's horizon has passed them.
        CHECK(store.prune_seen(std::vector<SeenHorizon>{}, 1500) == 1);
    }
    CHECK(query_integer(dir.path / "state.db", "SELECT value FROM meta WHERE key = 'schema_version'") ==
          c4c::infra::k_schema_version);
    CHECK(query_integer(dir.path / "state.db", "PRAGMA auto_vacuum") == 2);  // INCREMENTAL
}

TEST_CASE("state store: the file gives back the space of a large delivered backlog")
{
    TempDir dir;
    // Random payloads: deflate cannot shrink them, so the backlog takes its size on disk.
    std::mt19937 random(11);
    std::string noise(std::size_t{4} << 20, ' ');
    for (auto& c : noise) {
        c = static_cast<char>('a' + random() % 26);
    }
    constexpr std::size_t k_pages = 24;
    constexpr std::size_t k_page_events = 250;  // 24 pages of 1 MB: a 24 MB backlog (about 14 MB deflated)
    std::int64_t endpoint = 0;
    const auto file = dir.path / "state.db";
    {
        StateStore store(dir.path);
        endpoint = store.endpoint_id("acme", "business_process_monitoring");
        for (std::size_t page = 0; page < k_pages; ++page) {
            std::vector<std::string> ids;
            std::vector<PendingEvent> events;
            for (std::size_t i = 0; i < k_page_events; ++i) {
                ids.push_back("p" + std::to_string(page) + "-" + std::to_string(i));
            }
            for (std::size_t i = 0; i < k_page_events; ++i) {
                const std::size_t n = page * k_page_events + i;
                const std::string_view payload =
                    std::string_view(noise).substr((n * 4099) % (noise.size() - 4000), 4000);
                events.push_back(PendingEvent{ids[i], static_cast<std::int64_t>(n), payload});
            }
            std::size_t stored = 0;
            REQUIRE(store.commit_page("feed", endpoint, events, std::to_string(page), stored) ==
                    CommitResult::committed);
        }
    }
    const auto backlog_size = std::filesystem::file_size(file);
    CHECK(backlog_size > (std::uintmax_t{10} << 20));
    {
        StateStore store(dir.path);
        for (;;) {
            const auto rows = store.peek(endpoint, 1000, std::size_t{8} << 20);
            if (rows.empty()) {
                break;
            }
            REQUIRE(store.remove(endpoint, rows));
        }
        CHECK(store.free_bytes() > (std::size_t{8} << 20));
        // In bounded steps: each gives back at most 64 pages, keeping 1 MiB for the next pages to reuse.
        std::size_t steps = 0;
        while (store.vacuum_step(64, std::size_t{1} << 20) > 0) {
            ++steps;
        }
        CHECK(steps > 10);
        CHECK(store.free_bytes() <= std::size_t{1} << 20);
    }
    const auto delivered_size = std::filesystem::file_size(file);
    INFO("backlog " << backlog_size << " bytes, after delivery " << delivered_size << " bytes");
    CHECK(delivered_size < backlog_size / 4);
}

namespace {

// One gzip member inflated with zlib (a decoder of our own would prove nothing).
std::string gunzip_member(std::string_view member)
{
    z_stream zs{};
    REQUIRE(inflateInit2(&zs, 16 + MAX_WBITS) == Z_OK);
    std::vector<char> buffer(std::size_t{2} << 20);  // a chunk ends after the event that reaches 1 MiB
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(member.data()));
    zs.avail_in = static_cast<uInt>(member.size());
    zs.next_out = reinterpret_cast<Bytef*>(buffer.data());
    zs.avail_out = static_cast<uInt>(buffer.size());
    CHECK(inflate(&zs, Z_FINISH) == Z_STREAM_END);
    CHECK(zs.avail_in == 0);  // the member ends where the stored bytes end
    std::string out(buffer.data(), static_cast<std::size_t>(zs.total_out));
    inflateEnd(&zs);
    return out;
}

std::string joined_payloads(const std::vector<StoredEvent>& rows)
{
    std::string out;
    for (const auto& row : rows) {
        out += (out.empty() ? "" : ",") + row.payload;
    }
    return out;
}

}  // namespace

TEST_CASE("state store: whole chunks are read as stored gzip members, within the endpoint's limits")
{
    TempDir dir;
    StateStore store(dir.path);
    const auto endpoint = store.endpoint_id("acme", "business_process_monitoring");
    store.set_chunk_limits(endpoint, 10, 1 << 20);
    for (int page = 0; page < 3; ++page) {
        std::vector<std::string> ids, payloads;
        for (int i = 0; i < 25; ++i) {
            ids.push_back("p" + std::to_string(page) + "-" + std::to_string(i));
            payloads.push_back(R"({"n":)" + std::to_string(page * 100 + i) + "}");
        }
        std::size_t stored = 0;
        REQUIRE(store.commit_page("feed", endpoint, pending(ids, payloads), std::to_string(page), stored) ==
                CommitResult::committed);
    }
    // Chunks end at 10, 20, 30, ... (full batches) and at the pages' ends: 1-10, 11-20, 21-25, 26-30, ...
    CHECK(chunk_rows(store.file()) == 9);

    const auto batch = store.peek_compressed(endpoint, 30, 1 << 20);
    REQUIRE(batch.has_value());
    CHECK(batch->first_seq == 1);
    CHECK(batch->last_seq == 30);  // the next chunk would make 40
    CHECK(batch->events == 30);
    REQUIRE(batch->members.size() == 4);
    const auto rows = store.peek(endpoint, 30, 1 << 20);
    std::string decoded;
    for (const auto& member : batch->members) {
        decoded += (decoded.empty() ? "" : ",") + gunzip_member(member);
    }
    CHECK(decoded == joined_payloads(rows));
    CHECK(batch->json_bytes == decoded.size());
    std::size_t bytes = 0;
    for (const auto& row : rows) {
        bytes += row.payload.size();
    }
    CHECK(batch->bytes == bytes);

    // The byte budget counts the payloads and the commas: exactly the first chunk, or nothing fits.
    const auto first = store.peek_compressed(endpoint, 30, rows[0].payload.size() * 10 + 9);
    REQUIRE(first.has_value());
    CHECK(first->events == 10);
    CHECK_FALSE(store.peek_compressed(endpoint, 30, 20).has_value());
    CHECK_FALSE(store.peek_compressed(endpoint, 9, 1 << 20).has_value());

    REQUIRE(store.remove(endpoint, *batch));
    CHECK(store.figures(endpoint).events == 45);
    CHECK(store.peek(endpoint, 1, 1 << 20).front().event_id == "p1-5");
    const auto next = store.peek_compressed(endpoint, 10, 1 << 20, 0);
    REQUIRE(next.has_value());
    CHECK(next->first_seq == 31);
    // Behind a batch still in flight (`after`), from the next chunk's start only.
    CHECK(store.peek_compressed(endpoint, 10, 1 << 20, 40)->first_seq == 41);
    CHECK_FALSE(store.peek_compressed(endpoint, 10, 1 << 20, 35).has_value());
}

TEST_CASE("state store: payloads that do not compress are stored whole and read back as they were")
{
    // Bytes of every value: compressing does not pay, so the chunk's gzip member is stored blocks (the
    // compressor's worst case), for a chunk of 1 MiB and for a small one.
    TempDir dir;
    StateStore store(dir.path);
    const auto endpoint = store.endpoint_id("acme", "business_process_monitoring");
    std::mt19937 random(7);
    std::vector<std::string> ids, payloads;
    for (int i = 0; i < 300; ++i) {
        ids.push_back("noise" + std::to_string(i));
        payloads.push_back(random_payload(random, i == 299 ? 10 : 5000, 0, 256));
    }
    std::size_t stored = 0;
    REQUIRE(store.commit_page("feed", endpoint, pending(ids, payloads), "1", stored) == CommitResult::committed);
    CHECK(stored == 300);
    CHECK(chunk_rows(store.file()) == 2);
    const auto rows = store.peek(endpoint, 300, std::size_t{1} << 30);
    REQUIRE(rows.size() == 300);
    for (std::size_t i = 0; i < rows.size(); ++i) {
        REQUIRE(rows[i].event_id == ids[i]);
        REQUIRE(rows[i].payload == payloads[i]);
    }
    const auto batch = store.peek_compressed(endpoint, 300, std::size_t{1} << 30);
    REQUIRE(batch.has_value());
    REQUIRE(batch->members.size() == 2);
    CHECK(gunzip_member(batch->members[0]) + "," + gunzip_member(batch->members[1]) == joined_payloads(rows));
}

TEST_CASE("state store: a chunk the watermark or a gap cuts is read by peek; batches realign on chunk starts")
{
    TempDir dir;
    StateStore store(dir.path);
    const auto endpoint = store.endpoint_id("acme", "business_process_monitoring");
    store.set_chunk_limits(endpoint, 10, 1 << 20);
    commit_events(store, endpoint, "e", 40, "{}");  // chunks 1-10, 11-20, 21-30, 31-40
    deliver(store, endpoint, 3, "e0");              // the watermark cuts the first chunk
    const auto taken = store.peek(endpoint, 2, 1 << 20, 14);
    REQUIRE(taken.size() == 2);
    CHECK(taken[0].seq == 15);
    REQUIRE(store.remove(endpoint, taken));  // a gap in the second chunk

    CHECK_FALSE(store.peek_compressed(endpoint, 10, 1 << 20).has_value());
    CHECK_FALSE(store.peek_compressed(endpoint, 10, 1 << 20, 10).has_value());
    // A batch over the cut chunks ends where a whole chunk starts, not before the gap's chunk.
    CHECK(store.aligned_end(endpoint, 4, 14) == 14);
    CHECK(store.aligned_end(endpoint, 4, 25) == 20);
    CHECK(store.aligned_end(endpoint, 21, 25) == 25);
    CHECK(store.aligned_end(endpoint, 4, 20) == 20);
    const auto whole = store.peek_compressed(endpoint, 20, 1 << 20, 20);
    REQUIRE(whole.has_value());
    CHECK(whole->first_seq == 21);
    CHECK(whole->last_seq == 40);
    CHECK(store.figures(endpoint).events == 35);
}
