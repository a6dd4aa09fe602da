// collectors::parse_rta_page (Response Time Analysis rows, CTIMESTAMP in SAP time zones) and the
// normalization of every row it accepts, with and without pseudonymization.

#include "collectors/pseudonymizer.hpp"
#include "collectors/response_time_analysis.hpp"
#include "collectors/sap_time_zones.hpp"
#include "tests/fuzz/fuzz_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    using namespace c4c::collectors;
    static const Pseudonymizer pseudonymizer(Pseudonymizer::Key{1, 2, 3, 4, 5, 6, 7, 8});

    const auto page = parse_rta_page(c4c::fuzz::as_text(data, size));
    if (!page) {
        C4C_FUZZ_CHECK(!page.error().message.empty(), "an error without a message");
        return 0;
    }
    C4C_FUZZ_CHECK(page->rows.size() + page->bad_rows.size() == page->elements, "a row neither read nor set apart");
    for (const QuarantinedRecord& record : page->bad_rows) {
        C4C_FUZZ_CHECK(!record.raw.empty() && !record.detail.empty(), "a quarantined row without text or reason");
        // The row's text alone must give the same verdict (a quarantine retry starts from it).
        C4C_FUZZ_CHECK(!normalize_rta_raw("fuzz", record.raw, nullptr, 1).has_value(),
                       "a quarantined row normalizes from its raw text");
    }
    for (const RtaRow& row : page->rows) {
        // A row's instant must come back from the filter form unchanged (it is the checkpoint's unit).
        const auto again = parse_rta_timestamp(format_rta_filter_timestamp(row.timestamp_unix_s));
        C4C_FUZZ_CHECK(again && *again == row.timestamp_unix_s, "CTIMESTAMP does not survive the filter form");
        const Event clear = normalize_rta_row("fuzz", row, nullptr, 1'700'000'000'000'000'000);
        const Event hidden = normalize_rta_row("fuzz", row, &pseudonymizer, 1'700'000'000'000'000'000);
        C4C_FUZZ_CHECK(!clear.id.empty() && !hidden.id.empty(), "an event without event.id");
        for (const auto& attribute : hidden.attributes) {
            if (attribute.key == "sap.c4c.rta.user") {
                C4C_FUZZ_CHECK(std::get<std::string>(attribute.value) != row.user,
                               "the clear user in a pseudonymized event");
            }
        }
    }
    return 0;
}
