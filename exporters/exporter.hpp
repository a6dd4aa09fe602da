#pragma once

// The extension point for delivery: an exporter drains one endpoint's durable outbox to Cloud ALM.
// Rows leave the outbox only after the endpoint answered 2xx (at-least-once delivery).

#include "infra/config.hpp"
#include "infra/state_store.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace c4c::exporters {

/// One stored event: its OTLP logRecord JSON object, encoded once at enqueue time (otlp_json.hpp), as
/// the state store keeps it.
using OutboxRow = infra::StoredEvent;

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
};

/// Receives delivery figures for the endpoint metrics of CONTRACT.md section 6.
class DeliveryObserver {
public:
    virtual ~DeliveryObserver() = default;
    /// `count` events were accepted (2xx) in `elapsed`.
    virtual void sent(std::size_t count, std::chrono::duration<double> elapsed) = 0;
    /// One send failed; reason is a label: "http_503", "timeout", "auth", "tls", ...
    virtual void failed(std::string_view reason) = 0;
    /// `count` events were moved aside as rejected.
    virtual void rejected(std::size_t count) = 0;
    /// The endpoint is paused (401/403: `why` is the answer, or the token endpoint's failure) or resumed
    /// (`why` empty).
    virtual void paused(bool paused, std::string_view why) = 0;
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
    /// 400/413, pauses on 401/403. Runs on the event loop; never throws except on cancellation.
    virtual boost::asio::awaitable<void> run() = 0;
    /// Delivers what is queued now and returns true when the outbox is empty, false when something
    /// is left (endpoint failing, paused or refusing): for `--once`. Retries transient failures within
    /// `budget` wall time.
    virtual boost::asio::awaitable<bool> drain(std::chrono::milliseconds budget) = 0;
    /// Wakes run() after new rows were committed.
    virtual void notify() = 0;
};

} // namespace c4c::exporters
