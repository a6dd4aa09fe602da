#include "infra/state_schema.hpp"

#include "infra/outbox_chunks.hpp"
#include "infra/sqlite.hpp"
#include "infra/time.hpp"

#include <spdlog/spdlog.h>

#include <charconv>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace c4c::infra {

namespace {

const char* const k_schema = R"sql(
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS endpoints (
    id INTEGER PRIMARY KEY,
    tenant TEXT NOT NULL,
    use_case TEXT NOT NULL,
    delivered INTEGER NOT NULL DEFAULT 0,
    UNIQUE (tenant, use_case));
CREATE TABLE IF NOT EXISTS outbox_chunks (
    id INTEGER PRIMARY KEY,
    endpoint INTEGER NOT NULL,
    first_seq INTEGER NOT NULL,
    last_seq INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    raw_size INTEGER NOT NULL,
    enqueued_at INTEGER NOT NULL,
    data BLOB NOT NULL,
    format INTEGER NOT NULL DEFAULT 0,
    idx BLOB);
CREATE TABLE IF NOT EXISTS outbox_gaps (
    endpoint INTEGER NOT NULL,
    first_seq INTEGER NOT NULL,
    last_seq INTEGER NOT NULL,
    PRIMARY KEY (endpoint, first_seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS seen (
    record_time INTEGER NOT NULL,
    event_id TEXT NOT NULL,
    feed INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (record_time, event_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS checkpoints (
    id INTEGER PRIMARY KEY,
    feed TEXT NOT NULL UNIQUE,
    value TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    checkpoint_ns INTEGER);
CREATE TABLE IF NOT EXISTS quarantine (
    id INTEGER PRIMARY KEY,
    digest TEXT NOT NULL UNIQUE,
    tenant TEXT NOT NULL,
    source TEXT NOT NULL,
    feed TEXT NOT NULL,
    object_key TEXT NOT NULL,
    reason TEXT NOT NULL,
    detail TEXT NOT NULL,
    raw TEXT NOT NULL,
    first_seen INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS rejected (
    seq INTEGER PRIMARY KEY,
    endpoint INTEGER NOT NULL,
    event_id TEXT NOT NULL,
    payload TEXT NOT NULL,
    answer TEXT NOT NULL,
    rejected_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS source_status (
    tenant TEXT NOT NULL,
    source TEXT NOT NULL,
    polled_at INTEGER NOT NULL,
    ok INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    message TEXT NOT NULL,
    records INTEGER NOT NULL,
    stored INTEGER NOT NULL,
    last_success_at INTEGER,
    consecutive_failures INTEGER NOT NULL,
    PRIMARY KEY (tenant, source)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS endpoint_status (
    endpoint INTEGER PRIMARY KEY,
    state TEXT NOT NULL,
    reason TEXT NOT NULL,
    since INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    arguments TEXT NOT NULL,
    state TEXT NOT NULL,
    progress TEXT NOT NULL,
    result TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS job_events (
    job INTEGER NOT NULL,
    event_id TEXT NOT NULL,
    endpoint INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (job, event_id)) WITHOUT ROWID;
)sql";

// Schema 1 keyed `seen` by event_id alone. Event ids are hashes, so every page of new events dirtied
// leaves all over that B-tree (and its record_time index): as the table grew, each transaction wrote
// megabytes of WAL. An event id is derived from the record's change time, which is its record_time, so
// (record_time, event_id) identifies the same states, and pages arrive in change-time order: inserts
// become nearly sequential, and pruning by time needs no second index.
const char* const k_migrate_seen = R"sql(
CREATE TABLE seen_v2 (
    record_time INTEGER NOT NULL,
    event_id TEXT NOT NULL,
    PRIMARY KEY (record_time, event_id)) WITHOUT ROWID;
INSERT INTO seen_v2 (record_time, event_id) SELECT record_time, event_id FROM seen;
DROP TABLE seen;
ALTER TABLE seen_v2 RENAME TO seen;
)sql";

// Schemas 1 and 2 kept every event in a row of one `outbox` table (with an (endpoint, seq) index) and
// deleted delivered rows one by one. Each endpoint's queued events are packed into chunks, in their
// order, numbered from 1; the watermark starts at 0 (all of them are still queued).
void migrate_outbox(SqliteConnection& db, ChunkPacker& packer)
{
    if (!db.exec("ALTER TABLE endpoints ADD COLUMN delivered INTEGER NOT NULL DEFAULT 0")) {
        throw std::runtime_error("endpoints");
    }
    packer.clear();
    std::int64_t endpoint = -1;
    std::int64_t next_seq = 1;
    std::int64_t enqueued_at = 0;
    auto flush = [&] {
        if (packer.events() > 0) {
            const auto first_seq = next_seq;
            next_seq += static_cast<std::int64_t>(packer.events());
            if (!insert_chunk(db, endpoint, first_seq, packer.take(), enqueued_at)) {
                throw std::runtime_error("outbox chunks");
            }
        }
    };
    ScopedStatement rows(
        db.prepare("SELECT endpoint, event_id, payload, enqueued_at FROM outbox ORDER BY endpoint, seq"));
    if (!rows) {
        throw std::runtime_error("old outbox");
    }
    int rc = SQLITE_ROW;
    while ((rc = rows.step()) == SQLITE_ROW) {
        const std::int64_t row_endpoint = rows.column_integer(0);
        const std::string payload = rows.column_text(2);
        // The endpoints' batch limits are not known here: a chunk too large for one batch is sent through
        // the slow path.
        if (row_endpoint != endpoint || !packer.room_for(payload.size(), ChunkLimits{}, 0)) {
            flush();
            if (row_endpoint != endpoint) {
                endpoint = row_endpoint;
                next_seq = 1;
            }
        }
        if (packer.events() == 0) {
            enqueued_at = rows.column_integer(3);
        }
        packer.add(rows.column_text(1), payload);
    }
    if (rc != SQLITE_DONE) {
        throw std::runtime_error("old outbox");
    }
    flush();
    sqlite3_reset(rows.get());  // the old table is dropped next
    if (!db.exec("DROP TABLE outbox")) {
        throw std::runtime_error("old outbox");
    }
}

// ---- Schema 5 (issue 14: seen forgotten per feed by its checkpoint, quarantine, incremental vacuum) ----
// One migration step, kept together: this step runs for every file older than 5 (migrate_schema below),
// and switch_to_incremental_vacuum() completes it after the transaction.
//
// `seen` gets the feed each id was stored for (checkpoints.id), so that each feed's ids are forgotten by
// its own checkpoint (a quiet feed keeps its checkpoint for months and must not hold back the others'):
// ids stored before have feed 0 and are forgotten once no feed can read them. The key stays (record_time,
// event_id): ids are unique across feeds, so the old ids still stop a record state from being stored
// twice, and pruning scans one range of record times. `checkpoints` gets an
// explicit id (stable across VACUUM, which renumbers implicit rowids) and the checkpoint's instant
// (checkpoint_ns), which the collectors now hand over with every commit; for the checkpoints already
// stored it is read from the three formats the collectors wrote (decimal unix milliseconds of business
// objects, decimal unix seconds of RTA, ISO 8601 of web-service messages). The quarantine table is made
// by k_schema.
const char* const k_migrate_to_5 = R"sql(
ALTER TABLE seen ADD COLUMN feed INTEGER NOT NULL DEFAULT 0;
CREATE TABLE checkpoints_v5 (
    id INTEGER PRIMARY KEY,
    feed TEXT NOT NULL UNIQUE,
    value TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    checkpoint_ns INTEGER);
INSERT INTO checkpoints_v5 (feed, value, updated_at) SELECT feed, value, updated_at FROM checkpoints ORDER BY feed;
DROP TABLE checkpoints;
ALTER TABLE checkpoints_v5 RENAME TO checkpoints;
)sql";

// The instant of a checkpoint written before schema 5, in ns; nullopt for any other text (the collector
// then reads from now - lookback, and the store treats it the same way).
std::optional<std::int64_t> legacy_checkpoint_ns(std::string_view value)
{
    std::int64_t number = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), number);
    if (!value.empty() && ec == std::errc() && end == value.data() + value.size() && number >= 0) {
        // Milliseconds have 13 digits since 2001, seconds 10 until 2286.
        constexpr std::int64_t k_milliseconds_from = 100'000'000'000;
        return number >= k_milliseconds_from ? number * 1'000'000 : number * 1'000'000'000;
    }
    // YYYY-MM-DDThh:mm:ss.fffZ, as web-service messages wrote it.
    return parse_iso8601_ns(value);
}

void migrate_to_5(SqliteConnection& db)
{
    if (!db.exec(k_migrate_to_5)) {
        throw std::runtime_error("seen ids and checkpoints");
    }
    ScopedStatement rows(db.prepare("SELECT id, value FROM checkpoints"));
    ScopedStatement set(db.prepare("UPDATE checkpoints SET checkpoint_ns = ?2 WHERE id = ?1"));
    if (!rows || !set) {
        throw std::runtime_error("checkpoint instants");
    }
    int rc = SQLITE_ROW;
    while ((rc = rows.step()) == SQLITE_ROW) {
        if (const auto ns = legacy_checkpoint_ns(rows.column_text(1))) {
            set.integer(1, rows.column_integer(0));
            set.integer(2, *ns);
            if (set.step() != SQLITE_DONE) {
                throw std::runtime_error("checkpoint instants");
            }
            sqlite3_reset(set.get());
        }
    }
    if (rc != SQLITE_DONE) {
        throw std::runtime_error("checkpoint instants");
    }
}

// A file made before schema 5 keeps the auto_vacuum mode it was created with (none); switching takes one
// VACUUM, which cannot run inside a transaction. New files get INCREMENTAL from StateStore::open().
void switch_to_incremental_vacuum(SqliteConnection& db)
{
    ScopedStatement mode(db.prepare("PRAGMA auto_vacuum"));
    const bool incremental = mode && mode.step() == SQLITE_ROW && mode.column_integer(0) == 2;
    sqlite3_reset(mode.get());
    if (incremental) {
        return;
    }
    std::error_code ignored;
    spdlog::info("state store {}: rewriting the file once ({} MiB) so that it can give space back (incremental "
                 "vacuum); this takes a while for a large file",
                 db.file().string(), std::filesystem::file_size(db.file(), ignored) >> 20);
    if (!db.exec("PRAGMA auto_vacuum=INCREMENTAL") || !db.exec("VACUUM")) {
        // The file works as it is, it only keeps the space it has; the next start tries again.
        db.log_failure("switching to incremental vacuum");
    }
}

// ---- end of schema 5 ----

// Schema 6: a chunk records its format (infra/outbox_chunks.hpp). The chunks written before are
// k_chunk_packed, and are read (and sent through the slow path) as they are; new chunks are k_chunk_gzip,
// with their index in `idx`. A file of schema 1 or 2 gets its outbox_chunks table from k_schema.
const char* const k_migrate_to_6 = R"sql(
ALTER TABLE outbox_chunks ADD COLUMN format INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbox_chunks ADD COLUMN idx BLOB;
)sql";

}  // namespace

void migrate_schema(SqliteConnection& db, ChunkPacker& packer)
{
    const std::string file = db.file().string();
    if (!db.exec("BEGIN IMMEDIATE") || !db.exec(k_schema)) {
        throw std::runtime_error("cannot create the schema of " + file + ": " + db.error_message());
    }
    const int found = stored_schema_version(db);
    if (found > k_schema_version) {
        db.exec("ROLLBACK");
        throw std::runtime_error(file + " was written by a newer c4c-alm-collector (schema " + std::to_string(found) +
                                 "); refusing to touch it");
    }
    try {
        if (found == 1 && !db.exec(k_migrate_seen)) {
            throw std::runtime_error("seen ids");
        }
        if (found == 1 || found == 2) {
            migrate_outbox(db, packer);
        }
        // Schema 4 only added tables (source_status, endpoint_status, jobs): k_schema created them above.
        if (found >= 1 && found < 5) {
            migrate_to_5(db);
        }
        if (found >= 3 && found < 6 && !has_column(db, "outbox_chunks", "format") && !db.exec(k_migrate_to_6)) {
            throw std::runtime_error("outbox chunk format");
        }
    } catch (const std::runtime_error& part) {
        db.exec("ROLLBACK");
        throw std::runtime_error("cannot migrate " + file + " from schema " + std::to_string(found) + " to " +
                                 std::to_string(k_schema_version) + " (" + part.what() + "); the file is unchanged");
    }
    ScopedStatement set(db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?1)"));
    const std::string version_text = std::to_string(k_schema_version);
    set.text(1, version_text);
    if (set.step() != SQLITE_DONE || !db.exec("COMMIT")) {
        db.exec("ROLLBACK");
        throw std::runtime_error("cannot write the schema version of " + file);
    }
    sqlite3_reset(set.get());
    switch_to_incremental_vacuum(db);
}

bool has_column(SqliteConnection& db, std::string_view table, std::string_view column)
{
    ScopedStatement find(db.prepare("SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2"));
    if (!find) {
        return false;
    }
    find.text(1, table);
    find.text(2, column);
    return find.step() == SQLITE_ROW;
}

int stored_schema_version(SqliteConnection& db)
{
    // A file a daemon is creating this moment has no tables yet: a reader finds nothing, and says nothing.
    ScopedStatement meta(db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'"));
    if (!meta || meta.step() != SQLITE_ROW) {
        return 0;
    }
    ScopedStatement version(db.prepare("SELECT value FROM meta WHERE key = 'schema_version'"));
    if (version && version.step() == SQLITE_ROW) {
        return std::stoi(version.column_text(0));
    }
    return 0;
}

}  // namespace c4c::infra
