#include "infra/outbox_chunks.hpp"

#include <isa-l/igzip_lib.h>
#include <libdeflate.h>

#include <limits>
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

/// ISA-L's igzip compresses these payloads three times as fast as libdeflate at level 1, to the same size
/// (bench/README.md, issue 16); its stateless level 1 needs a stream (~80 KiB) and a level buffer.
struct ChunkPacker::Igzip {
    isal_zstream stream;
    std::uint8_t level_buf[ISAL_DEF_LVL1_SMALL];
};

ChunkPacker::ChunkPacker() : m_decompressor(libdeflate_alloc_decompressor())
{
    if (!m_decompressor) {
        throw std::bad_alloc();
    }
}

ChunkPacker::~ChunkPacker()
{
    libdeflate_free_decompressor(m_decompressor);
}

std::size_t ChunkPacker::compress(std::string_view in, bool gzip)
{
    // Stored blocks (at most 65535 bytes, 5 bytes of header each) are the worst case; the gzip header and
    // trailer are 18 bytes. igzip falls back to them when compressing does not pay.
    const std::size_t bound = in.size() + (in.size() / 65535 + 1) * 5 + 18 + 64;
    if (bound > std::numeric_limits<std::uint32_t>::max()) {
        return 0;  // chunks are cut at k_chunk_bytes: never
    }
    if (!m_igzip) {
        m_igzip = std::make_unique_for_overwrite<Igzip>();
    }
    // OTLP JSON compresses about ten to one: a quarter of the input is room enough, and the scratch
    // buffer stays a quarter of a chunk. Only what does not compress is compressed again with room for
    // the worst case.
    for (const std::size_t room : {std::min(in.size() / 4 + 4096, bound), bound}) {
        if (m_compressed_capacity < room) {
            m_compressed = std::make_unique_for_overwrite<char[]>(room);
            m_compressed_capacity = room;
        }
        isal_zstream& stream = m_igzip->stream;
        isal_deflate_stateless_init(&stream);
        stream.level = 1;
        stream.level_buf = m_igzip->level_buf;
        stream.level_buf_size = sizeof(m_igzip->level_buf);
        stream.gzip_flag = gzip ? IGZIP_GZIP : IGZIP_DEFLATE;
        stream.end_of_stream = 1;
        stream.flush = NO_FLUSH;
        // igzip only reads the input, whatever the missing const says.
        stream.next_in = reinterpret_cast<std::uint8_t*>(const_cast<char*>(in.data()));
        stream.avail_in = static_cast<std::uint32_t>(in.size());
        stream.next_out = reinterpret_cast<std::uint8_t*>(m_compressed.get());
        stream.avail_out = static_cast<std::uint32_t>(room);
        const int result = isal_deflate_stateless(&stream);
        if (result == COMP_OK && stream.avail_in == 0) {
            return stream.total_out;
        }
        if (result != STATELESS_OVERFLOW) {
            return 0;
        }
    }
    return 0;
}

void ChunkPacker::add(std::string_view id, std::string_view payload)
{
    if (m_events > 0) {
        m_json.push_back(',');
    }
    m_json.append(payload);
    put_u32(m_index, id.size());
    put_u32(m_index, payload.size());
    m_index.append(id);
    ++m_events;
    m_bytes += payload.size();
}

bool ChunkPacker::room_for(std::size_t payload_size, const ChunkLimits& limits, std::int64_t seq) const
{
    const bool batch_start = seq > 0 && (static_cast<std::size_t>(seq) - 1) % limits.max_events == 0;
    return m_events == 0 ||
           (!batch_start && m_events < limits.max_events && m_json.size() + 1 + payload_size <= limits.max_json_bytes &&
            m_json.size() + m_index.size() < k_chunk_bytes);
}

PackedChunk ChunkPacker::take()
{
    PackedChunk chunk{m_events, m_bytes, m_json.size(), {}, {}};
    const std::size_t size = compress(m_json, true);
    chunk.data.assign(m_compressed.get(), size);
    put_u32(chunk.index, m_index.size());
    const std::size_t index_size = compress(m_index, false);
    chunk.index.append(m_compressed.get(), index_size);
    if (size == 0 || index_size == 0) {
        chunk.data.clear();  // insert_chunk refuses it
    }
    clear();
    return chunk;
}

void ChunkPacker::clear()
{
    m_json.clear();
    m_index.clear();
    m_events = 0;
    m_bytes = 0;
}

bool ChunkPacker::unpack(int format, std::string_view data, std::size_t raw_size, std::string_view index,
                         std::string& out)
{
    std::size_t actual = 0;
    if (format == k_chunk_packed) {
        out.resize(raw_size);
        return libdeflate_deflate_decompress(m_decompressor, data.data(), data.size(), out.data(), out.size(),
                                             &actual) == LIBDEFLATE_SUCCESS &&
               actual == raw_size;
    }
    if (format != k_chunk_gzip || index.size() < 4) {
        return false;
    }
    std::size_t index_size = 0;
    for (int i = 3; i >= 0; --i) {
        index_size = (index_size << 8) | static_cast<unsigned char>(index[static_cast<std::size_t>(i)]);
    }
    m_scratch_json.resize(raw_size);
    m_scratch_index.resize(index_size);
    // libdeflate_gzip_decompress checks the member's CRC-32 and size.
    if (libdeflate_gzip_decompress(m_decompressor, data.data(), data.size(), m_scratch_json.data(),
                                   m_scratch_json.size(), &actual) != LIBDEFLATE_SUCCESS ||
        actual != raw_size ||
        libdeflate_deflate_decompress(m_decompressor, index.data() + 4, index.size() - 4, m_scratch_index.data(),
                                      m_scratch_index.size(), &actual) != LIBDEFLATE_SUCCESS ||
        actual != index_size) {
        return false;
    }
    // The packed layout again: the index gives each payload's size, the payloads are separated by one comma.
    out.clear();
    out.reserve(raw_size + index_size);
    const std::string_view json = m_scratch_json;
    std::size_t at = 0;
    bool first = true;
    std::size_t pos = 0;
    const std::string_view packed_index = m_scratch_index;
    while (pos < packed_index.size()) {
        if (packed_index.size() - pos < 8) {
            return false;
        }
        std::size_t id_size = 0;
        std::size_t payload_size = 0;
        for (int i = 3; i >= 0; --i) {
            id_size = (id_size << 8) | static_cast<unsigned char>(packed_index[pos + static_cast<std::size_t>(i)]);
            payload_size =
                (payload_size << 8) | static_cast<unsigned char>(packed_index[pos + 4 + static_cast<std::size_t>(i)]);
        }
        if (packed_index.size() - pos - 8 < id_size) {
            return false;
        }
        if (!std::exchange(first, false)) {
            if (at >= json.size() || json[at] != ',') {
                return false;
            }
            ++at;
        }
        if (json.size() - at < payload_size) {
            return false;
        }
        out.append(packed_index.substr(pos, 8 + id_size));
        out.append(json.substr(at, payload_size));
        at += payload_size;
        pos += 8 + id_size;
    }
    return at == json.size();
}

void ChunkPacker::release()
{
    std::string().swap(m_json);
    std::string().swap(m_index);
    std::string().swap(m_scratch_json);
    std::string().swap(m_scratch_index);
    m_compressed.reset();
    m_compressed_capacity = 0;
    m_igzip.reset();
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
                                      "enqueued_at, data, format, idx) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"));
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
    insert.integer(8, k_chunk_gzip);
    insert.blob(9, chunk.index);
    if (chunk.data.empty() || insert.step() != SQLITE_DONE) {
        db.log_failure("storing events");
        return std::nullopt;
    }
    return sqlite3_last_insert_rowid(db.handle());
}

}  // namespace c4c::infra
