#include "infra/backoff.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace c4c::infra;
using namespace std::chrono;

namespace {

// 2026-11-26 00:00:00 UTC.
const system_clock::time_point k_now{seconds(1'795'651'200)};

std::optional<milliseconds> retry_after(std::string_view value, system_clock::time_point now = k_now)
{
    return parse_retry_after(value, now);
}

}  // namespace

TEST_CASE("backoff: Retry-After delta-seconds")
{
    CHECK(retry_after("120") == seconds(120));
    CHECK(retry_after(" 0\t") == milliseconds(0));
    CHECK(retry_after("86400") == hours(24));
    CHECK(retry_after("86401") == hours(24));
    CHECK(retry_after("99999999999999999999999") == hours(24));
    CHECK_FALSE(retry_after(""));
    CHECK_FALSE(retry_after("-1"));
    CHECK_FALSE(retry_after("+5"));
    CHECK_FALSE(retry_after("1.5"));
}

TEST_CASE("backoff: Retry-After HTTP dates")
{
    const system_clock::time_point before_1994{seconds(784'111'700)};  // 1994-11-06 08:48:20 UTC
    // The three forms of RFC 9110 section 5.6.7 name the same instant, 77 s after `before_1994`.
    CHECK(retry_after("Sun, 06 Nov 1994 08:49:37 GMT", before_1994) == seconds(77));
    CHECK(retry_after("Sunday, 06-Nov-94 08:49:37 GMT", before_1994) == seconds(77));
    CHECK(retry_after("Sun Nov  6 08:49:37 1994", before_1994) == seconds(77));
    CHECK(retry_after("Sun, 6 Nov 1994 08:49:37 GMT", before_1994) == seconds(77));
    CHECK(retry_after("Sun, 06 Nov 1994 08:49:37 GMT", before_1994 + milliseconds(76'500)) == milliseconds(500));
    CHECK(retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == milliseconds(0));  // in the past
    CHECK(retry_after("Thu, 26 Nov 2026 00:10:00 GMT") == minutes(10));
    CHECK(retry_after("Fri, 31 Dec 9999 23:59:59 GMT") == hours(24));  // capped
    CHECK(retry_after("Thu, 01 Jan 0001 00:00:00 GMT") == milliseconds(0));
}

TEST_CASE("backoff: malformed Retry-After dates are refused")
{
    for (const char* value : {
             "Sun, 06 Nov 1994 08:49:37 UTC",    // not GMT
             "Sun, 06 Nov 1994 08:49:37",        // no zone
             "Sun, 06 Nov 1994 08:49:37 GMT x",  // trailing text
             "Sun, 31 Feb 2026 08:49:37 GMT",    // no such day
             "Sun, 06 Nov 1994 24:00:00 GMT",    // no such hour
             "Sun, 06 Nov 1994 -1:49:37 GMT",    // negative field
             "Sun, 06 Foo 1994 08:49:37 GMT",    // no such month
             "Sun, 06 Nov 0000 08:49:37 GMT",    // year 0
             "Sun, 06 Nov 19945 08:49:37 GMT",   // five-digit year
             ", 06 Nov 1994 08:49:37 GMT",       // no day name
         }) {
        CAPTURE(value);
        CHECK_FALSE(retry_after(value));
    }
}

// Found by tests/fuzz/fuzz_retry_after: an asctime date with a three-digit year and trailing bytes was
// read as year 199, whose instant overflowed the clock's nanoseconds (undefined behaviour).
TEST_CASE("backoff: Retry-After regression inputs from fuzzing")
{
    CHECK_FALSE(retry_after("Sun Nov  6 08:49:37 199\xc2\xc2\xc2\xc2"
                            "3"));
    CHECK_FALSE(retry_after("Sun Nov  6 08:49:37 199"));
    CHECK(retry_after("Sun Nov  6 08:49:37 1000") == milliseconds(0));
    CHECK(retry_after("Sun, 06 Nov 1200 08:49:37 GMT") == milliseconds(0));
    CHECK_FALSE(retry_after("Sun, 06 Nov -2147483648 08:49:37 GMT"));
}

TEST_CASE("backoff: exponential with jitter, capped")
{
    Backoff backoff(milliseconds(100), milliseconds(1000));
    for (int attempt = 0; attempt < 40; ++attempt) {
        const auto delay = backoff.next();
        const auto ceiling = std::min<std::int64_t>(100LL << std::min(attempt, 30), 1000);
        CHECK(delay >= milliseconds(ceiling / 2));
        CHECK(delay <= milliseconds(ceiling));
    }
    CHECK(backoff.attempts() == 40);
    backoff.reset();
    CHECK(backoff.next() <= milliseconds(100));
}
