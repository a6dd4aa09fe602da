#include "daemon/state_store.hpp"

#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <stdexcept>
#include <stop_token>
#include <system_error>
#include <thread>

namespace c4c::daemon {

namespace {

// 1: seen keyed by event_id, with an index on record_time.
// 2: seen keyed by (record_time, event_id), no index: see k_migrate_seen.
// 3: the outbox in segment tables per endpoint with a delivered watermark: see migrate_outbox().
constexpr int k_schema_version = 3;

// A segment takes new rows until it holds this many rows or bytes; it is dropped once delivered. Larger
// segments mean fewer schema changes (each makes SQLite re-prepare statements), smaller ones give disk
// space back sooner: a fully delivered segment still taking rows keeps its delivered rows until it is full.
constexpr std::size_t k_segment_rows = 8192;
constexpr std::size_t k_segment_bytes = std::size_t{16} << 20;

const char* const k_schema = R"sql(
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS endpoints (
    id INTEGER PRIMARY KEY,
    tenant TEXT NOT NULL,
    use_case TEXT NOT NULL,
    delivered INTEGER NOT NULL DEFAULT 0,
    UNIQUE (tenant, use_case));
CREATE TABLE IF NOT EXISTS outbox_segments (
    id INTEGER PRIMARY KEY,
    endpoint INTEGER NOT NULL);
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
)sql";

// One segment table; {} is its name. No index: rows are inserted and read in seq (rowid) order.
const char* const k_segment_table = R"sql(
CREATE TABLE {} (
    seq INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL,
    record_time INTEGER NOT NULL,
    enqueued_at INTEGER NOT NULL,
    payload BLOB NOT NULL))sql";

// Statements on one segment; {} is its table.
namespace segment_sql {
const char* const insert = "INSERT INTO {} (seq, event_id, record_time, enqueued_at, payload) VALUES (?1, ?2, ?3, ?4, ?5)";
const char* const select = "SELECT seq, event_id, payload FROM {} WHERE seq > ?1 ORDER BY seq LIMIT ?2";
const char* const first = "SELECT enqueued_at FROM {} WHERE seq > ?1 ORDER BY seq LIMIT 1";
const char* const any_between = "SELECT 1 FROM {} WHERE seq > ?1 AND seq < ?2 LIMIT 1";
const char* const measure = "SELECT count(*), coalesce(sum(length(payload)), 0) FROM {} WHERE seq BETWEEN ?1 AND ?2";
const char* const erase = "DELETE FROM {} WHERE seq BETWEEN ?1 AND ?2 RETURNING length(payload)";
const char* const totals = "SELECT count(*), coalesce(min(seq), 0), coalesce(max(seq), 0), coalesce(sum(length(payload)), 0), "
                           "count(*) FILTER (WHERE seq > ?1), coalesce(sum(length(payload)) FILTER (WHERE seq > ?1), 0) "
                           "FROM {}";
} // namespace segment_sql

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

std::string segment_table(std::int64_t id)
{
    return "outbox_" + std::to_string(id);
}

std::string segment_statement(const char* pattern, const std::string& table)
{
    return fmt::format(fmt::runtime(pattern), table);
}

std::int64_t unix_ms_now()
{
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// Resets a cached statement when the scope ends, whatever path it takes.
class Use {
public:
    explicit Use(sqlite3_stmt* statement) : m_statement(statement) {}
    ~Use()
    {
        if (m_statement) {
            sqlite3_reset(m_statement);
            sqlite3_clear_bindings(m_statement);
        }
    }
    Use(const Use&) = delete;
    Use& operator=(const Use&) = delete;
    explicit operator bool() const { return m_statement != nullptr; }
    sqlite3_stmt* get() const { return m_statement; }
    /// Binds without copying (SQLITE_STATIC): `value` must outlive the step.
    void text(int index, std::string_view value) const
    {
        sqlite3_bind_text(m_statement, index, value.data(), static_cast<int>(value.size()), SQLITE_STATIC);
    }
    /// A temporary string would be gone before the step reads it (ASan: stack-use-after-scope).
    void text(int index, std::string&& value) const = delete;
    /// Bytes bound as a BLOB: SQLite then knows their length without reading them (length() of TEXT
    /// counts characters, which read every payload the outbox deleted).
    void blob(int index, std::string_view value) const
    {
        sqlite3_bind_blob(m_statement, index, value.data(), static_cast<int>(value.size()), SQLITE_STATIC);
    }
    void blob(int index, std::string&& value) const = delete;
    void integer(int index, std::int64_t value) const { sqlite3_bind_int64(m_statement, index, value); }
    int step() const { return sqlite3_step(m_statement); }
    /// The bytes of a TEXT or BLOB column (payloads are BLOBs, older rows TEXT); "" for NULL.
    std::string column_text(int index) const
    {
        const auto* data = static_cast<const char*>(sqlite3_column_blob(m_statement, index));
        return data ? std::string(data, static_cast<std::size_t>(sqlite3_column_bytes(m_statement, index)))
                    : std::string();
    }

private:
    sqlite3_stmt* m_statement;
};

/// A connection to `file`, used by one thread only. Throws naming the file (and `purpose`) when it
/// cannot be opened.
sqlite3* open_connection(const std::filesystem::path& file, int flags, std::string_view purpose)
{
    sqlite3* db = nullptr;
    if (sqlite3_open_v2(file.c_str(), &db, flags | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK) {
        std::string message = db ? sqlite3_errmsg(db) : "out of memory";
        sqlite3_close(db);
        throw std::runtime_error("cannot open state store " + file.string() + std::string(purpose) + ": " + message);
    }
    return db;
}

} // namespace

// Prepared statements of one connection, each prepared on first use and kept (SQLite re-prepares one by
// itself after a schema change). Finalized with the cache: a segment's go with the segment.
class Statements {
public:
    explicit Statements(sqlite3* db) : m_db(db) {}
    ~Statements()
    {
        for (auto& [key, statement] : m_cache) {
            sqlite3_finalize(statement);
        }
    }
    Statements(const Statements&) = delete;
    Statements& operator=(const Statements&) = delete;

    /// The statement kept under `key`, prepared from make_sql() the first time; nullptr when SQLite refuses it.
    template <class MakeSql>
    sqlite3_stmt* get(const char* key, MakeSql&& make_sql)
    {
        if (auto it = m_cache.find(key); it != m_cache.end()) {
            return it->second;
        }
        const std::string sql = make_sql();
        sqlite3_stmt* statement = nullptr;
        if (sqlite3_prepare_v3(m_db, sql.c_str(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &statement,
                               nullptr) != SQLITE_OK) {
            return nullptr;
        }
        m_cache.emplace(key, statement);
        return statement;
    }

private:
    sqlite3* m_db;
    std::map<const char*, sqlite3_stmt*> m_cache;  ///< keyed by the address of a constant SQL text (or pattern)
};

// One segment table of an endpoint's queue.
struct Segment {
    Segment(sqlite3* db, std::int64_t id_) : id(id_), table(segment_table(id_)), statements(db) {}

    sqlite3_stmt* statement(const char* pattern)
    {
        return statements.get(pattern, [&] { return segment_statement(pattern, table); });
    }
    bool full() const { return rows >= k_segment_rows || bytes >= k_segment_bytes; }

    std::int64_t id;
    std::string table;
    std::int64_t first_seq = 0;  ///< 0 while empty
    std::int64_t last_seq = 0;
    std::size_t rows = 0;   ///< rows put in (delivered ones too): when full, a new segment takes the next rows
    std::size_t bytes = 0;
    Statements statements;
};

// An endpoint's queue, as it is on disk (kept in step after every commit).
struct StateStore::Queue {
    std::int64_t delivered = 0;  ///< every seq up to this one left the queue
    std::int64_t next_seq = 1;
    std::deque<Segment> segments;  ///< oldest first; the last one takes new rows unless full
    OutboxFigures figures;
};

// What a removal transaction changes, applied to the queue in memory once it committed.
struct StateStore::Removal {
    std::int64_t delivered = 0;  ///< the new watermark
    std::size_t events = 0;
    std::size_t bytes = 0;
    std::size_t dropped = 0;  ///< segments dropped from the front
};

// Checkpoints the WAL on its own thread and connection. The store's connection reports every commit's
// WAL size (sqlite3_wal_hook, which replaces SQLite's automatic checkpoint in the committing thread);
// past k_wal_frames the thread is woken and runs a PASSIVE checkpoint, which never blocks the writer.
// Before this, a checkpoint's copy and fsync ran inside the event loop's COMMIT every 1000 frames:
// half the wall time of storing a page (bench_outbox).
class WalCheckpointer {
public:
    static constexpr int k_wal_frames = 1000;  ///< SQLite's own autocheckpoint threshold (16 MiB here)
    /// A PASSIVE checkpoint copies the frames there were when it started; while pages keep coming it never
    /// completes, and only a complete one lets the next commit restart the log. Past this size (64 MiB) the
    /// committing thread checkpoints itself, copying what the thread has not yet (usually little), so the
    /// log restarts; this also bounds the WAL when the thread does not keep up (a stalled disk).
    static constexpr int k_backstop_frames = 4 * k_wal_frames;

    explicit WalCheckpointer(const std::filesystem::path& file)
        : m_db(open_connection(file, SQLITE_OPEN_READWRITE, " for checkpoints"))
    {
        sqlite3_exec(m_db, "PRAGMA synchronous=NORMAL", nullptr, nullptr, nullptr);
        m_thread = std::jthread([this](std::stop_token stop) { run(stop); });
    }
    ~WalCheckpointer()
    {
        m_thread.request_stop();
        m_wake.notify_all();
        m_thread.join();
        sqlite3_close(m_db);
    }
    WalCheckpointer(const WalCheckpointer&) = delete;
    WalCheckpointer& operator=(const WalCheckpointer&) = delete;

    /// sqlite3_wal_hook callback of the store's connection, after every commit.
    static int committed(void* self, sqlite3* db, const char* schema, int frames)
    {
        auto* checkpointer = static_cast<WalCheckpointer*>(self);
        // Reported from here, the event loop: the thread does not log (a reload may swap the logger).
        if (const int failed = checkpointer->m_failure.exchange(SQLITE_OK); failed != SQLITE_OK) {
            spdlog::warn("state store: WAL checkpoint failed: {} (SQLite error {})", sqlite3_errstr(failed), failed);
        }
        if (frames >= k_backstop_frames) {
            // Two checkpoints cannot run at once (the second gets SQLITE_BUSY): wait for the thread's.
            std::lock_guard running(checkpointer->m_running);
            sqlite3_wal_checkpoint_v2(db, schema, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
        } else if (frames >= k_wal_frames) {
            checkpointer->wake();
        }
        return SQLITE_OK;
    }

    std::uint64_t checkpoints() const { return m_checkpoints.load(std::memory_order_relaxed); }

private:
    void wake()
    {
        {
            std::lock_guard lock(m_mutex);
            m_pending = true;
        }
        m_wake.notify_one();
    }

    void run(std::stop_token stop)
    {
        int last_error = SQLITE_OK;
        while (!stop.stop_requested()) {
            {
                std::unique_lock lock(m_mutex);
                m_wake.wait(lock, stop, [this] { return m_pending; });
                m_pending = false;
            }
            if (stop.stop_requested()) {
                break;
            }
            int rc = SQLITE_OK;
            {
                std::lock_guard running(m_running);
                rc = sqlite3_wal_checkpoint_v2(m_db, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
            }
            if (rc == SQLITE_OK) {
                m_checkpoints.fetch_add(1, std::memory_order_relaxed);
            } else if (rc != SQLITE_BUSY && rc != last_error) {
                // Reported once per kind of failure (by the next commit); the next commits wake the thread again.
                m_failure.store(rc);
            }
            last_error = rc;
        }
    }

    sqlite3* m_db = nullptr;
    std::mutex m_mutex;    ///< guards m_pending
    std::mutex m_running;  ///< held while a checkpoint runs, by the thread or the committing thread
    std::condition_variable_any m_wake;
    bool m_pending = false;
    std::atomic<std::uint64_t> m_checkpoints{0};
    std::atomic<int> m_failure{SQLITE_OK};  ///< a checkpoint's error for the loop to report
    std::jthread m_thread;  ///< last: started when everything it uses exists, joined first
};

StateStore::StateStore(const std::filesystem::path& dir) : m_file(dir / "state.db")
{
    std::error_code ec;
    if (!std::filesystem::exists(dir, ec)) {
        std::filesystem::create_directories(dir, ec);
        if (ec) {
            throw std::runtime_error("cannot create state_dir " + dir.string() + ": " + ec.message());
        }
        std::filesystem::permissions(dir, std::filesystem::perms::owner_all, ec);
    }
    open(false);
}

StateStore::StateStore(const std::filesystem::path& file, bool read_only) : m_file(file)
{
    open(read_only);
}

std::unique_ptr<StateStore> StateStore::open_read_only(const std::filesystem::path& dir)
{
    std::error_code ec;
    if (!std::filesystem::exists(dir / "state.db", ec)) {
        return nullptr;
    }
    return std::unique_ptr<StateStore>(new StateStore(dir / "state.db", true));
}

StateStore::~StateStore()
{
    if (m_db) {
        sqlite3_wal_hook(m_db, nullptr, nullptr);
    }
    m_checkpointer.reset();
    m_queues.clear();  // their statements first
    m_statements.reset();
    if (m_db) {
        sqlite3_close(m_db);
    }
}

void StateStore::open(bool read_only)
{
    m_db = open_connection(m_file, read_only ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE), "");
    m_statements = std::make_unique<Statements>(m_db);
    sqlite3_busy_timeout(m_db, 5000);
    if (!read_only) {
        // 16 KiB pages (effective for a new file only): with ~1 kB outbox rows, 4 KiB pages cost a third more
        // CPU per stored event in B-tree balancing and WAL frames.
        // WAL + NORMAL: a commit survives a process crash; see the header for power loss.
        // A 16 MiB page cache (default 2 MiB) holds a few thousand queued events: a delivered batch is
        // still cached when it is read back. What a burst leaves in it goes back with release_memory().
        // secure_delete=FAST: Debian's SQLite overwrites every freed page by default, which would write a
        // dropped segment out once more; FAST zeroes deleted content only where that costs no extra write
        // (freed pages are reused by the next segments; the state_dir is the service user's alone).
        if (!exec("PRAGMA page_size=16384") || !exec("PRAGMA journal_mode=WAL") ||
            !exec("PRAGMA synchronous=NORMAL") || !exec("PRAGMA foreign_keys=ON") ||
            !exec("PRAGMA cache_size=-16384") || !exec("PRAGMA secure_delete=FAST")) {
            throw std::runtime_error("cannot configure state store " + m_file.string() + ": " + sqlite3_errmsg(m_db));
        }
        migrate();
        // WAL growth after a burst is cut back to 64 MiB when the log restarts.
        exec("PRAGMA journal_size_limit=67108864");
        m_checkpointer = std::make_unique<WalCheckpointer>(m_file);
        sqlite3_wal_hook(m_db, &WalCheckpointer::committed, m_checkpointer.get());
    } else {
        Use version(prepare("SELECT value FROM meta WHERE key = 'schema_version'"));
        if (version && version.step() == SQLITE_ROW) {
            m_schema = std::stoi(version.column_text(0));
        }
    }
    // A read-only open of an older file (--dry-run before the first run of this version) reads its
    // checkpoints only; its outbox is migrated by the next normal start.
    if (m_schema == k_schema_version) {
        load_queues();
    }
}

void StateStore::migrate()
{
    if (!exec("BEGIN IMMEDIATE") || !exec(k_schema)) {
        throw std::runtime_error("cannot create the schema of " + m_file.string() + ": " + sqlite3_errmsg(m_db));
    }
    int found = 0;
    {
        Use version(prepare("SELECT value FROM meta WHERE key = 'schema_version'"));
        if (version.step() == SQLITE_ROW) {
            found = std::stoi(version.column_text(0));
        }
    }
    if (found > k_schema_version) {
        exec("ROLLBACK");
        throw std::runtime_error(m_file.string() + " was written by a newer c4c-alm-collector (schema " +
                                 std::to_string(found) + "); refusing to touch it");
    }
    try {
        if (found == 1 && !exec(k_migrate_seen)) {
            throw std::runtime_error("seen ids");
        }
        if (found == 1 || found == 2) {
            migrate_outbox();
        }
    } catch (const std::runtime_error& part) {
        exec("ROLLBACK");
        throw std::runtime_error("cannot migrate " + m_file.string() + " from schema " + std::to_string(found) +
                                 " to " + std::to_string(k_schema_version) + " (" + part.what() +
                                 "); the file is unchanged");
    }
    Use set(prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?1)"));
    const std::string version_text = std::to_string(k_schema_version);
    set.text(1, version_text);
    if (set.step() != SQLITE_DONE || !exec("COMMIT")) {
        exec("ROLLBACK");
        throw std::runtime_error("cannot write the schema version of " + m_file.string());
    }
    m_schema = k_schema_version;
}

// Schemas 1 and 2 kept every endpoint's events in one `outbox` table with an (endpoint, seq) index and
// deleted delivered rows one by one. Each endpoint's queued rows move, seqs and order kept, into its
// first segment; the watermark starts at 0 (every row there is still queued).
void StateStore::migrate_outbox()
{
    if (!exec("ALTER TABLE endpoints ADD COLUMN delivered INTEGER NOT NULL DEFAULT 0")) {
        throw std::runtime_error("endpoints");
    }
    std::vector<std::int64_t> endpoints;
    {
        Use queued(prepare("SELECT DISTINCT endpoint FROM outbox ORDER BY endpoint"));
        while (queued && queued.step() == SQLITE_ROW) {
            endpoints.push_back(sqlite3_column_int64(queued.get(), 0));
        }
    }
    for (const std::int64_t endpoint : endpoints) {
        Use add(prepare("INSERT INTO outbox_segments (endpoint) VALUES (?1)"));
        if (!add) {
            throw std::runtime_error("outbox segments");
        }
        add.integer(1, endpoint);
        if (add.step() != SQLITE_DONE) {
            throw std::runtime_error("outbox segments");
        }
        const std::string table = segment_table(sqlite3_last_insert_rowid(m_db));
        const std::string copy = segment_statement(k_segment_table, table) + ";\n" +
                                 segment_statement("INSERT INTO {} (seq, event_id, record_time, enqueued_at, payload) "
                                                   "SELECT seq, event_id, record_time, enqueued_at, payload FROM outbox "
                                                   "WHERE endpoint = ",
                                                   table) +
                                 std::to_string(endpoint) + " ORDER BY seq";
        if (!exec(copy.c_str())) {
            throw std::runtime_error("outbox rows");
        }
    }
    if (!exec("DROP TABLE outbox")) {
        throw std::runtime_error("old outbox");
    }
}

void StateStore::load_queues()
{
    m_queues.clear();
    {
        Use endpoints(prepare("SELECT id, delivered FROM endpoints"));
        while (endpoints && endpoints.step() == SQLITE_ROW) {
            Queue& loaded = queue(sqlite3_column_int64(endpoints.get(), 0));
            loaded.delivered = sqlite3_column_int64(endpoints.get(), 1);
            loaded.next_seq = loaded.delivered + 1;
        }
    }
    {
        Use segments(prepare("SELECT id, endpoint FROM outbox_segments ORDER BY id"));
        while (segments && segments.step() == SQLITE_ROW) {
            Queue& owner = queue(sqlite3_column_int64(segments.get(), 1));
            Segment& segment = owner.segments.emplace_back(m_db, sqlite3_column_int64(segments.get(), 0));
            // A segment that cannot be read must not look empty: it would be dropped as delivered.
            Use totals(segment.statement(segment_sql::totals));
            if (totals) {
                totals.integer(1, owner.delivered);
            }
            if (!totals || totals.step() != SQLITE_ROW) {
                throw std::runtime_error("cannot read outbox segment " + segment.table + " of " + m_file.string() +
                                         ": " + sqlite3_errmsg(m_db));
            }
            auto column = [&](int index) { return sqlite3_column_int64(totals.get(), index); };
            segment.rows = static_cast<std::size_t>(column(0));
            segment.first_seq = column(1);
            segment.last_seq = column(2);
            segment.bytes = static_cast<std::size_t>(column(3));
            owner.figures.events += static_cast<std::size_t>(column(4));
            owner.figures.bytes += static_cast<std::size_t>(column(5));
            owner.next_seq = std::max(owner.next_seq, segment.last_seq + 1);
        }
    }
    Use rejected(prepare("SELECT endpoint, count(*) FROM rejected GROUP BY endpoint"));
    while (rejected && rejected.step() == SQLITE_ROW) {
        queue(sqlite3_column_int64(rejected.get(), 0)).figures.rejected =
            static_cast<std::size_t>(sqlite3_column_int64(rejected.get(), 1));
    }
}

StateStore::Queue& StateStore::queue(std::int64_t endpoint)
{
    auto& slot = m_queues[endpoint];
    if (!slot) {
        slot = std::make_unique<Queue>();
    }
    return *slot;
}

sqlite3_stmt* StateStore::prepare(const char* sql)
{
    sqlite3_stmt* statement = m_statements->get(sql, [sql] { return std::string(sql); });
    if (!statement) {
        log_failure(sql);
    }
    return statement;
}

bool StateStore::exec(const char* sql)
{
    char* error = nullptr;
    if (sqlite3_exec(m_db, sql, nullptr, nullptr, &error) != SQLITE_OK) {
        spdlog::error("state store {}: {} failed: {}", m_file.string(), sql, error ? error : "unknown error");
        sqlite3_free(error);
        return false;
    }
    return true;
}

void StateStore::log_failure(std::string_view what) const
{
    spdlog::error("state store {}: {}: {} (events stay where they were; the operation is retried)",
                  m_file.string(), what, sqlite3_errmsg(m_db));
}

std::int64_t StateStore::endpoint_id(std::string_view tenant, std::string_view use_case)
{
    {
        Use find(prepare("SELECT id FROM endpoints WHERE tenant = ?1 AND use_case = ?2"));
        if (!find) {
            return -1;
        }
        find.text(1, tenant);
        find.text(2, use_case);
        if (find.step() == SQLITE_ROW) {
            return sqlite3_column_int64(find.get(), 0);
        }
    }
    Use insert(prepare("INSERT INTO endpoints (tenant, use_case) VALUES (?1, ?2)"));
    if (!insert) {
        return -1;
    }
    insert.text(1, tenant);
    insert.text(2, use_case);
    if (insert.step() != SQLITE_DONE) {
        log_failure("registering an endpoint");
        return -1;
    }
    const std::int64_t id = sqlite3_last_insert_rowid(m_db);
    queue(id);
    return id;
}

std::string StateStore::checkpoint(std::string_view feed)
{
    Use find(prepare("SELECT value FROM checkpoints WHERE feed = ?1"));
    if (!find) {
        return {};
    }
    find.text(1, feed);
    return find.step() == SQLITE_ROW ? find.column_text(0) : std::string();
}

bool StateStore::create_segment(std::int64_t endpoint, Queue& owner)
{
    Use add(prepare("INSERT INTO outbox_segments (endpoint) VALUES (?1)"));
    if (!add) {
        return false;
    }
    add.integer(1, endpoint);
    if (add.step() != SQLITE_DONE) {
        log_failure("adding an outbox segment");
        return false;
    }
    const std::int64_t id = sqlite3_last_insert_rowid(m_db);
    if (!exec(segment_statement(k_segment_table, segment_table(id)).c_str())) {
        return false;
    }
    owner.segments.emplace_back(m_db, id);
    return true;
}

CommitResult StateStore::commit_page(std::string_view feed, std::int64_t endpoint,
                                     std::span<const PendingEvent> events, std::string_view checkpoint,
                                     std::size_t& stored)
{
    stored = 0;
    std::size_t bytes = 0;
    Queue& owner = queue(endpoint);
    std::int64_t seq = owner.next_seq;
    Segment* target = nullptr;
    bool created = false;
    if (!exec("BEGIN IMMEDIATE")) {
        return CommitResult::failed;
    }
    auto fail = [&](std::string_view what) {
        log_failure(what);
        exec("ROLLBACK");
        if (created) {
            owner.segments.pop_back();  // its CREATE TABLE was rolled back
        }
        stored = 0;
        return CommitResult::failed;
    };
    {
        Use remember(prepare("INSERT INTO seen (event_id, record_time) VALUES (?1, ?2) ON CONFLICT DO NOTHING"));
        std::optional<Use> enqueue;  // the target segment's insert, once a new event needs it
        if (!remember) {
            return fail("preparing the page insert");
        }
        const std::int64_t now = unix_ms_now();
        for (const auto& event : events) {
            remember.text(1, event.event_id);
            remember.integer(2, event.record_time_ns);
            if (remember.step() != SQLITE_DONE) {
                return fail("remembering an event id");
            }
            sqlite3_reset(remember.get());
            if (sqlite3_changes(m_db) == 0) {
                continue;  // this record state was stored before: the overlap window re-read it
            }
            if (!target) {
                if (owner.segments.empty() || owner.segments.back().full()) {
                    if (!create_segment(endpoint, owner)) {
                        return fail("adding an outbox segment");
                    }
                    created = true;
                }
                target = &owner.segments.back();
                enqueue.emplace(target->statement(segment_sql::insert));
                if (!*enqueue) {
                    return fail("preparing the outbox insert");
                }
            }
            enqueue->integer(1, seq);
            enqueue->text(2, event.event_id);
            enqueue->integer(3, event.record_time_ns);
            enqueue->integer(4, now);
            enqueue->blob(5, event.payload);
            if (enqueue->step() != SQLITE_DONE) {
                return fail("storing an event");
            }
            sqlite3_reset(enqueue->get());
            ++seq;
            ++stored;
            bytes += event.payload.size();
        }
    }
    {
        Use save(prepare("INSERT INTO checkpoints (feed, value, updated_at) VALUES (?1, ?2, ?3) "
                         "ON CONFLICT (feed) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at"));
        if (!save) {
            return fail("preparing the checkpoint update");
        }
        save.text(1, feed);
        save.text(2, checkpoint);
        save.integer(3, unix_ms_now());
        if (save.step() != SQLITE_DONE) {
            return fail("saving the checkpoint");
        }
    }
    if (!exec("COMMIT")) {
        return fail("committing a page");
    }
    if (target) {
        if (target->first_seq == 0) {
            target->first_seq = owner.next_seq;
        }
        target->last_seq = seq - 1;
        target->rows += stored;
        target->bytes += bytes;
    }
    owner.next_seq = seq;
    owner.figures.events += stored;
    owner.figures.bytes += bytes;
    return CommitResult::committed;
}

std::vector<StoredEvent> StateStore::peek(std::int64_t endpoint, std::size_t max_events, std::size_t max_bytes,
                                         std::int64_t after)
{
    std::vector<StoredEvent> rows;
    Queue& owner = queue(endpoint);
    const std::int64_t from = std::max(after, owner.delivered);
    std::size_t bytes = 0;
    for (Segment& segment : owner.segments) {
        if (segment.last_seq <= from) {
            continue;
        }
        Use select(segment.statement(segment_sql::select));
        if (!select) {
            log_failure("reading the outbox");
            break;
        }
        select.integer(1, from);
        select.integer(2, static_cast<std::int64_t>(max_events - rows.size()));
        int rc = SQLITE_ROW;
        while ((rc = select.step()) == SQLITE_ROW) {
            const auto size = static_cast<std::size_t>(sqlite3_column_bytes(select.get(), 2));
            if (!rows.empty() && bytes + size > max_bytes) {
                return rows;
            }
            bytes += size;
            rows.push_back(
                StoredEvent{sqlite3_column_int64(select.get(), 0), select.column_text(1), select.column_text(2)});
        }
        if (rc != SQLITE_DONE) {
            log_failure("reading the outbox");
            break;
        }
        if (rows.size() >= max_events) {
            break;
        }
    }
    return rows;
}

// Takes seqs first..last out of the queue inside the caller's transaction. At the head of the queue (no
// row left between the watermark and `first`) the watermark moves past them; elsewhere they are deleted.
bool StateStore::forget(Queue& owner, std::int64_t first, std::int64_t last, Removal& removal)
{
    bool at_head = first == removal.delivered + 1;
    if (!at_head) {
        at_head = true;
        for (Segment& segment : owner.segments) {
            if (segment.last_seq <= removal.delivered || segment.first_seq >= first) {
                continue;
            }
            Use between(segment.statement(segment_sql::any_between));
            if (!between) {
                return false;
            }
            between.integer(1, removal.delivered);
            between.integer(2, first);
            const int rc = between.step();
            if (rc == SQLITE_ROW) {
                at_head = false;
                break;
            }
            if (rc != SQLITE_DONE) {
                log_failure("finding the head of the outbox");
                return false;
            }
        }
    }
    for (Segment& segment : owner.segments) {
        if (segment.last_seq < first || segment.first_seq > last || segment.last_seq <= removal.delivered) {
            continue;
        }
        Use measure(segment.statement(at_head ? segment_sql::measure : segment_sql::erase));
        if (!measure) {
            return false;
        }
        measure.integer(1, std::max(first, removal.delivered + 1));
        measure.integer(2, last);
        int rc = SQLITE_ROW;
        while ((rc = measure.step()) == SQLITE_ROW) {
            if (at_head) {
                removal.events += static_cast<std::size_t>(sqlite3_column_int64(measure.get(), 0));
                removal.bytes += static_cast<std::size_t>(sqlite3_column_int64(measure.get(), 1));
            } else {
                ++removal.events;
                removal.bytes += static_cast<std::size_t>(sqlite3_column_int64(measure.get(), 0));
            }
        }
        if (rc != SQLITE_DONE) {
            log_failure("removing delivered events");
            return false;
        }
    }
    if (at_head) {
        removal.delivered = std::max(removal.delivered, last);
    }
    return true;
}

// Writes the new watermark and drops the segments wholly below it (the last one only once it is full:
// it still takes new rows otherwise).
bool StateStore::finish_removal(std::int64_t endpoint, Queue& owner, Removal& removal)
{
    if (removal.delivered != owner.delivered) {
        Use save(prepare("UPDATE endpoints SET delivered = ?2 WHERE id = ?1"));
        if (!save) {
            return false;
        }
        save.integer(1, endpoint);
        save.integer(2, removal.delivered);
        if (save.step() != SQLITE_DONE) {
            log_failure("saving the delivered watermark");
            return false;
        }
    }
    for (const Segment& segment : owner.segments) {
        const bool last = &segment == &owner.segments.back();
        if (segment.last_seq > removal.delivered || (last && !segment.full())) {
            break;
        }
        Use forget_segment(prepare("DELETE FROM outbox_segments WHERE id = ?1"));
        if (!forget_segment) {
            return false;
        }
        forget_segment.integer(1, segment.id);
        if (forget_segment.step() != SQLITE_DONE || !exec(("DROP TABLE " + segment.table).c_str())) {
            log_failure("dropping a delivered outbox segment");
            return false;
        }
        ++removal.dropped;
    }
    return true;
}

void StateStore::apply_removal(Queue& owner, const Removal& removal)
{
    owner.delivered = removal.delivered;
    for (std::size_t i = 0; i < removal.dropped; ++i) {
        owner.segments.pop_front();
    }
    owner.figures.events -= std::min(owner.figures.events, removal.events);
    owner.figures.bytes -= std::min(owner.figures.bytes, removal.bytes);
}

bool StateStore::remove(std::int64_t endpoint, std::span<const std::int64_t> seqs)
{
    if (seqs.empty()) {
        return true;
    }
    Queue& owner = queue(endpoint);
    if (!exec("BEGIN IMMEDIATE")) {
        return false;
    }
    Removal removal{owner.delivered};
    // Delivered rows are a run of consecutive seqs (a peek of the oldest rows): one statement per run.
    for (std::size_t first = 0; first < seqs.size();) {
        std::size_t last = first;
        while (last + 1 < seqs.size() && seqs[last + 1] == seqs[last] + 1) {
            ++last;
        }
        if (!forget(owner, seqs[first], seqs[last], removal)) {
            exec("ROLLBACK");
            return false;
        }
        first = last + 1;
    }
    if (!finish_removal(endpoint, owner, removal) || !exec("COMMIT")) {
        exec("ROLLBACK");
        return false;
    }
    apply_removal(owner, removal);
    return true;
}

bool StateStore::reject(std::int64_t endpoint, const StoredEvent& row, std::string_view answer)
{
    Queue& owner = queue(endpoint);
    if (!exec("BEGIN IMMEDIATE")) {
        return false;
    }
    Removal removal{owner.delivered};
    bool ok = false;
    {
        Use keep(prepare("INSERT INTO rejected (endpoint, event_id, payload, answer, rejected_at) "
                         "VALUES (?1, ?2, ?3, ?4, ?5)"));
        if (keep) {
            keep.integer(1, endpoint);
            keep.text(2, row.event_id);
            keep.text(3, row.payload);
            keep.text(4, answer);
            keep.integer(5, unix_ms_now());
            ok = keep.step() == SQLITE_DONE && forget(owner, row.seq, row.seq, removal);
        }
    }
    if (ok && removal.events != 1) {
        spdlog::error("state store {}: event {} (seq {}) was to be moved aside but is not queued", m_file.string(),
                      row.event_id, row.seq);
        exec("ROLLBACK");
        return false;
    }
    if (!ok || !finish_removal(endpoint, owner, removal) || !exec("COMMIT")) {
        log_failure("moving a refused event aside");
        exec("ROLLBACK");
        return false;
    }
    apply_removal(owner, removal);
    ++owner.figures.rejected;
    return true;
}

OutboxFigures StateStore::figures(std::int64_t endpoint) const
{
    auto it = m_queues.find(endpoint);
    return it == m_queues.end() ? OutboxFigures{} : it->second->figures;
}

std::optional<std::chrono::system_clock::time_point> StateStore::oldest(std::int64_t endpoint)
{
    Queue& owner = queue(endpoint);
    for (Segment& segment : owner.segments) {
        if (segment.last_seq <= owner.delivered) {
            continue;
        }
        Use first(segment.statement(segment_sql::first));
        if (!first) {
            return std::nullopt;
        }
        first.integer(1, owner.delivered);
        if (first.step() == SQLITE_ROW) {
            return std::chrono::system_clock::time_point(
                std::chrono::milliseconds(sqlite3_column_int64(first.get(), 0)));
        }
    }
    return std::nullopt;
}

std::uint64_t StateStore::wal_checkpoints() const
{
    return m_checkpointer ? m_checkpointer->checkpoints() : 0;
}

void StateStore::release_memory()
{
    sqlite3_db_release_memory(m_db);
}

std::size_t StateStore::prune_seen(std::chrono::system_clock::time_point horizon)
{
    Use erase(prepare("DELETE FROM seen WHERE record_time < ?1"));
    if (!erase) {
        return 0;
    }
    erase.integer(1, std::chrono::duration_cast<std::chrono::nanoseconds>(horizon.time_since_epoch()).count());
    if (erase.step() != SQLITE_DONE) {
        log_failure("pruning seen event ids");
        return 0;
    }
    return static_cast<std::size_t>(sqlite3_changes(m_db));
}

} // namespace c4c::daemon
