// collectors::parse_rta_timestamp ("DD.MM.YYYY hh:mm:ss TZ" in SAP time-zone codes) and the tz database
// readers behind it (TimeZone::from_posix for TZif footers, TimeZone::from_tzif for zoneinfo files).
// The first byte picks the parser, the rest is its input.

#include "collectors/sap_time_zones.hpp"
#include "tests/fuzz/fuzz_check.hpp"

#include <array>

namespace {

using namespace c4c::collectors;

// Instants from year 1 to 9999, the range of a CTIMESTAMP.
constexpr std::array<std::int64_t, 7> k_probes{-62'135'596'800, -2'208'988'800, 0, 1'700'000'000, 1'711'846'800,
                                               4'102'444'800,   253'402'300'799};

void probe(const TimeZone& zone)
{
    for (const std::int64_t at : k_probes) {
        const std::int32_t offset = zone.offset_at(at);
        // RFC 8536 bounds offsets to (-25h, +26h); a POSIX rule can add at most a day of daylight saving.
        C4C_FUZZ_CHECK(offset > -49 * 3600 && offset < 50 * 3600, "UTC offset out of range");
        (void)zone.local_to_utc(at);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    if (size == 0) {
        return 0;
    }
    const std::string_view text = c4c::fuzz::as_text(data + 1, size - 1);
    switch (data[0] % 3) {
    case 0: {
        const auto seconds = parse_rta_timestamp(text);
        // The filter form is written for instants from 1970 on (the checkpoint's range); a local time in
        // year 1 or 9999 may lie outside years 1..9999 in UTC, where "DD.MM.YYYY" cannot hold it.
        if (seconds && *seconds >= 0 && *seconds <= k_probes.back()) {
            const auto again = parse_rta_timestamp(format_rta_filter_timestamp(*seconds));
            C4C_FUZZ_CHECK(again && *again == *seconds, "the UTC form does not read back to the same instant");
        } else if (!seconds) {
            C4C_FUZZ_CHECK(!seconds.error().message.empty(), "an error without a message");
        }
        break;
    }
    case 1:
        if (const auto zone = TimeZone::from_posix(text)) {
            probe(*zone);
        }
        break;
    default:
        if (const auto zone = TimeZone::from_tzif(text)) {
            probe(*zone);
        }
        break;
    }
    return 0;
}
