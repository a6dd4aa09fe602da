#pragma once

// Polling. poll_source() is one poll of one source with its bookkeeping (figures, metrics, rate-limited
// log lines); run_source() is the periodic loop of one source: a random first delay within `spread`,
// then one poll per `interval` planned from the start of the previous one (how late a poll starts is
// the source_schedule_lag_seconds histogram), an error backoff (5 s doubling up to the interval) after
// a failure, the full interval after a 401/403, at most 5 s while the endpoint's outbox is full. Both
// run on the event loop. A collector that throws (which it must not) fails that poll only: reason
// `internal`, counted and logged like any failure, then the error backoff; the loop never ends on it.

#include "collectors/collector.hpp"
#include "daemon/runtime.hpp"
#include "infra/units.hpp"

#include <boost/asio/awaitable.hpp>

#include <cstddef>
#include <filesystem>

namespace c4c::daemon {

/// One poll of `source` now; records its outcome in the source's figures and metrics and logs failures.
/// An exception escaping the collector becomes a failed outcome with reason `internal` (logged at every
/// occurrence, with tenant and source), or `cancelled` when the poll was being cancelled. Never throws.
boost::asio::awaitable<collectors::PollOutcome> poll_source(TenantRuntime& tenant, SourceRuntime& source,
                                                            const std::filesystem::path& state_dir);

/// Polls `source` periodically until cancelled. Returns on cancellation; never throws otherwise.
boost::asio::awaitable<void> run_source(TenantRuntime& tenant, SourceRuntime& source, std::filesystem::path state_dir,
                                        infra::Duration spread);

/// The window over which first polls are spread: 20 ms per configured source, at most 5 s, so that many
/// tenants do not all poll at once while a small installation starts at once.
infra::Duration first_poll_spread(std::size_t sources);

}  // namespace c4c::daemon
