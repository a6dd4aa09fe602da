#pragma once

// The state store's tables (state_store.hpp says what each holds) and the migrations of files an older
// version wrote.

#include <string_view>

namespace c4c::infra {

class ChunkPacker;
class SqliteConnection;

/// The schema this version writes. 1: seen keyed by event_id, with an index on record_time. 2: seen keyed
/// by (record_time, event_id), no index. 3: the outbox in deflated chunks with a delivered watermark per
/// endpoint. 4: source_status, endpoint_status and jobs, for the operator commands (only tables added:
/// a schema 3 file's outbox reads as it is). 5: seen keyed by (feed, record_time, event_id), checkpoints
/// with an id and their instant, the quarantine table, incremental auto-vacuum (one step in
/// state_schema.cpp, "Schema 5"). 6: outbox_chunks.format and .idx: new chunks are stored as one gzip
/// member each, sent as they are (infra/outbox_chunks.hpp); older chunks stay as they were.
inline constexpr int k_schema_version = 6;

/// The oldest schema whose outbox this version reads without migrating it (a read-only open).
inline constexpr int k_outbox_schema_version = 3;

/// In one transaction, creates the tables a file lacks and migrates a file of an older schema to
/// k_schema_version (repacking its outbox with `packer`). Throws std::runtime_error naming the file when
/// SQLite fails (the file is left unchanged), and refuses a file a newer version wrote (left untouched).
/// After the transaction, a file without incremental auto-vacuum is switched to it (one VACUUM).
void migrate_schema(SqliteConnection& db, ChunkPacker& packer);

/// The schema version the file records (0 when none, or when the file has no tables yet): for a read-only
/// open, which migrates nothing.
int stored_schema_version(SqliteConnection& db);

/// The table has the column: a read-only open of an older file reads what it has.
bool has_column(SqliteConnection& db, std::string_view table, std::string_view column);

}  // namespace c4c::infra
