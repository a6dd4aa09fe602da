#include "collectors_support.hpp"

#include "collectors/odata.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

using namespace c4c::collectors;
using namespace collector_tests;

TEST_CASE("odata: opportunity sample page")
{
    const auto page = parse_odata_page(read_sample("odata-opportunity-page.json"));
    REQUIRE(page.has_value());
    REQUIRE(page->count.has_value());
    CHECK(*page->count == 5);
    REQUIRE(page->rows.size() == 2);
    REQUIRE(page->next.has_value());
    CHECK(page->next->starts_with("https://my123456.crm.ondemand.com/sap/c4c/odata/v1/c4codataapi/"
                                  "OpportunityCollection?$format=json"));
    CHECK(page->next->ends_with("&$skiptoken=3"));

    const auto& row = page->rows[0];
    CHECK(row.value_or_empty("ObjectID") == "00163E83B7A6D120B381FCFB80E50404");
    CHECK(row.value_or_empty("ID") == "1004");
    CHECK(row.value_or_empty("Name") == "Opportunity 1004 \xE2\x80\x93 \xC3\x98stergaard A/S");  // \u escapes decoded
    CHECK(row.value_or_empty("ExternalID").empty());
    CHECK(row.get("ExternalID").has_value());  // empty, but present
    CHECK(row.value_or_empty("AmountValue") == "37148.00");
    CHECK(parse_odata_date(row.value_or_empty("EntityLastChangedOn")) == 1795654682037);
    CHECK(parse_odata_date(row.value_or_empty("CreationDateTime")) == 1794034695520);
    // Nested objects are dropped.
    CHECK_FALSE(row.get("__metadata").has_value());
    CHECK_FALSE(row.get("OpportunityNotes").has_value());
    CHECK_FALSE(row.get("uri").has_value());
    CHECK(page->rows[1].value_or_empty("ID") == "1003");
}

TEST_CASE("odata: lead sample page, dates with +0000, no __count")
{
    const auto page = parse_odata_page(read_sample("odata-lead-page.json"));
    REQUIRE(page.has_value());
    CHECK_FALSE(page->count.has_value());
    REQUIRE(page->rows.size() == 1);
    REQUIRE(page->next.has_value());
    CHECK(page->next->ends_with("LeadCollection?$format=json&$top=1&$skiptoken=2"));
    CHECK(page->rows[0].value_or_empty("EntityLastChangedOn") == "/Date(1795663200494+0000)/");
    CHECK(parse_odata_date(page->rows[0].value_or_empty("EntityLastChangedOn")) == 1795663200494);
    CHECK(format_datetimeoffset(1795663200494) == "2026-11-26T03:20:00.494Z");  // the sample's etag
}

TEST_CASE("odata: ticket sample page")
{
    const auto page = parse_odata_page(read_sample("odata-ticket-page.json"));
    REQUIRE(page.has_value());
    REQUIRE(page->rows.size() == 1);
    const auto& row = page->rows[0];
    CHECK(row.value_or_empty("ServiceRequestLifeCycleStatusCode") == "1");
    CHECK(row.value_or_empty("ServiceRequestLifeCycleStatusCodeText") == "Open");
    CHECK(row.value_or_empty("ServicePriorityCode") == "2");
    CHECK(row.value_or_empty("ProcessingTypeCode") == "SRRQ");
    CHECK(parse_odata_date(row.value_or_empty("EntityLastChangedOn")) == 1795668901806);
    CHECK(format_datetimeoffset(1795668901806) == "2026-11-26T04:55:01.806Z");
}

TEST_CASE("odata: page forms and scalar types")
{
    SUBCASE("v1 form: d is the array")
    {
        const auto page = parse_odata_page(R"({"d":[{"ObjectID":"A"},{"ObjectID":"B"}]})");
        REQUIRE(page.has_value());
        REQUIRE(page->rows.size() == 2);
        CHECK(page->rows[1].value_or_empty("ObjectID") == "B");
        CHECK_FALSE(page->next.has_value());
    }
    SUBCASE("empty page")
    {
        const auto page = parse_odata_page(R"({"d":{"results":[],"__count":"0"}})");
        REQUIRE(page.has_value());
        CHECK(page->rows.empty());
        CHECK(page->count == 0u);
    }
    SUBCASE("__count as a number, members in any order, unknown members ignored")
    {
        const auto page = parse_odata_page(
            R"({"x":{"results":[1]},"d":{"__next":"C?$skiptoken=2","other":{"results":[{"a":1}]},"results":[{"N":12,"F":1.5,"B":true,"Z":null,"S":"s","Neg":-3,"Arr":[1,2],"Obj":{"k":"v"}}],"__count":7}})");
        REQUIRE(page.has_value());
        CHECK(page->count == 7u);
        CHECK(page->next == "C?$skiptoken=2");
        REQUIRE(page->rows.size() == 1);
        const auto& row = page->rows[0];
        CHECK(row.value_or_empty("N") == "12");
        CHECK(row.value_or_empty("F") == "1.5");
        CHECK(row.value_or_empty("B") == "true");
        CHECK(row.value_or_empty("Neg") == "-3");
        CHECK(row.value_or_empty("S") == "s");
        CHECK_FALSE(row.get("Z").has_value());
        CHECK_FALSE(row.get("Arr").has_value());
        CHECK_FALSE(row.get("Obj").has_value());
        CHECK_FALSE(row.get("k").has_value());
        CHECK(row.size() == 5);
        CHECK(row.name(0) == "N");
        CHECK(row.value(3) == "s");
        CHECK(row.value(4) == "-3");
    }
    SUBCASE("expanded navigation inside a row is dropped")
    {
        const auto page = parse_odata_page(
            R"({"d":{"results":[{"ObjectID":"A","Notes":{"results":[{"ObjectID":"N1"}]},"ID":"1"}]}})");
        REQUIRE(page.has_value());
        REQUIRE(page->rows.size() == 1);
        CHECK(page->rows[0].value_or_empty("ObjectID") == "A");
        CHECK(page->rows[0].value_or_empty("ID") == "1");
        CHECK(page->rows[0].size() == 2);
    }
    SUBCASE("escaped slashes of the OData date form")
    {
        const auto page = parse_odata_page(R"({"d":{"results":[{"T":"\/Date(1700000000000)\/"}]}})");
        REQUIRE(page.has_value());
        CHECK(parse_odata_date(page->rows[0].value_or_empty("T")) == 1700000000000);
    }
}

TEST_CASE("odata: page errors")
{
    SUBCASE("malformed JSON names the byte offset and the beginning of the body")
    {
        const auto page = parse_odata_page(R"({"d":{"results":[{"ObjectID":"A",}]}})");
        REQUIRE_FALSE(page.has_value());
        CHECK(page.error().kind == ODataError::Kind::json);
        CHECK(page.error().offset == 33);
        CHECK(page.error().message.find("byte 33") != std::string::npos);
    }
    SUBCASE("an HTML login page")
    {
        const auto page = parse_odata_page("<html><body>Logon</body></html>");
        REQUIRE_FALSE(page.has_value());
        CHECK(page.error().kind == ODataError::Kind::json);
        CHECK(page.error().message.find("<html><body>Logon") != std::string::npos);
    }
    SUBCASE("empty and truncated bodies")
    {
        CHECK(parse_odata_page("").error().kind == ODataError::Kind::json);
        CHECK(parse_odata_page(R"({"d":{"results":[{"ObjectID":"A"})").error().kind == ODataError::Kind::json);
        CHECK(parse_odata_page(R"({"d":{"results":[]}} trailing)").error().kind == ODataError::Kind::json);
    }
    SUBCASE("missing d or results")
    {
        auto page = parse_odata_page(R"({"value":[]})");
        REQUIRE_FALSE(page.has_value());
        CHECK(page.error().kind == ODataError::Kind::structure);
        CHECK(page.error().message.find("\"d\"") != std::string::npos);

        page = parse_odata_page(R"({"d":{"ObjectID":"A"}})");
        REQUIRE_FALSE(page.has_value());
        CHECK(page.error().kind == ODataError::Kind::structure);
        CHECK(page.error().message.find("d.results") != std::string::npos);

        CHECK(parse_odata_page(R"({"d":{"results":{"a":1}}})").error().kind == ODataError::Kind::structure);
        CHECK(parse_odata_page(R"({"d":null})").error().kind == ODataError::Kind::structure);
        CHECK(parse_odata_page(R"([1,2])").error().kind == ODataError::Kind::structure);
        CHECK(parse_odata_page(R"("d")").error().kind == ODataError::Kind::structure);
    }
    SUBCASE("an OData error object")
    {
        const auto page = parse_odata_page(
            R"({"error":{"code":"SY/530","message":{"lang":"en","value":"Property 'Foo' not found in type 'Opportunity'"}}})");
        REQUIRE_FALSE(page.has_value());
        CHECK(page.error().kind == ODataError::Kind::service);
        CHECK(page.error().code == "SY/530");
        CHECK(page.error().message == "OData error SY/530: Property 'Foo' not found in type 'Opportunity'");
    }
    SUBCASE("bad __count and __next")
    {
        CHECK(parse_odata_page(R"({"d":{"results":[],"__count":"many"}})").error().kind == ODataError::Kind::value);
        CHECK(parse_odata_page(R"({"d":{"results":[],"__count":"-1"}})").error().kind == ODataError::Kind::value);
        CHECK(parse_odata_page(R"({"d":{"results":[],"__count":1.5}})").error().kind == ODataError::Kind::value);
        CHECK(parse_odata_page(R"({"d":{"results":[],"__next":5}})").error().kind == ODataError::Kind::value);
    }
    SUBCASE("value() throws with the message")
    {
        const auto page = parse_odata_page("{");
        CHECK_THROWS_AS(page.value(), std::runtime_error);
    }
}

TEST_CASE("odata: parse_odata_date table")
{
    struct Case {
        const char* text;
        std::optional<std::int64_t> expected;
    };
    const Case cases[] = {
        {"/Date(1700000000000)/", 1700000000000},
        {"/Date(1700000000000+0000)/", 1700000000000},
        {"/Date(1700000000000-0000)/", 1700000000000},
        // The offset records the zone it was entered in; the ticks already are the UTC instant.
        {"/Date(1700000000000+0130)/", 1700000000000},
        {"/Date(1700000000000-0500)/", 1700000000000},
        {"/Date(1700000000000+60)/", 1700000000000},
        {"/Date(0)/", 0},
        {"/Date(-1000)/", -1000},
        {"/Date(-86400000+0000)/", -86400000},
        {"/Date(9223372036854)/", 9223372036854},
        {"/Date(9223372036855)/", std::nullopt},  // beyond int64 nanoseconds
        {"/Date(-9223372036855)/", std::nullopt},
        {"/Date(99999999999999999999)/", std::nullopt},
        {"/Date()/", std::nullopt},
        {"/Date(+5)/", std::nullopt},
        {"/Date(--5)/", std::nullopt},
        {"/Date(12a)/", std::nullopt},
        {"/Date(1700000000000+)/", std::nullopt},
        {"/Date(1700000000000+00000)/", std::nullopt},
        {"/Date(1700000000000+00:00)/", std::nullopt},
        {"/Date(1700000000000+0000+0000)/", std::nullopt},
        {"/Date(1700000000000 )/", std::nullopt},
        {"Date(1700000000000)", std::nullopt},
        {"/Date(1700000000000)", std::nullopt},
        {"\\/Date(1700000000000)\\/", std::nullopt},
        {"2023-11-14T22:13:20Z", std::nullopt},
        {"1700000000000", std::nullopt},
        {"", std::nullopt},
    };
    for (const auto& c : cases) {
        CAPTURE(c.text);
        CHECK(parse_odata_date(c.text) == c.expected);
    }
}

TEST_CASE("odata: format_datetimeoffset")
{
    CHECK(format_datetimeoffset(0) == "1970-01-01T00:00:00.000Z");
    CHECK(format_datetimeoffset(1700000000000) == "2023-11-14T22:13:20.000Z");
    CHECK(format_datetimeoffset(1795654682037) == "2026-11-26T00:58:02.037Z");
    CHECK(format_datetimeoffset(951782400000) == "2000-02-29T00:00:00.000Z");
    CHECK(format_datetimeoffset(4102444799999) == "2099-12-31T23:59:59.999Z");
    CHECK(format_datetimeoffset(-1) == "1969-12-31T23:59:59.999Z");
    CHECK(format_datetimeoffset(-86400000) == "1969-12-31T00:00:00.000Z");
    CHECK(format_datetimeoffset(-9223372036854) == "1677-09-21T00:12:43.146Z");
}

TEST_CASE("odata: resolve_next_url")
{
    const std::string base = "https://my123456.crm.ondemand.com/sap/c4c/odata/v1/c4codataapi/"
                             "OpportunityCollection?$format=json&$top=2";
    SUBCASE("absolute")
    {
        CHECK(resolve_next_url(base, "https://other.example/sap/c4c/odata/v1/c4codataapi/X?$skiptoken=3") ==
              "https://other.example/sap/c4c/odata/v1/c4codataapi/X?$skiptoken=3");
        CHECK(resolve_next_url(base, "HTTP://h:8080/a?b") == "HTTP://h:8080/a?b");
    }
    SUBCASE("relative to the collection")
    {
        CHECK(resolve_next_url(base, "OpportunityCollection?$skiptoken=3") ==
              "https://my123456.crm.ondemand.com/sap/c4c/odata/v1/c4codataapi/OpportunityCollection?$skiptoken=3");
        CHECK(resolve_next_url("http://127.0.0.1:8080/svc/C", "C?$skiptoken=3") ==
              "http://127.0.0.1:8080/svc/C?$skiptoken=3");
        CHECK(resolve_next_url("http://127.0.0.1:8080", "C?$skiptoken=3") == "http://127.0.0.1:8080/C?$skiptoken=3");
    }
    SUBCASE("rooted")
    {
        CHECK(resolve_next_url(base, "/sap/c4c/odata/v1/c4codataapi/OpportunityCollection?$skiptoken=3") ==
              "https://my123456.crm.ondemand.com/sap/c4c/odata/v1/c4codataapi/OpportunityCollection?$skiptoken=3");
        CHECK(resolve_next_url("http://127.0.0.1:8080/a/b?x=/y", "/c?d") == "http://127.0.0.1:8080/c?d");
    }
    SUBCASE("query only and network-path")
    {
        CHECK(resolve_next_url(base, "?$skiptoken=3") ==
              "https://my123456.crm.ondemand.com/sap/c4c/odata/v1/c4codataapi/OpportunityCollection?$skiptoken=3");
        CHECK(resolve_next_url(base, "//cdn.example/x") == "https://cdn.example/x");
    }
}

TEST_CASE("odata: string literal")
{
    CHECK(odata_string_literal("00163E") == "'00163E'");
    CHECK(odata_string_literal("O'Brien") == "'O''Brien'");
    CHECK(odata_string_literal("") == "''");
}

TEST_CASE("odata: JSON strings, numbers and literals")
{
    auto value_of = [](std::string_view member_json) -> std::optional<std::string> {
        const auto page =
            parse_odata_page(std::string(R"({"d":{"results":[{"V":)") + std::string(member_json) + "}]}}");
        if (!page) {
            return std::nullopt;
        }
        const auto value = page->rows.at(0).get("V");
        return value ? std::optional<std::string>(std::string(*value)) : std::optional<std::string>("<absent>");
    };

    CHECK(value_of(R"("a\"b\\c\/d\b\f\n\r\t")") == std::string("a\"b\\c/d\b\f\n\r\t"));
    CHECK(value_of(R"("\u0041\u00e9\u20AC\ud83d\ude00")") == std::string("A\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80"));
    CHECK(value_of(R"("\u0000")") == std::string(1, '\0'));
    CHECK(value_of("\"caf\xC3\xA9 raw UTF-8\"") == std::string("caf\xC3\xA9 raw UTF-8"));
    CHECK(value_of(R"("a long value without escapes that spans several sixteen-byte blocks and ends here")") ==
          std::string("a long value without escapes that spans several sixteen-byte blocks and ends here"));
    CHECK(value_of(R"("escape late in a long value, after several blocks of plain text: \" done")") ==
          std::string("escape late in a long value, after several blocks of plain text: \" done"));
    CHECK(value_of("-0") == std::string("-0"));
    CHECK(value_of("1.5E-3") == std::string("1.5E-3"));
    CHECK(value_of("12e+2") == std::string("12e+2"));
    CHECK(value_of("false") == std::string("false"));
    CHECK(value_of("null") == std::string("<absent>"));
    CHECK(value_of(" \t\r\n \"ws\" \n") == std::string("ws"));

    for (const char* bad : {R"("\x")",
                            R"("\u12G4")",
                            R"("\ud800")",
                            R"("\udc00")",
                            R"("\ud800\u0041")",
                            R"("\u12")",
                            "\"tab\tinside\"",
                            "\"new\nline\"",
                            R"("unterminated)",
                            R"("ends in escape\)",
                            "01",
                            "1.",
                            ".5",
                            "-",
                            "1e",
                            "+1",
                            "tru",
                            "nul",
                            "falsey",
                            "NaN",
                            "'single'",
                            "[1,]",
                            "{\"a\":1,}",
                            "{\"a\" 1}",
                            "[1 2]",
                            "{1:2}"}) {
        CAPTURE(bad);
        const auto page = parse_odata_page(std::string(R"({"d":{"results":[{"V":)") + bad + "}]}}");
        REQUIRE_FALSE(page.has_value());
        CHECK(page.error().kind == ODataError::Kind::json);
    }
}

TEST_CASE("odata: nesting depth")
{
    auto nested = [](int levels) {
        std::string meta;
        for (int i = 0; i < levels; ++i) {
            meta += R"({"x":)";
        }
        meta += "1";
        for (int i = 0; i < levels; ++i) {
            meta += "}";
        }
        return std::string(R"({"d":{"results":[{"__metadata":)") + meta + R"(,"ObjectID":"A"}]}})";
    };
    const auto ok = parse_odata_page(nested(400));
    REQUIRE(ok.has_value());
    CHECK(ok->rows.at(0).value_or_empty("ObjectID") == "A");
    const auto deep = parse_odata_page(nested(100000));
    REQUIRE_FALSE(deep.has_value());
    CHECK(deep.error().message.find("nesting too deep") != std::string::npos);
}

TEST_CASE("odata: duplicate members, the last counts")
{
    const auto page = parse_odata_page(R"({"d":{"results":[{"ID":"1","ID":"2"}],"__next":"a","__next":"b"}})");
    REQUIRE(page.has_value());
    CHECK(page->rows.at(0).value_or_empty("ID") == "2");
    CHECK(page->next == "b");
}

// The reader is hand-written for speed; nlohmann::json is the reference for what is well-formed JSON and
// what a page holds. Thousands of random mutations of a real page must be judged and read alike.
TEST_CASE("odata: differential check against nlohmann::json on mutated pages")
{
    const std::string original = read_sample("odata-opportunity-page.json");
    std::mt19937_64 random(20261126);
    const std::string alphabet = "{}[]\":,\\/ u0123456789abcdefEe+-.tnrfl\"\"\n";
    int well_formed = 0;
    for (int round = 0; round < 4000; ++round) {
        std::string text = original;
        const int mutations = 1 + static_cast<int>(random() % 3);
        for (int m = 0; m < mutations && !text.empty(); ++m) {
            const std::size_t at = random() % text.size();
            switch (random() % 4) {
            case 0:
                text.erase(at, 1);
                break;
            case 1:
                text.insert(at, 1, alphabet[random() % alphabet.size()]);
                break;
            case 2:
                text[at] = alphabet[random() % alphabet.size()];
                break;
            default:
                text.resize(at);
                break;
            }
        }
        CAPTURE(text);
        const bool accepted = nlohmann::json::accept(text);
        const auto page = parse_odata_page(text);
        const bool json_error = !page && page.error().kind == ODataError::Kind::json;
        REQUIRE(accepted == !json_error);
        if (!page) {
            continue;
        }
        ++well_formed;
        const auto reference = nlohmann::json::parse(text);
        const auto& d = reference.at("d");
        const auto& results = d.is_array() ? d : d.at("results");
        std::vector<const nlohmann::json*> objects;
        for (const auto& element : results) {
            if (element.is_object()) {
                objects.push_back(&element);
            }
        }
        REQUIRE(page->rows.size() == objects.size());
        for (std::size_t i = 0; i < objects.size(); ++i) {
            std::size_t scalars = 0;
            for (const auto& [key, value] : objects[i]->items()) {
                const auto mine = page->rows[i].get(key);
                if (value.is_string()) {
                    CHECK(mine == value.get<std::string>());
                } else if (value.is_boolean()) {
                    CHECK(mine == (value.get<bool>() ? "true" : "false"));
                } else if (value.is_number()) {
                    REQUIRE(mine.has_value());
                    CHECK(std::stod(std::string(*mine)) == doctest::Approx(value.get<double>()));
                } else {
                    CHECK_FALSE(mine.has_value());
                    continue;
                }
                ++scalars;
            }
            std::vector<std::string> names;
            for (std::size_t f = 0; f < page->rows[i].size(); ++f) {
                names.emplace_back(page->rows[i].name(f));
            }
            std::sort(names.begin(), names.end());
            names.erase(std::unique(names.begin(), names.end()), names.end());
            CHECK(names.size() == scalars);
        }
        if (d.is_object() && d.contains("__next") && d.at("__next").is_string()) {
            CHECK(page->next == d.at("__next").get<std::string>());
        }
    }
    CHECK(well_formed > 100);  // the mutations do not only produce garbage
}
