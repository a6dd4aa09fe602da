#include "infra/state_schema.hpp"

#include "infra/outbox_chunks.hpp"
#include "infra/sqlite.hpp"

#include <stdexcept>
#include <string>

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
    data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS outbox_gaps (
    endpoint INTEGER NOT NULL,
    first_seq INTEGER NOT NULL,
    last_seq INTEGER NOT NULL,
    PRIMARY KEY (endpoint, first_seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS seen (
    record_time INTEGER NOT NULL,
    event_id TEXT NOT NULL,
    PRIMARY KEY (record_time, event_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS checkpoints (
    feed TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at INTEGER NOT NULL);
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
        if (row_endpoint != endpoint || packer.full()) {
            flush();
            if (row_endpoint != endpoint) {
                endpoint = row_endpoint;
                next_seq = 1;
            }
        }
        if (packer.events() == 0) {
            enqueued_at = rows.column_integer(3);
        }
        packer.add(rows.column_text(1), rows.column_text(2));
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
