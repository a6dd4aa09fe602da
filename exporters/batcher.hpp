#pragma once

// Cutting outbox rows into request bodies within an endpoint's limits (CONTRACT.md section 4: a batch
// never exceeds max_batch_events records or max_batch_bytes bytes of uncompressed JSON body), building
// the OTLP logs body, and gzip. Pure functions, no I/O.

#include "exporters/exporter.hpp"

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace c4c::exporters {

struct BatchLimits {
    std::size_t max_events = 1000;     ///< records per request (0 is taken as 1)
    std::size_t max_bytes = 4u << 20;  ///< uncompressed body bytes, envelope included
    std::size_t envelope_bytes = 0;    ///< logs_envelope_prefix().size() + logs_envelope_suffix().size()

    /// Bytes of payloads and commas a body may hold: max_bytes less the envelope (at least 1).
    std::size_t payload_budget() const { return max_bytes > envelope_bytes ? max_bytes - envelope_bytes : 1; }
};

/// Size of the uncompressed body for `rows`: envelope + payloads + one comma between payloads.
std::size_t logs_body_size(std::span<const OutboxRow> rows, std::size_t envelope_bytes);

/// Splits `rows` (in order) into consecutive batches, each within `limits.max_events` and whose body
/// (logs_body_size) is within `limits.max_bytes`. A row that alone exceeds max_bytes forms a batch of
/// its own (the endpoint will most likely refuse it with 413, and it is then moved aside).
/// Every row is in exactly one batch; no batch is empty.
std::vector<std::span<const OutboxRow>> split_batches(std::span<const OutboxRow> rows, const BatchLimits& limits);

/// The length of the first batch split_batches would make (0 only when `rows` is empty).
std::size_t first_batch_length(std::span<const OutboxRow> rows, const BatchLimits& limits);

/// prefix + payload,payload,... + logs_envelope_suffix(). `prefix` is logs_envelope_prefix(resource).
std::string build_logs_body(std::string_view prefix, std::span<const OutboxRow> rows);

/// The complete OTLP logs request body for `rows`.
std::string build_logs_body(const ResourceInfo& resource, std::span<const OutboxRow> rows);

/// The logs envelope of one endpoint as gzip members, made once: the prefix (up to and including
/// `"logRecords":[`), the comma between two chunks, and the suffix.
struct GzipEnvelope {
    std::string prefix;
    std::string comma;
    std::string suffix;
};
GzipEnvelope gzip_envelope(std::string_view prefix);

/// The gzip body of whole stored chunks (each a gzip member of its payloads joined by commas): the
/// envelope's members around them, a comma's member between them. RFC 1952 (section 2.2) lets a gzip file
/// be several members; a decoder that reads them all (zlib's inflate looping over members, Java's
/// GZIPInputStream, Go's gzip.Reader, Node's zlib, Python's gzip) yields exactly build_logs_body() of the
/// same rows.
std::string gzip_members_body(const GzipEnvelope& envelope, std::span<const std::string> members);

/// A gzip member (RFC 1952) of `data` at libdeflate level `level` (1..12, default 6). Throws std::bad_alloc only.
std::string gzip_compress(std::string_view data, int level = 6);

/// The decompressed content of gzip data (one or more members), or nullopt when it is not valid gzip,
/// is truncated, or would exceed `max_bytes` (zip-bomb guard). For tests and the simulator.
std::optional<std::string> gunzip(std::string_view data, std::size_t max_bytes = std::size_t{256} << 20);

}  // namespace c4c::exporters
