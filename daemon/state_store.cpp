#include "daemon/state_store.hpp"

#include <spdlog/spdlog.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <stop_token>
#include <system_error>
#include <thread>

namespace c4c::daemon {

namespace {

// 1: seen keyed by event_id, with an index on record_time.
// 2: seen keyed by (record_time, event_id), no index: see k_migrate_seen.
constexpr int k_schema_version = 2;

const char* const k_schema = R"sql(
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS endpoints (
    id INTEGER PRIMARY KEY,
    tenant TEXT NOT NULL,
    use_case TEXT NOT NULL,
    UNIQUE (tenant, use_case));
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY,
    endpoint INTEGER NOT NULL,
    event_id TEXT NOT NULL,
    record_time INTEGER NOT NULL,
    enqueued_at INTEGER NOT NULL,
    payload TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS outbox_by_endpoint ON outbox (endpoint, seq);
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
    for (auto& [sql, statement] : m_statements) {
        sqlite3_finalize(statement);
    }
    if (m_db) {
        sqlite3_close(m_db);
    }
}

void StateStore::open(bool read_only)
{
    m_db = open_connection(m_file, read_only ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE), "");
    sqlite3_busy_timeout(m_db, 5000);
    if (!read_only) {
        // 16 KiB pages (effective for a new file only): with ~1 kB outbox rows, 4 KiB pages cost a third more
        // CPU per stored event in B-tree balancing and WAL frames.
        // WAL + NORMAL: a commit survives a process crash; see the header for power loss.
        // A 16 MiB page cache (default 2 MiB) holds a few thousand queued events: a delivered batch is
        // still cached when it is deleted (delivery CPU per event -30% in bench_outbox). What a burst
        // leaves in it goes back with release_memory().
        if (!exec("PRAGMA page_size=16384") || !exec("PRAGMA journal_mode=WAL") ||
            !exec("PRAGMA synchronous=NORMAL") || !exec("PRAGMA foreign_keys=ON") ||
            !exec("PRAGMA cache_size=-16384")) {
            throw std::runtime_error("cannot configure state store " + m_file.string() + ": " + sqlite3_errmsg(m_db));
        }
        migrate();
        // WAL growth after a burst is cut back to 64 MiB when the log restarts.
        exec("PRAGMA journal_size_limit=67108864");
        m_checkpointer = std::make_unique<WalCheckpointer>(m_file);
        sqlite3_wal_hook(m_db, &WalCheckpointer::committed, m_checkpointer.get());
    }
    load_figures();
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
    if (found == 1 && !exec(k_migrate_seen)) {
        exec("ROLLBACK");
        throw std::runtime_error("cannot migrate " + m_file.string() + " to schema " +
                                 std::to_string(k_schema_version));
    }
    Use set(prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?1)"));
    const std::string version_text = std::to_string(k_schema_version);
    set.text(1, version_text);
    if (set.step() != SQLITE_DONE || !exec("COMMIT")) {
        exec("ROLLBACK");
        throw std::runtime_error("cannot write the schema version of " + m_file.string());
    }
}

void StateStore::load_figures()
{
    m_figures.clear();
    Use queued(prepare("SELECT endpoint, count(*), coalesce(sum(length(payload)), 0) FROM outbox GROUP BY endpoint"));
    while (queued && queued.step() == SQLITE_ROW) {
        auto& figures = m_figures[sqlite3_column_int64(queued.get(), 0)];
        figures.events = static_cast<std::size_t>(sqlite3_column_int64(queued.get(), 1));
        figures.bytes = static_cast<std::size_t>(sqlite3_column_int64(queued.get(), 2));
    }
    Use rejected(prepare("SELECT endpoint, count(*) FROM rejected GROUP BY endpoint"));
    while (rejected && rejected.step() == SQLITE_ROW) {
        m_figures[sqlite3_column_int64(rejected.get(), 0)].rejected =
            static_cast<std::size_t>(sqlite3_column_int64(rejected.get(), 1));
    }
}

sqlite3_stmt* StateStore::prepare(const char* sql)
{
    auto it = m_statements.find(sql);
    if (it != m_statements.end()) {
        return it->second;
    }
    sqlite3_stmt* statement = nullptr;
    if (sqlite3_prepare_v3(m_db, sql, -1, SQLITE_PREPARE_PERSISTENT, &statement, nullptr) != SQLITE_OK) {
        log_failure(sql);
        return nullptr;
    }
    m_statements.emplace(sql, statement);
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
    return sqlite3_last_insert_rowid(m_db);
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

CommitResult StateStore::commit_page(std::string_view feed, std::int64_t endpoint,
                                     std::span<const PendingEvent> events, std::string_view checkpoint,
                                     std::size_t& stored)
{
    stored = 0;
    std::size_t bytes = 0;
    if (!exec("BEGIN IMMEDIATE")) {
        return CommitResult::failed;
    }
    auto fail = [&](const char* what) {
        log_failure(what);
        exec("ROLLBACK");
        stored = 0;
        return CommitResult::failed;
    };
    {
        Use remember(prepare("INSERT INTO seen (event_id, record_time) VALUES (?1, ?2) ON CONFLICT DO NOTHING"));
        Use enqueue(prepare("INSERT INTO outbox (endpoint, event_id, record_time, enqueued_at, payload) "
                            "VALUES (?1, ?2, ?3, ?4, ?5)"));
        if (!remember || !enqueue) {
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
            enqueue.integer(1, endpoint);
            enqueue.text(2, event.event_id);
            enqueue.integer(3, event.record_time_ns);
            enqueue.integer(4, now);
            // Stored as a BLOB in the TEXT column (rows of older versions are TEXT; both read the same).
            enqueue.blob(5, event.payload);
            if (enqueue.step() != SQLITE_DONE) {
                return fail("storing an event");
            }
            sqlite3_reset(enqueue.get());
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
        exec("ROLLBACK");
        stored = 0;
        return CommitResult::failed;
    }
    auto& figures = m_figures[endpoint];
    figures.events += stored;
    figures.bytes += bytes;
    return CommitResult::committed;
}

std::vector<StoredEvent> StateStore::peek(std::int64_t endpoint, std::size_t max_events, std::size_t max_bytes)
{
    std::vector<StoredEvent> rows;
    Use select(prepare("SELECT seq, event_id, payload FROM outbox WHERE endpoint = ?1 ORDER BY seq LIMIT ?2"));
    if (!select) {
        return rows;
    }
    select.integer(1, endpoint);
    select.integer(2, static_cast<std::int64_t>(max_events));
    std::size_t bytes = 0;
    int rc = SQLITE_ROW;
    while ((rc = select.step()) == SQLITE_ROW) {
        const auto size = static_cast<std::size_t>(sqlite3_column_bytes(select.get(), 2));
        if (!rows.empty() && bytes + size > max_bytes) {
            break;
        }
        bytes += size;
        rows.push_back(StoredEvent{sqlite3_column_int64(select.get(), 0), select.column_text(1), select.column_text(2)});
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        log_failure("reading the outbox");
    }
    return rows;
}

bool StateStore::remove(std::int64_t endpoint, std::span<const std::int64_t> seqs)
{
    if (seqs.empty()) {
        return true;
    }
    if (!exec("BEGIN IMMEDIATE")) {
        return false;
    }
    std::size_t removed = 0;
    std::size_t bytes = 0;
    {
        // Delivered rows are a run of consecutive seqs (a peek of the oldest rows): one range delete per run
        // instead of one statement per row.
        Use erase(prepare("DELETE FROM outbox WHERE endpoint = ?1 AND seq BETWEEN ?2 AND ?3 RETURNING length(payload)"));
        if (!erase) {
            exec("ROLLBACK");
            return false;
        }
        for (std::size_t first = 0; first < seqs.size();) {
            std::size_t last = first;
            while (last + 1 < seqs.size() && seqs[last + 1] == seqs[last] + 1) {
                ++last;
            }
            erase.integer(1, endpoint);
            erase.integer(2, seqs[first]);
            erase.integer(3, seqs[last]);
            int rc = SQLITE_ROW;
            while ((rc = erase.step()) == SQLITE_ROW) {
                ++removed;
                bytes += static_cast<std::size_t>(sqlite3_column_int64(erase.get(), 0));
            }
            if (rc != SQLITE_DONE) {
                log_failure("removing delivered events");
                sqlite3_reset(erase.get());
                exec("ROLLBACK");
                return false;
            }
            sqlite3_reset(erase.get());
            first = last + 1;
        }
    }
    if (!exec("COMMIT")) {
        exec("ROLLBACK");
        return false;
    }
    auto& figures = m_figures[endpoint];
    figures.events -= std::min(figures.events, removed);
    figures.bytes -= std::min(figures.bytes, bytes);
    return true;
}

bool StateStore::reject(std::int64_t endpoint, const StoredEvent& row, std::string_view answer)
{
    if (!exec("BEGIN IMMEDIATE")) {
        return false;
    }
    bool ok = false;
    {
        Use keep(prepare("INSERT INTO rejected (endpoint, event_id, payload, answer, rejected_at) "
                         "VALUES (?1, ?2, ?3, ?4, ?5)"));
        Use erase(prepare("DELETE FROM outbox WHERE seq = ?1 AND endpoint = ?2"));
        if (keep && erase) {
            keep.integer(1, endpoint);
            keep.text(2, row.event_id);
            keep.text(3, row.payload);
            keep.text(4, answer);
            keep.integer(5, unix_ms_now());
            erase.integer(1, row.seq);
            erase.integer(2, endpoint);
            ok = keep.step() == SQLITE_DONE && erase.step() == SQLITE_DONE && sqlite3_changes(m_db) == 1;
        }
    }
    if (!ok || !exec("COMMIT")) {
        log_failure("moving a refused event aside");
        exec("ROLLBACK");
        return false;
    }
    auto& figures = m_figures[endpoint];
    figures.events -= std::min<std::size_t>(figures.events, 1);
    figures.bytes -= std::min(figures.bytes, row.payload.size());
    ++figures.rejected;
    return true;
}

OutboxFigures StateStore::figures(std::int64_t endpoint) const
{
    auto it = m_figures.find(endpoint);
    return it == m_figures.end() ? OutboxFigures{} : it->second;
}

std::optional<std::chrono::system_clock::time_point> StateStore::oldest(std::int64_t endpoint)
{
    Use first(prepare("SELECT enqueued_at FROM outbox WHERE endpoint = ?1 ORDER BY seq LIMIT 1"));
    if (!first) {
        return std::nullopt;
    }
    first.integer(1, endpoint);
    if (first.step() != SQLITE_ROW) {
        return std::nullopt;
    }
    return std::chrono::system_clock::time_point(std::chrono::milliseconds(sqlite3_column_int64(first.get(), 0)));
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
