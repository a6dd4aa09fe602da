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
    std::string key;
    std::variant<std::string, std::int64_t, double, bool> value;
};

struct Event {
    std::string id;            ///< event.id, see make_event_id
    std::string source;        ///< sap.c4c.source: the name of the feed (collector kind) that made it
    std::string object_type;   ///< sap.c4c.object_type, e.g. "OpportunityCollection"
    std::string object_id;     ///< sap.c4c.object_id
    std::int64_t time_unix_nano = 0;      ///< the record's own change/creation time
    std::int64_t observed_unix_nano = 0;  ///< when the daemon read it
    Severity severity = Severity::info;
    std::string body;          ///< short human-readable summary
    std::vector<Attribute> attributes;  ///< the record's meaningful fields (beyond the four above)
};

/// A stable id for one record state: hex of the first 128 bits of SHA-256 over tenant, source, object
/// type, record key and change time. The same state always yields the same id, a new state a new one.
std::string make_event_id(std::string_view tenant, std::string_view source, std::string_view object_type,
                          std::string_view record_key, std::int64_t change_time_unix_nano);

} // namespace c4c::infra
