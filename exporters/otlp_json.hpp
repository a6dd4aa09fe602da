#pragma once

// OTLP/HTTP JSON encoders for Cloud ALM (CONTRACT.md section 4): log records (one per event, encoded
// once at enqueue time and stored in the outbox), the logs envelope that wraps stored records into a
// request body, the health-monitoring metrics document, and the `--once --dry-run` line.
//
// Output is compact JSON (no whitespace). 64-bit integers (times, intValue, asInt) are decimal strings
// as the OTLP JSON mapping requires; enums (severityNumber, aggregationTemporality) are numbers.
// Strings are always valid JSON: control characters are escaped, and invalid UTF-8 is replaced by
// U+FFFD. Pure functions, no I/O, no exceptions besides std::bad_alloc.

#include "exporters/exporter.hpp"
#include "infra/event.hpp"
#include "infra/json_string.hpp"

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace c4c::exporters {

/// The scope name of every document (`scope.name`).
inline constexpr std::string_view k_scope_name = "c4c-alm-collector";

using infra::append_json_string;  // daemon/json_string.hpp

/// Appends one OTLP AnyValue object: {"stringValue":..} | {"intValue":"n"} | {"doubleValue":x} |
/// {"boolValue":b}. Non-finite doubles become "NaN" / "Infinity" / "-Infinity" (proto3 JSON mapping).
void append_any_value(std::string& out, const infra::Attribute& attribute);

/// Appends one OTLP log record object for `event` to `out` (see encode_log_record).
void append_log_record(std::string& out, const infra::Event& event);

/// One OTLP `logRecord` JSON object: timeUnixNano, observedTimeUnixNano, severityNumber (9/13/17),
/// severityText, body.stringValue, and attributes event.id, sap.c4c.source, sap.c4c.object_type,
/// sap.c4c.object_id followed by the event's own attributes in their order.
std::string encode_log_record(const infra::Event& event);

/// `{"resourceLogs":[{"resource":{"attributes":[...]},"scopeLogs":[{"scope":{...},"logRecords":[`.
/// Resource attributes: service.name and sap.c4c.tenant (both the tenant), sap.c4c.url,
/// sap.calm.use_case. prefix + record + "," + record ... + logs_envelope_suffix() is a request body.
std::string logs_envelope_prefix(const ResourceInfo& resource);

/// `]}]}]}`: closes what logs_envelope_prefix opened.
std::string_view logs_envelope_suffix();

/// One `--once --dry-run` line: the log record object with a `"resource"` member added
/// ({"service.name":..,"sap.c4c.tenant":..,"sap.c4c.url":..,"sap.calm.use_case":..}). No newline
/// inside or at the end. `log_record_json` must be a JSON object (as made by encode_log_record).
std::string to_dry_run_line(const ResourceInfo& resource, std::string_view log_record_json);

/// One data point of a health-monitoring metric.
struct MetricPoint {
    enum class Kind {
        gauge,  ///< a current value (availability 0/1, last request duration, ...)
        sum,    ///< a cumulative, monotonic counter since `start_time_unix_nano`
    };
    std::string name;         ///< e.g. "c4c.source.up"; points of the same name form one metric
    std::string description;  ///< taken from the first point of a name
    std::string unit;         ///< UCUM, e.g. "1", "s", "{record}"; taken from the first point of a name
    Kind kind = Kind::gauge;  ///< taken from the first point of a name
    std::vector<infra::Attribute> attributes;  ///< data point attributes, e.g. sap.c4c.source
    std::variant<std::int64_t, double> value;  ///< asInt or asDouble
    std::int64_t start_time_unix_nano = 0;     ///< sums: 0 means the document's start time
};

/// `{"resourceMetrics":[{"resource":{...},"scopeMetrics":[{"scope":{...},"metrics":[...]}]}]}`:
/// points grouped by name in order of first appearance; gauges as `gauge.dataPoints`, sums as
/// `sum.dataPoints` with aggregationTemporality 2 (cumulative) and isMonotonic true. Every point
/// carries timeUnixNano = `time_unix_nano`; sum points carry startTimeUnixNano (their own, or
/// `start_time_unix_nano`). `resource.use_case` should be "health_monitoring".
std::string encode_metrics(const ResourceInfo& resource, std::span<const MetricPoint> points,
                           std::int64_t time_unix_nano, std::int64_t start_time_unix_nano);

}  // namespace c4c::exporters
