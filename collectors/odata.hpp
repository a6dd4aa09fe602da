#pragma once

// OData v2 values as C4C writes and reads them (CONTRACT.md section 3): `/Date(ms)/` values, the
// `datetimeoffset'...'` literal of a $filter, string literals, and `__next` links. Collection pages are
// parsed by collectors/odata_page.hpp, included here. Pure functions: no I/O, no exceptions besides
// std::bad_alloc.

#include "collectors/odata_page.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace c4c::collectors {

/// Parses an OData v2 JSON date, `/Date(<ms>)/` or `/Date(<ms>+hhmm)/` / `/Date(<ms>-hhmm)/` (the JSON
/// escape `\/` is already gone after JSON decoding), into unix milliseconds.
///
/// `<ms>` is the UTC instant in milliseconds since 1970 (may be negative). The offset (1-4 digits, the
/// number of minutes per the OData v2 JSON format; C4C always writes `+0000`) only records in which
/// offset the value was entered and does NOT shift the instant: this is how SAP's own Cloud SDK reads it
/// (`moment(ms).utcOffset(minutes)`). Microsoft's old datajs library instead subtracted the offset from
/// the ticks; the two only differ for offsets other than zero, which C4C does not produce.
/// nullopt for anything else, and for instants outside the int64 nanosecond range (1677..2262).
std::optional<std::int64_t> parse_odata_date(std::string_view text);

/// `YYYY-MM-DDThh:mm:ss.fffZ` (UTC, milliseconds) for an instant in unix milliseconds: the value of a
/// `datetimeoffset'...'` literal in a $filter, and the ISO form of dates in event attributes.
std::string format_datetimeoffset(std::int64_t unix_ms);

/// Resolves a `__next` link against the URL of the request that returned it: absolute
/// (`https://host/...`) links are taken as they are, `//host/...` keeps the scheme, `/path...` keeps
/// scheme and authority, `?query` replaces the query, and anything else is relative to the directory of
/// the base path (`OpportunityCollection?$skiptoken=3` next to `.../c4codataapi/OpportunityCollection`).
/// Dot segments are not normalised (C4C does not send them). `base_url` must be absolute.
std::string resolve_next_url(std::string_view base_url, std::string_view next);

/// Quotes a string as an OData literal: `'` + value with each `'` doubled + `'`.
std::string odata_string_literal(std::string_view value);

}  // namespace c4c::collectors
