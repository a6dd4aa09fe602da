#include "tests/fakes/control_api.hpp"

#include "tests/fakes/simulator.hpp"

#include <nlohmann/json.hpp>

#include <cstdlib>

namespace c4c::sim {

namespace {

using nlohmann::json;

ServerResponse ok(const json& body)
{
    return json_response(200, body.dump());
}

ServerResponse bad(unsigned status, std::string_view message)
{
    return json_response(status, json{{"error", message}}.dump());
}

json counts(Simulator& sim)
{
    json objects = json::object();
    for (auto& c : sim.world().collections()) {
        objects[c.kind().name] = c.objects().size();
    }
    return {
        {"objects", objects}, {"messages", sim.world().messages().size()}, {"rta_rows", sim.world().rta_rows().size()}};
}

json stats(Simulator& sim)
{
    const auto& c4c = sim.c4c_counters();
    json out = {{"sink", sim.sink().use_case_stats()},
                {"metrics_posts", sim.sink().metrics_posts()},
                {"tokens_issued", sim.sink().tokens_issued()},
                {"c4c_requests", {{"odata", c4c.odata}, {"rta", c4c.rta}, {"soap", c4c.soap}}},
                {"auth_failures", c4c.auth_failures + sim.sink().auth_failures()},
                {"faults_fired", sim.faults().fired()}};
    out.update(counts(sim));
    return out;
}

// A damaged record says so ("malformed"), so that tests can tell what the daemon must quarantine.
void mark(json& entry, Malformed malformed)
{
    if (malformed != Malformed::none) {
        entry["malformed"] = malformed_name(malformed);
    }
}

json business_object_entry(Simulator& sim, std::size_t collection, std::uint32_t index, std::int64_t change_ms,
                           std::uint8_t status)
{
    auto& coll = sim.world().collections()[collection];
    const auto& o = coll.objects()[index];
    json entry = {{"collection", coll.kind().name},
                  {"object_id", std::string(o.key())},
                  {"id", std::to_string(o.id)},
                  {"change_ms", change_ms},
                  {"status", coll.kind().statuses[status].first}};
    mark(entry, o.malformed);
    return entry;
}

json message_entry(const Message& m, std::int64_t last_change_ticks, int status)
{
    json entry = {{"message_id", m.id},
                  {"last_change", iso_from_ticks(last_change_ticks)},
                  {"last_change_unix_nano", std::to_string(last_change_ticks * 100)},
                  {"status", std::to_string(status)}};
    mark(entry, m.malformed);
    return entry;
}

json rta_entry(const RtaRow& r)
{
    json entry = {{"step_id", r.step_id},
                  {"timestamp_ms", r.timestamp_s * 1000},
                  {"user", user_names()[r.user]},
                  {"ui_component", rta_components()[r.component].first}};
    if (!r.zone.empty()) {
        entry["timezone"] = r.zone;
    }
    mark(entry, r.malformed);
    return entry;
}

std::optional<json> records(Simulator& sim, std::string_view kind, bool history)
{
    json out = json::array();
    auto& world = sim.world();
    if (kind == "business_objects") {
        if (history) {
            for (const auto& h : world.business_object_history()) {
                out.push_back(business_object_entry(sim, h.collection, h.index, h.change_ms, h.status));
            }
        } else {
            for (std::size_t c = 0; c < world.collections().size(); ++c) {
                const auto& objects = world.collections()[c].objects();
                for (std::uint32_t i = 0; i < objects.size(); ++i) {
                    out.push_back(business_object_entry(sim, c, i, objects[i].change_ms, objects[i].status));
                }
            }
        }
    } else if (kind == "webservice_messages") {
        if (history) {
            for (const auto& h : world.message_history()) {
                out.push_back(message_entry(world.messages()[h.index], h.last_change_ticks, h.status));
            }
        } else {
            for (const auto& m : world.messages()) {
                out.push_back(message_entry(m, m.last_change_ticks, m.status));
            }
        }
    } else if (kind == "response_time_analysis") {
        for (const auto& r : world.rta_rows()) {
            out.push_back(rta_entry(r));
        }
    } else {
        return std::nullopt;
    }
    return out;
}

std::optional<std::size_t> count_field(const json& body, const char* key, std::size_t fallback, std::string& error)
{
    if (!body.contains(key)) {
        return fallback;
    }
    const auto& v = body[key];
    if (!v.is_number_integer() || v.get<std::int64_t>() < 0 || v.get<std::int64_t>() > 1'000'000) {
        error = std::string("\"") + key + "\" must be an integer between 0 and 1000000";
        return std::nullopt;
    }
    return v.get<std::size_t>();
}

ServerResponse change(Simulator& sim, const json& body)
{
    auto& world = sim.world();
    if (!body.is_object()) {
        return bad(400, "body must be a JSON object");
    }
    if (body.empty()) {
        world.tick();
        return ok(counts(sim));
    }
    if (!body.contains("kind") || !body["kind"].is_string()) {
        return bad(400, "\"kind\" must be business_objects, webservice_messages or response_time_analysis");
    }
    auto kind = body["kind"].get<std::string>();
    std::string error;
    // The records added are sent damaged: "no_key" (business objects, messages) or "bad_time".
    Malformed malformed = Malformed::none;
    if (body.contains("malformed")) {
        const auto parsed =
            body["malformed"].is_string() ? parse_malformed(body["malformed"].get<std::string>()) : std::nullopt;
        if (!parsed || (kind == "response_time_analysis" && *parsed == Malformed::no_key)) {
            return bad(400, kind == "response_time_analysis" ? "\"malformed\" must be \"bad_time\""
                                                             : "\"malformed\" must be \"no_key\" or \"bad_time\"");
        }
        malformed = *parsed;
    }
    if (body.contains("timezone") && kind != "response_time_analysis") {
        return bad(400, "\"timezone\" is for response_time_analysis rows only");
    }
    if (kind == "business_objects") {
        Collection* only = nullptr;
        if (body.contains("collection")) {
            if (!body["collection"].is_string() ||
                (only = world.find_collection(body["collection"].get<std::string>())) == nullptr) {
                return bad(400, "unknown \"collection\"");
            }
        }
        auto count = count_field(body, "count", 3, error);
        auto add = count_field(body, "add", 1, error);
        if (!count || !add) {
            return bad(400, error);
        }
        world.change_business_objects(only, *count, *add, malformed);
    } else if (kind == "webservice_messages") {
        auto count = count_field(body, "count", 1, error);
        auto add = count_field(body, "add", 2, error);
        if (!count || !add) {
            return bad(400, error);
        }
        world.change_messages(*count, *add, malformed);
    } else if (kind == "response_time_analysis") {
        auto add = count_field(body, "add", 5, error);
        if (!add) {
            return bad(400, error);
        }
        std::string zone;
        if (body.contains("timezone")) {
            // Any code SAP could send: one of its table (shown in that zone) or not (shown with UTC's digits).
            if (!body["timezone"].is_string() || !plausible_zone_code(body["timezone"].get<std::string>())) {
                return bad(400, "\"timezone\" must be an SAP time-zone code (1 to 16 of A-Z a-z 0-9 + - _)");
            }
            zone = body["timezone"].get<std::string>();
        }
        world.add_rta_rows(*add, zone, malformed);
    } else {
        return bad(400, "unknown \"kind\" " + kind);
    }
    return ok(counts(sim));
}

ServerResponse add_faults(Simulator& sim, const json& body)
{
    std::vector<FaultRule> rules;
    std::string error;
    auto parse_one = [&](const json& j) {
        auto rule = parse_fault_rule(j, error);
        if (rule) {
            rules.push_back(std::move(*rule));
        }
        return rule.has_value();
    };
    if (body.is_object() && body.contains("rules")) {
        if (!body["rules"].is_array() || body.size() != 1) {
            return bad(400, "expected {\"rules\":[...]} or a single rule");
        }
        for (const auto& j : body["rules"]) {
            if (!parse_one(j)) {
                return bad(400, error);
            }
        }
    } else if (!parse_one(body)) {
        return bad(400, error);
    }
    for (auto& r : rules) {
        sim.faults().add(std::move(r));
    }
    return ok(sim.faults().to_json());
}

json clock(Simulator& sim)
{
    return {{"offset_ms", sim.world().clock_offset_ms()},
            {"tenant_now_ms", sim.world().tenant_ms()},
            {"date_header", sim.date_header()}};
}

ServerResponse set_clock(Simulator& sim, const json& body)
{
    if (!body.is_object()) {
        return bad(400, "expected {\"offset_ms\": N} or {\"offset_s\": N}, and/or {\"date_header\": bool}");
    }
    for (const auto& [key, value] : body.items()) {
        if (key == "offset_ms" || key == "offset_s") {
            if (!value.is_number_integer() || std::abs(value.get<std::int64_t>()) > 366LL * 86400 * 1000) {
                return bad(400, "\"" + key + "\" must be an integer (negative: the tenant is behind)");
            }
        } else if (key == "date_header") {
            if (!value.is_boolean()) {
                return bad(400, "\"date_header\" must be true or false");
            }
        } else {
            return bad(400, "unknown clock key '" + key + "'");
        }
    }
    if (body.contains("offset_ms")) {
        sim.world().set_clock_offset_ms(body["offset_ms"].get<std::int64_t>());
    }
    if (body.contains("offset_s")) {
        sim.world().set_clock_offset_ms(body["offset_s"].get<std::int64_t>() * 1000);
    }
    if (body.contains("date_header")) {
        sim.set_date_header(body["date_header"].get<bool>());
    }
    return ok(clock(sim));
}

}  // namespace

ServerResponse handle_control(Simulator& sim, const ServerRequest& request)
{
    std::string_view path = request.path();
    const auto& method = request.method;
    auto params = parse_query(request.target);
    auto body_json = [&]() -> std::optional<json> {
        if (request.body.empty()) {
            return json::object();
        }
        auto j = json::parse(request.body, nullptr, false);
        if (j.is_discarded()) {
            return std::nullopt;
        }
        return j;
    };

    if (path == "/_sim/stats") {
        return method == "GET" ? ok(stats(sim)) : bad(405, "use GET");
    }
    if (path == "/_sim/received") {
        if (method != "GET") {
            return bad(405, "use GET");
        }
        return ok(sim.sink().received(query_value(params, "use_case").value_or("")));
    }
    if (path == "/_sim/requests") {
        if (method != "GET") {
            return bad(405, "use GET");
        }
        auto prefix = query_value(params, "prefix").value_or("");
        json list = json::array();
        for (const auto& entry : sim.request_log()) {
            if (entry.target.compare(0, prefix.size(), prefix) == 0) {
                list.push_back({{"time_ms", entry.time_ms},
                                {"method", entry.method},
                                {"target", entry.target},
                                {"status", entry.status},
                                {"authorization", entry.authorization}});
            }
        }
        return ok(json{{"requests", std::move(list)}});
    }
    if (path == "/_sim/metrics_received") {
        return method == "GET" ? ok(sim.sink().metrics_received()) : bad(405, "use GET");
    }
    if (path == "/_sim/records" || path == "/_sim/history") {
        if (method != "GET") {
            return bad(405, "use GET");
        }
        auto kind = query_value(params, "kind").value_or("");
        auto list = records(sim, kind, path == "/_sim/history");
        if (!list) {
            return bad(400, "kind must be business_objects, webservice_messages or response_time_analysis");
        }
        return ok(*list);
    }
    if (path == "/_sim/faults") {
        if (method == "GET") {
            return ok(sim.faults().to_json());
        }
        if (method == "DELETE") {
            sim.faults().clear();
            return ok(sim.faults().to_json());
        }
        if (method == "POST") {
            auto body = body_json();
            return body ? add_faults(sim, *body) : bad(400, "body is not valid JSON");
        }
        return bad(405, "use GET, POST or DELETE");
    }
    if (path == "/_sim/change") {
        if (method != "POST") {
            return bad(405, "use POST");
        }
        auto body = body_json();
        return body ? change(sim, *body) : bad(400, "body is not valid JSON");
    }
    if (path == "/_sim/clock") {
        if (method == "GET") {
            return ok(clock(sim));
        }
        if (method == "POST") {
            auto body = body_json();
            return body ? set_clock(sim, *body) : bad(400, "body is not valid JSON");
        }
        return bad(405, "use GET or POST");
    }
    if (path == "/_sim/reset_sink") {
        if (method != "POST") {
            return bad(405, "use POST");
        }
        sim.sink().reset();
        return ok(json{{"ok", true}});
    }
    return bad(404, "no such control endpoint");
}

}  // namespace c4c::sim
