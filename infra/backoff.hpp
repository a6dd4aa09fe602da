#pragma once

// Retry pacing shared by collectors and exporters: exponential backoff with full jitter, and the
// HTTP `Retry-After` header (delta-seconds or HTTP-date).

#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <string_view>

namespace c4c::infra {

/// Exponential backoff: attempt n waits a random time in [base*2^n / 2, base*2^n], capped at `max`.
class Backoff {
public:
    Backoff(std::chrono::milliseconds base, std::chrono::milliseconds max);
    /// The delay before the next attempt; each call doubles the ceiling until `max`.
    std::chrono::milliseconds next();
    /// Back to the first step (after a success).
    void reset();
    unsigned attempts() const { return m_attempt; }

private:
    std::chrono::milliseconds m_base;
    std::chrono::milliseconds m_max;
    unsigned m_attempt = 0;
    std::minstd_rand m_random;
};

/// Parses a Retry-After value: delta-seconds ("120") or an IMF-fixdate ("Wed, 21 Oct 2015 07:28:00 GMT",
/// also RFC 850 and asctime forms). Returns the wait from `now` (zero for a date in the past), or nullopt
/// when the value is malformed. Values are capped at one day.
std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value,
                                                           std::chrono::system_clock::time_point now);

/// Parses an HTTP date (IMF-fixdate, RFC 850 or asctime form, RFC 9110 section 5.6.7; a one-digit day
/// is tolerated) into unix seconds; nullopt unless the whole value is one naming a real date in years 1
/// to 9999. Used for Retry-After and for a peer's `Date` header.
std::optional<std::int64_t> parse_http_date(std::string_view text);

/// A random fraction of `period` in [0, fraction*period], to spread periodic work.
std::chrono::milliseconds jitter(std::chrono::milliseconds period, double fraction);

}  // namespace c4c::infra
