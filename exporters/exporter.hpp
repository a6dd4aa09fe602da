#pragma once

// The extension point for delivery: an exporter delivers one endpoint's data to Cloud ALM, either the
// events of its durable outbox (logs) or the daemon's snapshot of the tenant at each push (Health
// Monitoring). Rows leave the outbox only after the endpoint answered 2xx (at-least-once delivery).
// Each kind of endpoint is an ExporterKind (below); the kinds that exist are listed in one table,
// exporters/registry.cpp.

#include "exporters/endpoint_config.hpp"
#include "infra/http/client.hpp"
#include "infra/state_store.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace c4c::exporters {

/// One stored event: its OTLP logRecord JSON object, encoded once at enqueue time (otlp_json.hpp), as
/// the state store keeps it.
using OutboxRow = infra::StoredEvent;

/// Whole chunks of the outbox as they are stored: their events' payloads joined by commas, one gzip member
/// per chunk, sent without inflating them (infra/state_store.hpp).
using CompressedRows = infra::CompressedEvents;

/// One endpoint's queue in the state store. Implemented by the daemon; synchronous, runs on the event
/// loop, never throws (failures are logged by the store and reported as false / empty).
class Outbox {
public:
    virtual ~Outbox() = default;
    /// Up to `max_events` oldest rows with a seq above `after` (0: from the head; an exporter with a batch
    /// in flight reads the rows behind it), stopping before the row that would make the payloads' total
    /// exceed `max_bytes` (but always at least one row when any is queued).
    virtual std::vector<OutboxRow> peek(std::size_t max_events, std::size_t max_bytes, std::int64_t after) = 0;
    /// Takes delivered rows out (after a 2xx). Cheapest for the oldest rows: acknowledge batches in the
    /// order they were peeked. False when the store failed (they will be sent again).
    virtual bool remove(std::span<const OutboxRow> rows) = 0;
    /// Moves a row the endpoint refuses for good into the rejected table, keeping it on disk.
    virtual bool reject(const OutboxRow& row, std::string_view answer) = 0;
    /// Rows queued.
    virtual std::size_t size() = 0;
    /// The oldest whole chunks behind seq `after` as gzip members, within `max_events` and `max_json_bytes`
    /// (the payloads and the commas between them); nullopt when the next row does not start such a chunk:
    /// then peek() reads the rows. An outbox that stores no gzip members has none.
    virtual std::optional<CompressedRows> peek_compressed(std::size_t /*max_events*/, std::size_t /*max_json_bytes*/,
                                                          std::int64_t /*after*/)
    {
        return std::nullopt;
    }
    /// Takes delivered rows of peek_compressed() out. False when the store failed.
    virtual bool remove_compressed(const CompressedRows& /*rows*/) { return false; }
    /// Where a batch of the rows first_seq..last_seq should end so that the batch behind it starts a chunk
    /// peek_compressed() can take (last_seq when none does).
    virtual std::int64_t aligned_end(std::int64_t /*first_seq*/, std::int64_t last_seq) { return last_seq; }
};

/// Why one request to an endpoint, or to its OAuth2 token endpoint, failed. label() is the `reason` label of
/// endpoint_send_failures_total (CONTRACT.md section 6) and the reason an endpoint's delivery state records.
struct SendFailure {
    enum class Kind {
        none,          ///< no failure
        network,       ///< the exchange did not complete: `error` says how (timeout, connect, tls, ...)
        http_status,   ///< the endpoint answered `http_status`, not a 2xx
        auth,          ///< the token endpoint refused the client, or its 2xx held no usable bearer token
        token_status,  ///< the token endpoint answered `http_status` otherwise
        cancelled,     ///< shutdown cancelled the exchange
    };
    Kind kind = Kind::none;
    unsigned http_status = 0;         ///< Kind::http_status and Kind::token_status only
    boost::system::error_code error;  ///< Kind::network only: what the HTTP client reported

    SendFailure() = default;
    SendFailure(Kind failure) : kind(failure) {}  // implicit: `reason = Kind::auth` says it all
    /// The endpoint answered `status`.
    static SendFailure http(unsigned status);
    /// The token endpoint answered `status`.
    static SendFailure token_http(unsigned status);
    /// The HTTP client failed with `error`.
    static SendFailure network(boost::system::error_code error);

    bool operator==(Kind other) const { return kind == other; }
    /// The metric label: "" for none, "http_<status>", "token_http_<status>", "auth", "cancelled", or the
    /// client's reason_label for network ("timeout", "connect", "tls", ...).
    std::string label() const;
};

/// Receives delivery figures for the endpoint metrics of CONTRACT.md section 6.
class DeliveryObserver {
public:
    virtual ~DeliveryObserver() = default;
    /// `count` events were accepted (2xx) in `elapsed`.
    virtual void sent(std::size_t count, std::chrono::duration<double> elapsed) = 0;
    /// One send failed, for `reason` (its label() is the metric label: "http_503", "timeout", "auth", ...).
    virtual void failed(const SendFailure& reason) = 0;
    /// `count` events were moved aside as rejected.
    virtual void rejected(std::size_t count) = 0;
    /// The endpoint is paused (401/403: `why` is the answer or the token endpoint's failure; or it refuses
    /// every request) or resumed (`why` empty).
    virtual void paused(bool paused, std::string_view why) = 0;
    /// The endpoint accepts requests (true), or is paused or unreachable (false); called on changes only,
    /// and up until told otherwise.
    virtual void endpoint_up(bool up) = 0;
};

/// The resource that every batch of one endpoint describes (CONTRACT.md section 4).
struct ResourceInfo {
    std::string tenant;
    std::string c4c_url;
    std::string use_case;
};

class Exporter {
public:
    virtual ~Exporter() = default;
    /// Delivers until cancelled (shutdown): sends whatever the outbox holds, then waits for notify() or
    /// a retry timer. Retries 429/5xx/timeouts with backoff honouring Retry-After, splits batches on
    /// 400/413, pauses on 401/403 and while every request is refused. Runs on the event loop; never
    /// throws except on cancellation.
    virtual boost::asio::awaitable<void> run() = 0;
    /// Delivers what is queued now and returns true when the outbox is empty, false when something
    /// is left (endpoint failing, paused or refusing): for `--once`. Retries transient failures within
    /// `budget` wall time. An exporter without an outbox pushes once and returns whether it was accepted.
    virtual boost::asio::awaitable<bool> drain(std::chrono::milliseconds budget) = 0;
    /// Wakes run() after new rows were committed.
    virtual void notify() = 0;
};

struct MetricPoint;  // otlp_json.hpp

/// Where an endpoint's data comes from.
enum class EndpointFeed {
    outbox,    ///< the events that the sources of its use case store: OTLP logs, through the outbox
    snapshot,  ///< the daemon's view of the tenant, taken at each push: OTLP metrics, no outbox
};

/// Everything an exporter is built with. Owned by the daemon; outlives the exporter.
struct ExporterContext {
    using Snapshot = std::function<std::vector<MetricPoint>()>;

    boost::asio::any_io_executor executor;  ///< the event loop
    const EndpointConfig& endpoint;
    ResourceInfo resource;
    infra::http::Client& client;
    DeliveryObserver& observer;
    Outbox* outbox = nullptr;  ///< EndpointFeed::outbox: the endpoint's queue
    Snapshot snapshot;         ///< EndpointFeed::snapshot: the points of one push, called at each push
};

/// One row of the exporter table: everything the configuration and the daemon know of a kind of endpoint.
struct ExporterKind {
    std::string_view name;      ///< for messages: "logs", "health_monitoring"
    std::string_view use_case;  ///< the one endpoint key it serves; empty: each use case a collector feeds
    EndpointFeed feed;
    /// Keys only this kind's endpoints take; an endpoint of another kind reports them as not applying.
    std::span<const std::string_view> own_keys;
    /// Reads `own_keys` into `endpoint` (the keys every endpoint has are read already), reporting
    /// problems through `reader`. nullptr: no keys of its own.
    void (*read_settings)(infra::ConfigReader& reader, infra::ConfigSection& section, EndpointConfig& endpoint);
    /// The exporter of one endpoint of one tenant. Throws only at start-up.
    std::unique_ptr<Exporter> (*make)(const ExporterContext& context);
};

/// Every exporter that exists, in one place (exporters/registry.cpp), in the order messages list them.
std::span<const ExporterKind* const> exporter_kinds();

/// The kind that serves the endpoint `use_case`: the one naming it, else the one serving every use case
/// a collector feeds (`fed_by_collector`); nullptr when none does.
const ExporterKind* find_exporter_kind(std::span<const ExporterKind* const> kinds, std::string_view use_case,
                                       bool fed_by_collector);

}  // namespace c4c::exporters
