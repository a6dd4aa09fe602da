#include "infra/outbox_chunks.hpp"

#include <libdeflate.h>

#include <new>
#include <utility>

namespace c4c::infra {

namespace {

void put_u32(std::string& out, std::size_t value)
{
    for (int shift = 0; shift < 32; shift += 8) {
        out.push_back(static_cast<char>((value >> shift) & 0xff));
    }
}

}  // namespace

ChunkPacker::ChunkPacker()
    : m_compressor(libdeflate_alloc_compressor(1)), m_decompressor(libdeflate_alloc_decompressor())
{
    if (!m_compressor || !m_decompressor) {
        throw std::bad_alloc();
    }
}

ChunkPacker::~ChunkPacker()
{
    libdeflate_free_compressor(m_compressor);
    libdeflate_free_decompressor(m_decompressor);
}

void ChunkPacker::add(std::string_view id, std::string_view payload)
{
    put_u32(m_raw, id.size());
    put_u32(m_raw, payload.size());
    m_raw.append(id);
    m_raw.append(payload);
    ++m_events;
    m_bytes += payload.size();
}

PackedChunk ChunkPacker::take()
{
    m_deflated.resize(libdeflate_deflate_compress_bound(m_compressor, m_raw.size()));
    const std::size_t size =
        libdeflate_deflate_compress(m_compressor, m_raw.data(), m_raw.size(), m_deflated.data(), m_deflated.size());
    PackedChunk chunk{m_events, m_bytes, m_raw.size(), m_deflated.substr(0, size)};
    clear();
    return chunk;
}

void ChunkPacker::clear()
{
    m_raw.clear();
    m_events = 0;
    m_bytes = 0;
}

bool ChunkPacker::inflate(std::string_view data, std::size_t raw_size, std::string& out)
{
    out.resize(raw_size);
    std::size_t actual = 0;
    return libdeflate_deflate_decompress(m_decompressor, data.data(), data.size(), out.data(), out.size(), &actual) ==
               LIBDEFLATE_SUCCESS &&
           actual == raw_size;
}

void ChunkPacker::release()
{
    std::string().swap(m_raw);
    std::string().swap(m_deflated);
}

PackThread::PackThread() : m_thread([this](const std::stop_token& stop) { loop(stop); }) {}

PackThread::~PackThread()
{
    m_thread.request_stop();
    m_wake.notify_all();
}

void PackThread::loop(const std::stop_token& stop)
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

std::optional<std::int64_t> insert_chunk(SqliteConnection& db, std::int64_t endpoint, std::int64_t first_seq,
                                         const PackedChunk& chunk, std::int64_t enqueued_at)
{
    ScopedStatement insert(db.prepare("INSERT INTO outbox_chunks (endpoint, first_seq, last_seq, bytes, raw_size, "
                                      "enqueued_at, data) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"));
    if (!insert) {
        return std::nullopt;
    }
    insert.integer(1, endpoint);
    insert.integer(2, first_seq);
    insert.integer(3, first_seq + static_cast<std::int64_t>(chunk.events) - 1);
    insert.integer(4, static_cast<std::int64_t>(chunk.bytes));
    insert.integer(5, static_cast<std::int64_t>(chunk.raw_size));
    insert.integer(6, enqueued_at);
    insert.blob(7, chunk.data);
    if (chunk.data.empty() || insert.step() != SQLITE_DONE) {
        db.log_failure("storing events");
        return std::nullopt;
    }
    return sqlite3_last_insert_rowid(db.handle());
}

}  // namespace c4c::infra
