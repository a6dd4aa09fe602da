#include "daemon/logging.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <optional>

using namespace std::chrono_literals;
using c4c::daemon::LogLimiter;

TEST_CASE("log limiter: one line per interval, with the count of held-back lines")
{
    using clock = std::chrono::steady_clock;
    LogLimiter limiter(60s);
    const auto t0 = clock::now();
    CHECK(limiter.admit(t0) == std::optional<std::size_t>(0));
    CHECK_FALSE(limiter.admit(t0 + 1s));
    CHECK_FALSE(limiter.admit(t0 + 59s));
    CHECK(limiter.admit(t0 + 60s) == std::optional<std::size_t>(2));
    CHECK(limiter.admit(t0 + 121s) == std::optional<std::size_t>(0));
    CHECK(c4c::daemon::suppressed_note(0).empty());
    CHECK(c4c::daemon::suppressed_note(2) == " (2 similar lines suppressed)");
}

TEST_CASE("log limiter: a burst per interval")
{
    const auto t0 = std::chrono::steady_clock::now();
    LogLimiter burst(10s, 3);
    CHECK(burst.admit(t0).has_value());
    CHECK(burst.admit(t0).has_value());
    CHECK(burst.admit(t0).has_value());
    CHECK_FALSE(burst.admit(t0));
    CHECK(burst.admit(t0 + 10s) == std::optional<std::size_t>(1));
}

TEST_CASE("log limiter: reset lets the next occurrence through at once and forgets the count")
{
    const auto t0 = std::chrono::steady_clock::now();
    LogLimiter limiter(5min);
    CHECK(limiter.admit(t0).has_value());
    CHECK_FALSE(limiter.admit(t0 + 1s));
    limiter.reset();  // the condition cleared
    CHECK(limiter.admit(t0 + 2s) == std::optional<std::size_t>(0));
}
