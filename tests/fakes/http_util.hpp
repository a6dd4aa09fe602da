#pragma once

// Small helpers shared by the simulator's services: query strings, Basic auth, JSON and XML escaping,
// SAP time formats, gzip, and response builders.

#include "infra/http/server.hpp"
#include "infra/json_string.hpp"
#include "infra/text.hpp"
#include "infra/time.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace c4c::sim {

using infra::http::ServerRequest;
using infra::http::ServerResponse;

/// One `key=value` pair of a query string, both raw (as sent) and percent-decoded.
struct QueryParam {
    std::string raw;    ///< "key=value" exactly as sent
    std::string key;    ///< decoded
    std::string value;  ///< decoded ('+' is a space)
};

/// Decodes %XX escapes and '+' (as a space). Invalid escapes are kept literally.
std::string percent_decode(std::string_view s);
/// Encodes everything except unreserved characters.
std::string percent_encode(std::string_view s);
/// Splits the query part of a request target ("/p?a=1&b=2") into parameters.
std::vector<QueryParam> parse_query(std::string_view target);
/// The decoded value of the first parameter named `key`.
std::optional<std::string> query_value(const std::vector<QueryParam>& params, std::string_view key);

std::optional<std::string> base64_decode(std::string_view in);
/// user and password of an `Authorization: Basic ...` header, or nullopt.
std::optional<std::pair<std::string, std::string>> basic_credentials(const ServerRequest& request);

/// Appends a JSON string literal (quotes included).
using infra::append_json_string;
/// Escapes &, <, >, " and ' for XML text and attributes (and drops what XML 1.0 cannot carry).
using infra::xml_escape;

std::int64_t now_ms();
/// 100-nanosecond ticks since the Unix epoch (the resolution of SAP's TIMESTAMPL).
std::int64_t now_ticks();
/// "2026-11-26T02:10:56.1150000Z" from 100 ns ticks.
std::string iso_from_ticks(std::int64_t ticks);
/// An HTTP `Date` value (IMF-fixdate, "Thu, 26 Nov 2026 02:10:56 GMT") from Unix seconds.
std::string http_date(std::int64_t unix_seconds);
/// "2026-11-26T02:10:56.115Z" from milliseconds.
std::string iso_from_ms(std::int64_t ms);
/// Parses "YYYY-MM-DDThh:mm:ss[.f...]Z" into nanoseconds since the epoch (digits beyond 9 ignored).
std::optional<std::int64_t> parse_iso_ns(std::string_view s);
/// Days since 1970-01-01 for a proleptic Gregorian date.
using infra::days_from_civil;

/// Inflates a gzip body of one or more members (each CRC-checked); nullopt when it is not valid gzip, has
/// bytes after its last member, or exceeds `limit` bytes.
std::optional<std::string> gunzip(std::string_view in, std::size_t limit);

/// Parses "500ms", "2s", "5m", "1h", "0" into milliseconds.
std::optional<std::int64_t> parse_duration_ms(std::string_view s);

ServerResponse json_response(unsigned status, std::string body);
/// `{"error":{"code":..,"message":{"lang":"en","value":..}}}` as C4C's OData services answer.
ServerResponse odata_error(unsigned status, std::string_view code, std::string_view message);
/// A SOAP 1.1 fault envelope like tests/samples/soap-fault.xml.
std::string soap_fault_body(std::string_view faultcode, std::string_view faultstring);

/// "http://" + Host header (or `fallback_host`).
std::string base_url(const ServerRequest& request, const std::string& fallback_host);
/// The raw query parameters minus the named keys, re-joined with '&'.
std::string query_without(const std::vector<QueryParam>& params, const std::vector<std::string>& drop);

}  // namespace c4c::sim
