// collectors::parse_odata_page, the business-object page reader, and what the collector does with a page
// it accepts (row checks, normalization, /Date()/ values, the __next link).
//
// Oracle: nlohmann::json is the reference for well-formed JSON. The hand-written reader must call an
// input malformed exactly when nlohmann does, except for its two documented differences (invalid UTF-8
// inside strings passes, nesting beyond 512 levels fails; numbers beyond a double's range pass), and read
// the same string and boolean values.

#include "collectors/business_objects.hpp"
#include "collectors/odata.hpp"
#include "tests/fuzz/fuzz_check.hpp"

#include <nlohmann/json.hpp>

#include <string>

namespace {

using c4c::collectors::ODataError;
using c4c::collectors::ODataPage;
using nlohmann::json;

constexpr std::string_view k_base_url =
    "https://my123456.crm.ondemand.com/sap/c4c/odata/v1/c4codataapi/OpportunityCollection?$format=json";

void compare_with_reference(std::string_view text, const ODataPage& page)
{
    // Duplicate "d" or "results" members make the two readers differ by design (nlohmann keeps the
    // last; the page reader reads every one), so such documents are not compared.
    int d_members = 0;
    int results_members = 0;
    const json reference = json::parse(
        text.begin(), text.end(),
        [&](int depth, json::parse_event_t event, json& parsed) {
            if (event == json::parse_event_t::key) {
                d_members += depth == 1 && parsed == "d";
                results_members += depth == 2 && parsed == "results";
            }
            return true;
        },
        /*allow_exceptions=*/false);
    C4C_FUZZ_CHECK(!reference.is_discarded(), "nlohmann accepted, then failed to parse");
    if (d_members != 1 || results_members > 1) {
        return;
    }
    const json& d = reference.at("d");
    const json& results = d.is_array() ? d : d.at("results");
    std::size_t objects = 0;
    for (const json& element : results) {
        if (!element.is_object()) {
            continue;
        }
        C4C_FUZZ_CHECK(objects < page.rows.size(), "fewer rows than objects in d.results");
        const auto& row = page.rows[objects++];
        for (const auto& [key, value] : element.items()) {
            // With duplicate members a row keeps the last scalar, nlohmann the last value: they agree
            // whenever nlohmann's is a scalar.
            if (value.is_string()) {
                C4C_FUZZ_CHECK(row.get(key) == value.get_ref<const std::string&>(), "string value differs");
            } else if (value.is_boolean()) {
                C4C_FUZZ_CHECK(row.get(key) == (value.get<bool>() ? "true" : "false"), "boolean value differs");
            } else if (value.is_number()) {
                C4C_FUZZ_CHECK(row.get(key).has_value(), "number missing");
            }
        }
    }
    C4C_FUZZ_CHECK(objects == page.rows.size(), "more rows than objects in d.results");
    if (d.is_object() && d.contains("__next") && d.at("__next").is_string()) {
        C4C_FUZZ_CHECK(page.next == d.at("__next").get<std::string>(), "__next differs");
    }
}

// nlohmann refuses numbers beyond the range of a double ("2E801"), which RFC 8259's grammar allows and
// the page reader keeps as text.
bool reference_refuses_only_a_huge_number(std::string_view text)
{
    try {
        (void)json::parse(text.begin(), text.end());
    } catch (const json::exception& error) {  // out_of_range (406) for a huge number
        return std::string_view(error.what()).find("number overflow") != std::string_view::npos;
    }
    return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    using namespace c4c::collectors;
    const std::string_view text = c4c::fuzz::as_text(data, size);
    const auto page = parse_odata_page(text);
    if (text.find('\0') != std::string_view::npos) {
        // nlohmann reads a NUL byte where a token may start as the end of the input; for JSON it is
        // malformed wherever it appears.
        C4C_FUZZ_CHECK(!page && page.error().kind == ODataError::Kind::json, "a NUL byte accepted");
        return 0;
    }
    const bool reference_accepts = json::accept(text.begin(), text.end());

    if (!page && page.error().kind == ODataError::Kind::json) {
        C4C_FUZZ_CHECK(!reference_accepts || page.error().message.find("nesting too deep") != std::string::npos,
                       "well-formed JSON rejected as malformed");
        C4C_FUZZ_CHECK(page.error().offset <= text.size(), "error offset beyond the input");
        return 0;
    }
    C4C_FUZZ_CHECK(reference_accepts || !c4c::fuzz::valid_utf8(text) || reference_refuses_only_a_huge_number(text),
                   "malformed JSON accepted");
    if (!page) {
        C4C_FUZZ_CHECK(!page.error().message.empty(), "an error without a message");
        return 0;
    }
    if (reference_accepts) {
        compare_with_reference(text, *page);
    }

    for (const ODataRow& row : page->rows) {
        row.for_each([](std::string_view, std::string_view value) {
            if (const auto ms = parse_odata_date(value)) {
                (void)format_datetimeoffset(*ms);
            }
        });
        for (const std::string_view collection : {"OpportunityCollection", "ServiceRequestCollection"}) {
            if (business_object_row_problem(collection, row).empty()) {
                const Event event = normalize_business_object("fuzz", collection, row, 1'700'000'000'000'000'000);
                C4C_FUZZ_CHECK(!event.id.empty(), "an event without event.id");
            }
        }
    }
    if (page->next) {
        (void)resolve_next_url(k_base_url, *page->next);
    }
    return 0;
}
