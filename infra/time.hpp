#pragma once

// Calendar arithmetic on UTC instants, built on the C++20 <chrono> calendar (year_month_day, sys_days,
// hh_mm_ss): the civil date and time of unix seconds and back, the ISO 8601 text of an instant and back, and time
// points as unix milli- and nanoseconds. Proleptic Gregorian calendar, years -32767 to 32767 (the range
// of std::chrono::year). Pure functions.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace c4c::infra {

/// Unix seconds beyond which (the year 2255) nanoseconds since the epoch no longer fit system_clock.
inline constexpr std::int64_t k_max_unix_seconds = 9'000'000'000;

/// A date and time of day on the proleptic Gregorian calendar, without a zone, in whole seconds.
struct CivilTime {
    int year = 1970;
    int month = 1;   ///< 1..12
    int day = 1;     ///< 1..31
    int hour = 0;    ///< 0..23
    int minute = 0;  ///< 0..59
    int second = 0;  ///< 0..59
    friend bool operator==(const CivilTime&, const CivilTime&) = default;
};

/// True when the date exists: month 1..12 and a day the month has (29 February in leap years only).
bool valid_date(int year, int month, int day);

/// Days since 1970-01-01 of a date (month 1..12; a day past the month's end counts on into the next).
std::int64_t days_from_civil(int year, int month, int day);

/// Seconds since the epoch of `civil` read as UTC. The time of day is not range-checked: hour 24 (the
/// end of a day in ISO 8601) and second 60 (a leap second) count on into the next day or minute.
std::int64_t civil_to_seconds(const CivilTime& civil);

/// The UTC civil time of `unix_seconds`.
CivilTime seconds_to_civil(std::int64_t unix_seconds);

/// `YYYY-MM-DDThh:mm:ss.fffZ` of an instant in unix milliseconds (negative: before 1970). Years outside
/// 0..9999 are written with as many digits as they have.
std::string format_iso8601_ms(std::int64_t unix_ms);
/// The same for a time point, truncated to milliseconds.
std::string format_iso8601_ms(std::chrono::system_clock::time_point time);
/// `YYYY-MM-DDThh:mm:ss[.fff|.ffffff|.fffffffff]Z` of unix nanoseconds: the shortest that loses nothing.
std::string format_iso8601_ns(std::int64_t unix_ns);

/// Parses an ISO 8601 / xsd:dateTime instant, `YYYY-MM-DDThh:mm:ss[.f...][Z|+hh:mm|-hh:mm|+hhmm]`, into
/// unix nanoseconds. Fractions of any length are truncated to nanoseconds; a value without a zone is UTC
/// (SAP's GLOBAL_DateTime is always UTC); surrounding whitespace is ignored. nullopt for anything else,
/// including impossible dates and instants outside the int64 nanosecond range (years 1678-2261).
std::optional<std::int64_t> parse_iso8601_ns(std::string_view text);

/// Nanoseconds since the epoch of `time` (OTLP's timeUnixNano).
std::int64_t unix_nanos(std::chrono::system_clock::time_point time);
/// Milliseconds since the epoch of `time`, truncated toward zero.
std::int64_t unix_millis(std::chrono::system_clock::time_point time);

}  // namespace c4c::infra
