#pragma once

// Durations and sizes as the configuration writes them (CONTRACT.md section 2): "500ms", "30s", "5m";
// "4MiB", "512KiB", a number of bytes.

#include <chrono>
#include <cstddef>
#include <optional>
#include <string_view>

namespace c4c::infra {

/// The configuration's unit of time.
using Duration = std::chrono::milliseconds;

/// The longest duration a configuration may give: ten years (3650 days). A longer one is a typo, and
/// added to a steady_clock instant (nanoseconds) it would overflow, so the configuration rejects it.
inline constexpr Duration k_max_duration = std::chrono::hours(24 * 3650);

/// Parses "500ms", "30s", "5m", "2h", "1d" (and combinations such as "1h30m"). nullopt when invalid.
std::optional<Duration> parse_duration(std::string_view text);

/// Parses "4MiB", "512KiB", "1GiB", "1000", "10MB", "64kB". nullopt when invalid.
std::optional<std::size_t> parse_size(std::string_view text);

}  // namespace c4c::infra
