// exporters::parse_token_response: what an OAuth2 token endpoint (XSUAA for Cloud ALM) answers. The
// first byte picks the HTTP status from a table, the rest is the body. Whatever the answer: a token only
// from a 2xx, never empty, with a lifetime within [0, 1e9] s; a failure with a known reason, transient
// exactly for 408, 429 and 5xx, and a message that is one bounded line.

#include "exporters/auth.hpp"
#include "tests/fuzz/fuzz_check.hpp"

#include <array>
#include <cmath>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    constexpr std::array<unsigned, 16> k_statuses{200, 201, 204, 299, 400, 401, 403, 404,
                                                  408, 429, 500, 502, 503, 302, 100, 599};
    if (size == 0) {
        return 0;
    }
    const unsigned status = k_statuses[data[0] % k_statuses.size()];
    const std::string_view body = c4c::fuzz::as_text(data + 1, size - 1);
    const std::chrono::duration<double> default_lifetime(3600);
    const auto answer = c4c::exporters::parse_token_response(status, body, "sb-client!b1|calm!b2", default_lifetime);
    const bool ok_status = status >= 200 && status < 300;
    if (answer) {
        C4C_FUZZ_CHECK(ok_status, "a token from a non-2xx answer");
        C4C_FUZZ_CHECK(!answer->access_token.empty(), "an empty access_token accepted");
        const double seconds = answer->lifetime.count();
        C4C_FUZZ_CHECK(std::isfinite(seconds) && seconds >= 0 && seconds <= 1e9, "a lifetime outside [0, 1e9] s");
        return 0;
    }
    const auto& failure = answer.error();
    const std::string reason = failure.reason.label();
    const std::string http_reason = "token_http_" + std::to_string(status);
    C4C_FUZZ_CHECK(reason == "auth" || (!ok_status && reason == http_reason), "an unknown reason");
    C4C_FUZZ_CHECK(!ok_status || reason == "auth", "a 2xx answer failed with an HTTP reason");
    const bool transient_status = status == 408 || status == 429 || status >= 500;
    C4C_FUZZ_CHECK(failure.transient == (reason == http_reason && transient_status), "transient for the wrong answers");
    C4C_FUZZ_CHECK(!failure.message.empty() && failure.message.size() <= 512, "a message empty or unbounded");
    for (const char c : failure.message) {
        C4C_FUZZ_CHECK(static_cast<unsigned char>(c) >= 0x20 && c != 0x7f, "a control character in the message");
    }
    C4C_FUZZ_CHECK(c4c::fuzz::valid_utf8(failure.message), "a message that is not UTF-8");
    return 0;
}
