#pragma once

// The tenant's clock as its answers show it (CONTRACT.md section 3): C4C and this host may disagree by
// minutes, and query bounds taken from the host's clock alone lose records when the tenant is behind.
// Every C4C answer's `Date` header is one sample; one TenantClock per tenant, shared by its sources.
// Used on the event loop only.

#include "collectors/collector.hpp"
#include "infra/logging.hpp"

#include <prometheus/gauge.h>

#include <chrono>
#include <optional>
#include <string_view>

namespace c4c::collectors {

/// One answer's `Date` against the host's clock around the exchange. `Date` (whole seconds, rounded
/// down) was written while the request was in flight, so the tenant's clock minus the host's lies in
/// [date - received, date + 1 s - sent].
struct ClockSample {
    std::chrono::milliseconds low{0};       ///< date - received: never above the true skew
    std::chrono::milliseconds estimate{0};  ///< the middle of the range, for the metric and log lines
};

/// The sample of one answer; nullopt when `date` is not an HTTP date (RFC 9110 section 5.6.7).
std::optional<ClockSample> clock_sample(std::string_view date, std::chrono::system_clock::time_point sent,
                                        std::chrono::system_clock::time_point received);

class TenantClock {
public:
    /// `skew_gauge` (may be null) receives every estimate, in seconds (tenant_clock_skew_seconds).
    explicit TenantClock(prometheus::Gauge* skew_gauge = nullptr) : m_gauge(skew_gauge) {}

    /// Records one answer's `Date` header value (an unreadable one is ignored). Returns the tenant's time
    /// when the request was sent, or earlier (date minus the round trip), or nullopt without a date.
    std::optional<std::chrono::system_clock::time_point> observe(std::string_view date,
                                                                 std::chrono::system_clock::time_point sent,
                                                                 std::chrono::system_clock::time_point received);
    /// `host_time` on the tenant's clock as of the latest answer, rounded towards the past (never ahead of
    /// the tenant's own clock by more than its drift since then); `host_time` while no answer had a date.
    std::chrono::system_clock::time_point tenant_time(std::chrono::system_clock::time_point host_time) const;
    /// Tenant clock minus host clock from the latest answer with a date (nullopt before the first).
    std::optional<std::chrono::milliseconds> skew() const;
    /// True at most once an hour while |skew| exceeds `limit`: the caller logs a warning then.
    bool warn_beyond(std::chrono::milliseconds limit);

private:
    prometheus::Gauge* m_gauge;
    std::optional<ClockSample> m_latest;
    infra::LogLimiter m_warn_log{std::chrono::hours(1)};
};

/// The start of the poll on the tenant's clock (context.now without a TenantClock).
std::chrono::system_clock::time_point tenant_now(const PollContext& context);

}  // namespace c4c::collectors
