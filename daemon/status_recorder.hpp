#pragma once

// What the daemon writes down for `status` (daemon/status.hpp), so that the command reads it from the
// state store whether or not the daemon runs: each poll's outcome (one small row per source, replaced at
// every poll) and each change of an endpoint's delivery state (a row written only when it changes).
// Used on the event loop; a failed write is logged by the store and costs nothing else.

#include "collectors/collector.hpp"
#include "infra/state_store.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace c4c::daemon {

/// Records the outcome of one poll of `source` of `tenant`, finished at `now`.
void record_poll(infra::StateStore& store, std::string_view tenant, std::string_view source,
                 const collectors::PollOutcome& outcome, std::chrono::system_clock::time_point now);

/// An endpoint's delivery state as its exporter reports it (exporters::DeliveryObserver): "paused" from
/// paused(true) until paused(false) or an accepted batch, "retrying" from a failed send until the next
/// accepted batch or set-aside record (a refused batch fails before it is split), "ok" otherwise. A paused
/// endpoint stays paused through the failures of its retries.
class DeliveryRecorder {
public:
    /// Records nothing until start(); a null or read-only store (--dry-run) records nothing at all.
    DeliveryRecorder(infra::StateStore* store, std::int64_t endpoint);

    /// Records "ok": a new exporter starts unpaused. (Not the constructor: a reload builds endpoints
    /// that it may then discard while the running ones go on.)
    void start();

    void sent();
    void rejected();
    void failed(std::string_view reason);
    void paused(bool paused, std::string_view why);

private:
    void set(std::string_view state, std::string_view reason);

    infra::StateStore* m_store;
    std::int64_t m_endpoint;
    std::string m_state;
    std::string m_reason;
    std::int64_t m_since_ms = 0;  ///< when m_state began
};

}  // namespace c4c::daemon
