#pragma once

// SAP time-zone codes (table TTZZ: "CET", "EST", "AUSNSW", ...) and the conversion of an SAP local
// wall-clock time to UTC, as Response Time Analysis rows need it ("25.11.2026 23:41:12 CET").
//
// Zone rules come from the system tz database (TZif files under /usr/share/zoneinfo, or $TZDIR when
// set), parsed here: transitions from the 64-bit (v2+) data block and, beyond the last transition, the
// POSIX TZ footer rule (slim files rely on it for every current year). The process-global TZ
// environment is never read or changed, so conversions are safe from any thread. Parsed zones are
// cached for the life of the process (the cache is mutex-guarded).

#include "infra/time.hpp"

#include <boost/assert/source_location.hpp>
#include <boost/system/result.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace c4c::collectors {

enum class TimeErrc {
    unknown_zone = 1,     ///< the SAP code is not in the table (never guessed)
    zone_unreadable,      ///< the tz database file is missing or not valid TZif
    malformed_timestamp,  ///< the text is not "DD.MM.YYYY hh:mm:ss TZ"
    invalid_time,         ///< a field is out of range (31.02., 25:00, ...)
};

struct TimeError {
    TimeErrc code = TimeErrc::malformed_timestamp;
    std::string message;  ///< one line, e.g. "unknown SAP time zone 'XYZ'"
};

/// Only reached through result::value() on an error; throws std::runtime_error with the message.
[[noreturn]] void throw_exception_from_error(const TimeError& error, const boost::source_location& location);

template <class T>
using TimeResult = boost::system::result<T, TimeError>;

// A wall-clock date and time (no zone) and its arithmetic are infra's (infra/time.hpp). Fields are
// range-checked where they are used.
using infra::civil_to_seconds;
using infra::CivilTime;
using infra::days_from_civil;
using infra::seconds_to_civil;

/// The rules of one zone: TZif transitions, their local time types, and the POSIX footer rule.
class TimeZone {
public:
    /// Parses a TZif file's content (RFC 8536; v1 and v2+). Errors name what is wrong.
    static TimeResult<TimeZone> from_tzif(std::string_view bytes);
    /// A zone from a POSIX TZ string alone ("EST5EDT,M3.2.0,M11.1.0", "<+0530>-5:30", "UTC0").
    static TimeResult<TimeZone> from_posix(std::string_view tz);
    /// A zone with a fixed UTC offset and no daylight saving.
    static TimeZone fixed(std::int32_t utc_offset_seconds);

    /// The UTC offset (seconds east of Greenwich) in effect at `unix_seconds`.
    std::int32_t offset_at(std::int64_t unix_seconds) const;

    /// The UTC instant of a local wall-clock time given as seconds since the epoch (the local fields
    /// read as if they were UTC). A time that occurs twice (fall back) resolves to its first
    /// occurrence (the daylight-saving one); a time that does not exist (spring forward) is moved
    /// forward by the gap, i.e. read with the offset in effect before the transition: 02:30 on a
    /// day New York jumps from 02:00 EST to 03:00 EDT yields 03:30 EDT (07:30 UTC).
    std::int64_t local_to_utc(std::int64_t local_seconds) const;

    /// True when the footer rule (not a stored transition) decides times after the last transition.
    bool has_footer_rule() const { return m_rule != nullptr; }
    /// Number of stored transitions (0 for footer-only or fixed zones).
    std::size_t transition_count() const { return m_transitions.size(); }

    struct PosixRule;  // defined in the .cpp

private:
    struct Transition {
        std::int64_t at;          ///< UTC seconds
        std::int32_t utc_offset;  ///< offset from `at` on
    };
    std::vector<Transition> m_transitions;
    std::int32_t m_initial_offset = 0;        ///< before the first transition (or always, without any)
    std::shared_ptr<const PosixRule> m_rule;  ///< after the last transition, when present
};

/// Every SAP time-zone code iana_zone_of() knows: the named codes of SAP's standard table whose zone is
/// certain, then UTC+1 ... UTC+14 and UTC-1 ... UTC-12.
std::vector<std::string> sap_zone_codes();

/// The IANA zone an SAP time-zone code stands for ("CET" -> "Europe/Berlin"), or nullopt when the code
/// is unknown. Codes are matched exactly (SAP codes are upper case). Fixed-offset codes "UTC+N" /
/// "UTC-N" (whole hours, no daylight saving) map to "Etc/GMT-N" / "Etc/GMT+N".
std::optional<std::string> iana_zone_of(std::string_view sap_code);

/// The rules for an SAP time-zone code, loaded once and cached. Errors: unknown_zone ("unknown SAP
/// time zone 'XYZ'"), zone_unreadable (the tz database file is missing or corrupt; names the path).
TimeResult<std::shared_ptr<const TimeZone>> sap_time_zone(std::string_view sap_code);

/// The UTC instant (unix seconds) of a wall-clock time in an SAP time zone (see
/// TimeZone::local_to_utc for ambiguous and non-existent times). Errors: unknown_zone,
/// zone_unreadable, invalid_time (a field out of range).
TimeResult<std::int64_t> local_to_utc(std::string_view sap_code, const CivilTime& local);

/// Parses an RTA CTIMESTAMP "DD.MM.YYYY hh:mm:ss TZ" to unix seconds. Surrounding blanks and several
/// blanks before TZ are tolerated. Errors: malformed_timestamp ("malformed CTIMESTAMP '...'"),
/// invalid_time, unknown_zone, zone_unreadable.
TimeResult<std::int64_t> parse_rta_timestamp(std::string_view text);

/// "DD.MM.YYYY hh:mm:ss UTC" for an RTA `$filter` (CTIMESTAMP ge '...').
std::string format_rta_filter_timestamp(std::int64_t unix_seconds);

}  // namespace c4c::collectors
