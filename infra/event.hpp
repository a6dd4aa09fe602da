#pragma once

// The normalized event: what every collector makes of one C4C record state, before it is encoded as
// an OTLP log record (exporters/otlp_json.hpp) and stored in the outbox.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace c4c::infra {

enum class Severity { info, warn, error };

/// OTLP severityNumber (INFO 9, WARN 13, ERROR 17) and severityText.
int severity_number(Severity s);
const char* severity_text(Severity s);

struct Attribute {
    /// The attribute's name: a string literal, or other storage that outlives every event (the names are
    /// CONTRACT.md's, fixed at compile time). A view, not a copy: most names are longer than a short
    /// string, and copying them was a heap allocation per attribute per record.
    std::string_view key;
    std::variant<std::string, std::int64_t, double, bool> value;
};

struct Event {
    std::string id;                       ///< event.id, see make_event_id
    std::string source;                   ///< sap.c4c.source: the name of the feed (collector kind) that made it
    std::string object_type;              ///< sap.c4c.object_type, e.g. "OpportunityCollection"
    std::string object_id;                ///< sap.c4c.object_id
    std::int64_t time_unix_nano = 0;      ///< the record's own change/creation time
    std::int64_t observed_unix_nano = 0;  ///< when the daemon read it
    Severity severity = Severity::info;
    std::string body;                   ///< short human-readable summary
    std::vector<Attribute> attributes;  ///< the record's meaningful fields (beyond the four above)
};

/// A stable id for one record state: hex of the first 128 bits of SHA-256 over tenant, source, object
/// type, record key and change time. The same state always yields the same id, a new state a new one.
///
/// The hashed input is the five fields joined by 0x1f (unit separator), the change time in decimal
/// nanoseconds since the Unix epoch (UTC), no terminator:
///   tenant 0x1f source 0x1f object_type 0x1f record_key 0x1f change_time_unix_nano
/// What each collector passes:
///   business_objects     object type = the collection (`OpportunityCollection`), record key = `ObjectID`,
///                        change time = `EntityLastChangedOn` (ms, any `+hhmm` suffix ignored) x 1e6;
///   webservice_messages  object type `BusinessDocumentMessage`, record key = `BusinessDocumentMessageID`,
///                        change time = `LastChangeDateTime` in ns (7-digit fraction: 100 ns steps);
///   response_time_analysis  object type `ResponseTimeAnalysis`, record key = the `CTIMESTAMP` in Unix
///                        seconds, the user (its pseudonym when pseudonymized), `CUI_COMPONENT` and
///                        `CSTEP_ID`, joined by 0x1f; change time = `CTIMESTAMP` in ns.
/// BREAKING CHANGE: the sink and the outbox's overlap window (`seen`) deduplicate by this id. Changing
/// the formula, a field, or how a field is rendered (case, time unit, separator) makes every record in
/// the overlap window look new after an upgrade, and sends it again. The golden ids in
/// tests/unit/test_collectors_{business_objects,webservice_messages,response_time_analysis}.cpp and the
/// integration tests' `expected_event_id` pin it; they must never be recomputed to make a change pass.
std::string make_event_id(std::string_view tenant, std::string_view source, std::string_view object_type,
                          std::string_view record_key, std::int64_t change_time_unix_nano);

}  // namespace c4c::infra
