#pragma once

// How the outbox keeps events on disk: the new events of one page are one chunk (or a few, each at most
// k_chunk_bytes packed), a row of outbox_chunks. A chunk packs every event as its id's and its payload's
// sizes (4 bytes each, little-endian) followed by both, and is deflated as a whole (libdeflate level 1:
// about 10:1 on OTLP JSON, about 2 us per 1 kB event). ChunkPacker packs and inflates, PackThread runs a
// packing job beside the event loop, insert_chunk() writes a row.

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

struct libdeflate_compressor;
struct libdeflate_decompressor;

namespace c4c::infra {

/// A chunk is cut when its packed events reach this size: it bounds what reading one event inflates and
/// what storing a page deflates at once.
inline constexpr std::size_t k_chunk_bytes = std::size_t{1} << 20;

/// A chunk's events packed and deflated, before it is stored.
struct PackedChunk {
    std::size_t events = 0;
    std::size_t bytes = 0;     ///< payload bytes of its events
    std::size_t raw_size = 0;  ///< of the packed events
    std::string data;          ///< deflated (empty when deflating failed)
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

/// Packs events into chunks and deflates them, and inflates chunks. Buffers are reused. Used by one thread
/// at a time. Throws std::bad_alloc when libdeflate cannot be set up.
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
    std::size_t raw_size() const { return m_raw.size(); }
    /// The chunk being packed is as large as a chunk gets: take() it before adding more.
    bool full() const { return m_raw.size() >= k_chunk_bytes; }
    /// The packed events deflated, as one chunk; empties the packer.
    PackedChunk take();
    /// The events `keep(i)` selects (each with `event_id` and `payload`), packed in chunks of at most
    /// k_chunk_bytes (the last one may be smaller).
    template <class Events, class Keep>
    std::vector<PackedChunk> pack(const Events& events, Keep keep)
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
    /// Drops what is being packed.
    void clear();
    /// Inflates a chunk's data into `out`; false when it does not inflate to exactly `raw_size` bytes.
    bool inflate(std::string_view data, std::size_t raw_size, std::string& out);
    /// Gives the buffers' memory back (after a burst).
    void release();

private:
    libdeflate_compressor* m_compressor;
    libdeflate_decompressor* m_decompressor;
    std::string m_raw;
    std::string m_deflated;
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

/// Writes one chunk row of `endpoint` holding seqs first_seq..first_seq + chunk.events - 1, inside the
/// caller's transaction. Its rowid, or nullopt (logged) when SQLite fails or the chunk could not be deflated.
std::optional<std::int64_t> insert_chunk(SqliteConnection& db, std::int64_t endpoint, std::int64_t first_seq,
                                         const PackedChunk& chunk, std::int64_t enqueued_at);

}  // namespace c4c::infra
