#include "infra/state_store.hpp"

#include "infra/event.hpp"
#include "infra/outbox_chunks.hpp"
#include "infra/sqlite.hpp"
#include "infra/state_dir.hpp"
#include "infra/state_lock.hpp"
#include "infra/state_schema.hpp"
#include "infra/time.hpp"
#include "infra/wal_checkpointer.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <deque>
#include <functional>
#include <future>
#include <iterator>
#include <stdexcept>
#include <system_error>

namespace c4c::infra {

namespace {

// The SQLite URI of a read-only connection to `file`. Such a connection creates the WAL's -wal and -shm
// files when they are missing (a stopped daemon removed them): files in the state directory, written by
// a dry run or a command that must change nothing, and owned by whoever ran it. While they are missing
// and no process holds the state lock, nothing writes the database, so it is opened immutable, which
// creates nothing. (Should a daemon start meanwhile, this reader may fail; the daemon is not affected.)
std::string read_only_uri(const std::filesystem::path& file)
{
    std::error_code ec;
    bool idle = !std::filesystem::exists(file.string() + "-wal", ec) && !ec;
    try {
        idle = idle && !StateLock::holder(file.parent_path()).has_value();
    } catch (const std::exception&) {
        idle = false;  // the lock cannot be probed: assume a writer
    }
    std::string uri = "file:";
    for (const unsigned char c : file.string()) {
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '/' || c == '.' ||
            c == '-' || c == '_' || c == '~') {
            uri.push_back(static_cast<char>(c));
        } else {
            constexpr char k_hex[] = "0123456789ABCDEF";
            uri += {'%', k_hex[c >> 4], k_hex[c & 0x0f]};
        }
    }
    return uri + (idle ? "?mode=ro&immutable=1" : "?mode=ro");
}

// Pages with at least this much payload are packed on a second thread (below it, starting the thread
// costs more than it saves).
constexpr std::size_t k_parallel_pack_bytes = std::size_t{64} << 10;

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
    return unix_millis(std::chrono::system_clock::now());
}

}  // namespace

// One row of outbox_chunks, without its data.
struct StateStore::Chunk {
    std::int64_t id = 0;
    std::int64_t first_seq = 0;
    std::int64_t last_seq = 0;
    std::size_t bytes = 0;     ///< payload bytes of its events
    std::size_t raw_size = 0;  ///< of its data inflated
    std::int64_t enqueued_at = 0;
    int format = k_chunk_packed;
};

// An endpoint's queue, as it is on disk (kept in step after every commit).
struct StateStore::Queue {
    std::int64_t delivered = 0;  ///< every seq up to this one left the queue
    std::int64_t next_seq = 1;
    std::deque<Chunk> chunks;                   ///< oldest first; each holds a seq above `delivered`
    std::map<std::int64_t, std::int64_t> gaps;  ///< first -> last seq taken out ahead of `delivered`
    OutboxFigures figures;
    ChunkLimits limits;  ///< of new chunks

    /// The chunk holds queued events only (the watermark and the gaps cut none of it).
    bool whole(const Chunk& chunk) const
    {
        if (chunk.first_seq <= delivered) {
            return false;
        }
        auto gap = gaps.upper_bound(chunk.last_seq);
        return gap == gaps.begin() || std::prev(gap)->second < chunk.first_seq;
    }

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

StateStore::StateStore(const std::filesystem::path& dir) : m_file(dir / "state.db")
{
    if (const auto ec = create_state_dir(dir)) {
        throw std::runtime_error("cannot create state_dir " + dir.string() + ": " + ec.message());
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
        sqlite3_wal_hook(m_db->handle(), nullptr, nullptr);
    }
    m_checkpointer.reset();
    m_db.reset();
}

void StateStore::open(bool read_only)
{
    m_db = read_only ? std::make_unique<SqliteConnection>(read_only_uri(m_file), SQLITE_OPEN_READONLY | SQLITE_OPEN_URI)
                     : std::make_unique<SqliteConnection>(m_file, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    m_packer = std::make_unique<ChunkPacker>();
    sqlite3_busy_timeout(m_db->handle(), 5000);
    if (!read_only) {
        m_pack_thread = std::make_unique<PackThread>();
        // 16 KiB pages (effective for a new file only): fewer B-tree levels and WAL frames per chunk.
        // WAL + NORMAL: a commit survives a process crash; see the header for power loss.
        // A 1 MiB page cache (16 MiB until issue 16, then SQLite's default 2 MiB): events are stored as
        // compressed chunks, so a burst dirties few pages; neither 16 nor 2 MiB made the end-to-end run
        // faster than 1 MiB, only 12 and 1 MiB larger. What a burst leaves goes back with release_memory().
        // secure_delete=FAST: Debian's SQLite overwrites every freed page by default, which would write a
        // deleted chunk out once more; FAST zeroes deleted content only where that costs no extra write
        // (freed pages are reused by the next chunks; the state_dir is the service user's alone).
        // auto_vacuum=INCREMENTAL (effective for a new file; migrate_schema switches an older one): deleted
        // chunks leave free pages that vacuum_step() can give back to the file system.
        if (!m_db->exec("PRAGMA page_size=16384") || !m_db->exec("PRAGMA auto_vacuum=INCREMENTAL") ||
            !m_db->exec("PRAGMA journal_mode=WAL") || !m_db->exec("PRAGMA synchronous=NORMAL") ||
            !m_db->exec("PRAGMA foreign_keys=ON") || !m_db->exec("PRAGMA cache_size=-1024") ||
            !m_db->exec("PRAGMA secure_delete=FAST")) {
            throw std::runtime_error("cannot configure state store " + m_file.string() + ": " + m_db->error_message());
        }
        migrate_schema(*m_db, *m_packer);
        m_schema = k_schema_version;
        // WAL growth after a burst is cut back to 64 MiB when the log restarts.
        m_db->exec("PRAGMA journal_size_limit=67108864");
        m_checkpointer = std::make_unique<WalCheckpointer>(m_file);
        sqlite3_wal_hook(m_db->handle(), &WalCheckpointer::committed, m_checkpointer.get());
    } else {
        // One read transaction: the queues are read as of one commit of a running daemon.
        m_db->exec("BEGIN");
        m_schema = stored_schema_version(*m_db);
    }
    // A read-only open of a file whose outbox is laid out otherwise (--dry-run before the first run of
    // this version) reads its checkpoints only; its outbox is migrated by the next normal start.
    if (m_schema >= k_outbox_schema_version && m_schema <= k_schema_version) {
        load_queues();
    }
    if (read_only) {
        m_db->exec("COMMIT");
    }
}

void StateStore::load_queues()
{
    m_queues.clear();
    {
        ScopedStatement endpoints(m_db->prepare("SELECT id, delivered FROM endpoints"));
        while (endpoints && endpoints.step() == SQLITE_ROW) {
            Queue& loaded = queue(endpoints.column_integer(0));
            loaded.delivered = endpoints.column_integer(1);
            loaded.next_seq = loaded.delivered + 1;
        }
    }
    {
        ScopedStatement gaps(m_db->prepare("SELECT endpoint, first_seq, last_seq FROM outbox_gaps"));
        while (gaps && gaps.step() == SQLITE_ROW) {
            queue(gaps.column_integer(0)).gaps[gaps.column_integer(1)] = gaps.column_integer(2);
        }
    }
    {
        // Without `data`: the chunks' bodies stay on disk until peek() reads them. A read-only open of a
        // file older than schema 6 has no format column: its chunks are all k_chunk_packed.
        m_chunk_format = has_column(*m_db, "outbox_chunks", "format");
        ScopedStatement chunks(m_db->prepare(
            m_chunk_format ? "SELECT id, endpoint, first_seq, last_seq, bytes, raw_size, enqueued_at, format FROM "
                             "outbox_chunks ORDER BY endpoint, first_seq"
                           : "SELECT id, endpoint, first_seq, last_seq, bytes, raw_size, enqueued_at, 0 FROM "
                             "outbox_chunks ORDER BY endpoint, first_seq"));
        if (!chunks) {
            throw std::runtime_error("cannot read the outbox of " + m_file.string() + ": " + m_db->error_message());
        }
        int rc = SQLITE_ROW;
        while ((rc = chunks.step()) == SQLITE_ROW) {
            auto column = [&](int index) -> std::int64_t { return chunks.column_integer(index); };
            Queue& owner = queue(column(1));
            owner.chunks.push_back(Chunk{column(0), column(2), column(3), static_cast<std::size_t>(column(4)),
                                         static_cast<std::size_t>(column(5)), column(6), static_cast<int>(column(7))});
            owner.next_seq = std::max(owner.next_seq, column(3) + 1);
        }
        // A queue read in part would number new events over the ones not read.
        if (rc != SQLITE_DONE) {
            throw std::runtime_error("cannot read the outbox of " + m_file.string() + ": " + m_db->error_message());
        }
    }
    for (auto& [endpoint, owner] : m_queues) {
        count_queued(*owner);
    }
    ScopedStatement rejected(m_db->prepare("SELECT endpoint, count(*) FROM rejected GROUP BY endpoint"));
    while (rejected && rejected.step() == SQLITE_ROW) {
        queue(rejected.column_integer(0)).figures.rejected = static_cast<std::size_t>(rejected.column_integer(1));
    }
}

// A chunk wholly queued counts from its row; one the watermark or a gap cuts is read to count exactly.
void StateStore::count_queued(Queue& owner)
{
    for (const Chunk& chunk : owner.chunks) {
        const std::string* data = owner.whole(chunk) ? nullptr : unpack(chunk);
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

std::int64_t StateStore::endpoint_id(std::string_view tenant, std::string_view use_case)
{
    {
        ScopedStatement find(m_db->prepare("SELECT id FROM endpoints WHERE tenant = ?1 AND use_case = ?2"));
        if (!find) {
            return -1;
        }
        find.text(1, tenant);
        find.text(2, use_case);
        if (find.step() == SQLITE_ROW) {
            return find.column_integer(0);
        }
    }
    ScopedStatement insert(m_db->prepare("INSERT INTO endpoints (tenant, use_case) VALUES (?1, ?2)"));
    if (!insert) {
        return -1;
    }
    insert.text(1, tenant);
    insert.text(2, use_case);
    if (insert.step() != SQLITE_DONE) {
        m_db->log_failure("registering an endpoint");
        return -1;
    }
    const std::int64_t id = sqlite3_last_insert_rowid(m_db->handle());
    queue(id);
    return id;
}

std::string StateStore::checkpoint(std::string_view feed)
{
    ScopedStatement find(m_db->prepare("SELECT value FROM checkpoints WHERE feed = ?1"));
    if (!find) {
        return {};
    }
    find.text(1, feed);
    return find.step() == SQLITE_ROW ? find.column_text(0) : std::string();
}

// Writes one packed chunk starting at `first_seq`, inside the caller's transaction, and adds it to `stored`.
bool StateStore::store_chunk(std::int64_t endpoint, std::int64_t first_seq, const PackedChunk& packed,
                             std::int64_t enqueued_at, std::vector<Chunk>& stored)
{
    const auto id = insert_chunk(*m_db, endpoint, first_seq, packed, enqueued_at);
    if (!id) {
        return false;
    }
    stored.push_back(Chunk{*id, first_seq, first_seq + static_cast<std::int64_t>(packed.events) - 1, packed.bytes,
                           packed.raw_size, enqueued_at, k_chunk_gzip});
    return true;
}

CommitResult StateStore::commit_page(std::string_view feed, std::int64_t endpoint, std::span<const PendingEvent> events,
                                     std::string_view checkpoint, std::size_t& stored)
{
    PageCommitted result;
    const auto status = commit_page(feed, endpoint, PageCommit{events, {}, checkpoint, std::nullopt}, result);
    stored = result.stored;
    return status;
}

CommitResult StateStore::commit_page(std::string_view feed, std::int64_t endpoint, const PageCommit& page,
                                     PageCommitted& result)
{
    result = PageCommitted{};
    std::size_t& stored = result.stored;
    const std::span<const PendingEvent> events = page.events;
    const std::string_view checkpoint = page.checkpoint;
    std::size_t page_bytes = 0;
    for (const auto& event : events) {
        page_bytes += event.payload.size();
    }
    Queue& owner = queue(endpoint);
    ChunkPacker& packer = *m_packer;
    // A large page is packed and deflated on a second thread while this one looks its event ids up in
    // `seen` (nearly always all of them are new; otherwise the new ones are packed again below). Deflate
    // is half the cost of storing a page. The packer is the other thread's alone until get().
    std::future<std::vector<PackedChunk>> packing;
    const ChunkLimits limits = owner.limits;
    if (m_pack_thread && page_bytes >= k_parallel_pack_bytes) {
        packing = m_pack_thread->run([&packer, events, limits, first_seq = owner.next_seq] {
            return packer.pack(
                events, [](std::size_t) { return true; }, limits, first_seq);
        });
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
    if (!m_db->exec("BEGIN IMMEDIATE")) {
        return CommitResult::failed;
    }
    auto fail = [&](std::string_view what) {
        m_db->log_failure(what);
        m_db->exec("ROLLBACK");
        result = PageCommitted{};
        return CommitResult::failed;
    };
    const BackfillPage* const backfill = page.backfill;
    // The checkpoint first: its row's id is the feed's number in `seen`. A backfill moves no checkpoint.
    if (backfill == nullptr) {
        ScopedStatement save(
            m_db->prepare("INSERT INTO checkpoints (feed, value, updated_at, checkpoint_ns) VALUES (?1, ?2, ?3, ?4) "
                          "ON CONFLICT (feed) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at, "
                          "checkpoint_ns = excluded.checkpoint_ns"));
        if (!save) {
            return fail("preparing the checkpoint update");
        }
        save.text(1, feed);
        save.text(2, checkpoint);
        save.integer(3, unix_ms_now());
        if (page.checkpoint_ns) {
            save.integer(4, *page.checkpoint_ns);
        } else {
            sqlite3_bind_null(save.get(), 4);
        }
        if (save.step() != SQLITE_DONE) {
            return fail("saving the checkpoint");
        }
    }
    std::int64_t feed_id = 0;
    if (auto known = m_feed_ids.find(feed); known != m_feed_ids.end()) {
        feed_id = known->second;
    } else {
        ScopedStatement find(m_db->prepare("SELECT id FROM checkpoints WHERE feed = ?1"));
        if (!find) {
            return fail("preparing the feed look-up");
        }
        find.text(1, feed);
        if (find.step() == SQLITE_ROW) {
            feed_id = find.column_integer(0);
        } else if (backfill == nullptr) {
            return fail("looking up the feed");
        }
        // else a feed never polled yet: a backfill's ids are kept as of no known feed (0).
    }
    ScopedStatement job_event(backfill == nullptr
                                  ? nullptr
                                  : m_db->prepare("INSERT INTO job_events (job, event_id, endpoint, "
                                                  "seq) VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING"));
    if (backfill != nullptr) {
        if (!job_event) {
            return fail("preparing the backfill's event insert");
        }
    }
    {
        ScopedStatement remember(
            m_db->prepare("INSERT INTO seen (event_id, record_time, feed) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING"));
        if (!remember) {
            return fail("preparing the page insert");
        }
        for (std::size_t i = 0; i < events.size(); ++i) {
            remember.text(1, events[i].event_id);
            remember.integer(2, events[i].record_time_ns);
            remember.integer(3, feed_id);
            if (remember.step() != SQLITE_DONE) {
                return fail("remembering an event id");
            }
            sqlite3_reset(remember.get());
            if (backfill != nullptr) {
                // The operator asked for every state again: only the job's own repeats (a resumed page) go.
                job_event.integer(1, backfill->job);
                job_event.text(2, events[i].event_id);
                job_event.integer(3, endpoint);
                job_event.integer(4, owner.next_seq + static_cast<std::int64_t>(stored));
                if (job_event.step() != SQLITE_DONE) {
                    return fail("remembering a backfill's event id");
                }
                sqlite3_reset(job_event.get());
            }
            if (sqlite3_changes(m_db->handle()) == 0) {
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
        packed = packer.pack(
            events, [&](std::size_t i) { return fresh[i] != 0; }, limits, owner.next_seq);
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
    if (!page.quarantined.empty()) {
        ScopedStatement keep(m_db->prepare(
            "INSERT INTO quarantine (digest, tenant, source, feed, object_key, reason, detail, raw, first_seen) "
            "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT (digest) DO NOTHING"));
        if (!keep) {
            return fail("preparing the quarantine insert");
        }
        for (std::size_t i = 0; i < page.quarantined.size(); ++i) {
            const QuarantineEntry& record = page.quarantined[i];
            // A record read again (an overlap window) is the same text: quarantined, counted and logged once.
            const std::string digest = make_event_id(record.tenant, record.source, record.feed, record.raw, 0);
            keep.text(1, digest);
            keep.text(2, record.tenant);
            keep.text(3, record.source);
            keep.text(4, record.feed);
            keep.text(5, record.object_key);
            keep.text(6, record.reason);
            keep.text(7, record.detail);
            keep.text(8, record.raw);
            keep.integer(9, unix_ms_now());
            if (keep.step() != SQLITE_DONE) {
                return fail("quarantining a record");
            }
            sqlite3_reset(keep.get());
            if (sqlite3_changes(m_db->handle()) > 0) {
                result.newly_quarantined.push_back(i);
            }
        }
    }
    if (backfill != nullptr && !infra::update_job(*m_db, backfill->job, JobState::running, backfill->progress, "")) {
        return fail("saving the backfill job's progress (is it still running?)");
    }
    if (!m_db->exec("COMMIT")) {
        return fail("committing a page");
    }
    if (feed_id != 0) {
        m_feed_ids.emplace(std::string(feed), feed_id);
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
    ScopedStatement select(m_db->prepare(m_chunk_format ? "SELECT data, idx FROM outbox_chunks WHERE id = ?1"
                                                        : "SELECT data, NULL FROM outbox_chunks WHERE id = ?1"));
    if (!select) {
        return nullptr;
    }
    select.integer(1, chunk.id);
    if (select.step() != SQLITE_ROW) {
        m_db->log_failure("reading events of the outbox");
        return nullptr;
    }
    if (!m_packer->unpack(chunk.format, select.column_blob(0), chunk.raw_size, select.column_blob(1), slot.data) ||
        !each_event(slot.data, [](auto, auto) { return true; })) {
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

std::optional<CompressedEvents> StateStore::peek_compressed(std::int64_t endpoint, std::size_t max_events,
                                                            std::size_t max_json_bytes, std::int64_t after)
{
    const Queue& owner = queue(endpoint);
    const std::int64_t from = std::max(after, owner.delivered);
    auto chunk = std::find_if(owner.chunks.begin(), owner.chunks.end(),
                              [from](const Chunk& candidate) { return candidate.last_seq > from; });
    // The next queued event must be a chunk's first: the batch behind a partial one is read by peek().
    if (chunk == owner.chunks.end() || chunk->first_seq != from + 1) {
        return std::nullopt;
    }
    CompressedEvents batch;
    batch.first_seq = chunk->first_seq;
    for (; chunk != owner.chunks.end(); ++chunk) {
        const auto events = static_cast<std::size_t>(chunk->last_seq - chunk->first_seq + 1);
        const std::size_t json_bytes = batch.json_bytes + (batch.events > 0 ? 1 : 0) + chunk->raw_size;
        if (chunk->format != k_chunk_gzip || !owner.whole(*chunk) || batch.events + events > max_events ||
            json_bytes > max_json_bytes) {
            break;
        }
        ScopedStatement select(m_db->prepare("SELECT data FROM outbox_chunks WHERE id = ?1"));
        if (!select) {
            return std::nullopt;
        }
        select.integer(1, chunk->id);
        if (select.step() != SQLITE_ROW) {
            m_db->log_failure("reading events of the outbox");
            return std::nullopt;
        }
        batch.members.emplace_back(select.column_blob(0));
        batch.last_seq = chunk->last_seq;
        batch.events += events;
        batch.bytes += chunk->bytes;
        batch.json_bytes = json_bytes;
    }
    if (batch.events == 0) {
        return std::nullopt;
    }
    return batch;
}

std::int64_t StateStore::aligned_end(std::int64_t endpoint, std::int64_t first_seq, std::int64_t last_seq) const
{
    auto found = m_queues.find(endpoint);
    if (found == m_queues.end()) {
        return last_seq;
    }
    const Queue& owner = *found->second;
    // The chunk holding last_seq + 1 (the batch behind): when it could go whole and starts inside the range,
    // the batch ends before it.
    for (const Chunk& chunk : owner.chunks) {
        if (chunk.last_seq <= last_seq) {
            continue;
        }
        if (chunk.first_seq > first_seq && chunk.first_seq <= last_seq && chunk.format == k_chunk_gzip &&
            owner.whole(chunk)) {
            return chunk.first_seq - 1;
        }
        break;
    }
    return last_seq;
}

void StateStore::set_chunk_limits(std::int64_t endpoint, std::size_t max_events, std::size_t max_json_bytes)
{
    queue(endpoint).limits = ChunkLimits{std::max<std::size_t>(max_events, 1), max_json_bytes};
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
    if (!m_db->exec("BEGIN IMMEDIATE")) {
        return false;
    }
    if ((also && !also()) || !write_removal(endpoint, owner, removal) || !m_db->exec("COMMIT")) {
        m_db->exec("ROLLBACK");
        return false;
    }
    apply_removal(owner, removal);
    return true;
}

bool StateStore::write_removal(std::int64_t endpoint, const Queue& owner, Removal& removal)
{
    if (removal.delivered != owner.delivered) {
        ScopedStatement save(m_db->prepare("UPDATE endpoints SET delivered = ?2 WHERE id = ?1"));
        if (!save) {
            return false;
        }
        save.integer(1, endpoint);
        save.integer(2, removal.delivered);
        if (save.step() != SQLITE_DONE) {
            m_db->log_failure("saving the delivered watermark");
            return false;
        }
    }
    if (removal.gaps_changed) {
        ScopedStatement clear(m_db->prepare("DELETE FROM outbox_gaps WHERE endpoint = ?1"));
        ScopedStatement add(
            m_db->prepare("INSERT INTO outbox_gaps (endpoint, first_seq, last_seq) VALUES (?1, ?2, ?3)"));
        if (!clear || !add) {
            return false;
        }
        clear.integer(1, endpoint);
        if (clear.step() != SQLITE_DONE) {
            m_db->log_failure("saving the outbox gaps");
            return false;
        }
        for (const auto& [first, last] : removal.gaps) {
            add.integer(1, endpoint);
            add.integer(2, first);
            add.integer(3, last);
            if (add.step() != SQLITE_DONE) {
                m_db->log_failure("saving the outbox gaps");
                return false;
            }
            sqlite3_reset(add.get());
        }
    }
    ScopedStatement erase(m_db->prepare("DELETE FROM outbox_chunks WHERE id = ?1"));
    if (!erase) {
        return false;
    }
    for (const Chunk& chunk : owner.chunks) {
        if (chunk.last_seq > removal.delivered) {
            break;
        }
        erase.integer(1, chunk.id);
        if (erase.step() != SQLITE_DONE) {
            m_db->log_failure("deleting delivered events");
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

bool StateStore::remove(std::int64_t endpoint, const CompressedEvents& events)
{
    if (events.events == 0) {
        return true;
    }
    Queue& owner = queue(endpoint);
    Removal removal{owner.delivered, owner.gaps};
    return take(owner, events.first_seq, events.last_seq, events.bytes, removal) &&
           commit_removal(endpoint, owner, removal);
}

bool StateStore::reject(std::int64_t endpoint, const StoredEvent& row, std::string_view answer)
{
    Queue& owner = queue(endpoint);
    Removal removal{owner.delivered, owner.gaps};
    if (!take(owner, row.seq, row.seq, row.payload.size(), removal)) {
        return false;
    }
    const auto keep_row = [&] {
        ScopedStatement keep(m_db->prepare("INSERT INTO rejected (endpoint, event_id, payload, answer, rejected_at) "
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
            m_db->log_failure("moving a refused event aside");
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

std::optional<std::int64_t> StateStore::find_endpoint(std::string_view tenant, std::string_view use_case)
{
    ScopedStatement find(m_db->prepare("SELECT id FROM endpoints WHERE tenant = ?1 AND use_case = ?2"));
    if (!find) {
        return std::nullopt;
    }
    find.text(1, tenant);
    find.text(2, use_case);
    if (find.step() != SQLITE_ROW) {
        return std::nullopt;
    }
    return find.column_integer(0);
}

// One set-aside event as requeue and drop read it.
struct StateStore::RejectedRow {
    std::int64_t id = 0;
    std::int64_t endpoint = 0;
    std::string event_id;
    std::string payload;
};

// Begins the transaction of an operator's change to set-aside events and reads the selected rows, in id
// order; ids that are not there go to `change.missing`. False, rolled back, when one is missing or SQLite
// failed (`change.failed`).
bool StateStore::begin_rejected_change(const RejectedSelection& which, std::vector<RejectedRow>& rows,
                                       RejectedChange& change)
{
    const auto read = [&] {
        return select_by_ids(
            *m_db, which.all, which.ids, "SELECT seq, endpoint, event_id, payload FROM rejected ORDER BY seq",
            "SELECT seq, endpoint, event_id, payload FROM rejected WHERE seq = ?1",
            [&](const ScopedStatement& row) {
                rows.push_back(
                    RejectedRow{row.column_integer(0), row.column_integer(1), row.column_text(2), row.column_text(3)});
            },
            change.missing);
    };
    return m_db->begin_and_read(
        "reading set-aside events", read, [&] { return change.missing.empty(); }, change.failed);
}

bool StateStore::delete_rejected(const std::vector<RejectedRow>& rows)
{
    ScopedStatement erase(m_db->prepare("DELETE FROM rejected WHERE seq = ?1"));
    if (!erase) {
        return false;
    }
    for (const auto& row : rows) {
        erase.integer(1, row.id);
        if (erase.step() != SQLITE_DONE) {
            return false;
        }
        sqlite3_reset(erase.get());
    }
    return true;
}

RejectedChange StateStore::requeue_rejected(const RejectedSelection& which,
                                            const std::function<bool(const RejectedChange&)>& also)
{
    RejectedChange change;
    std::vector<RejectedRow> rows;
    if (!begin_rejected_change(which, rows, change)) {
        return change;
    }
    auto fail = [&](std::string_view what) {
        m_db->log_failure(what);
        m_db->exec("ROLLBACK");
        change.failed = true;
        change.events = 0;
        change.endpoints.clear();
        return change;
    };
    // Each endpoint's events go to the end of its queue, packed like a page, in the order they were set aside.
    struct Added {
        std::vector<Chunk> chunks;
        std::size_t events = 0;
        std::size_t bytes = 0;
    };
    std::map<std::int64_t, Added> added;
    const std::int64_t now = unix_ms_now();
    ChunkPacker& packer = *m_packer;
    std::int64_t endpoint = -1;
    auto flush = [&]() {
        if (packer.events() == 0) {
            return true;
        }
        Added& to = added[endpoint];
        const auto first_seq = queue(endpoint).next_seq + static_cast<std::int64_t>(to.events);
        to.events += packer.events();
        to.bytes += packer.bytes();
        return store_chunk(endpoint, first_seq, packer.take(), now, to.chunks);
    };
    std::vector<const RejectedRow*> ordered;
    ordered.reserve(rows.size());
    for (const auto& row : rows) {
        ordered.push_back(&row);
    }
    std::stable_sort(ordered.begin(), ordered.end(),
                     [](const RejectedRow* a, const RejectedRow* b) { return a->endpoint < b->endpoint; });
    packer.clear();
    for (const RejectedRow* row : ordered) {
        const auto seq = [&] {
            const auto to = added.find(endpoint);
            return queue(endpoint).next_seq + static_cast<std::int64_t>(packer.events()) +
                   (to == added.end() ? 0 : static_cast<std::int64_t>(to->second.events));
        };
        if ((row->endpoint != endpoint || !packer.room_for(row->payload.size(), queue(endpoint).limits, seq())) &&
            !flush()) {
            return fail("requeueing set-aside events");
        }
        endpoint = row->endpoint;
        packer.add(row->event_id, row->payload);
    }
    if (!flush()) {
        return fail("requeueing set-aside events");
    }
    if (!delete_rejected(rows)) {
        return fail("deleting requeued events from the rejected table");
    }
    change.events = rows.size();
    for (const auto& [id, to] : added) {
        change.endpoints.push_back(id);
    }
    if (also && !also(change)) {
        m_db->exec("ROLLBACK");  // `also` said why
        return RejectedChange{true, {}, 0, {}};
    }
    if (!m_db->exec("COMMIT")) {
        return fail("committing requeued events");
    }
    for (auto& [id, to] : added) {
        Queue& owner = queue(id);
        owner.chunks.insert(owner.chunks.end(), to.chunks.begin(), to.chunks.end());
        owner.next_seq += static_cast<std::int64_t>(to.events);
        owner.figures.events += to.events;
        owner.figures.bytes += to.bytes;
        owner.figures.rejected -= std::min(owner.figures.rejected, to.events);
    }
    return change;
}

RejectedChange StateStore::drop_rejected(const RejectedSelection& which,
                                         const std::function<bool(const RejectedChange&)>& also)
{
    RejectedChange change;
    std::vector<RejectedRow> rows;
    if (!begin_rejected_change(which, rows, change)) {
        return change;
    }
    change.events = rows.size();
    const bool deleted = delete_rejected(rows);
    if (!deleted || (also && !also(change)) || !m_db->exec("COMMIT")) {
        if (!deleted) {
            m_db->log_failure("dropping set-aside events");
        }
        m_db->exec("ROLLBACK");
        change.failed = true;
        change.events = 0;
        return change;
    }
    for (const auto& row : rows) {
        auto& figures = queue(row.endpoint).figures;
        figures.rejected -= std::min<std::size_t>(figures.rejected, 1);
    }
    return change;
}

QuarantineChange
StateStore::retry_quarantined(const QuarantineSelection& which,
                              const std::function<QuarantineVerdict(const QuarantinedRow&)>& renormalize,
                              const std::function<bool(const QuarantineChange&)>& also)
{
    QuarantineChange change;
    std::vector<QuarantinedRow> rows;
    if (!begin_quarantine_change(which, rows, change)) {
        return change.failed ? QuarantineChange{true, {}, {}, 0, {}} : change;
    }
    auto fail = [&](std::string_view what) {
        m_db->log_failure(what);
        m_db->exec("ROLLBACK");
        return QuarantineChange{true, {}, {}, 0, {}};
    };
    ScopedStatement feed_of(m_db->prepare("SELECT id FROM checkpoints WHERE feed = ?1"));
    ScopedStatement remember(
        m_db->prepare("INSERT INTO seen (event_id, record_time, feed) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING"));
    ScopedStatement release(m_db->prepare("DELETE FROM quarantine WHERE id = ?1"));
    ScopedStatement update(m_db->prepare("UPDATE quarantine SET reason = ?2, detail = ?3 WHERE id = ?1"));
    if (!feed_of || !remember || !release || !update) {
        return fail("preparing the quarantine retry");
    }
    // The new events of each endpoint go to the end of its queue, one chunk per endpoint (or a few), in id order.
    struct Added {
        std::vector<Chunk> chunks;
        std::size_t events = 0;
        std::size_t bytes = 0;
    };
    std::map<std::int64_t, Added> added;
    std::map<std::int64_t, std::vector<const QuarantineVerdict*>> queued;
    std::vector<QuarantineVerdict> verdicts;
    verdicts.reserve(rows.size());
    for (const auto& row : rows) {
        verdicts.push_back(renormalize(row));
        const QuarantineVerdict& verdict = verdicts.back();
        QuarantineResult result{row.id, QuarantineOutcome::skipped, {}, verdict.detail, {}};
        if (verdict.kind == QuarantineVerdict::Kind::quarantined) {
            update.integer(1, row.id);
            update.text(2, verdict.reason);
            update.text(3, verdict.detail);
            if (update.step() != SQLITE_DONE) {
                return fail("updating a quarantined record");
            }
            sqlite3_reset(update.get());
            result = QuarantineResult{row.id, QuarantineOutcome::still_quarantined, verdict.reason, verdict.detail, {}};
        } else if (verdict.kind == QuarantineVerdict::Kind::normalized) {
            // The feed's number in `seen`, so that its checkpoint forgets the id like the others (0: no feed).
            const std::string feed = row.tenant + "/" + row.source + "/" + row.feed;
            feed_of.text(1, feed);
            const int found = feed_of.step();
            if (found != SQLITE_ROW && found != SQLITE_DONE) {
                return fail("looking up the feed");
            }
            const std::int64_t feed_id = found == SQLITE_ROW ? feed_of.column_integer(0) : 0;
            sqlite3_reset(feed_of.get());
            remember.text(1, verdict.event_id);
            remember.integer(2, verdict.record_time_ns);
            remember.integer(3, feed_id);
            if (remember.step() != SQLITE_DONE) {
                return fail("remembering an event id");
            }
            sqlite3_reset(remember.get());
            const bool fresh = sqlite3_changes(m_db->handle()) > 0;
            release.integer(1, row.id);
            if (release.step() != SQLITE_DONE) {
                return fail("taking a record out of the quarantine");
            }
            sqlite3_reset(release.get());
            result = QuarantineResult{row.id,
                                      fresh ? QuarantineOutcome::queued : QuarantineOutcome::already_stored,
                                      {},
                                      {},
                                      verdict.event_id};
            if (fresh) {
                queued[verdict.endpoint].push_back(&verdict);
            }
        }
        change.records.push_back(std::move(result));
    }
    const std::int64_t now = unix_ms_now();
    ChunkPacker& packer = *m_packer;
    for (const auto& [endpoint, events] : queued) {
        Added& to = added[endpoint];
        const auto flush = [&, endpoint = endpoint]() {
            if (packer.events() == 0) {
                return true;
            }
            const auto first_seq = queue(endpoint).next_seq + static_cast<std::int64_t>(to.events);
            to.events += packer.events();
            to.bytes += packer.bytes();
            return store_chunk(endpoint, first_seq, packer.take(), now, to.chunks);
        };
        packer.clear();
        const ChunkLimits limits = queue(endpoint).limits;
        for (const QuarantineVerdict* verdict : events) {
            const auto seq = queue(endpoint).next_seq + static_cast<std::int64_t>(to.events + packer.events());
            if (!packer.room_for(verdict->payload.size(), limits, seq) && !flush()) {
                return fail("queueing events of retried records");
            }
            packer.add(verdict->event_id, verdict->payload);
        }
        if (!flush()) {
            return fail("queueing events of retried records");
        }
        change.endpoints.push_back(endpoint);
    }
    if (also && !also(change)) {
        m_db->exec("ROLLBACK");  // `also` said why
        return QuarantineChange{true, {}, {}, 0, {}};
    }
    if (!m_db->exec("COMMIT")) {
        return fail("committing retried records");
    }
    for (auto& [id, to] : added) {
        Queue& owner = queue(id);
        owner.chunks.insert(owner.chunks.end(), to.chunks.begin(), to.chunks.end());
        owner.next_seq += static_cast<std::int64_t>(to.events);
        owner.figures.events += to.events;
        owner.figures.bytes += to.bytes;
    }
    return change;
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
    sqlite3_db_release_memory(m_db->handle());
}

std::vector<FeedCheckpoint> StateStore::feed_checkpoints()
{
    std::vector<FeedCheckpoint> rows;
    if (m_schema == 0) {
        return rows;  // a file being created: no tables yet
    }
    // Schema 5 gave the rows an id and their instant; `status` reads an older file (read-only) as it is.
    constexpr int k_checkpoint_ids_schema_version = 5;
    ScopedStatement select(
        m_db->prepare(m_schema >= k_checkpoint_ids_schema_version
                          ? "SELECT id, feed, value, checkpoint_ns, updated_at FROM checkpoints ORDER BY feed"
                          : "SELECT 0, feed, value, NULL, updated_at FROM checkpoints ORDER BY feed"));
    int rc = SQLITE_ROW;
    while (select && (rc = select.step()) == SQLITE_ROW) {
        FeedCheckpoint row{select.column_integer(0), select.column_text(1), select.column_text(2), std::nullopt,
                           select.column_integer(4)};
        if (sqlite3_column_type(select.get(), 3) != SQLITE_NULL) {
            row.checkpoint_ns = select.column_integer(3);
        }
        rows.push_back(std::move(row));
    }
    if (!select || rc != SQLITE_DONE) {
        m_db->log_failure("reading the checkpoints");
        return {};
    }
    return rows;
}

std::size_t StateStore::prune_seen(std::span<const SeenHorizon> horizons, std::int64_t others_ns)
{
    // The horizons go to a table of the connection's own, so that one range scan of `seen` (up to the
    // latest horizon) looks each row's up.
    std::int64_t latest = others_ns;
    for (const auto& horizon : horizons) {
        latest = std::max(latest, horizon.horizon_ns);
    }
    if (!m_db->exec("CREATE TEMP TABLE IF NOT EXISTS seen_horizons (feed INTEGER PRIMARY KEY, horizon INTEGER)") ||
        !m_db->exec("BEGIN IMMEDIATE")) {
        return 0;
    }
    const auto fail = [&](std::string_view what) -> std::size_t {
        m_db->log_failure(what);
        m_db->exec("ROLLBACK");
        return 0;
    };
    if (!m_db->exec("DELETE FROM temp.seen_horizons")) {
        return fail("pruning seen event ids");
    }
    {
        ScopedStatement add(m_db->prepare("INSERT OR REPLACE INTO temp.seen_horizons (feed, horizon) VALUES (?1, ?2)"));
        if (!add) {
            return fail("pruning seen event ids");
        }
        for (const auto& horizon : horizons) {
            add.integer(1, horizon.feed_id);
            add.integer(2, horizon.horizon_ns);
            if (add.step() != SQLITE_DONE) {
                return fail("pruning seen event ids");
            }
            sqlite3_reset(add.get());
        }
    }
    std::size_t removed = 0;
    {
        ScopedStatement erase(
            m_db->prepare("DELETE FROM seen WHERE record_time < ?1 AND record_time < coalesce((SELECT horizon FROM "
                          "temp.seen_horizons h WHERE h.feed = seen.feed), ?2)"));
        if (!erase) {
            return fail("pruning seen event ids");
        }
        erase.integer(1, latest);
        erase.integer(2, others_ns);
        if (erase.step() != SQLITE_DONE) {
            return fail("pruning seen event ids");
        }
        removed = static_cast<std::size_t>(sqlite3_changes(m_db->handle()));
    }
    if (!m_db->exec("COMMIT")) {
        return fail("pruning seen event ids");
    }
    return removed;
}

Purged StateStore::purge_set_aside(std::chrono::system_clock::time_point cutoff)
{
    Purged purged;
    const std::int64_t before = unix_millis(cutoff);
    const auto erase = [&](const char* sql, std::size_t& count) {
        ScopedStatement statement(m_db->prepare(sql));
        if (!statement) {
            return;
        }
        statement.integer(1, before);
        if (statement.step() != SQLITE_DONE) {
            m_db->log_failure("deleting records past their retention");
            return;
        }
        count = static_cast<std::size_t>(sqlite3_changes(m_db->handle()));
    };
    erase("DELETE FROM rejected WHERE rejected_at < ?1", purged.rejected);
    erase("DELETE FROM quarantine WHERE first_seen < ?1", purged.quarantined);
    if (purged.rejected > 0) {
        for (auto& [endpoint, owner] : m_queues) {
            owner->figures.rejected = 0;
        }
        ScopedStatement rejected(m_db->prepare("SELECT endpoint, count(*) FROM rejected GROUP BY endpoint"));
        while (rejected && rejected.step() == SQLITE_ROW) {
            queue(rejected.column_integer(0)).figures.rejected = static_cast<std::size_t>(rejected.column_integer(1));
        }
    }
    return purged;
}

std::size_t StateStore::pragma_value(const char* pragma)
{
    ScopedStatement statement(m_db->prepare(pragma));
    return statement && statement.step() == SQLITE_ROW ? static_cast<std::size_t>(statement.column_integer(0)) : 0;
}

std::size_t StateStore::free_bytes()
{
    return pragma_value("PRAGMA freelist_count") * pragma_value("PRAGMA page_size");
}

std::size_t StateStore::vacuum_step(std::size_t max_pages, std::size_t keep_bytes)
{
    const std::size_t page = pragma_value("PRAGMA page_size");
    const std::size_t free = free_bytes();
    if (page == 0 || free <= keep_bytes) {
        return 0;
    }
    const std::size_t pages = std::min(max_pages, (free - keep_bytes) / page);
    if (pages == 0) {
        return 0;
    }
    // A pragma with an argument cannot be bound; the number is ours.
    const std::string sql = "PRAGMA incremental_vacuum(" + std::to_string(pages) + ")";
    if (!m_db->exec(sql.c_str())) {
        m_db->log_failure("giving free pages back to the file system");
        return 0;
    }
    return pages;
}

std::size_t StateStore::prune_seen(std::chrono::system_clock::time_point horizon)
{
    ScopedStatement erase(m_db->prepare("DELETE FROM seen WHERE record_time < ?1"));
    if (!erase) {
        return 0;
    }
    erase.integer(1, std::chrono::duration_cast<std::chrono::nanoseconds>(horizon.time_since_epoch()).count());
    if (erase.step() != SQLITE_DONE) {
        m_db->log_failure("pruning seen event ids");
        return 0;
    }
    return static_cast<std::size_t>(sqlite3_changes(m_db->handle()));
}

}  // namespace c4c::infra
