#include "tests/fakes/faults.hpp"

#include <algorithm>
#include <array>

namespace c4c::sim {

namespace {

constexpr std::array<std::string_view, 8> k_targets = {"odata", "rta",  "soap",    "c4c",
                                                       "sink",  "logs", "metrics", "token"};
constexpr std::array<std::pair<std::string_view, FaultMode>, 8> k_modes = {{
    {"status", FaultMode::status},
    {"garbage", FaultMode::garbage},
    {"broken_xml", FaultMode::broken_xml},
    {"soap_fault", FaultMode::soap_fault},
    {"hang", FaultMode::hang},
    {"trickle", FaultMode::trickle},
    {"truncate", FaultMode::truncate},
    {"missing_rows", FaultMode::missing_rows},
}};

bool matches(std::string_view target, std::string_view kind)
{
    if (target == kind) {
        return true;
    }
    if (target == "c4c") {
        return kind == "odata" || kind == "rta" || kind == "soap";
    }
    if (target == "sink") {
        return kind == "logs" || kind == "metrics";
    }
    return false;
}

bool is_c4c(std::string_view kind)
{
    return kind == "odata" || kind == "rta" || kind == "soap";
}

std::string_view mode_name(FaultMode mode)
{
    for (const auto& [name, m] : k_modes) {
        if (m == mode) {
            return name;
        }
    }
    return "status";
}

const char* reason_phrase(unsigned status)
{
    switch (status) {
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 413:
        return "Payload Too Large";
    case 429:
        return "Too Many Requests";
    case 500:
        return "Internal Server Error";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return "Simulated Status";
    }
}

constexpr std::string_view k_garbage = "@@ simulated garbage @@ {\"d\": {\"results\": [<broken \x01\x02";
constexpr std::string_view k_generic_xml =
    "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<soap-env:Envelope "
    "xmlns:soap-env=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap-env:Body><n0:Response "
    "xmlns:n0=\"http://sap.com/xi/SAPGlobal20/Global\"><BusinessDocumentMessage><BusinessDocumentMessageID>FA16";

}  // namespace

nlohmann::json FaultRule::to_json() const
{
    nlohmann::json j = {
        {"target", target}, {"mode", std::string(mode_name(mode))}, {"status", status}, {"count", count}};
    if (retry_after) {
        j["retry_after"] = *retry_after;
    }
    if (skip > 0) {
        j["skip"] = skip;
    }
    if (!reject_event_ids.empty()) {
        j["reject_event_ids"] = reject_event_ids;
    }
    if (mode == FaultMode::hang) {
        j["hang_ms"] = hang_ms;
    }
    if (mode == FaultMode::trickle) {
        j["trickle_bytes"] = trickle_bytes;
        j["trickle_delay_ms"] = trickle_delay_ms;
    }
    if (mode == FaultMode::missing_rows) {
        j["missing_rows"] = missing_rows;
    }
    return j;
}

bool FaultRule::processes_request() const
{
    switch (mode) {
    case FaultMode::garbage:
    case FaultMode::broken_xml:
    case FaultMode::trickle:
    case FaultMode::truncate:
    case FaultMode::missing_rows:
        return true;
    case FaultMode::status:
        return status >= 200 && status < 300;
    case FaultMode::soap_fault:
    case FaultMode::hang:
        return false;
    }
    return false;
}

std::optional<FaultRule> parse_fault_rule(const nlohmann::json& j, std::string& error)
{
    if (!j.is_object()) {
        error = "a fault rule must be a JSON object";
        return std::nullopt;
    }
    static const std::vector<std::string> k_known = {
        "target",  "mode",          "status",           "retry_after",  "count", "reject_event_ids",
        "hang_ms", "trickle_bytes", "trickle_delay_ms", "missing_rows", "skip"};
    for (const auto& [key, value] : j.items()) {
        (void)value;
        if (std::find(k_known.begin(), k_known.end(), key) == k_known.end()) {
            error = "unknown fault rule key '" + key + "'";
            return std::nullopt;
        }
    }
    FaultRule rule;
    if (!j.contains("target") || !j["target"].is_string()) {
        error = "a fault rule needs \"target\": one of odata rta soap c4c sink logs metrics token";
        return std::nullopt;
    }
    rule.target = j["target"].get<std::string>();
    if (std::find(k_targets.begin(), k_targets.end(), rule.target) == k_targets.end()) {
        error = "unknown fault target '" + rule.target + "'";
        return std::nullopt;
    }
    if (j.contains("mode")) {
        if (!j["mode"].is_string()) {
            error = "\"mode\" must be a string";
            return std::nullopt;
        }
        auto name = j["mode"].get<std::string>();
        auto it = std::find_if(k_modes.begin(), k_modes.end(), [&](const auto& m) { return m.first == name; });
        if (it == k_modes.end()) {
            error = "unknown fault mode '" + name + "'";
            return std::nullopt;
        }
        rule.mode = it->second;
    }
    if (j.contains("status")) {
        if (!j["status"].is_number_integer() || j["status"].get<int>() < 100 || j["status"].get<int>() > 599) {
            error = "\"status\" must be an HTTP status code";
            return std::nullopt;
        }
        rule.status = j["status"].get<unsigned>();
    }
    if (j.contains("retry_after")) {
        const auto& v = j["retry_after"];
        if (v.is_string()) {
            rule.retry_after = v.get<std::string>();
        } else if (v.is_number_integer()) {
            rule.retry_after = std::to_string(v.get<std::int64_t>());
        } else {
            error = "\"retry_after\" must be a string or an integer";
            return std::nullopt;
        }
    }
    if (j.contains("count")) {
        if (!j["count"].is_number_integer() ||
            (j["count"].get<std::int64_t>() < 1 && j["count"].get<std::int64_t>() != -1)) {
            error = "\"count\" must be a positive integer or -1";
            return std::nullopt;
        }
        rule.count = j["count"].get<std::int64_t>();
    }
    if (j.contains("reject_event_ids")) {
        const auto& ids = j["reject_event_ids"];
        if (!ids.is_array() || ids.empty() ||
            !std::all_of(ids.begin(), ids.end(), [](const nlohmann::json& v) { return v.is_string(); })) {
            error = "\"reject_event_ids\" must be a non-empty array of strings";
            return std::nullopt;
        }
        if (rule.target != "sink" && rule.target != "logs") {
            error = "\"reject_event_ids\" applies to the targets sink and logs only";
            return std::nullopt;
        }
        rule.reject_event_ids = ids.get<std::vector<std::string>>();
        if (!j.contains("status")) {
            rule.status = 400;
        }
    }
    auto positive = [&](const char* key, auto& out) {
        if (!j.contains(key)) {
            return true;
        }
        if (!j[key].is_number_integer() || j[key].get<std::int64_t>() < 0) {
            error = std::string("\"") + key + "\" must be a non-negative integer";
            return false;
        }
        out = j[key].get<std::remove_reference_t<decltype(out)>>();
        return true;
    };
    if (!positive("hang_ms", rule.hang_ms) || !positive("skip", rule.skip) ||
        !positive("trickle_bytes", rule.trickle_bytes) || !positive("trickle_delay_ms", rule.trickle_delay_ms) ||
        !positive("missing_rows", rule.missing_rows)) {
        return std::nullopt;
    }
    if (rule.mode == FaultMode::missing_rows && rule.target != "rta") {
        error = "mode \"missing_rows\" applies to the target rta only";
        return std::nullopt;
    }
    if (rule.trickle_bytes == 0) {
        rule.trickle_bytes = 1;
    }
    return rule;
}

nlohmann::json Faults::to_json() const
{
    nlohmann::json rules = nlohmann::json::array();
    for (const auto& r : m_rules) {
        rules.push_back(r.to_json());
    }
    return {{"rules", rules}, {"faults_fired", m_fired}};
}

std::optional<FaultRule> Faults::consume(std::size_t index)
{
    if (m_rules[index].skip > 0) {
        --m_rules[index].skip;  // this request passes untouched
        return std::nullopt;
    }
    FaultRule fired = m_rules[index];
    ++m_fired;
    if (m_rules[index].count > 0 && --m_rules[index].count == 0) {
        m_rules.erase(m_rules.begin() + static_cast<std::ptrdiff_t>(index));
    }
    return fired;
}

std::optional<FaultRule> Faults::take(std::string_view kind)
{
    for (std::size_t i = 0; i < m_rules.size(); ++i) {
        if (m_rules[i].reject_event_ids.empty() && matches(m_rules[i].target, kind)) {
            return consume(i);
        }
    }
    return std::nullopt;
}

std::optional<FaultRule> Faults::take_reject(std::string_view kind, std::span<const std::string_view> event_ids,
                                             std::string& matched)
{
    for (std::size_t i = 0; i < m_rules.size(); ++i) {
        const auto& rule = m_rules[i];
        if (rule.reject_event_ids.empty() || !matches(rule.target, kind)) {
            continue;
        }
        for (const auto& id : event_ids) {
            if (std::find(rule.reject_event_ids.begin(), rule.reject_event_ids.end(), id) !=
                rule.reject_event_ids.end()) {
                matched = std::string(id);
                return consume(i);
            }
        }
    }
    return std::nullopt;
}

ServerResponse fault_response(const FaultRule& rule, std::string_view kind)
{
    ServerResponse r;
    switch (rule.mode) {
    case FaultMode::status:
    case FaultMode::trickle:
    case FaultMode::truncate:
    case FaultMode::missing_rows: {
        std::string text = std::string("Simulated fault: ") + reason_phrase(rule.status);
        if (kind == "odata" || kind == "rta") {
            r = odata_error(rule.status, "SIM/FAULT", text);
        } else if (kind == "soap") {
            r.status = rule.status;
            r.content_type = "text/plain; charset=utf-8";
            r.body = text + "\n";
        } else {
            nlohmann::json body = {{"error", text}};
            r = json_response(rule.status, body.dump());
        }
        r.status = rule.status;
        if (rule.status == 401 && is_c4c(kind)) {
            r.headers.emplace_back("WWW-Authenticate", "Basic realm=\"SAP\"");
        }
        break;
    }
    case FaultMode::garbage:
        r.status = 200;
        r.content_type = kind == "soap" ? "text/xml; charset=utf-8" : "application/json";
        r.body = std::string(k_garbage);
        break;
    case FaultMode::broken_xml:
        r.status = 200;
        r.content_type = "text/xml; charset=utf-8";
        r.body = std::string(k_generic_xml);
        break;
    case FaultMode::soap_fault:
        r.status = 500;
        r.content_type = "text/xml; charset=utf-8";
        r.body =
            soap_fault_body("soap-env:Server", "Simulated fault: web service temporarily unavailable (SRT_CORE 004)");
        break;
    case FaultMode::hang:
        r.hang = std::chrono::milliseconds(rule.hang_ms);
        break;
    }
    if (rule.retry_after) {
        r.headers.emplace_back("Retry-After", *rule.retry_after);
    }
    return r;
}

void apply_fault(const FaultRule& rule, std::string_view kind, ServerResponse& response)
{
    switch (rule.mode) {
    case FaultMode::trickle:
        response.trickle_bytes = rule.trickle_bytes;
        response.trickle_delay = std::chrono::milliseconds(rule.trickle_delay_ms);
        break;
    case FaultMode::truncate:
        response.truncate_after = response.body.size() / 2;
        response.close = true;
        break;
    case FaultMode::missing_rows:
        break;  // the RTA service left the rows out
    case FaultMode::broken_xml:
        response.status = 200;
        if (response.content_type.find("xml") != std::string::npos && response.body.size() > 16) {
            response.body.resize(response.body.size() / 2);
        } else {
            response.body = std::string(k_generic_xml);
        }
        response.content_type = "text/xml; charset=utf-8";
        break;
    default:
        response = fault_response(rule, kind);
        return;
    }
    if (rule.retry_after) {
        response.headers.emplace_back("Retry-After", *rule.retry_after);
    }
}

}  // namespace c4c::sim
