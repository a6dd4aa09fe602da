// infra::parse_retry_after: delta-seconds or an HTTP date (IMF-fixdate, RFC 850, asctime), as sent by
// C4C and Cloud ALM with 429 and 503. Whatever the header, the wait is between zero and one day.

#include "infra/backoff.hpp"
#include "tests/fuzz/fuzz_check.hpp"

#include <array>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    using namespace std::chrono;
    const std::string_view value = c4c::fuzz::as_text(data, size);
    // The epoch, 2026-11-26 and 2100-01-01: dates before, around and after "now".
    constexpr std::array<std::int64_t, 3> k_nows{0, 1'795'651'200, 4'102'444'800};
    for (const std::int64_t now : k_nows) {
        const auto wait = c4c::infra::parse_retry_after(value, system_clock::time_point(seconds(now)));
        if (wait) {
            C4C_FUZZ_CHECK(*wait >= milliseconds(0) && *wait <= hours(24), "a wait outside [0, 1 day]");
        }
    }
    return 0;
}
