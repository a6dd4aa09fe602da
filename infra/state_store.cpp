#include "infra/state_store.hpp"

#include <libdeflate.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <condition_variable>
#include <iterator>
#include <new>
#include <deque>
#include <functional>
#include <future>
#include <type_traits>
#include <mutex>
#include <stdexcept>
#include <stop_token>
#include <system_error>
#include <thread>

namespace c4c::infra {

namespace {

// 1: seen keyed by event_id, with an index on record_time.
// 2: seen keyed by (record_time, event_id), no index: see k_migrate_seen.
// 3: the outbox in deflated chunks with a delivered watermark per endpoint: see migrate_outbox().
constexpr int k_schema_version = 3;

// A chunk is cut when its packed events reach this size: it bounds what peek() inflates to read one
// event (two chunks are kept inflated) and what commit_page() deflates at once.
constexpr std::size_t k_chunk_bytes = std::size_t{1} << 20;

// Pages with at least this much payload are packed on a second thread (below it, starting the thread
// costs more than it saves).
constexpr std::size_t k_parallel_pack_bytes = std::size_t{64} << 10;

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

// A packed event: its id's and its payload's sizes (4 bytes each, little-endian), then both.
void put_u32(std::string& out, std::size_t value)
{
    for (int shift = 0; shift < 32; shift += 8) {
        out.push_back(static_cast<char>((value >> shift) & 0xff));
    }
}

std::size_t get_u32(const char* in)
{
    std::size_t value = 0;
    for (int i = 3; i >= 0; --i) {
        value = (value << 8) | static_cast<unsigned char>(in[i]);
    }
    return value;
}

/// Calls visit(id, payload) for each packed event of `data` while it returns true. False when `data`
/// is not a whole number of packed events.
template <class Visit>
bool each_event(std::string_view data, Visit&& visit)
{
    std::size_t pos = 0;
    while (pos < data.size()) {
        if (data.size() - pos < 8) {
            return false;
        }
        const std::size_t id_size = get_u32(data.data() + pos);
        const std::size_t payload_size = get_u32(data.data() + pos + 4);
        pos += 8;
        if (data.size() - pos < id_size || data.size() - pos - id_size < payload_size) {
            return false;
        }
        if (!visit(data.substr(pos, id_size), data.substr(pos + id_size, payload_size))) {
            return true;
        }
        pos += id_size + payload_size;
    }
    return true;
}

bool in_gap(const std::map<std::int64_t, std::int64_t>& gaps, std::int64_t seq)
{
    if (gaps.empty()) {
        return false;
    }
    auto it = gaps.upper_bound(seq);
    return it != gaps.begin() && seq <= std::prev(it)->second;
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
    /// Bytes bound as a BLOB (a chunk's deflated events).
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
// itself after a schema change). Finalized with the cache.
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

    /// The statement for `sql` (a constant text: its address is the key), prepared on first use; nullptr
    /// when SQLite refuses it.
    sqlite3_stmt* get(const char* sql)
    {
        if (auto it = m_cache.find(sql); it != m_cache.end()) {
            return it->second;
        }
        sqlite3_stmt* statement = nullptr;
        if (sqlite3_prepare_v3(m_db, sql, -1, SQLITE_PREPARE_PERSISTENT, &statement, nullptr) != SQLITE_OK) {
            return nullptr;
        }
        m_cache.emplace(sql, statement);
        return statement;
    }

private:
    sqlite3* m_db;
    std::map<const char*, sqlite3_stmt*> m_cache;
};

// One row of outbox_chunks, without its data.
struct StateStore::Chunk {
    std::int64_t id = 0;
    std::int64_t first_seq = 0;
    std::int64_t last_seq = 0;
    std::size_t bytes = 0;     ///< payload bytes of its events
    std::size_t raw_size = 0;  ///< of its data inflated
    std::int64_t enqueued_at = 0;
};

// An endpoint's queue, as it is on disk (kept in step after every commit).
struct StateStore::Queue {
    std::int64_t delivered = 0;  ///< every seq up to this one left the queue
    std::int64_t next_seq = 1;
    std::deque<Chunk> chunks;    ///< oldest first; each holds a seq above `delivered`
    std::map<std::int64_t, std::int64_t> gaps;  ///< first -> last seq taken out ahead of `delivered`
    OutboxFigures figures;

    bool queued(std::int64_t seq) const { return seq > delivered && seq < next_seq && !in_gap(gaps, seq); }
};

// What a removal transaction changes, applied to the queue in memory once it committed.
struct StateStore::Removal {
    std::int64_t delivered = 0;  ///< the new watermark
    std::map<std::int64_t, std::int64_t> gaps;
    bool gaps_changed = false;
    std::size_t events = 0;
    std::size_t bytes = 0;
    std::size_t dropped = 0;  ///< chunks deleted from the front
};

// A chunk's events packed and deflated, before it is stored.
struct StateStore::PackedChunk {
    std::size_t events = 0;
    std::size_t bytes = 0;     ///< payload bytes of its events
    std::size_t raw_size = 0;  ///< of the packed events
    std::string data;          ///< deflated (empty when deflating failed)
};

// Packs events into a chunk and deflates it (libdeflate level 1: ~10:1 on OTLP JSON, ~2 us per 1 kB
// event), and inflates chunks. One per store; buffers are reused.
class StateStore::Packer {
public:
    Packer()
        : m_compressor(libdeflate_alloc_compressor(1)), m_decompressor(libdeflate_alloc_decompressor())
    {
        if (!m_compressor || !m_decompressor) {
            throw std::bad_alloc();
        }
    }
    ~Packer()
    {
        libdeflate_free_compressor(m_compressor);
        libdeflate_free_decompressor(m_decompressor);
    }
    Packer(const Packer&) = delete;
    Packer& operator=(const Packer&) = delete;

    void add(std::string_view id, std::string_view payload)
    {
        put_u32(m_raw, id.size());
        put_u32(m_raw, payload.size());
        m_raw.append(id);
        m_raw.append(payload);
        ++m_events;
        m_bytes += payload.size();
    }
    std::size_t events() const { return m_events; }
    std::size_t bytes() const { return m_bytes; }
    std::size_t raw_size() const { return m_raw.size(); }
    /// The chunk being packed is as large as a chunk gets: take() it before adding more.
    bool full() const { return m_raw.size() >= k_chunk_bytes; }
    /// The packed events deflated, as one chunk; empties the packer.
    PackedChunk take()
    {
        m_deflated.resize(libdeflate_deflate_compress_bound(m_compressor, m_raw.size()));
        const std::size_t size =
            libdeflate_deflate_compress(m_compressor, m_raw.data(), m_raw.size(), m_deflated.data(), m_deflated.size());
        PackedChunk chunk{m_events, m_bytes, m_raw.size(), m_deflated.substr(0, size)};
        clear();
        return chunk;
    }
    /// The events `keep(i)` selects, packed in chunks of at most k_chunk_bytes (the last one may be smaller).
    template <class Keep>
    std::vector<PackedChunk> pack(std::span<const PendingEvent> events, Keep keep)
    {
        std::vector<PackedChunk> chunks;
        clear();
        for (std::size_t i = 0; i < events.size(); ++i) {
            if (keep(i)) {
                add(events[i].event_id, events[i].payload);
                if (full()) {
                    chunks.push_back(take());
                }
            }
        }
        if (m_events > 0) {
            chunks.push_back(take());
        }
        return chunks;
    }
    void clear()
    {
        m_raw.clear();
        m_events = 0;
        m_bytes = 0;
    }
    /// Inflates a chunk's data into `out`; false when it does not inflate to exactly `raw_size` bytes.
    bool inflate(std::string_view data, std::size_t raw_size, std::string& out)
    {
        out.resize(raw_size);
        std::size_t actual = 0;
        return libdeflate_deflate_decompress(m_decompressor, data.data(), data.size(), out.data(), out.size(),
                                             &actual) == LIBDEFLATE_SUCCESS &&
               actual == raw_size;
    }
    /// Gives the buffers' memory back (after a burst).
    void release()
    {
        std::string().swap(m_raw);
        std::string().swap(m_deflated);
    }

private:
    libdeflate_compressor* m_compressor;
    libdeflate_decompressor* m_decompressor;
    std::string m_raw;
    std::string m_deflated;
    std::size_t m_events = 0;
    std::size_t m_bytes = 0;
};

// Runs one packing job at a time on a thread of its own (kept: a thread per page cost more than it saved).
class PackThread {
public:
    PackThread() : m_thread([this](std::stop_token stop) { loop(stop); }) {}
    ~PackThread()
    {
        m_thread.request_stop();
        m_wake.notify_all();
    }
    template <class Job>
    auto run(Job job)
    {
        using Result = std::invoke_result_t<Job>;
        auto task = std::make_shared<std::packaged_task<Result()>>(std::move(job));
        auto result = task->get_future();
        {
            std::lock_guard lock(m_mutex);
            m_job = [task] { (*task)(); };
        }
        m_wake.notify_one();
        return result;
    }

private:
    void loop(std::stop_token stop)
    {
        for (;;) {
            std::function<void()> job;
            {
                std::unique_lock lock(m_mutex);
                if (!m_wake.wait(lock, stop, [this] { return static_cast<bool>(m_job); })) {
                    return;
                }
                job = std::exchange(m_job, nullptr);
            }
            job();
        }
    }

    std::mutex m_mutex;
    std::condition_variable_any m_wake;
    std::function<void()> m_job;
    std::jthread m_thread;
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
    m_statements.reset();
    if (m_db) {
        sqlite3_close(m_db);
    }
}

void StateStore::open(bool read_only)
{
    m_db = open_connection(m_file, read_only ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE), "");
    m_statements = std::make_unique<Statements>(m_db);
    m_packer = std::make_unique<Packer>();
    sqlite3_busy_timeout(m_db, 5000);
    if (!read_only) {
        m_pack_thread = std::make_unique<PackThread>();
        // 16 KiB pages (effective for a new file only): fewer B-tree levels and WAL frames per chunk.
        // WAL + NORMAL: a commit survives a process crash; see the header for power loss.
        // A 16 MiB page cache (default 2 MiB): the pages a burst dirties stay cached until checkpointed.
        // What a burst leaves in it goes back with release_memory().
        // secure_delete=FAST: Debian's SQLite overwrites every freed page by default, which would write a
        // deleted chunk out once more; FAST zeroes deleted content only where that costs no extra write
        // (freed pages are reused by the next chunks; the state_dir is the service user's alone).
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

// Schemas 1 and 2 kept every event in a row of one `outbox` table (with an (endpoint, seq) index) and
// deleted delivered rows one by one. Each endpoint's queued events are packed into chunks, in their
// order, numbered from 1; the watermark starts at 0 (all of them are still queued).
void StateStore::migrate_outbox()
{
    if (!exec("ALTER TABLE endpoints ADD COLUMN delivered INTEGER NOT NULL DEFAULT 0")) {
        throw std::runtime_error("endpoints");
    }
    Packer& packer = *m_packer;
    packer.clear();
    std::vector<Chunk> stored;
    std::int64_t endpoint = -1;
    std::int64_t next_seq = 1;
    std::int64_t enqueued_at = 0;
    auto flush = [&] {
        if (packer.events() > 0) {
            const auto first_seq = next_seq;
            next_seq += static_cast<std::int64_t>(packer.events());
            if (!store_chunk(endpoint, first_seq, packer.take(), enqueued_at, stored)) {
                throw std::runtime_error("outbox chunks");
            }
        }
    };
    Use rows(prepare("SELECT endpoint, event_id, payload, enqueued_at FROM outbox ORDER BY endpoint, seq"));
    if (!rows) {
        throw std::runtime_error("old outbox");
    }
    int rc = SQLITE_ROW;
    while ((rc = rows.step()) == SQLITE_ROW) {
        const std::int64_t row_endpoint = sqlite3_column_int64(rows.get(), 0);
        if (row_endpoint != endpoint || packer.full()) {
            flush();
            if (row_endpoint != endpoint) {
                endpoint = row_endpoint;
                next_seq = 1;
            }
        }
        if (packer.events() == 0) {
            enqueued_at = sqlite3_column_int64(rows.get(), 3);
        }
        packer.add(rows.column_text(1), rows.column_text(2));
    }
    if (rc != SQLITE_DONE) {
        throw std::runtime_error("old outbox");
    }
    flush();
    sqlite3_reset(rows.get());
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
        Use gaps(prepare("SELECT endpoint, first_seq, last_seq FROM outbox_gaps"));
        while (gaps && gaps.step() == SQLITE_ROW) {
            queue(sqlite3_column_int64(gaps.get(), 0)).gaps[sqlite3_column_int64(gaps.get(), 1)] =
                sqlite3_column_int64(gaps.get(), 2);
        }
    }
    {
        // Without `data`: the chunks' bodies stay on disk until peek() reads them.
        Use chunks(prepare("SELECT id, endpoint, first_seq, last_seq, bytes, raw_size, enqueued_at FROM outbox_chunks "
                           "ORDER BY endpoint, first_seq"));
        if (!chunks) {
            throw std::runtime_error("cannot read the outbox of " + m_file.string() + ": " + sqlite3_errmsg(m_db));
        }
        int rc = SQLITE_ROW;
        while ((rc = chunks.step()) == SQLITE_ROW) {
            auto column = [&](int index) -> std::int64_t { return sqlite3_column_int64(chunks.get(), index); };
            Queue& owner = queue(column(1));
            owner.chunks.push_back(Chunk{column(0), column(2), column(3), static_cast<std::size_t>(column(4)),
                                         static_cast<std::size_t>(column(5)), column(6)});
            owner.next_seq = std::max(owner.next_seq, column(3) + 1);
        }
        // A queue read in part would number new events over the ones not read.
        if (rc != SQLITE_DONE) {
            throw std::runtime_error("cannot read the outbox of " + m_file.string() + ": " + sqlite3_errmsg(m_db));
        }
    }
    for (auto& [endpoint, owner] : m_queues) {
        count_queued(*owner);
    }
    Use rejected(prepare("SELECT endpoint, count(*) FROM rejected GROUP BY endpoint"));
    while (rejected && rejected.step() == SQLITE_ROW) {
        queue(sqlite3_column_int64(rejected.get(), 0)).figures.rejected =
            static_cast<std::size_t>(sqlite3_column_int64(rejected.get(), 1));
    }
}

// A chunk wholly queued counts from its row; one the watermark or a gap cuts is read to count exactly.
void StateStore::count_queued(Queue& owner)
{
    for (const Chunk& chunk : owner.chunks) {
        auto gap = owner.gaps.upper_bound(chunk.last_seq);
        const bool cut = chunk.first_seq <= owner.delivered ||
                         (gap != owner.gaps.begin() && std::prev(gap)->second >= chunk.first_seq);
        const std::string* data = cut ? unpack(chunk) : nullptr;
        if (!data) {
            owner.figures.events += static_cast<std::size_t>(chunk.last_seq - chunk.first_seq + 1);
            owner.figures.bytes += chunk.bytes;
            continue;
        }
        std::int64_t seq = chunk.first_seq;
        each_event(*data, [&](std::string_view, std::string_view payload) {
            if (owner.queued(seq++)) {
                ++owner.figures.events;
                owner.figures.bytes += payload.size();
            }
            return true;
        });
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
    sqlite3_stmt* statement = m_statements->get(sql);
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

// Writes one packed chunk starting at `first_seq`, inside the caller's transaction.
bool StateStore::store_chunk(std::int64_t endpoint, std::int64_t first_seq, const PackedChunk& packed,
                             std::int64_t enqueued_at, std::vector<Chunk>& stored)
{
    Use insert(prepare("INSERT INTO outbox_chunks (endpoint, first_seq, last_seq, bytes, raw_size, enqueued_at, data) "
                       "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"));
    if (!insert) {
        return false;
    }
    const Chunk chunk{0, first_seq, first_seq + static_cast<std::int64_t>(packed.events) - 1, packed.bytes,
                      packed.raw_size, enqueued_at};
    insert.integer(1, endpoint);
    insert.integer(2, chunk.first_seq);
    insert.integer(3, chunk.last_seq);
    insert.integer(4, static_cast<std::int64_t>(chunk.bytes));
    insert.integer(5, static_cast<std::int64_t>(chunk.raw_size));
    insert.integer(6, enqueued_at);
    insert.blob(7, packed.data);
    if (packed.data.empty() || insert.step() != SQLITE_DONE) {
        log_failure("storing events");
        return false;
    }
    stored.push_back(chunk);
    stored.back().id = sqlite3_last_insert_rowid(m_db);
    return true;
}

CommitResult StateStore::commit_page(std::string_view feed, std::int64_t endpoint,
                                     std::span<const PendingEvent> events, std::string_view checkpoint,
                                     std::size_t& stored)
{
    stored = 0;
    std::size_t page_bytes = 0;
    for (const auto& event : events) {
        page_bytes += event.payload.size();
    }
    Queue& owner = queue(endpoint);
    Packer& packer = *m_packer;
    // A large page is packed and deflated on a second thread while this one looks its event ids up in
    // `seen` (nearly always all of them are new; otherwise the new ones are packed again below). Deflate
    // is half the cost of storing a page. The packer is the other thread's alone until get().
    std::future<std::vector<PackedChunk>> packing;
    if (m_pack_thread && page_bytes >= k_parallel_pack_bytes) {
        packing = m_pack_thread->run([&packer, events] { return packer.pack(events, [](std::size_t) { return true; }); });
    }
    // Whatever way this returns, the job (which reads `events` and uses the packer) ends first.
    struct Join {
        std::future<std::vector<PackedChunk>>& job;
        ~Join()
        {
            if (job.valid()) {
                job.wait();
            }
        }
    } join{packing};
    std::vector<char> fresh(events.size(), 0);
    if (!exec("BEGIN IMMEDIATE")) {
        return CommitResult::failed;
    }
    auto fail = [&](std::string_view what) {
        log_failure(what);
        exec("ROLLBACK");
        stored = 0;
        return CommitResult::failed;
    };
    {
        Use remember(prepare("INSERT INTO seen (event_id, record_time) VALUES (?1, ?2) ON CONFLICT DO NOTHING"));
        if (!remember) {
            return fail("preparing the page insert");
        }
        for (std::size_t i = 0; i < events.size(); ++i) {
            remember.text(1, events[i].event_id);
            remember.integer(2, events[i].record_time_ns);
            if (remember.step() != SQLITE_DONE) {
                return fail("remembering an event id");
            }
            sqlite3_reset(remember.get());
            if (sqlite3_changes(m_db) == 0) {
                continue;  // this record state was stored before: the overlap window re-read it
            }
            fresh[i] = 1;
            ++stored;
        }
    }
    std::vector<PackedChunk> packed;
    const bool packed_ahead = packing.valid();
    if (packed_ahead) {
        packed = packing.get();
    }
    if (!packed_ahead || stored != events.size()) {
        packed = packer.pack(events, [&](std::size_t i) { return fresh[i] != 0; });
    }
    const std::int64_t now = unix_ms_now();
    std::vector<Chunk> chunks;
    std::int64_t first_seq = owner.next_seq;
    std::size_t bytes = 0;
    for (const PackedChunk& chunk : packed) {
        if (!store_chunk(endpoint, first_seq, chunk, now, chunks)) {
            return fail("storing events");
        }
        first_seq += static_cast<std::int64_t>(chunk.events);
        bytes += chunk.bytes;
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
    owner.chunks.insert(owner.chunks.end(), chunks.begin(), chunks.end());
    owner.next_seq += static_cast<std::int64_t>(stored);
    owner.figures.events += stored;
    owner.figures.bytes += bytes;
    return CommitResult::committed;
}

const std::string* StateStore::unpack(const Chunk& chunk)
{
    for (auto& slot : m_unpacked) {
        if (slot.chunk == chunk.id) {
            return &slot.data;
        }
    }
    Unpacked& slot = m_unpacked[m_unpacked_next];
    m_unpacked_next = (m_unpacked_next + 1) % std::size(m_unpacked);
    slot.chunk = 0;
    Use select(prepare("SELECT data FROM outbox_chunks WHERE id = ?1"));
    if (!select) {
        return nullptr;
    }
    select.integer(1, chunk.id);
    if (select.step() != SQLITE_ROW) {
        log_failure("reading events of the outbox");
        return nullptr;
    }
    const std::string_view data(static_cast<const char*>(sqlite3_column_blob(select.get(), 0)),
                                static_cast<std::size_t>(sqlite3_column_bytes(select.get(), 0)));
    if (!m_packer->inflate(data, chunk.raw_size, slot.data) || !each_event(slot.data, [](auto, auto) { return true; })) {
        // Kept on disk as it is: delivery of this endpoint stops here, and the outbox age alert fires.
        spdlog::error("state store {}: outbox chunk {} (events {} to {}) does not inflate to its events; it is kept "
                      "as it is and the endpoint's delivery cannot pass it (copy the file for analysis)",
                      m_file.string(), chunk.id, chunk.first_seq, chunk.last_seq);
        return nullptr;
    }
    slot.chunk = chunk.id;
    return &slot.data;
}

std::vector<StoredEvent> StateStore::peek(std::int64_t endpoint, std::size_t max_events, std::size_t max_bytes,
                                         std::int64_t after)
{
    std::vector<StoredEvent> rows;
    const Queue& owner = queue(endpoint);
    const std::int64_t from = std::max(after, owner.delivered);
    std::size_t bytes = 0;
    bool full = max_events == 0;
    for (const Chunk& chunk : owner.chunks) {
        if (full) {
            break;
        }
        if (chunk.last_seq <= from) {
            continue;
        }
        const std::string* data = unpack(chunk);
        if (!data) {
            break;
        }
        std::int64_t seq = chunk.first_seq;
        each_event(*data, [&](std::string_view id, std::string_view payload) {
            if (seq > from && owner.queued(seq)) {
                if (rows.size() == max_events || (!rows.empty() && bytes + payload.size() > max_bytes)) {
                    full = true;
                    return false;
                }
                bytes += payload.size();
                rows.push_back(StoredEvent{seq, std::string(id), std::string(payload)});
            }
            ++seq;
            return true;
        });
    }
    return rows;
}

// Records in `removal` that seqs first..last (`bytes` of payload) leave the queue: at its head the
// watermark moves past them (and past any gap it now reaches); ahead of it they become a gap. False,
// changing nothing, when one of them is not queued (or already taken in `removal`).
bool StateStore::take(Queue& owner, std::int64_t first, std::int64_t last, std::size_t bytes, Removal& removal)
{
    for (std::int64_t seq = first; seq <= last; ++seq) {
        if (!owner.queued(seq) || seq <= removal.delivered || in_gap(removal.gaps, seq)) {
            spdlog::error("state store {}: event {} of the outbox was to be taken out but is not queued",
                          m_file.string(), seq);
            return false;
        }
    }
    if (first == removal.delivered + 1) {
        removal.delivered = last;
        while (!removal.gaps.empty() && removal.gaps.begin()->first <= removal.delivered + 1) {
            removal.delivered = std::max(removal.delivered, removal.gaps.begin()->second);
            removal.gaps.erase(removal.gaps.begin());
            removal.gaps_changed = true;
        }
    } else {
        auto& gap_last = removal.gaps[first];
        gap_last = std::max(gap_last, last);
        removal.gaps_changed = true;
    }
    removal.events += static_cast<std::size_t>(last - first + 1);
    removal.bytes += bytes;
    return true;
}

// In one transaction: `also` (when given), the new watermark and gaps, and the chunks wholly below the
// watermark deleted; then the queue in memory follows. False, with nothing changed, when any step fails.
bool StateStore::commit_removal(std::int64_t endpoint, Queue& owner, Removal& removal,
                                const std::function<bool()>& also)
{
    if (!exec("BEGIN IMMEDIATE")) {
        return false;
    }
    if ((also && !also()) || !write_removal(endpoint, owner, removal) || !exec("COMMIT")) {
        exec("ROLLBACK");
        return false;
    }
    apply_removal(owner, removal);
    return true;
}

bool StateStore::write_removal(std::int64_t endpoint, const Queue& owner, Removal& removal)
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
    if (removal.gaps_changed) {
        Use clear(prepare("DELETE FROM outbox_gaps WHERE endpoint = ?1"));
        Use add(prepare("INSERT INTO outbox_gaps (endpoint, first_seq, last_seq) VALUES (?1, ?2, ?3)"));
        if (!clear || !add) {
            return false;
        }
        clear.integer(1, endpoint);
        if (clear.step() != SQLITE_DONE) {
            log_failure("saving the outbox gaps");
            return false;
        }
        for (const auto& [first, last] : removal.gaps) {
            add.integer(1, endpoint);
            add.integer(2, first);
            add.integer(3, last);
            if (add.step() != SQLITE_DONE) {
                log_failure("saving the outbox gaps");
                return false;
            }
            sqlite3_reset(add.get());
        }
    }
    Use erase(prepare("DELETE FROM outbox_chunks WHERE id = ?1"));
    if (!erase) {
        return false;
    }
    for (const Chunk& chunk : owner.chunks) {
        if (chunk.last_seq > removal.delivered) {
            break;
        }
        erase.integer(1, chunk.id);
        if (erase.step() != SQLITE_DONE) {
            log_failure("deleting delivered events");
            return false;
        }
        sqlite3_reset(erase.get());
        ++removal.dropped;
    }
    return true;
}

void StateStore::apply_removal(Queue& owner, Removal& removal)
{
    owner.delivered = removal.delivered;
    if (removal.gaps_changed) {
        owner.gaps = std::move(removal.gaps);
    }
    for (std::size_t i = 0; i < removal.dropped; ++i) {
        // SQLite gives a deleted chunk's rowid to the next chunk stored: its inflated copy must go.
        for (auto& slot : m_unpacked) {
            if (slot.chunk == owner.chunks.front().id) {
                slot.chunk = 0;
            }
        }
        owner.chunks.pop_front();
    }
    owner.figures.events -= std::min(owner.figures.events, removal.events);
    owner.figures.bytes -= std::min(owner.figures.bytes, removal.bytes);
}

bool StateStore::remove(std::int64_t endpoint, std::span<const StoredEvent> events)
{
    if (events.empty()) {
        return true;
    }
    Queue& owner = queue(endpoint);
    Removal removal{owner.delivered, owner.gaps};
    // A batch is a run of consecutive queued seqs (it may step over a gap): one step per run.
    for (std::size_t first = 0; first < events.size();) {
        std::size_t last = first;
        std::size_t bytes = events[first].payload.size();
        while (last + 1 < events.size() && events[last + 1].seq == events[last].seq + 1) {
            bytes += events[++last].payload.size();
        }
        if (!take(owner, events[first].seq, events[last].seq, bytes, removal)) {
            return false;
        }
        first = last + 1;
    }
    return commit_removal(endpoint, owner, removal);
}

bool StateStore::reject(std::int64_t endpoint, const StoredEvent& row, std::string_view answer)
{
    Queue& owner = queue(endpoint);
    Removal removal{owner.delivered, owner.gaps};
    if (!take(owner, row.seq, row.seq, row.payload.size(), removal)) {
        return false;
    }
    const auto keep_row = [&] {
        Use keep(prepare("INSERT INTO rejected (endpoint, event_id, payload, answer, rejected_at) "
                         "VALUES (?1, ?2, ?3, ?4, ?5)"));
        if (!keep) {
            return false;
        }
        keep.integer(1, endpoint);
        keep.text(2, row.event_id);
        keep.text(3, row.payload);
        keep.text(4, answer);
        keep.integer(5, unix_ms_now());
        if (keep.step() != SQLITE_DONE) {
            log_failure("moving a refused event aside");
            return false;
        }
        return true;
    };
    if (!commit_removal(endpoint, owner, removal, keep_row)) {
        return false;
    }
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
    const Queue& owner = queue(endpoint);
    if (owner.figures.events == 0 || owner.chunks.empty()) {
        return std::nullopt;
    }
    return std::chrono::system_clock::time_point(std::chrono::milliseconds(owner.chunks.front().enqueued_at));
}

std::uint64_t StateStore::wal_checkpoints() const
{
    return m_checkpointer ? m_checkpointer->checkpoints() : 0;
}

void StateStore::release_memory()
{
    for (auto& slot : m_unpacked) {
        slot.chunk = 0;
        std::string().swap(slot.data);
    }
    m_packer->release();
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

} // namespace c4c::infra
