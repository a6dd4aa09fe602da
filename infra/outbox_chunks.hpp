#pragma once

// How the outbox keeps events on disk: the new events of one page are one chunk (or a few, each at most
// k_chunk_bytes packed and within its endpoint's ChunkLimits), a row of outbox_chunks. Two formats:
//
//   k_chunk_gzip (schema 6 on): `data` is the payloads (OTLP logRecords) joined by commas, compressed as
//       ONE gzip member (ISA-L's igzip, level 1), so that whole chunks are sent to Cloud ALM as they are
//       stored, without inflating and compressing them again (exporters/batcher.hpp gzip_members_body);
//       `idx` is the per-event index, the id's and the payload's sizes (4 bytes each, little-endian) and
//       the id, deflated, after the index's size (4 bytes): the other paths read events from both.
//   k_chunk_packed (written up to schema 5, still read): `data` packs every event as its id's and its
//       payload's sizes followed by both, deflated as a whole; `idx` is NULL.
//
// unpack() turns either into the packed layout that each_event() reads. ChunkPacker packs and unpacks,
// PackThread runs a packing job beside the event loop, insert_chunk() writes a row.

#include "infra/sqlite.hpp"

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <vector>

struct libdeflate_decompressor;

namespace c4c::infra {

/// A chunk is cut when its packed events reach this size: it bounds what reading one event inflates and
/// what storing a page deflates at once.
inline constexpr std::size_t k_chunk_bytes = std::size_t{1} << 20;

/// outbox_chunks.format: the events packed and deflated (schemas 3 to 5).
inline constexpr int k_chunk_packed = 0;
/// outbox_chunks.format: the payloads joined by commas as one gzip member, the index beside them.
inline constexpr int k_chunk_gzip = 1;

/// What one chunk of an endpoint may hold, so that whole chunks fit one of its batches (a chunk that
/// does not fit is sent through the slow path, never split across the limits). A chunk also ends before
/// each seq that is a multiple of max_events plus one: the whole chunks between two such seqs are then
/// exactly one full batch, as the slow path would cut it, however the pages fell.
struct ChunkLimits {
    std::size_t max_events = static_cast<std::size_t>(-1);
    std::size_t max_json_bytes = static_cast<std::size_t>(-1);  ///< payloads and the commas between them
};

/// A chunk's events packed and compressed, before it is stored.
struct PackedChunk {
    std::size_t events = 0;
    std::size_t bytes = 0;     ///< payload bytes of its events
    std::size_t raw_size = 0;  ///< of the payloads joined by commas (k_chunk_gzip)
    std::string data;          ///< one gzip member (empty when compressing failed)
    std::string index;         ///< the index's size (4 bytes) and the index deflated
};

/// Calls visit(id, payload) for each packed event of `data` (inflated) while it returns true. False when
/// `data` is not a whole number of packed events.
template <class Visit>
bool each_event(std::string_view data, Visit&& visit)
{
    const auto u32 = [&data](std::size_t at) {
        std::size_t value = 0;
        for (int i = 3; i >= 0; --i) {
            value = (value << 8) | static_cast<unsigned char>(data[at + static_cast<std::size_t>(i)]);
        }
        return value;
    };
    std::size_t pos = 0;
    while (pos < data.size()) {
        if (data.size() - pos < 8) {
            return false;
        }
        const std::size_t id_size = u32(pos);
        const std::size_t payload_size = u32(pos + 4);
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

/// Packs events into chunks and compresses them, and unpacks stored chunks. Buffers are reused. Used by one thread
/// at a time. Throws std::bad_alloc when libdeflate's decompressor cannot be set up.
class ChunkPacker {
public:
    ChunkPacker();
    ~ChunkPacker();
    ChunkPacker(const ChunkPacker&) = delete;
    ChunkPacker& operator=(const ChunkPacker&) = delete;

    /// Appends one event to the chunk being packed.
    void add(std::string_view id, std::string_view payload);
    std::size_t events() const { return m_events; }
    std::size_t bytes() const { return m_bytes; }
    /// The chunk being packed can take the event of seq `seq` with a payload of `payload_size` bytes within
    /// `limits` and k_chunk_bytes (an empty one takes any event); else take() it first.
    bool room_for(std::size_t payload_size, const ChunkLimits& limits, std::int64_t seq) const;
    /// The packed events compressed, as one chunk (k_chunk_gzip); empties the packer.
    PackedChunk take();
    /// The events `keep(i)` selects (each with `event_id` and `payload`), numbered from `first_seq`, packed
    /// in chunks within `limits` and k_chunk_bytes (the last one may be smaller).
    template <class Events, class Keep>
    std::vector<PackedChunk> pack(const Events& events, Keep keep, const ChunkLimits& limits, std::int64_t first_seq)
    {
        std::vector<PackedChunk> chunks;
        clear();
        std::int64_t seq = first_seq;
        for (std::size_t i = 0; i < events.size(); ++i) {
            if (keep(i)) {
                if (!room_for(events[i].payload.size(), limits, seq)) {
                    chunks.push_back(take());
                }
                add(events[i].event_id, events[i].payload);
                ++seq;
            }
        }
        if (m_events > 0) {
            chunks.push_back(take());
        }
        return chunks;
    }
    /// Drops what is being packed.
    void clear();
    /// A stored chunk's events in the packed layout each_event() reads, into `out`: `format` k_chunk_packed
    /// inflates `data` (to exactly `raw_size` bytes), k_chunk_gzip decompresses `data` (to `raw_size` bytes)
    /// and `index` and interleaves them. False when the chunk does not decode whole.
    bool unpack(int format, std::string_view data, std::size_t raw_size, std::string_view index, std::string& out);
    /// Gives the buffers' memory back (after a burst).
    void release();

private:
    struct Igzip;
    /// `in` compressed at level 1 into m_compressed: a gzip member, or raw deflate (RFC 1951) when `gzip` is
    /// false. Its size; 0 when it did not compress (insert_chunk then refuses the chunk).
    std::size_t compress(std::string_view in, bool gzip);

    std::unique_ptr<Igzip> m_igzip;  ///< made at the first take(): a process that only reads never holds it
    libdeflate_decompressor* m_decompressor;
    std::string m_json;          ///< the payloads joined by commas
    std::string m_index;         ///< per event: the id's and the payload's sizes, the id
    std::string m_scratch_json;  ///< unpack()'s, apart from what is being packed
    std::string m_scratch_index;
    /// take()'s output before it is copied to its exact size: the compressor wants its room up front (a
    /// quarter of the input, the worst case for what does not compress), and a string of that room would
    /// keep its capacity.
    std::unique_ptr<char[]> m_compressed;
    std::size_t m_compressed_capacity = 0;
    std::size_t m_events = 0;
    std::size_t m_bytes = 0;
};

/// Runs one job at a time on a thread of its own, kept for the store's life (a thread per page cost more
/// than it saved). The caller waits for a job's future before it runs the next one.
class PackThread {
public:
    PackThread();
    ~PackThread();
    PackThread(const PackThread&) = delete;
    PackThread& operator=(const PackThread&) = delete;

    /// Starts `job` on the thread; its result (or exception) comes through the future.
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
    void loop(const std::stop_token& stop);

    std::mutex m_mutex;
    std::condition_variable_any m_wake;
    std::function<void()> m_job;
    std::jthread m_thread;  ///< last: started when everything it uses exists
};

/// Writes one chunk row (k_chunk_gzip) of `endpoint` holding seqs first_seq..first_seq + chunk.events - 1,
/// inside the caller's transaction. Its rowid, or nullopt (logged) when SQLite fails or the chunk could not
/// be compressed.
std::optional<std::int64_t> insert_chunk(SqliteConnection& db, std::int64_t endpoint, std::int64_t first_seq,
                                         const PackedChunk& chunk, std::int64_t enqueued_at);

}  // namespace c4c::infra
