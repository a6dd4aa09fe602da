#pragma once

// The response_time_analysis feed (-> real_user_monitoring): rows of a C4C Response Time Analysis
// data source, read through the analytics OData service (CONTRACT.md section 3):
//   GET {url}/sap/c4c/odata/analytics/ds/{ds}.svc/{ds}?$format=json&$select=...
//       &$filter=CTIMESTAMP ge 'DD.MM.YYYY hh:mm:ss UTC'&$orderby=CTIMESTAMP asc&$top={page_size}&$skip={n}
//       &$inlinecount=allpages
//
// Paging: by $skip only (d.__next is ignored, so every page's URL is built the same way and paging
// cannot loop on a server-made link), over rows ordered by CTIMESTAMP: analytics services promise no
// stable row order without $orderby, and $skip over an order that changes between pages skips rows. The
// walk ends at an empty page; with __count, once $skip reaches it; without __count, at a page shorter
// than page_size. (With __count a short page does not end the walk, so a server-side cap below
// page_size loses nothing.) At most k_rta_max_pages pages per poll.
//
// Checkpoint (feed key "rta"): the greatest CTIMESTAMP read, as unix seconds in decimal, but never
// beyond the poll's start on the tenant's clock (collectors/tenant_clock.hpp; a row stamped in the future
// must not push the window past rows yet to come) and never backwards. It stays where it was when the
// walk ends with fewer rows read than the last __count promised (rows the service left out would
// otherwise fall behind the window for good); that is logged. A poll reads from checkpoint - overlap (a
// checkpoint ahead of now counts as now; the first poll from now - lookback, now on the tenant's clock).
// Rows are append-only but may be stored late, so each page is committed with the OLD checkpoint and the
// walk's last commit alone carries the new one; a poll that fails half-way re-reads from the old checkpoint
// next time, and rows stored twice are dropped by event.id, so the overlap costs nothing. The overlap
// is also what catches rows that reach the data source late, or that a $skip walk missed because rows
// were inserted before its position while it ran. A poll that reads no rows keeps the checkpoint (on
// the first poll it stays empty, so the next one starts at its own now - lookback): the window then
// costs nothing, as it holds no rows, and it still catches late rows.
//
// Users: with pseudonymize_users (the default) CUSER leaves only as a keyed pseudonym
// (collectors/pseudonymizer.hpp); if the key cannot be loaded or created, the poll fails with reason
// "pseudonymization" before any request, and no clear user ID is ever sent instead.

#include "collectors/collector.hpp"
#include "collectors/pseudonymizer.hpp"

#include <boost/assert/source_location.hpp>
#include <boost/system/result.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace c4c::collectors {

/// The feed's name: its config key, metrics label and `sap.c4c.source`.
inline constexpr const char* k_source_response_time_analysis = "response_time_analysis";

/// The feed's own keys of [tenants.sources.response_time_analysis].
struct ResponseTimeAnalysisSettings {
    std::string datasource = "RTA_DS";  ///< the data source ID exposed for OData
    bool pseudonymize_users = true;     ///< user IDs leave only as keyed hashes

    friend bool operator==(const ResponseTimeAnalysisSettings&, const ResponseTimeAnalysisSettings&) = default;
};

/// FeedStore key of this source's checkpoint.
inline constexpr const char* k_rta_feed = "rta";
/// Guard against a server that never ends the walk.
inline constexpr std::uint64_t k_rta_max_pages = 100'000;
/// The fields asked for with $select.
inline constexpr const char* k_rta_select =
    "CTIMESTAMP,CUSER,CUI_COMPONENT,TUI_COMPONENT,CSTEP_ID,KRESPONSE_TIME,KSERVER_TIME,KNETWORK_TIME,KCLIENT_TIME";

/// One RTA row. Key figures are milliseconds; absent when the row does not carry them (or carries null
/// or an empty string).
struct RtaRow {
    std::int64_t timestamp_unix_s = 0;  ///< CTIMESTAMP converted to UTC
    std::string user;                   ///< CUSER (clear; pseudonymized at normalization)
    std::string ui_component;           ///< CUI_COMPONENT, e.g. "COD_SRQ_AGENT_TI"
    std::string ui_component_text;      ///< TUI_COMPONENT, e.g. "Ticket"
    std::string step_id;                ///< CSTEP_ID, the object id
    std::optional<double> response_ms;  ///< KRESPONSE_TIME
    std::optional<double> server_ms;    ///< KSERVER_TIME
    std::optional<double> network_ms;   ///< KNETWORK_TIME
    std::optional<double> client_ms;    ///< KCLIENT_TIME
};

struct RtaPage {
    std::vector<RtaRow> rows;                 ///< d.results that can be normalized, in the order sent
    std::vector<QuarantinedRecord> bad_rows;  ///< the others (raw: the row's JSON text as sent), in order
    std::uint64_t elements = 0;               ///< d.results' size: rows and bad rows (the $skip walk counts both)
    std::optional<std::uint64_t> count;       ///< d.__count (a string in OData v2), when present
    std::string next;                         ///< d.__next, when present (informational: paging uses $skip)
};

enum class RtaErrc {
    parse = 1,  ///< not JSON, not the OData shape, a bad __count
    timezone,   ///< the tz database cannot be read for a row's SAP time zone (a host problem, not the row's)
};

struct RtaParseError {
    RtaErrc code = RtaErrc::parse;
    std::string message;  ///< one line; names the row (1-based within the page) and field
};

/// Only reached through result::value() on an error; throws std::runtime_error with the message.
[[noreturn]] void throw_exception_from_error(const RtaParseError& error, const boost::source_location& location);

/// Deepest nesting of arrays and objects parse_rta_page reads (a page is four levels deep). Deeper
/// bodies are refused before a DOM is built, where each level ("[", one byte) takes about 70 bytes.
inline constexpr int k_rta_max_depth = 64;

/// Parses one page (the JSON body). Pure and total: any input yields a page or an error, never an
/// exception, so it can be fuzzed. Unknown fields are ignored. A row that cannot be normalized goes to
/// bad_rows: one that is no object, lacks CTIMESTAMP or has it malformed or out of range (invalid_time),
/// in an SAP time zone that is not mapped (unknown_timezone, naming the code), or with a text field or key
/// figure of the wrong kind (invalid_value). Nesting deeper than k_rta_max_depth is an error.
boost::system::result<RtaPage, RtaParseError> parse_rta_page(std::string_view json);

/// The normalized event of one row (pure). `pseudonymizer` null: the user is sent in clear.
/// event.id = make_event_id(tenant, "response_time_analysis", "ResponseTimeAnalysis", key, time) with
/// key = CTIMESTAMP, user, CUI_COMPONENT, CSTEP_ID (the contract's row identity), where CTIMESTAMP is
/// taken as the UTC instant (the same row rendered in another SAP time zone keeps its id) and user is
/// the value the event carries: the pseudonym when pseudonymizing. The id is therefore computed from
/// nothing the event does not show, and cannot be used to test guesses of the clear user. It is
/// stable as long as the key file is (both live in state_dir). With a pseudonymizer, the clear user
/// appears nowhere in the event.
Event normalize_rta_row(std::string_view tenant, const RtaRow& row, const Pseudonymizer* pseudonymizer,
                        std::int64_t observed_unix_nano);

/// The event of one row from its JSON object's text alone (QuarantinedRecord::raw of this source), or why it
/// is quarantined: for a `quarantine retry` (the same event as the page path for the same row, with the
/// same pseudonymizer).
Normalized normalize_rta_raw(std::string_view tenant, std::string_view raw, const Pseudonymizer* pseudonymizer,
                             std::int64_t observed_unix_nano);

/// The $skip a backfill window's cursor ("skip=N") resumes at; nullopt for any other text (the window's start).
std::optional<std::uint64_t> parse_rta_window_cursor(std::string_view cursor);

/// The URL of one page: rows with CTIMESTAMP >= `since_unix_s`, skipping `skip` of them.
std::string rta_page_url(std::string_view c4c_url, const SourceConfig& source, std::int64_t since_unix_s,
                         std::uint64_t skip);

/// A collector for `config` (one tenant's response_time_analysis source). Each poll uses
/// `context.source`, so a reloaded configuration takes effect at the next poll. With PollContext::window
/// (a backfill) the poll walks from the window's start (every page committed with the cursor "skip=N",
/// resumed there) and ends at the first page with no row before the window's end.
std::unique_ptr<Collector> make_response_time_analysis_collector(const SourceConfig& config);

/// The feed's row of the collector table (collectors/registry.cpp): -> real_user_monitoring.
extern const CollectorKind k_response_time_analysis_kind;

}  // namespace c4c::collectors
