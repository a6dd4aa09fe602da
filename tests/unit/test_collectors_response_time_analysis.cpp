#include "collectors_support.hpp"

#include "collectors/response_time_analysis.hpp"
#include "collectors/sap_time_zones.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace fs = std::filesystem;
using namespace c4c::collectors;
using namespace collector_tests;
using c4c::infra::http::ServerRequest;
using c4c::infra::http::ServerResponse;
using json = nlohmann::json;

namespace {

constexpr std::string_view k_tenant = "acme-prod";

RtaPage parse_ok(std::string_view body)
{
    auto page = parse_rta_page(body);
    REQUIRE_MESSAGE(page.has_value(), (page ? "" : page.error().message));
    return *page;
}

RtaParseError parse_error(std::string_view body)
{
    auto page = parse_rta_page(body);
    REQUIRE_FALSE(page.has_value());
    return page.error();
}

/// The one row of `body` that is quarantined (the page itself is fine).
QuarantinedRecord bad_row(std::string_view body)
{
    const RtaPage page = parse_ok(body);
    REQUIRE(page.bad_rows.size() == 1);
    CHECK(page.elements == page.rows.size() + 1);
    return page.bad_rows[0];
}

std::string page_json(const json& rows, std::optional<std::string> count = std::nullopt)
{
    json d = {{"results", rows}};
    if (count) {
        d["__count"] = *count;
    }
    return json{{"d", d}}.dump();
}

json row_json(std::string_view timestamp, std::string_view user = "OLIVIA.BROWN", std::string_view step = "STEP1")
{
    return json{{"CTIMESTAMP", timestamp},
                {"CUSER", user},
                {"CUI_COMPONENT", "COD_SRQ_AGENT_TI"},
                {"TUI_COMPONENT", "Ticket"},
                {"CSTEP_ID", step},
                {"KRESPONSE_TIME", "1228"},
                {"KSERVER_TIME", 606},
                {"KNETWORK_TIME", "246.000"},
                {"KCLIENT_TIME", 376}};
}

std::optional<double> double_attribute(const Event& event, std::string_view key)
{
    const auto* a = find_attribute(event, key);
    if (a == nullptr) {
        return std::nullopt;
    }
    const auto* value = std::get_if<double>(&a->value);
    REQUIRE_MESSAGE(value != nullptr, key << " is not a double");
    return *value;
}

/// Every string an event carries, for "the clear user appears nowhere" checks.
std::vector<std::string> all_strings(const Event& event)
{
    std::vector<std::string> out{event.id, event.source, event.object_type, event.object_id, event.body};
    for (const auto& a : event.attributes) {
        out.emplace_back(a.key);
        if (const auto* text = std::get_if<std::string>(&a.value)) {
            out.push_back(*text);
        }
    }
    return out;
}

}  // namespace

// ---------------------------------------------------------------------------------------------------
// parse_rta_page

TEST_CASE("parse_rta_page: the sample page")
{
    const RtaPage page = parse_ok(read_sample("rta-page.json"));
    REQUIRE(page.rows.size() == 2);
    REQUIRE(page.count.has_value());
    CHECK(*page.count == 3);  // a string in OData v2
    CHECK(page.next.empty());

    const RtaRow& first = page.rows[0];
    CHECK(first.timestamp_unix_s == 1795650072);  // 25.11.2026 23:41:12 UTC
    CHECK(first.user == "OLIVIA.BROWN");
    CHECK(first.ui_component == "COD_SRQ_AGENT_TI");
    CHECK(first.ui_component_text == "Ticket");
    CHECK(first.step_id == "0A1B2C7E90ABDD6A67EDE0EA52246D7E");
    CHECK(first.response_ms == 1228.0);  // numeric string
    CHECK(first.server_ms == 606.0);     // number
    CHECK(first.network_ms == 246.0);    // "246.000"
    CHECK(first.client_ms == 376.0);

    const RtaRow& second = page.rows[1];
    CHECK(second.timestamp_unix_s == 1795650072 + 52 * 60 + 46);  // 26.11.2026 00:33:58 UTC
    CHECK(second.user == "LUCAS.MARTIN");
    CHECK(second.network_ms == 20.0);
}

TEST_CASE("parse_rta_page: time zones are converted per row")
{
    const RtaPage page =
        parse_ok(page_json(json::array({row_json("25.11.2026 18:41:12 EST"), row_json("26.11.2026 00:41:12 CET"),
                                        row_json("26.11.2026 05:11:12 INDIA")})));
    REQUIRE(page.rows.size() == 3);
    for (const auto& row : page.rows) {
        CHECK(row.timestamp_unix_s == 1795650072);
    }
    CHECK_FALSE(page.count.has_value());
}

TEST_CASE("parse_rta_page: optional and odd fields")
{
    json row = row_json("25.11.2026 23:41:12 UTC");
    row["KSERVER_TIME"] = nullptr;
    row["KNETWORK_TIME"] = "";
    row.erase("KCLIENT_TIME");
    row["KRESPONSE_TIME"] = " 12.5 ";
    row["CSTEP_ID"] = 4711;  // an id sent unquoted is still an id
    row["EXTRA"] = {{"nested", true}};
    json d = {{"results", json::array({row})}, {"__count", 1}, {"__next", "RTA_DS?$skiptoken=1"}};
    const RtaPage page = parse_ok(json{{"d", d}}.dump());
    REQUIRE(page.rows.size() == 1);
    CHECK(page.rows[0].response_ms == 12.5);
    CHECK_FALSE(page.rows[0].server_ms.has_value());
    CHECK_FALSE(page.rows[0].network_ms.has_value());
    CHECK_FALSE(page.rows[0].client_ms.has_value());
    CHECK(page.rows[0].step_id == "4711");
    CHECK(page.count == 1u);
    CHECK(page.next == "RTA_DS?$skiptoken=1");

    const RtaPage empty = parse_ok(R"({"d":{"results":[],"__count":"0"}})");
    CHECK(empty.rows.empty());
    CHECK(empty.count == 0u);
}

TEST_CASE("parse_rta_page: errors")
{
    SUBCASE("not JSON")
    {
        const auto e = parse_error("<html>Service Unavailable</html>");
        CHECK(e.code == RtaErrc::parse);
        CHECK(e.message == "not valid JSON");
        CHECK(parse_error(R"({"d":{"results":[)").code == RtaErrc::parse);
    }
    SUBCASE("not the OData shape")
    {
        CHECK(parse_error("[]").message.find("missing d") == 0);
        CHECK(parse_error(R"({"error":{"code":"x"}})").message.find("missing d") == 0);
        CHECK(parse_error(R"({"d":{}})").message == "missing d.results");
        CHECK(parse_error(R"({"d":{"results":{}}})").message == "missing d.results");
        CHECK(parse_error(R"({"d":{"results":[],"__count":"many"}})").message.find("__count") != std::string::npos);
        CHECK(parse_error(R"({"d":{"results":[],"__count":-1}})").code == RtaErrc::parse);
    }
}

TEST_CASE("parse_rta_page: rows that cannot be normalized are kept apart with their text, the page is read")
{
    SUBCASE("a row that is not an object")
    {
        const auto record = bad_row(R"({"d":{"results":[1]}})");
        CHECK(record.reason == QuarantineReason::invalid_value);
        CHECK(record.detail == "row 1: not an object");
        CHECK(record.raw == "1");
    }
    SUBCASE("non-numeric key figure, naming the field and row")
    {
        json bad = row_json("25.11.2026 23:41:12 UTC", "U", "STEP2");
        bad["KSERVER_TIME"] = "abc";
        const auto record = bad_row(page_json(json::array({row_json("25.11.2026 23:41:12 UTC"), bad})));
        CHECK(record.reason == QuarantineReason::invalid_value);
        CHECK(record.object_key == "STEP2");
        CHECK(record.detail.find("row 2") != std::string::npos);
        CHECK(record.detail.find("STEP2") != std::string::npos);
        CHECK(record.detail.find("KSERVER_TIME 'abc' is not a number") != std::string::npos);
        CHECK(json::parse(record.raw) == bad);
        for (const json& value : {json("12ms"), json("nan"), json("inf"), json(true), json::object(), json::array()}) {
            CAPTURE(value.dump());
            json odd = row_json("25.11.2026 23:41:12 UTC");
            odd["KCLIENT_TIME"] = value;
            CHECK(bad_row(page_json(json::array({odd}))).detail.find("KCLIENT_TIME") != std::string::npos);
        }
    }
    SUBCASE("unknown time zone: naming the code and the row, never the user")
    {
        const auto record = bad_row(page_json(json::array({row_json("25.11.2026 23:41:12 XYZ", "U.SER", "STEP9")})));
        CHECK(record.reason == QuarantineReason::unknown_timezone);
        CHECK(record.object_key == "STEP9");
        CHECK(record.detail.find("unknown SAP time zone 'XYZ'") != std::string::npos);
        CHECK(record.detail.find("row 1") != std::string::npos);
        CHECK(record.detail.find("STEP9") != std::string::npos);
        CHECK(record.detail.find("U.SER") == std::string::npos);
    }
    SUBCASE("bad CTIMESTAMP")
    {
        const auto malformed = bad_row(page_json(json::array({row_json("2026-11-25T23:41:12Z")})));
        CHECK(malformed.reason == QuarantineReason::invalid_time);
        CHECK(malformed.detail.find("malformed CTIMESTAMP") != std::string::npos);
        json missing = row_json("x");
        missing.erase("CTIMESTAMP");
        CHECK(bad_row(page_json(json::array({missing}))).detail.find("CTIMESTAMP missing") != std::string::npos);
        const auto late = bad_row(page_json(json::array({row_json("31.12.9999 23:59:59 UTC")})));
        CHECK(late.reason == QuarantineReason::invalid_time);
        CHECK(late.detail.find("out of range") != std::string::npos);
        CHECK(bad_row(page_json(json::array({row_json("31.02.2026 10:00:00 UTC")}))).reason ==
              QuarantineReason::invalid_time);
    }
    SUBCASE("a text field that is an object")
    {
        json odd = row_json("25.11.2026 23:41:12 UTC");
        odd["CUSER"] = json::object();
        const auto record = bad_row(page_json(json::array({odd})));
        CHECK(record.reason == QuarantineReason::invalid_value);
        CHECK(record.detail.find("CUSER") != std::string::npos);
    }
    SUBCASE("the raw text is the row as sent, members in their order, among good rows")
    {
        const std::string body =
            R"({"d":{"results":[{"CTIMESTAMP":"25.11.2026 23:41:12 UTC","CSTEP_ID":"A"},)"
            R"( {"ZZ":1,"CTIMESTAMP" : "25.11.2026 23:41:12 NZXT","CSTEP_ID":"B","CUSER":"Ärger"},)"
            R"(7,{"CTIMESTAMP":"25.11.2026 23:41:12 UTC","CSTEP_ID":"C"}],"__count":"4"}})";
        const RtaPage page = parse_ok(body);
        CHECK(page.rows.size() == 2);
        CHECK(page.elements == 4);
        REQUIRE(page.bad_rows.size() == 2);
        CHECK(page.bad_rows[0].raw ==
              R"({"ZZ":1,"CTIMESTAMP" : "25.11.2026 23:41:12 NZXT","CSTEP_ID":"B","CUSER":"Ärger"})");
        CHECK(page.bad_rows[0].object_key == "B");
        CHECK(page.bad_rows[1].raw == "7");
    }
}

TEST_CASE("normalize_rta_raw: the row's text alone gives the page path's verdict or event")
{
    const std::string good = R"({"CTIMESTAMP":"26.11.2026 12:41:12 NZST","CUSER":"OLIVIA.BROWN","CSTEP_ID":"S1",)"
                             R"("CUI_COMPONENT":"C","KRESPONSE_TIME":"12"})";
    const RtaPage page = parse_ok(R"({"d":{"results":[)" + good + "]}}");
    REQUIRE(page.rows.size() == 1);
    const Event from_page = normalize_rta_row(k_tenant, page.rows[0], nullptr, 7);
    const auto from_raw = normalize_rta_raw(k_tenant, good, nullptr, 7);
    REQUIRE(from_raw.has_value());
    CHECK(from_raw->id == from_page.id);
    CHECK(from_raw->body == from_page.body);
    CHECK(from_raw->time_unix_nano == 1795650072LL * 1'000'000'000);  // 23:41:12 UTC, NZ daylight time

    const std::string unknown = R"({"CTIMESTAMP":"25.11.2026 10:41:12 MARS","CSTEP_ID":"S2"})";
    const auto quarantined = normalize_rta_raw(k_tenant, unknown, nullptr, 7);
    REQUIRE_FALSE(quarantined.has_value());
    CHECK(quarantined.error().reason == QuarantineReason::unknown_timezone);
    CHECK(quarantined.error().object_key == "S2");
    CHECK(quarantined.error().raw == unknown);
    CHECK(normalize_rta_raw(k_tenant, "{", nullptr, 7).error().reason == QuarantineReason::invalid_value);
    CHECK(normalize_rta_raw(k_tenant, "[]", nullptr, 7).error().reason == QuarantineReason::invalid_value);
}

TEST_CASE("parse_rta_page never throws on damaged input")
{
    const std::string sample = read_sample("rta-page.json");
    for (std::size_t n = 0; n <= sample.size(); n += 7) {
        CHECK_NOTHROW((void)parse_rta_page(std::string_view(sample).substr(0, n)));
    }
    std::string flipped = sample;
    for (std::size_t i = 0; i < flipped.size(); i += 13) {
        flipped[i] = static_cast<char>(flipped[i] ^ 0x55);
        CHECK_NOTHROW((void)parse_rta_page(flipped));
    }
    CHECK_NOTHROW((void)parse_rta_page(std::string(20000, '[') + std::string(20000, ']')));
    CHECK_NOTHROW((void)parse_rta_page("{\"d\":{\"results\":[{\"CTIMESTAMP\":\"\xff\xfe\"}]}}"));
}

// ---------------------------------------------------------------------------------------------------
// normalize_rta_row

// Found while writing tests/fuzz/fuzz_rta_page: nlohmann's DOM of "[[[[..." takes about 70 bytes per
// level, so a 64 MiB body (the HTTP client's cap) of them took over 4 GiB before failing.
TEST_CASE("parse_rta_page: nesting is bounded")
{
    const auto nested = [](int levels, std::string_view inner) {
        return R"({"d":{"results":[{"CTIMESTAMP":"25.11.2026 23:41:12 UTC","X":)" + std::string(levels, '[') +
               std::string(inner) + std::string(levels, ']') + "}]}}";
    };
    const auto ok = parse_rta_page(nested(k_rta_max_depth - 4, "\"[{\\\"\""));  // brackets in strings do not count
    REQUIRE(ok.has_value());
    CHECK(ok->rows.size() == 1);
    for (const std::string& body : {nested(k_rta_max_depth - 3, ""), std::string(64u << 20, '[')}) {
        const auto deep = parse_rta_page(body);
        REQUIRE_FALSE(deep.has_value());
        CHECK(deep.error().code == RtaErrc::parse);
        CHECK(deep.error().message == "not an RTA page: JSON nested deeper than 64 levels");
    }
}

TEST_CASE("normalize_rta_row: clear user")
{
    const RtaPage page = parse_ok(read_sample("rta-page.json"));
    const Event event = normalize_rta_row(k_tenant, page.rows[0], nullptr, 42);
    CHECK(event.source == "response_time_analysis");
    CHECK(event.object_type == "ResponseTimeAnalysis");
    CHECK(event.object_id == "0A1B2C7E90ABDD6A67EDE0EA52246D7E");
    CHECK(event.time_unix_nano == 1795650072LL * 1'000'000'000);
    CHECK(event.observed_unix_nano == 42);
    CHECK(event.severity == Severity::info);
    CHECK(event.body == "Ticket (COD_SRQ_AGENT_TI): 1228 ms response (server 606, network 246, client 376)");
    // Golden, computed once outside this code and never to be recomputed to make a change pass: a
    // different id re-sends every row of the overlap window after an upgrade (make_event_id in
    // infra/event.hpp). The record key is CTIMESTAMP in Unix seconds, user, CUI_COMPONENT, CSTEP_ID.
    //   in='acme-prod\037response_time_analysis\037ResponseTimeAnalysis'
    //   key='1795650072\037OLIVIA.BROWN\037COD_SRQ_AGENT_TI\0370A1B2C7E90ABDD6A67EDE0EA52246D7E'
    //   printf "$in\037$key\0371795650072000000000" | sha256sum | cut -c1-32
    CHECK(event.id == "9d473fedbc1afab59a653e31d9caedfb");
    CHECK(string_attribute(event, "sap.c4c.rta.user") == "OLIVIA.BROWN");
    CHECK(string_attribute(event, "sap.c4c.rta.ui_component") == "COD_SRQ_AGENT_TI");
    CHECK(string_attribute(event, "sap.c4c.rta.ui_component_text") == "Ticket");
    CHECK(string_attribute(event, "sap.c4c.rta.step_id") == "0A1B2C7E90ABDD6A67EDE0EA52246D7E");
    CHECK(double_attribute(event, "sap.c4c.rta.response_time_ms") == 1228.0);
    CHECK(double_attribute(event, "sap.c4c.rta.server_time_ms") == 606.0);
    CHECK(double_attribute(event, "sap.c4c.rta.network_time_ms") == 246.0);
    CHECK(double_attribute(event, "sap.c4c.rta.client_time_ms") == 376.0);
    const auto* flag = find_attribute(event, "sap.c4c.rta.user_pseudonymized");
    REQUIRE(flag != nullptr);
    CHECK(std::get<bool>(flag->value) == false);

    // The id is the record state's: stable, independent of when it was observed, and different for
    // another row.
    CHECK(normalize_rta_row(k_tenant, page.rows[0], nullptr, 99).id == event.id);
    CHECK(normalize_rta_row(k_tenant, page.rows[1], nullptr, 42).id != event.id);
    CHECK(normalize_rta_row("other-tenant", page.rows[0], nullptr, 42).id != event.id);
    RtaRow other_user = page.rows[0];
    other_user.user = "LUCAS.MARTIN";
    CHECK(normalize_rta_row(k_tenant, other_user, nullptr, 42).id != event.id);
}

TEST_CASE("normalize_rta_row: the same row in another SAP time zone keeps its id")
{
    const RtaPage page =
        parse_ok(page_json(json::array({row_json("25.11.2026 23:41:12 UTC"), row_json("26.11.2026 00:41:12 CET")})));
    CHECK(normalize_rta_row(k_tenant, page.rows[0], nullptr, 0).id ==
          normalize_rta_row(k_tenant, page.rows[1], nullptr, 0).id);
}

TEST_CASE("normalize_rta_row: pseudonymized user appears nowhere in clear")
{
    Pseudonymizer::Key key{};
    key.fill(7);
    const Pseudonymizer pseudonymizer(key);
    const RtaPage page = parse_ok(read_sample("rta-page.json"));
    const Event event = normalize_rta_row(k_tenant, page.rows[0], &pseudonymizer, 42);
    const std::string user = string_attribute(event, "sap.c4c.rta.user");
    CHECK(user == pseudonymizer.pseudonym("OLIVIA.BROWN"));
    CHECK(std::get<bool>(find_attribute(event, "sap.c4c.rta.user_pseudonymized")->value) == true);
    for (const auto& text : all_strings(event)) {
        CHECK(text.find("OLIVIA") == std::string::npos);
    }
    CHECK(event.body == "Ticket (COD_SRQ_AGENT_TI): 1228 ms response (server 606, network 246, client 376)");
    // Golden (see "normalize_rta_row: clear user"): the pseudonym is part of the record key.
    //   printf 'OLIVIA.BROWN' | openssl dgst -sha256 -mac HMAC -macopt hexkey:$(printf '07%.0s' $(seq 32))
    //   -> u_ + its first 32 hex digits: u_7c5bf098f9112d0152367842c6f486aa
    //   in='acme-prod\037response_time_analysis\037ResponseTimeAnalysis'
    //   key='1795650072\037u_7c5bf098f9112d0152367842c6f486aa\037COD_SRQ_AGENT_TI\0370A1B2C7E90ABDD6A67EDE0EA52246D7E'
    //   printf "$in\037$key\0371795650072000000000" | sha256sum | cut -c1-32
    CHECK(user == "u_7c5bf098f9112d0152367842c6f486aa");
    CHECK(event.id == "d39a2b50f5006abbee1aa1935a738ea7");
    // Stable for the same key, and not the clear-user id.
    CHECK(normalize_rta_row(k_tenant, page.rows[0], &pseudonymizer, 1).id == event.id);
    CHECK(normalize_rta_row(k_tenant, page.rows[0], nullptr, 1).id != event.id);
}

TEST_CASE("normalize_rta_row: missing key figures and labels")
{
    RtaRow row;
    row.timestamp_unix_s = 1795650072;
    row.step_id = "S1";
    row.user = "";
    Event event = normalize_rta_row(k_tenant, row, nullptr, 0);
    CHECK(event.body == "step S1: response time not reported");
    CHECK(find_attribute(event, "sap.c4c.rta.user") == nullptr);
    CHECK(find_attribute(event, "sap.c4c.rta.response_time_ms") == nullptr);
    CHECK(find_attribute(event, "sap.c4c.rta.client_time_ms") == nullptr);

    row.ui_component = "COD_LEAD_TI";
    row.response_ms = 12.5;
    row.client_ms = 3;
    event = normalize_rta_row(k_tenant, row, nullptr, 0);
    CHECK(event.body == "COD_LEAD_TI: 12.5 ms response (client 3)");
}

// ---------------------------------------------------------------------------------------------------
// The request URL

TEST_CASE("rta_page_url")
{
    c4c::collectors::SourceConfig source;
    source.settings = ResponseTimeAnalysisSettings{.datasource = "RTA_DS"};
    source.page_size = 1000;
    const std::string url = rta_page_url("https://my123456.crm.ondemand.com/", source, 1795650072, 2000);
    const std::string prefix =
        "https://my123456.crm.ondemand.com/sap/c4c/odata/analytics/ds/RTA_DS.svc/RTA_DS?$format=json&";
    CHECK(url.rfind(prefix, 0) == 0);
    CHECK(url.find(' ') == std::string::npos);
    CHECK(url.find('\'') == std::string::npos);
    const auto query = query_of(url);
    CHECK(query.at("$format") == "json");
    CHECK(query.at("$select") == k_rta_select);
    CHECK(query.at("$filter") == "CTIMESTAMP ge '25.11.2026 23:41:12 UTC'");
    CHECK(query.at("$orderby") == "CTIMESTAMP asc");  // $skip over an unstable order would skip rows
    CHECK(query.at("$top") == "1000");
    CHECK(query.at("$skip") == "2000");
    CHECK(query.at("$inlinecount") == "allpages");
}

// ---------------------------------------------------------------------------------------------------
// poll() against a fake C4C analytics service on a real loopback server, with a real HTTP client.

namespace {

/// Serves rows by $skip/$top (ignoring $filter, which it records), like C4C: unordered, with __count.
class FakeRta {
public:
    std::vector<json> rows;
    bool send_count = true;
    std::size_t extra_count = 0;  ///< __count promises this many rows more than it serves
    unsigned status = 200;
    bool garbage = false;  ///< answer a body that is not JSON
    std::vector<std::string> targets;
    std::vector<std::string> authorizations;

    ServerResponse handle(const ServerRequest& request)
    {
        targets.push_back(request.target);
        if (garbage) {
            ServerResponse response;
            response.content_type = "application/json";
            response.body = "<html>busy</html>";
            return response;
        }
        authorizations.push_back(request.header("Authorization").value_or(""));
        ServerResponse response;
        response.content_type = "application/json";
        if (status != 200) {
            response.status = status;
            response.body = R"({"error":"scripted"})";
            return response;
        }
        const auto query = query_of(request.target);
        const std::size_t skip = std::stoul(query.count("$skip") ? query.at("$skip") : "0");
        const std::size_t top = std::stoul(query.count("$top") ? query.at("$top") : "1000");
        json page = json::array();
        for (std::size_t i = skip; i < rows.size() && i < skip + top; ++i) {
            page.push_back(rows[i]);
        }
        response.body =
            page_json(page, send_count ? std::optional(std::to_string(rows.size() + extra_count)) : std::nullopt);
        return response;
    }
};

class Harness : public LoopbackHarness<FakeRta> {
public:
    TempDir state{TempDir::create};
    fs::path state_dir = state.path;
    // 26.11.2026 00:41:12 UTC
    std::chrono::system_clock::time_point now{std::chrono::seconds(1795650072 + 3600)};
    std::unique_ptr<Collector> collector;

    Harness()
    {
        source.name = c4c::collectors::k_source_response_time_analysis;
        source.page_size = 2;
        source.lookback = 1h;
        source.overlap = 10min;
        source.settings = ResponseTimeAnalysisSettings{.datasource = "RTA_DS", .pseudonymize_users = false};
        collector = make_response_time_analysis_collector(source);
    }

    PollOutcome poll() { return run_poll(*collector, k_tenant, state_dir, now); }

    std::map<std::string, std::string> query(std::size_t request) const { return query_of(fake.targets.at(request)); }
};

constexpr std::int64_t k_checkpoint = 1795650000;  // 25.11.2026 23:40:00 UTC

}  // namespace

TEST_CASE("poll: $skip paging over three pages; only the last commit moves the checkpoint")
{
    Harness h;
    h.store.checkpoints[k_rta_feed] = std::to_string(k_checkpoint);
    // Unordered, as C4C may send them; the greatest (23:55 UTC) sits in the middle page.
    h.fake.rows = {row_json("25.11.2026 23:45:00 UTC", "A", "S1"), row_json("26.11.2026 00:50:00 CET", "B", "S2"),
                   row_json("25.11.2026 18:55:00 EST", "C", "S3"), row_json("25.11.2026 23:41:00 UTC", "D", "S4"),
                   row_json("25.11.2026 23:42:00 UTC", "E", "S5")};

    const PollOutcome outcome = h.poll();
    INFO(outcome.message);
    CHECK(outcome.ok);
    CHECK(outcome.records == 5);
    CHECK(outcome.stored == 5);

    REQUIRE(h.fake.targets.size() == 3);
    for (std::size_t i = 0; i < 3; ++i) {
        const auto q = h.query(i);
        CHECK(h.fake.targets[i].rfind("/sap/c4c/odata/analytics/ds/RTA_DS.svc/RTA_DS?", 0) == 0);
        CHECK(q.at("$filter") == "CTIMESTAMP ge '25.11.2026 23:30:00 UTC'");  // checkpoint - overlap
        CHECK(q.at("$top") == "2");
        CHECK(q.at("$skip") == std::to_string(2 * i));
        CHECK(q.at("$inlinecount") == "allpages");
        CHECK(q.at("$format") == "json");
        CHECK(h.fake.authorizations[i] == c4c::infra::http::basic_authorization("CRUN_USER", "s3cret"));
    }
    CHECK(h.observer.reasons == std::vector<std::string>{"", "", ""});

    REQUIRE(h.store.commits.size() == 3);
    CHECK(h.store.commits[0].feed == "rta");
    CHECK(h.store.commits[0].checkpoint == std::to_string(k_checkpoint));
    CHECK(h.store.commits[1].checkpoint == std::to_string(k_checkpoint));
    CHECK(h.store.commits[2].checkpoint == std::to_string(k_checkpoint + 15 * 60));  // 23:55 UTC
    CHECK(h.store.commits[0].events.size() == 2);
    CHECK(h.store.commits[2].events.size() == 1);
    CHECK(h.store.commits[1].events[0].object_id == "S3");
    CHECK(h.store.commits[1].events[0].time_unix_nano == (k_checkpoint + 15 * 60) * 1'000'000'000);

    SUBCASE("a second poll re-reads the overlap and stores nothing twice")
    {
        const PollOutcome again = h.poll();
        CHECK(again.ok);
        CHECK(again.records == 5);
        CHECK(again.stored == 0);
        CHECK(h.query(3).at("$filter") == "CTIMESTAMP ge '25.11.2026 23:45:00 UTC'");
        CHECK(h.store.checkpoints["rta"] == std::to_string(k_checkpoint + 15 * 60));
    }
}

TEST_CASE("poll: rows read short of __count keep the checkpoint, so the window is read again")
{
    Harness h;
    h.store.checkpoints[k_rta_feed] = std::to_string(k_checkpoint);
    h.fake.rows = {row_json("25.11.2026 23:45:00 UTC", "A", "S1"), row_json("25.11.2026 23:55:00 UTC", "B", "S2"),
                   row_json("25.11.2026 23:50:00 UTC", "C", "S3")};
    h.fake.extra_count = 2;  // two rows promised, never served
    const PollOutcome outcome = h.poll();
    CHECK(outcome.ok);
    CHECK(outcome.stored == 3);
    REQUIRE(h.fake.targets.size() == 3);  // [S1 S2] [S3] [] : the empty page ends the walk at 3 of 5
    CHECK(h.store.checkpoint("rta") == std::to_string(k_checkpoint));

    SUBCASE("once the count is met, the checkpoint moves")
    {
        h.fake.extra_count = 0;
        CHECK(h.poll().ok);
        CHECK(h.store.checkpoint("rta") == std::to_string(k_checkpoint + 15 * 60));
    }
}

TEST_CASE("poll: without __count, a short page ends the walk")
{
    Harness h;
    h.fake.send_count = false;
    h.fake.rows = {row_json("26.11.2026 00:00:00 UTC", "A", "S1"), row_json("26.11.2026 00:01:00 UTC", "B", "S2"),
                   row_json("26.11.2026 00:02:00 UTC", "C", "S3")};
    const PollOutcome outcome = h.poll();
    CHECK(outcome.ok);
    CHECK(h.fake.targets.size() == 2);
    CHECK(outcome.records == 3);
    REQUIRE(h.store.commits.size() == 2);
    CHECK(h.store.commits[0].checkpoint.empty());  // first run: there was none
    CHECK(h.store.commits[1].checkpoint == std::to_string(k_checkpoint + 20 * 60 + 120));
}

TEST_CASE("poll: a page of exactly page_size rows without __count is followed by an empty page")
{
    Harness h;
    h.fake.send_count = false;
    h.fake.rows = {row_json("26.11.2026 00:00:00 UTC", "A", "S1"), row_json("26.11.2026 00:01:00 UTC", "B", "S2")};
    const PollOutcome outcome = h.poll();
    CHECK(outcome.ok);
    REQUIRE(h.fake.targets.size() == 2);
    CHECK(h.query(1).at("$skip") == "2");
    REQUIRE(h.store.commits.size() == 2);
    CHECK(h.store.commits[1].events.empty());
    CHECK(h.store.commits[1].checkpoint == std::to_string(k_checkpoint + 20 * 60 + 60));
}

TEST_CASE("poll: first run reads from now - lookback; no rows keeps the checkpoint empty")
{
    Harness h;
    const PollOutcome outcome = h.poll();
    CHECK(outcome.ok);
    CHECK(outcome.records == 0);
    REQUIRE(h.fake.targets.size() == 1);
    // now = 26.11.2026 00:41:12 UTC, lookback 1 h
    CHECK(h.query(0).at("$filter") == "CTIMESTAMP ge '25.11.2026 23:41:12 UTC'");
    CHECK(h.store.commits.empty());
    CHECK(h.store.checkpoint("rta").empty());
}

TEST_CASE("poll: a row stamped in the future moves the checkpoint no further than now")
{
    Harness h;
    h.store.checkpoints[k_rta_feed] = std::to_string(k_checkpoint);
    h.fake.rows = {row_json("25.11.2026 23:45:00 UTC", "A", "S1"), row_json("01.01.2030 00:00:00 UTC", "B", "S2")};
    const PollOutcome outcome = h.poll();
    CHECK(outcome.ok);
    CHECK(outcome.stored == 2);
    const auto now_s = std::chrono::duration_cast<std::chrono::seconds>(h.now.time_since_epoch()).count();
    CHECK(h.store.checkpoint("rta") == std::to_string(now_s));
}

TEST_CASE("poll: rows in an unknown time zone or with a bad key figure are quarantined, the feed moves on")
{
    Harness h;
    h.store.checkpoints[k_rta_feed] = std::to_string(k_checkpoint);
    h.fake.rows = {row_json("25.11.2026 23:45:00 UTC", "A", "S1"), row_json("26.11.2026 12:46:00 NZST", "B", "S2"),
                   row_json("25.11.2026 23:47:00 UTC", "C", "S3"), row_json("25.11.2026 23:48:00 MARS", "D", "S4"),
                   row_json("25.11.2026 23:49:00 UTC", "E", "S5")};
    h.fake.rows[4]["KRESPONSE_TIME"] = "fast";
    const PollOutcome outcome = h.poll();
    INFO(outcome.message);
    REQUIRE(outcome.ok);
    CHECK(outcome.records == 5);
    CHECK(outcome.stored == 3);
    CHECK(h.fake.targets.size() == 3);  // $skip counts the quarantined rows: 0, 2, 4
    CHECK(h.query(2).at("$skip") == "4");
    REQUIRE(h.store.quarantined.size() == 2);
    CHECK(h.store.quarantined[0].reason == QuarantineReason::unknown_timezone);
    CHECK(h.store.quarantined[0].object_key == "S4");
    CHECK(json::parse(h.store.quarantined[0].raw) == h.fake.rows[3]);
    CHECK(h.store.quarantined[1].reason == QuarantineReason::invalid_value);
    CHECK(h.store.quarantined[1].detail.find("KRESPONSE_TIME 'fast'") != std::string::npos);
    // The greatest time read, 23:47 UTC (S2 in New Zealand daylight time is 23:46), commits with the last page.
    CHECK(h.store.checkpoint("rta") == std::to_string(k_checkpoint + 7 * 60));
    CHECK(h.store.commits.back().checkpoint_time_ns == (k_checkpoint + 7 * 60) * 1'000'000'000);
    CHECK(h.store.commits.front().checkpoint_time_ns == k_checkpoint * 1'000'000'000);
}

TEST_CASE("poll: a page that is not JSON is a parse error")
{
    Harness h;
    h.fake.rows = {row_json("25.11.2026 23:45:00 UTC")};
    h.fake.garbage = true;
    const PollOutcome outcome = h.poll();
    CHECK_FALSE(outcome.ok);
    CHECK(outcome.reason.label() == "parse");
    CHECK(h.store.commits.empty());
}

TEST_CASE("poll: the store not accepting means outbox_full and no request")
{
    Harness h;
    h.store.accepting_now = false;
    h.fake.rows = {row_json("25.11.2026 23:45:00 UTC")};
    const PollOutcome outcome = h.poll();
    CHECK_FALSE(outcome.ok);
    CHECK(outcome.reason.label() == "outbox_full");
    CHECK(h.fake.targets.empty());
    CHECK(h.store.commits.empty());
}

TEST_CASE("poll: HTTP errors are reported as C4C failures")
{
    Harness h;
    h.fake.status = 401;
    const PollOutcome outcome = h.poll();
    CHECK_FALSE(outcome.ok);
    CHECK(outcome.reason.label() == "http_401");
    CHECK(outcome.auth_failed);
    CHECK(h.store.commits.empty());
}

TEST_CASE("poll: pseudonymized users, key kept in state_dir")
{
    Harness h;
    h.source.settings = ResponseTimeAnalysisSettings{.datasource = "RTA_DS", .pseudonymize_users = true};
    h.fake.rows = {row_json("25.11.2026 23:45:00 UTC", "OLIVIA.BROWN", "S1")};
    const PollOutcome outcome = h.poll();
    INFO(outcome.message);
    REQUIRE(outcome.ok);
    REQUIRE(h.store.commits.size() == 1);
    const Event& event = h.store.commits[0].events.at(0);
    for (const auto& text : all_strings(event)) {
        CHECK(text.find("OLIVIA") == std::string::npos);
    }
    CHECK(fs::exists(h.state_dir / Pseudonymizer::k_key_file));
    auto pseudonymizer = Pseudonymizer::open(h.state_dir);
    REQUIRE(pseudonymizer.has_value());
    CHECK(string_attribute(event, "sap.c4c.rta.user") == pseudonymizer->pseudonym("OLIVIA.BROWN"));
}

TEST_CASE("poll: a key that cannot be created fails the poll before any request")
{
    Harness h;
    h.source.settings = ResponseTimeAnalysisSettings{.datasource = "RTA_DS", .pseudonymize_users = true};
    std::ofstream(h.state.path / "file") << "x";
    h.state_dir = h.state.path / "file" / "state";
    h.fake.rows = {row_json("25.11.2026 23:45:00 UTC", "OLIVIA.BROWN", "S1")};
    const PollOutcome outcome = h.poll();
    CHECK_FALSE(outcome.ok);
    CHECK(outcome.reason.label() == "pseudonymization");
    CHECK(outcome.message.find("acme-prod") != std::string::npos);
    CHECK(h.fake.targets.empty());
    CHECK(h.store.commits.empty());
}

TEST_CASE("response_time_analysis: a backfill window's cursor is the $skip it resumes at")
{
    CHECK(c4c::collectors::parse_rta_window_cursor("skip=0") == 0u);
    CHECK(c4c::collectors::parse_rta_window_cursor("skip=1250") == 1250u);
    CHECK_FALSE(c4c::collectors::parse_rta_window_cursor(""));
    CHECK_FALSE(c4c::collectors::parse_rta_window_cursor("1795000000"));
    CHECK_FALSE(c4c::collectors::parse_rta_window_cursor("skip="));
    CHECK_FALSE(c4c::collectors::parse_rta_window_cursor("skip=12x"));
}
