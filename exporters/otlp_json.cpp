#include "exporters/otlp_json.hpp"

#include "infra/version.hpp"

#include <array>
#include <charconv>
#include <cmath>
#include <unordered_map>

namespace c4c::exporters {

namespace {

void append_int(std::string& out, std::int64_t value)
{
    std::array<char, 24> buffer{};
    auto [end, ec] = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
    (void)ec;  // 24 characters always hold an int64
    out.append(buffer.data(), end);
}

void append_quoted_int(std::string& out, std::int64_t value)
{
    out.push_back('"');
    append_int(out, value);
    out.push_back('"');
}

void append_double(std::string& out, double value)
{
    if (std::isnan(value)) {
        out.append("\"NaN\"");
        return;
    }
    if (std::isinf(value)) {
        out.append(value > 0 ? "\"Infinity\"" : "\"-Infinity\"");
        return;
    }
    std::array<char, 32> buffer{};
    auto [end, ec] = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
    (void)ec;  // the shortest round-trip form of a double is at most 24 characters
    out.append(buffer.data(), end);
}

// `head` is `{"key":"<key>","value":{"stringValue":` for a key that needs no escaping.
void append_fixed_attribute(std::string& out, std::string_view head, std::string_view value)
{
    out.append(head);
    append_json_string(out, value);
    out.append("}}");
}

void append_string_attribute(std::string& out, std::string_view key, std::string_view value)
{
    out.append(R"({"key":)");
    append_json_string(out, key);
    out.append(R"(,"value":{"stringValue":)");
    append_json_string(out, value);
    out.append("}}");
}

void append_attribute(std::string& out, const infra::Attribute& attribute)
{
    out.append(R"({"key":)");
    append_json_string(out, attribute.key);
    out.append(R"(,"value":)");
    append_any_value(out, attribute);
    out.push_back('}');
}

void append_attribute_list(std::string& out, std::span<const infra::Attribute> attributes)
{
    out.push_back('[');
    bool first = true;
    for (const auto& attribute : attributes) {
        if (!first) {
            out.push_back(',');
        }
        first = false;
        append_attribute(out, attribute);
    }
    out.push_back(']');
}

void append_resource(std::string& out, const ResourceInfo& resource)
{
    out.append(R"({"attributes":[)");
    append_string_attribute(out, "service.name", resource.tenant);
    out.push_back(',');
    append_string_attribute(out, "sap.c4c.tenant", resource.tenant);
    out.push_back(',');
    append_string_attribute(out, "sap.c4c.url", resource.c4c_url);
    out.push_back(',');
    append_string_attribute(out, "sap.calm.use_case", resource.use_case);
    out.append("]}");
}

void append_scope(std::string& out)
{
    out.append(R"({"name":)");
    append_json_string(out, k_scope_name);
    out.append(R"(,"version":)");
    append_json_string(out, c4c::k_version);
    out.push_back('}');
}

// `sum` is the kind of the point's metric (one metric has one type, whatever a stray point says).
void append_data_point(std::string& out, const MetricPoint& point, bool sum, std::int64_t time_unix_nano,
                       std::int64_t start_time_unix_nano)
{
    out.append(R"({"attributes":)");
    append_attribute_list(out, point.attributes);
    if (sum) {
        out.append(R"(,"startTimeUnixNano":)");
        append_quoted_int(out, point.start_time_unix_nano != 0 ? point.start_time_unix_nano : start_time_unix_nano);
    }
    out.append(R"(,"timeUnixNano":)");
    append_quoted_int(out, time_unix_nano);
    if (const auto* integer = std::get_if<std::int64_t>(&point.value)) {
        out.append(R"(,"asInt":)");
        append_quoted_int(out, *integer);
    } else {
        out.append(R"(,"asDouble":)");
        append_double(out, std::get<double>(point.value));
    }
    out.push_back('}');
}

}  // namespace

void append_any_value(std::string& out, const infra::Attribute& attribute)
{
    std::visit(
        [&out](const auto& value) {
            using T = std::decay_t<decltype(value)>;
            if constexpr (std::is_same_v<T, std::string>) {
                out.append(R"({"stringValue":)");
                append_json_string(out, value);
            } else if constexpr (std::is_same_v<T, std::int64_t>) {
                out.append(R"({"intValue":)");
                append_quoted_int(out, value);
            } else if constexpr (std::is_same_v<T, double>) {
                out.append(R"({"doubleValue":)");
                append_double(out, value);
            } else {
                out.append(value ? R"({"boolValue":true)" : R"({"boolValue":false)");
            }
            out.push_back('}');
        },
        attribute.value);
}

void append_log_record(std::string& out, const infra::Event& event)
{
    out.append(R"({"timeUnixNano":)");
    append_quoted_int(out, event.time_unix_nano);
    out.append(R"(,"observedTimeUnixNano":)");
    append_quoted_int(out, event.observed_unix_nano);
    out.append(R"(,"severityNumber":)");
    append_int(out, infra::severity_number(event.severity));
    out.append(R"(,"severityText":")");
    out.append(infra::severity_text(event.severity));
    out.append(R"(","body":{"stringValue":)");
    append_json_string(out, event.body);
    out.append(R"(},"attributes":[)");
    append_fixed_attribute(out, R"({"key":"event.id","value":{"stringValue":)", event.id);
    append_fixed_attribute(out, R"(,{"key":"sap.c4c.source","value":{"stringValue":)", event.source);
    append_fixed_attribute(out, R"(,{"key":"sap.c4c.object_type","value":{"stringValue":)", event.object_type);
    append_fixed_attribute(out, R"(,{"key":"sap.c4c.object_id","value":{"stringValue":)", event.object_id);
    for (const auto& attribute : event.attributes) {
        out.push_back(',');
        append_attribute(out, attribute);
    }
    out.append("]}");
}

std::string encode_log_record(const infra::Event& event)
{
    std::string out;
    std::size_t estimate = 400 + event.id.size() + event.source.size() + event.object_type.size() +
                           event.object_id.size() + event.body.size() + 48 * event.attributes.size();
    for (const auto& attribute : event.attributes) {
        estimate += attribute.key.size();
        if (const auto* text = std::get_if<std::string>(&attribute.value)) {
            estimate += text->size();
        }
    }
    out.reserve(estimate);
    append_log_record(out, event);
    return out;
}

std::string logs_envelope_prefix(const ResourceInfo& resource)
{
    std::string out;
    out.reserve(320 + 2 * resource.tenant.size() + resource.c4c_url.size() + resource.use_case.size());
    out.append(R"({"resourceLogs":[{"resource":)");
    append_resource(out, resource);
    out.append(R"(,"scopeLogs":[{"scope":)");
    append_scope(out);
    out.append(R"(,"logRecords":[)");
    return out;
}

std::string_view logs_envelope_suffix()
{
    return "]}]}]}";
}

std::string to_dry_run_line(const ResourceInfo& resource, std::string_view log_record_json)
{
    // Raw line breaks can only be whitespace between tokens in valid JSON (inside strings they are
    // escaped), so dropping them keeps the object intact and the line whole.
    std::string line;
    line.reserve(log_record_json.size() + 160 + resource.tenant.size() * 2 + resource.c4c_url.size());
    for (char c : log_record_json) {
        if (c != '\n' && c != '\r') {
            line.push_back(c);
        }
    }
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t')) {
        line.pop_back();
    }
    if (line.empty() || line.back() != '}') {
        line = "{}";  // not an object: keep the line valid JSON rather than emitting garbage
    }
    line.pop_back();
    auto last = line.find_last_not_of(" \t");
    if (last != std::string::npos && line[last] != '{') {
        line.push_back(',');
    }
    line.append(R"("resource":{"service.name":)");
    append_json_string(line, resource.tenant);
    line.append(R"(,"sap.c4c.tenant":)");
    append_json_string(line, resource.tenant);
    line.append(R"(,"sap.c4c.url":)");
    append_json_string(line, resource.c4c_url);
    line.append(R"(,"sap.calm.use_case":)");
    append_json_string(line, resource.use_case);
    line.append("}}");
    return line;
}

std::string encode_metrics(const ResourceInfo& resource, std::span<const MetricPoint> points,
                           std::int64_t time_unix_nano, std::int64_t start_time_unix_nano)
{
    // Group points by name, keeping the order in which names first appear.
    std::vector<std::vector<const MetricPoint*>> groups;
    std::unordered_map<std::string_view, std::size_t> index;
    for (const auto& point : points) {
        auto [it, inserted] = index.try_emplace(point.name, groups.size());
        if (inserted) {
            groups.emplace_back();
        }
        groups[it->second].push_back(&point);
    }

    std::string out;
    out.reserve(512 + points.size() * 256);
    out.append(R"({"resourceMetrics":[{"resource":)");
    append_resource(out, resource);
    out.append(R"(,"scopeMetrics":[{"scope":)");
    append_scope(out);
    out.append(R"(,"metrics":[)");
    bool first_metric = true;
    for (const auto& group : groups) {
        const MetricPoint& head = *group.front();
        if (!first_metric) {
            out.push_back(',');
        }
        first_metric = false;
        out.append(R"({"name":)");
        append_json_string(out, head.name);
        if (!head.description.empty()) {
            out.append(R"(,"description":)");
            append_json_string(out, head.description);
        }
        if (!head.unit.empty()) {
            out.append(R"(,"unit":)");
            append_json_string(out, head.unit);
        }
        const bool sum = head.kind == MetricPoint::Kind::sum;
        out.append(sum ? R"(,"sum":{"dataPoints":[)" : R"(,"gauge":{"dataPoints":[)");
        bool first_point = true;
        for (const MetricPoint* point : group) {
            if (!first_point) {
                out.push_back(',');
            }
            first_point = false;
            append_data_point(out, *point, sum, time_unix_nano, start_time_unix_nano);
        }
        out.append("]");
        if (sum) {
            out.append(R"(,"aggregationTemporality":2,"isMonotonic":true)");
        }
        out.append("}}");
    }
    out.append("]}]}]}");
    return out;
}

}  // namespace c4c::exporters
