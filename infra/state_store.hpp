#pragma once

// The durable state of the daemon: one SQLite database in WAL mode under `state_dir`.
//
//   outbox_chunks events waiting for their endpoint, oldest first. The new events of one page are
//               one chunk (or a few, each at most 1 MiB packed and within the endpoint's batch limits):
//               their OTLP logRecords joined by commas as one gzip member, sent as they are stored when a
//               batch is whole chunks, and an index of their ids (infra/outbox_chunks.hpp). Each event has a seq, dense per endpoint; a chunk
//               holds first_seq..last_seq. endpoints.delivered is the endpoint's watermark: every event
//               at or below it was accepted (or moved aside). Taking a batch out moves the watermark
//               and deletes the chunks wholly below it: one row written per batch, one deleted per
//               page. (A row per event made SQLite write every payload twice, WAL and database file,
//               and rebalance its B-tree after nearly every delivered row.) Deflated, a page of OTLP
//               JSON takes about a tenth of its size on disk.
//   outbox_gaps events taken out ahead of the watermark (a batch accepted while the one before it
//               failed), skipped by peek() until the watermark reaches them
//   seen        every event.id stored, keyed by (record time, event.id), with the feed it was stored for,
//               so that re-reading an overlap window never enqueues a record state twice, even after
//               delivery; a feed's ids are forgotten only once its own checkpoint shows that it cannot
//               read them again (prune_seen)
//   checkpoints where each feed resumes: the collector's text and the instant it stands for
//   rejected    events an endpoint refused for good, kept for the operator (for the retention period)
//   quarantine  C4C records that could not be normalized, with their raw text and reason, once each (for
//               the retention period)
//   source_status, endpoint_status  each source's last poll and each endpoint's delivery state, as the
//               daemon last recorded them, for `status` (running or stopped)
//   jobs        operator commands for a running daemon (infra/jobs.hpp)
//   job_events  the events a backfill job stored, with their endpoint and seq: the job stores each once
//               (after a resume too), and its command counts them delivered (infra/job_events.hpp)
//
// auto_vacuum is INCREMENTAL: the space of deleted chunks is kept for the next ones, and vacuum_step()
// gives what goes beyond a slack back to the file system in bounded steps after a large backlog.
//
// A page of events and its feed's new checkpoint are written in one transaction (commit_page), so
// after a crash either both are there or neither is, and the feed re-reads what was lost.
// synchronous=NORMAL in WAL mode survives any process crash (kill -9); after a power loss the last
// transactions may roll back together with their checkpoints and are fetched again from C4C.
//
// Not thread-safe: used from the event loop only. Statements are short (one page, one batch). The
// checkpoints (copying committed WAL frames into the database file, then fsync) run on a thread of the
// store's own with its own connection (infra/wal_checkpointer.hpp), so the event loop never waits for
// them; a large page is deflated on another while the loop inserts its ids into `seen` (joined before
// commit_page returns). The tables and their migrations are infra/state_schema.hpp's, the chunk format
// infra/outbox_chunks.hpp's, the SQLite connection infra/sqlite.hpp's.

#include "infra/job_events.hpp"
#include "infra/jobs.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace c4c::infra {

/// One event ready to be stored.
struct PendingEvent {
    std::string_view event_id;
    std::int64_t record_time_ns = 0;  ///< event.time_unix_nano: one event.id always comes with one time
    std::string_view payload;         ///< encoded OTLP logRecord JSON
};

/// One stored event, as handed to an exporter (exporters::OutboxRow) and given back when it leaves.
struct StoredEvent {
    std::int64_t seq = 0;  ///< its place in its endpoint's queue
    std::string event_id;
    std::string payload;  ///< its OTLP logRecord: a complete JSON object, one element of `logRecords`
};

/// Whole chunks of one endpoint's queue as they are stored, to be sent without inflating them: the events
/// with seqs first_seq..last_seq, all queued (no gap), each chunk's payloads joined by commas as one gzip
/// member (infra/outbox_chunks.hpp).
struct CompressedEvents {
    std::int64_t first_seq = 0;
    std::int64_t last_seq = 0;
    std::size_t events = 0;
    std::size_t bytes = 0;       ///< payload bytes of the events
    std::size_t json_bytes = 0;  ///< the payloads joined by commas: the members inflated, with one comma between
    std::vector<std::string> members;
};

/// A C4C record that could not be normalized, as stored in the quarantine table.
struct QuarantineEntry {
    std::string_view tenant;
    std::string_view source;
    std::string_view feed;        ///< the collector's feed (a collection name, "rta", "messages")
    std::string_view object_key;  ///< the record's key, "" when it has none
    std::string_view reason;      ///< the metric label ("unknown_timezone", "missing_key", ...)
    std::string_view detail;      ///< one line: what is wrong
    std::string_view raw;         ///< the record's text as C4C sent it
};

/// A page of a backfill job (an operator's `backfill`, infra/jobs.hpp) instead of the feed's own poll.
struct BackfillPage {
    std::int64_t job = 0;       ///< the running job whose page this is
    std::string_view progress;  ///< the job's new progress (JSON, with its cursor), stored with the page
};

/// One page for commit_page.
struct PageCommit {
    std::span<const PendingEvent> events;
    std::span<const QuarantineEntry> quarantined;
    std::string_view checkpoint;                ///< the feed's new checkpoint (ignored for a backfill)
    std::optional<std::int64_t> checkpoint_ns;  ///< its instant (tenant clock, ns); nullopt while empty
    const BackfillPage* backfill = nullptr;     ///< set: a backfill's page (see commit_page)
};

/// What commit_page stored of a page.
struct PageCommitted {
    std::size_t stored = 0;                      ///< events new to the outbox
    std::vector<std::size_t> newly_quarantined;  ///< indexes into PageCommit::quarantined of first-time records
};

/// One row of the checkpoints table, as pruning `seen` and the operator's `status` read it.
struct FeedCheckpoint {
    std::int64_t id = 0;  ///< the feed's number in `seen` (0 in a file older than schema 5)
    std::string feed;     ///< the feed key ("tenant/source/feed")
    std::string value;
    std::optional<std::int64_t> checkpoint_ns;  ///< nullopt: no instant (empty or unreadable checkpoint, schema < 5)
    std::int64_t updated_at_ms = 0;             ///< when it was last written
};

/// Where pruning `seen` stops for one feed: its ids with a record time before `horizon_ns` are forgotten.
struct SeenHorizon {
    std::int64_t feed_id = 0;  ///< FeedCheckpoint::id
    std::int64_t horizon_ns = 0;
};

/// Rows deleted by purge_set_aside.
struct Purged {
    std::size_t rejected = 0;
    std::size_t quarantined = 0;
};

/// Queue figures of one endpoint, kept in memory and exact.
struct OutboxFigures {
    std::size_t events = 0;
    std::size_t bytes = 0;
    std::size_t rejected = 0;  ///< rows in the rejected table
};

enum class CommitResult { committed, failed };

/// The outcome of a source's last poll, as the daemon recorded it.
struct PollRecord {
    std::string tenant;
    std::string source;
    std::int64_t polled_at_ms = 0;
    bool ok = false;
    std::string outcome;  ///< "ok", or the failure's metric label ("http_503", "outbox_full", ...)
    std::string message;  ///< the operator's line for a failure; "" when ok
    std::uint64_t records = 0;
    std::uint64_t stored = 0;
    std::optional<std::int64_t> last_success_ms;  ///< kept across failed polls (ignored by record_poll)
    std::uint64_t consecutive_failures = 0;       ///< counted by record_poll (ignored by it)
};

/// How an endpoint's delivery stands, as the daemon recorded it when it changed.
struct DeliveryRecord {
    std::int64_t endpoint = 0;
    std::string state;   ///< "ok", "retrying" or "paused"
    std::string reason;  ///< why, when not ok
    std::int64_t since_ms = 0;
};

/// One event moved aside (the rejected table).
struct RejectedEvent {
    std::int64_t id = 0;  ///< what the operator names it by
    std::string tenant;
    std::string use_case;
    std::string event_id;
    std::string payload;
    std::string answer;  ///< the endpoint's refusal
    std::int64_t rejected_at_ms = 0;
};

/// Which set-aside events an operator command means: every one, or those ids.
struct RejectedSelection {
    bool all = false;
    std::vector<std::int64_t> ids;
};

/// What requeue_rejected or drop_rejected did.
struct RejectedChange {
    bool failed = false;                  ///< the store failed: nothing changed (logged)
    std::vector<std::int64_t> missing;    ///< selected ids that are not set aside: nothing changed
    std::size_t events = 0;               ///< events requeued or dropped
    std::vector<std::int64_t> endpoints;  ///< endpoints whose queues got events back
    bool ok() const { return !failed && missing.empty(); }
};

/// One record of the quarantine table, as the operator sees it.
struct QuarantinedRow {
    std::int64_t id = 0;  ///< what the operator names it by
    std::string tenant;
    std::string source;
    std::string feed;        ///< the collector's feed ("OpportunityCollection", "rta", "messages")
    std::string object_key;  ///< "" when the record has none
    std::string reason;      ///< the metric label ("unknown_timezone", ...)
    std::string detail;      ///< one line: what is wrong
    std::string raw;         ///< the record's text as C4C sent it
    std::int64_t first_seen_ms = 0;
};

/// How many records of one source are quarantined.
struct QuarantineCount {
    std::string tenant;
    std::string source;
    std::uint64_t records = 0;
};

/// Which quarantined records an operator command means: every one, or those ids (the same shape as for
/// set-aside events).
using QuarantineSelection = RejectedSelection;

/// What the current code makes of one quarantined record (the caller of retry_quarantined decides it).
struct QuarantineVerdict {
    enum class Kind {
        normalized,   ///< it is an event now: `endpoint`, `event_id`, `record_time_ns`, `payload`
        quarantined,  ///< it still cannot be normalized: `reason` and `detail` as of now
        skipped,      ///< it could not be tried (its source is no longer configured, ...): `detail` says why
    };
    Kind kind = Kind::skipped;
    std::int64_t endpoint = 0;
    std::string event_id;
    std::int64_t record_time_ns = 0;
    std::string payload;  ///< its OTLP logRecord
    std::string reason;
    std::string detail;
};

/// What a retry did with one record.
enum class QuarantineOutcome {
    queued,             ///< normalized, queued for its endpoint, gone from the quarantine
    already_stored,     ///< normalized, but its event.id was stored before: not queued again, gone from the quarantine
    still_quarantined,  ///< still not normalizable: kept, with the reason and detail of now
    skipped,            ///< not tried: kept as it was
};
/// "queued", "already_stored", "still_quarantined", "skipped".
std::string_view quarantine_outcome_name(QuarantineOutcome outcome);

struct QuarantineResult {
    std::int64_t id = 0;
    QuarantineOutcome outcome = QuarantineOutcome::skipped;
    std::string reason;    ///< still_quarantined: the reason now
    std::string detail;    ///< still_quarantined: what is wrong now; skipped: why it was not tried
    std::string event_id;  ///< queued, already_stored: the event's id
};

/// What retry_quarantined or drop_quarantined did.
struct QuarantineChange {
    bool failed = false;                    ///< the store failed: nothing changed (logged)
    std::vector<std::int64_t> missing;      ///< selected ids that are not quarantined: nothing changed
    std::vector<QuarantineResult> records;  ///< retry: one per selected record, in id order
    std::size_t dropped = 0;                ///< drop: records deleted
    std::vector<std::int64_t> endpoints;    ///< endpoints whose queues got events
    bool ok() const { return !failed && missing.empty(); }
};

class ChunkPacker;
class PackThread;
class SqliteConnection;
class WalCheckpointer;
struct PackedChunk;

class StateStore {
public:
    /// Opens (creating when missing) `<dir>/state.db`, creating `dir` with mode 0700 when missing.
    /// Throws std::runtime_error naming the path and SQLite's message when it cannot.
    explicit StateStore(const std::filesystem::path& dir);
    /// Opens an existing store read-only (for --dry-run and the operator commands); nullptr when there is
    /// none. Creates no file, not even the WAL's -wal and -shm of a stopped daemon's store.
    static std::unique_ptr<StateStore> open_read_only(const std::filesystem::path& dir);
    ~StateStore();
    StateStore(const StateStore&) = delete;
    StateStore& operator=(const StateStore&) = delete;

    /// A stable small id for (tenant, use case), created on first use. -1 when the store failed.
    std::int64_t endpoint_id(std::string_view tenant, std::string_view use_case);

    /// The feed's checkpoint, or "" when none.
    std::string checkpoint(std::string_view feed);

    /// In one transaction: inserts every event whose id was never stored for the feed before into
    /// `endpoint`'s outbox, the quarantined records not quarantined before (the same tenant, source, feed and
    /// raw text) into the quarantine table, and sets the feed's checkpoint and its instant.
    /// A backfill's page (`page.backfill`) leaves the feed's checkpoint alone and sets the job's progress
    /// instead (failing when the job is gone); it stores every event the JOB has not stored before
    /// (table job_events), whether or not `seen` knows its id, and records its ids in `seen` for `feed` (so
    /// the feed's own polls do not store them again).
    CommitResult commit_page(std::string_view feed, std::int64_t endpoint, const PageCommit& page,
                             PageCommitted& result);
    /// The same for a page of events only, with a checkpoint of no known instant.
    CommitResult commit_page(std::string_view feed, std::int64_t endpoint, std::span<const PendingEvent> events,
                             std::string_view checkpoint, std::size_t& stored);

    /// Oldest rows of `endpoint` with a seq above `after`: at most `max_events`, and stopping before
    /// `max_bytes` of payload would be exceeded (at least one row when any is queued).
    std::vector<StoredEvent> peek(std::int64_t endpoint, std::size_t max_events, std::size_t max_bytes,
                                  std::int64_t after = 0);

    /// The oldest whole chunks of `endpoint` behind seq `after` stored as gzip members: at most
    /// `max_events` events and `max_json_bytes` of payloads joined by commas. nullopt when the next queued
    /// event does not start such a chunk (the watermark or a gap cuts it, it was stored by schema 5 or
    /// earlier, it alone exceeds the limits, or the store failed): then peek() reads the events.
    std::optional<CompressedEvents> peek_compressed(std::int64_t endpoint, std::size_t max_events,
                                                    std::size_t max_json_bytes, std::int64_t after = 0);

    /// Where a batch of the queued events first_seq..last_seq should end so that the batch behind it starts
    /// a chunk peek_compressed() can take: the end of the last such chunk's predecessor within the range,
    /// else last_seq.
    std::int64_t aligned_end(std::int64_t endpoint, std::int64_t first_seq, std::int64_t last_seq) const;

    /// Cuts `endpoint`'s new chunks within `limits` (default: k_chunk_bytes only), so that whole chunks
    /// fit its batches. Held in memory; set by whoever registers the endpoint.
    void set_chunk_limits(std::int64_t endpoint, std::size_t max_events, std::size_t max_json_bytes);

    /// Takes delivered events of `endpoint` out (the oldest at the cost of one row; others are recorded
    /// as a gap ahead of the watermark). False when the store failed.
    bool remove(std::int64_t endpoint, std::span<const StoredEvent> events);
    /// The same for the events of peek_compressed().
    bool remove(std::int64_t endpoint, const CompressedEvents& events);

    /// Moves one row into the rejected table with the endpoint's answer.
    bool reject(std::int64_t endpoint, const StoredEvent& row, std::string_view answer);

    OutboxFigures figures(std::int64_t endpoint) const;

    /// Enqueue time of the oldest queued row of `endpoint`, if any.
    std::optional<std::chrono::system_clock::time_point> oldest(std::int64_t endpoint);

    /// The endpoint's id if it was ever registered (a read-only store registers none).
    std::optional<std::int64_t> find_endpoint(std::string_view tenant, std::string_view use_case);

    /// Puts set-aside events back at the end of their endpoints' queues, in one transaction with `also`
    /// (when given; false rolls everything back). Nothing changes when a selected id is not set aside.
    /// The caller wakes the endpoints' exporters.
    RejectedChange requeue_rejected(const RejectedSelection& which,
                                    const std::function<bool(const RejectedChange&)>& also = {});
    /// Deletes set-aside events, in one transaction with `also`; nothing when a selected id is missing.
    RejectedChange drop_rejected(const RejectedSelection& which,
                                 const std::function<bool(const RejectedChange&)>& also = {});

    // ---- the operator's view (infra/state_status.cpp). Writers run on a writable store only; readers
    // ---- give nothing on a file older than schema 4.

    /// Records the outcome of a poll (one row per source, replaced; counts consecutive failures and
    /// keeps the last success). False when the store failed.
    bool record_poll(const PollRecord& poll);
    std::vector<PollRecord> poll_records();
    /// Records an endpoint's delivery state. False when the store failed.
    bool record_delivery(const DeliveryRecord& delivery);
    std::vector<DeliveryRecord> delivery_records();
    /// Every set-aside event, oldest first.
    std::vector<RejectedEvent> rejected_events();
    /// Every quarantined record, oldest first (nothing on a file older than schema 5).
    std::vector<QuarantinedRow> quarantined_records();
    /// The quarantined records per tenant and source (nothing on a file older than schema 5).
    std::vector<QuarantineCount> quarantine_counts();
    /// Normalizes the selected quarantined records again, in one transaction with `also` (when given; false
    /// rolls everything back): `renormalize` (called inside the transaction) says what each one is now. A
    /// record that normalizes leaves the quarantine, and its event goes to the end of its endpoint's queue
    /// unless its event.id was stored before (then it is only remembered as delivered); one that does not
    /// stays with its new reason and detail. Nothing changes when a selected id is not quarantined. The
    /// caller wakes the endpoints' exporters. Writable store only.
    QuarantineChange retry_quarantined(const QuarantineSelection& which,
                                       const std::function<QuarantineVerdict(const QuarantinedRow&)>& renormalize,
                                       const std::function<bool(const QuarantineChange&)>& also = {});
    /// Deletes quarantined records, in one transaction with `also`; nothing when a selected id is missing.
    QuarantineChange drop_quarantined(const QuarantineSelection& which,
                                      const std::function<bool(const QuarantineChange&)>& also = {});
    /// Pending and running operator jobs, oldest first (infra/jobs.hpp).
    std::vector<Job> open_jobs();
    bool update_job(std::int64_t id, JobState state, std::string_view progress, std::string_view result);
    /// Deletes finished jobs older than `horizon`.
    std::size_t prune_jobs(std::chrono::system_clock::time_point horizon);
    /// The backfill jobs' side (infra/job_events.cpp): job_events of jobs gone, and one job's figures.
    std::size_t prune_job_events();
    std::optional<JobEventFigures> job_event_figures(std::int64_t job);

    /// The file's schema version (k_schema_version once opened writable).
    int schema_version() const { return m_schema; }
    /// False for a read-only open.
    bool writable() const { return m_checkpointer != nullptr; }

    /// Every checkpoint row, by feed key; empty when the store failed or has no tables yet (a file being
    /// created). Reads any file a read-only open reads: one older than schema 5 gives no ids and no instants.
    std::vector<FeedCheckpoint> feed_checkpoints();

    /// Forgets, in one transaction, each listed feed's seen ids whose record time is before its horizon, and
    /// the ids of any other feed (0: stored before schema 5, of no known feed) before `others_ns`. Returns
    /// how many were removed.
    std::size_t prune_seen(std::span<const SeenHorizon> horizons, std::int64_t others_ns);
    /// Forgets the seen ids of every feed whose record time is before `horizon`.
    std::size_t prune_seen(std::chrono::system_clock::time_point horizon);

    /// Deletes rejected events and quarantined records set aside before `cutoff` (the retention).
    Purged purge_set_aside(std::chrono::system_clock::time_point cutoff);

    /// Bytes of free pages in the file.
    std::size_t free_bytes();
    /// Gives free pages beyond `keep_bytes` back to the file system, at most `max_pages` in this call (one
    /// short transaction; in WAL mode the file shrinks at the next WAL checkpoint). Returns how many.
    std::size_t vacuum_step(std::size_t max_pages, std::size_t keep_bytes);

    /// How many WAL checkpoints the checkpoint thread completed.
    std::uint64_t wal_checkpoints() const;

    /// Frees the page cache's unused pages (after a burst; the next reads come from the OS's cache).
    void release_memory();

    /// The database file.
    const std::filesystem::path& file() const { return m_file; }

private:
    StateStore(const std::filesystem::path& file, bool read_only);
    void open(bool read_only);

    struct Chunk;
    struct Queue;
    struct Removal;
    struct RejectedRow;
    bool begin_rejected_change(const RejectedSelection& which, std::vector<RejectedRow>& rows, RejectedChange& change);
    bool delete_rejected(const std::vector<RejectedRow>& rows);
    bool begin_quarantine_change(const QuarantineSelection& which, std::vector<QuarantinedRow>& rows,
                                 QuarantineChange& change);
    Queue& queue(std::int64_t endpoint);
    bool store_chunk(std::int64_t endpoint, std::int64_t first_seq, const PackedChunk& packed, std::int64_t enqueued_at,
                     std::vector<Chunk>& stored);
    const std::string* unpack(const Chunk& chunk);
    bool take(Queue& queue, std::int64_t first, std::int64_t last, std::size_t bytes, Removal& removal);
    bool commit_removal(std::int64_t endpoint, Queue& queue, Removal& removal, const std::function<bool()>& also = {});
    bool write_removal(std::int64_t endpoint, const Queue& queue, Removal& removal);
    void apply_removal(Queue& queue, Removal& removal);
    void load_queues();
    void count_queued(Queue& queue);
    /// The integer a PRAGMA query answers (0 when it fails).
    std::size_t pragma_value(const char* pragma);

    std::filesystem::path m_file;
    std::unique_ptr<SqliteConnection> m_db;
    int m_schema = 0;  ///< the file's schema version when opened
    std::map<std::int64_t, std::unique_ptr<Queue>> m_queues;
    std::unique_ptr<ChunkPacker> m_packer;
    std::unique_ptr<PackThread> m_pack_thread;
    struct Unpacked {
        std::int64_t chunk = 0;  ///< outbox_chunks.id, 0 when empty
        std::string data;
    };
    Unpacked m_unpacked[2];  ///< the chunks unpacked last (a batch spans two; both lanes read the same)
    std::size_t m_unpacked_next = 0;
    bool m_chunk_format = true;  ///< outbox_chunks has `format` and `idx` (schema 6; a read-only open of an older file)
    std::unique_ptr<WalCheckpointer> m_checkpointer;              ///< none when read-only
    std::map<std::string, std::int64_t, std::less<>> m_feed_ids;  ///< checkpoints.id of each feed key
};

}  // namespace c4c::infra
