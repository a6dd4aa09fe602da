#pragma once

// The fake SAP Cloud ALM ingestion API: OTLP/HTTP JSON logs (POST /api/calm-logs/v1/logs) and
// metrics (POST /api/calm-metrics/v1/metrics), optionally gzip-compressed, with no auth, Basic auth,
// or OAuth2 client credentials (POST /oauth/token issuing bearer tokens). It validates the payload
// shape, counts per use case, and keeps every received record for the control API.

#include "tests/fakes/faults.hpp"
#include "tests/fakes/http_util.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace c4c::sim {

struct SinkOptions {
    std::optional<std::pair<std::string, std::string>> basic;         ///< --sink-user / --sink-password
    std::optional<std::pair<std::string, std::string>> oauth_client;  ///< --oauth-client ID:SECRET
    std::int64_t token_ttl_s = 3600;
    std::uint64_t seed = 1;
};

class AlmSink {
public:
    AlmSink(SinkOptions options, Faults& faults);
    AlmSink(const AlmSink&) = delete;  // m_record_index views the records and use cases it holds
    AlmSink& operator=(const AlmSink&) = delete;

    /// POST /api/calm-logs/v1/logs (faults applied here).
    ServerResponse handle_logs(const ServerRequest& request);
    /// POST /api/calm-metrics/v1/metrics (faults applied here).
    ServerResponse handle_metrics(const ServerRequest& request);
    /// POST /oauth/token (faults applied here); 404 when OAuth is not configured.
    ServerResponse handle_token(const ServerRequest& request);

    /// {"<use_case>": {"requests":..,"records":..,"unique":..,"duplicates":..,"gzip_requests":..,
    ///  "max_batch_records":..,"max_body_bytes":..}}
    nlohmann::json use_case_stats() const;
    /// {"records":[...]} for one use case, or every use case when `use_case` is empty.
    nlohmann::json received(const std::string& use_case) const;
    /// {"bodies":[...]}: the last metrics bodies, oldest first.
    nlohmann::json metrics_received() const;
    std::uint64_t metrics_posts() const { return m_metrics_posts; }
    std::uint64_t tokens_issued() const { return m_tokens_issued; }
    std::uint64_t auth_failures() const { return m_auth_failures; }
    /// Clears received data and counters (issued tokens stay valid).
    void reset();

private:
    struct UseCaseStats {
        std::uint64_t requests = 0;
        std::uint64_t records = 0;
        std::uint64_t unique = 0;
        std::uint64_t duplicates = 0;
        std::uint64_t gzip_requests = 0;
        std::uint64_t max_batch_records = 0;
        std::uint64_t max_body_bytes = 0;
    };
    /// A distinct record. Its other fields stay in the kept request body until received() asks.
    struct Record {
        std::string_view use_case;  ///< one of m_use_cases
        std::string event_id;
        std::uint64_t count = 0;
        std::uint32_t body = 0;     ///< index into m_bodies
        std::uint32_t ordinal = 0;  ///< position among that body's log records
    };
    struct KeptBody {
        std::string data;  ///< as received (gzip-compressed when `gzip`)
        bool gzip = false;
    };

    /// Checks auth; nullopt when the request may proceed.
    std::optional<ServerResponse> check_auth(const ServerRequest& request);
    /// An OTLP post that passed accept_post().
    struct Post {
        std::string inflated;  ///< the body when it came gzip-compressed
        bool gzip = false;
        std::optional<FaultRule> fault;  ///< to apply to the answer (a fault that answers instead ends in `error`)
        /// The JSON text: `inflated`, or the body of `request` when it came uncompressed.
        std::string_view json(const ServerRequest& request) const { return gzip ? inflated : request.body; }
    };
    /// The checks of every OTLP endpoint `kind` ("logs", "metrics"), in order: POST, a fault that answers
    /// instead, auth, Content-Type, Content-Encoding. On failure returns nullopt, the answer in `error`.
    std::optional<Post> accept_post(const ServerRequest& request, std::string_view kind,
                                    std::optional<ServerResponse>& error);

    SinkOptions m_options;
    Faults& m_faults;
    std::map<std::string, UseCaseStats> m_stats;
    std::set<std::string, std::less<>> m_use_cases;  ///< every use case named, each stored once
    std::deque<Record> m_records;                    ///< a deque: m_record_index views its elements' fields
    std::vector<KeptBody> m_bodies;
    /// received() entries of m_records[0, size()) (without "count"), made when first asked for.
    mutable std::vector<nlohmann::json> m_materialized;
    /// A record's use case (one of m_use_cases, compared by address) and event id, viewing its fields.
    struct RecordKey {
        std::string_view use_case;
        std::string_view event_id;
        bool operator==(const RecordKey& other) const
        {
            return use_case.data() == other.use_case.data() && event_id == other.event_id;
        }
    };
    struct RecordKeyHash {
        std::size_t operator()(const RecordKey& key) const
        {
            return std::hash<std::string_view>()(key.event_id) ^ std::hash<const void*>()(key.use_case.data());
        }
    };
    std::unordered_map<RecordKey, std::size_t, RecordKeyHash> m_record_index;  ///< into m_records
    std::deque<nlohmann::json> m_metrics;
    std::uint64_t m_metrics_posts = 0;
    std::uint64_t m_tokens_issued = 0;
    std::uint64_t m_auth_failures = 0;
    std::unordered_map<std::string, std::int64_t> m_tokens;  ///< token -> expiry (ms)
    std::uint64_t m_token_counter = 0;
};

}  // namespace c4c::sim
