#pragma once

// The fake C4C Response Time Analysis data source:
// GET /sap/c4c/odata/analytics/ds/{ds}.svc/{ds}?$format=json&$filter=CTIMESTAMP ge 'DD.MM.YYYY hh:mm:ss UTC'
// Rows are ordered by time only when `$orderby=CTIMESTAMP` asks for it; without, each answer has its own
// row order, as analytics services promise none. CTIMESTAMP is shown in the display time zone given by an
// SAP code.

#include "tests/fakes/c4c_data.hpp"
#include "tests/fakes/http_util.hpp"

#include <cstddef>
#include <optional>
#include <random>
#include <string>
#include <string_view>

namespace c4c::sim {

/// The IANA zone for an SAP time-zone code of the certain part of SAP's standard table (UTC+N, UTC-N
/// included), or nullopt.
std::optional<std::string> iana_zone(std::string_view sap_code);

/// Whether `code` looks like an SAP time-zone code at all (1 to 16 of A-Z a-z 0-9 + - _), known or not.
bool plausible_zone_code(std::string_view code);

class RtaService {
public:
    /// `sap_zone` must be a code iana_zone() knows; the process TZ must already be set to that zone
    /// (the simulator does so at start-up) because rows are formatted with localtime_r.
    RtaService(World& world, std::string sap_zone, const std::string& fallback_host)
        : m_world(world), m_zone(std::move(sap_zone)), m_fallback_host(fallback_host)
    {}

    /// Answers a request under /sap/c4c/odata/analytics/ds/ (authentication already checked). The
    /// `missing_rows` oldest matching rows are left out of the answer while `__count` still counts them
    /// (the fault mode missing_rows).
    ServerResponse handle(const ServerRequest& request, std::size_t missing_rows = 0);

    /// "DD.MM.YYYY hh:mm:ss CODE" for a Unix time, in the display zone.
    std::string format_timestamp(std::int64_t unix_seconds) const;
    /// A row's CTIMESTAMP: in its own zone when it has one (a code iana_zone() does not know is shown with
    /// the UTC digits), "not a time" for a bad_time row.
    std::string format_row_timestamp(const RtaRow& row) const;

private:
    World& m_world;
    std::string m_zone;
    const std::string& m_fallback_host;  ///< host:port for __next when a request has no Host
    std::mt19937_64 m_shuffle{20};       ///< the row order of answers without $orderby
};

}  // namespace c4c::sim
