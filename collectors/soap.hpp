#pragma once

// The web-service message query (CONTRACT.md section 3, "webservice_messages") as plain data: the SOAP 1.1
// request envelope, and a parser for the response that matches elements by local name whatever their
// prefix or namespace. Pure functions: no I/O, no logging, never throw (except std::bad_alloc).

#include "infra/text.hpp"
#include "infra/time.hpp"

#include <boost/assert/source_location.hpp>
#include <boost/system/result.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace c4c::collectors::soap {

/// Root element of the request (prefix `glob`) and of the response (any prefix).
inline constexpr std::string_view k_request_root = "BusinessDocumentMessageMonitoringFindByElementsRequest_sync";
inline constexpr std::string_view k_response_root = "BusinessDocumentMessageMonitoringFindByElementsResponse_sync";
inline constexpr std::string_view k_global_namespace = "http://sap.com/xi/SAPGlobal20/Global";
inline constexpr std::string_view k_envelope_namespace = "http://schemas.xmlsoap.org/soap/envelope/";
/// The SOAPAction of the query operation (sent quoted, as SOAP 1.1 asks).
inline constexpr std::string_view k_soap_action =
    "http://sap.com/xi/A1S/Global/QueryBusinessDocumentMessageMonitoringIn/FindByElementsRequest";

/// ProcessingStatusCode values.
enum StatusCode : int { k_waiting = 1, k_in_process = 2, k_successful = 3, k_failed = 4, k_cancelled = 5 };
/// Log item SeverityCode values.
enum SeverityCode : int { k_information = 1, k_warning = 2, k_error = 3 };

struct LogItem {
    int severity_code = 0;  ///< 1 information, 2 warning, 3 error; 0 when absent
    std::string type_id;    ///< e.g. "SRT/014"; may be empty
    std::string note;       ///< entity-decoded text
};

/// One BusinessDocumentMessage. Strings are empty and codes 0 when the element is absent.
struct Message {
    std::string id;                                ///< BusinessDocumentMessageID (required)
    std::optional<std::int64_t> creation_time_ns;  ///< CreationDateTime, unix nanoseconds
    std::int64_t last_change_time_ns = 0;          ///< LastChangeDateTime, unix nanoseconds (required)
    int status_code = 0;                           ///< ProcessingStatusCode, see StatusCode
    std::string status_text;                       ///< ProcessingStatusCodeText
    std::string direction_code;                    ///< DirectionCode: "1" outbound, "2" inbound
    std::string service_interface;                 ///< ServiceInterfaceName
    std::string sender_system;                     ///< SenderCommunicationSystemID
    std::string receiver_system;                   ///< ReceiverCommunicationSystemID
    std::vector<LogItem> log_items;                ///< Log/Item, in document order
    int max_log_severity = 0;  ///< max of Log/MaximumLogItemSeverityCode and every item's SeverityCode; 0 without log
};

/// A BusinessDocumentMessage that cannot be read, kept for quarantine (the page and its other messages
/// are fine).
struct BadMessage {
    enum class Problem {
        missing_id,     ///< no BusinessDocumentMessageID
        invalid_time,   ///< LastChangeDateTime missing or not ISO 8601, or a malformed CreationDateTime
        invalid_value,  ///< ProcessingStatusCode or a log severity that is no number
    };
    Problem problem = Problem::invalid_value;
    std::string id;       ///< BusinessDocumentMessageID, "" when absent
    std::string message;  ///< one line for the operator: names the field and the message
    std::string raw;      ///< the element as sent (its markup re-serialized by pugixml, content unchanged)
};

/// One response page.
struct QueryPage {
    std::vector<Message> messages;
    std::vector<BadMessage> bad_messages;  ///< in document order; their IDs still count for paging
    bool more_hits = false;                ///< ProcessingConditions/MoreHitsAvailableIndicator
    std::string last_returned_id;          ///< ProcessingConditions/LastReturnedObjectID, echoed in the next request
    int returned_hits = 0;                 ///< ReturnedQueryHitsNumberValue, or the number of messages when absent
    std::vector<LogItem> log_items;        ///< the response's own Log (not a message's): query-level problems
    int max_log_severity = 0;              ///< as Message::max_log_severity, for the response's own Log
};

/// Why a response could not be used.
struct ParseError {
    enum class Kind {
        xml,        ///< not well-formed XML, NUL bytes included (message carries a description and byte offset)
        fault,      ///< a SOAP Fault (fault_code and fault_string are set)
        structure,  ///< no Envelope, Body or response element
        field,      ///< a value of ProcessingConditions or of the response's own Log is malformed
    };
    Kind kind = Kind::structure;
    std::string message;       ///< one line for the operator
    std::string fault_code;    ///< Kind::fault only
    std::string fault_string;  ///< Kind::fault only
};

/// Lets result<T, ParseError>::value() throw (std::runtime_error) like result<T, error_code> does.
[[noreturn]] void throw_exception_from_error(const ParseError& error, const boost::source_location& location);
/// The same for result<T, BadMessage>.
[[noreturn]] void throw_exception_from_error(const BadMessage& error, const boost::source_location& location);

/// The query envelope, shaped like tests/samples/soap-request.xml: messages whose LastChangeDateTime lies
/// in [lower, upper] (IntervalBoundaryTypeCode 3, both bounds included, written in UTC with milliseconds),
/// at most `max_hits` of them, after `last_returned_id` (empty for the first page; XML-escaped).
std::string build_query_request(std::chrono::system_clock::time_point lower,
                                std::chrono::system_clock::time_point upper, int max_hits,
                                std::string_view last_returned_id);

/// Parses one response page. A SOAP Fault, malformed XML, a missing Body or response element, and a
/// malformed value of ProcessingConditions or of the response's Log are errors. A message without
/// BusinessDocumentMessageID or LastChangeDateTime, or with a malformed value, goes to bad_messages. Unknown
/// elements are ignored. Copies `xml` once (pugixml needs a mutable buffer).
boost::system::result<QueryPage, ParseError> parse_query_response(std::string_view xml);

/// As parse_query_response, but parses inside `buffer` (no copy; `buffer` is garbage afterwards). For
/// large bodies that the caller owns anyway.
boost::system::result<QueryPage, ParseError> parse_query_response_in_place(std::string& buffer);

/// Parses one BusinessDocumentMessage element on its own (BadMessage::raw, for a quarantine retry): its
/// message, or why it cannot be read (a text that is no such element is invalid_value).
boost::system::result<Message, BadMessage> parse_message(std::string_view xml);

/// ISO 8601 / xsd:dateTime instants to unix nanoseconds (nullopt when invalid), and
/// `YYYY-MM-DDThh:mm:ss.fffZ` (UTC, millisecond precision, truncated), and
/// `YYYY-MM-DDThh:mm:ss[.fff|.ffffff|.fffffffff]Z` of unix nanoseconds: infra/time.hpp's.
using infra::format_iso8601_ms;
using infra::format_iso8601_ns;
using infra::parse_iso8601_ns;

/// Escapes `& < > " '` for XML text and attribute values, and drops characters XML 1.0 cannot carry.
using infra::xml_escape;

}  // namespace c4c::collectors::soap
