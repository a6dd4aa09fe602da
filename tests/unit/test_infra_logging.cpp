#include "infra/logging.hpp"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>

using namespace std::chrono_literals;
using c4c::infra::LogLimiter;

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
    CHECK(c4c::infra::suppressed_note(0).empty());
    CHECK(c4c::infra::suppressed_note(2) == " (2 similar lines suppressed)");
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

TEST_CASE("json log: every line is valid JSON, whatever bytes a message carries")
{
    // stderr goes to a file for the length of the test.
    char path[] = "/tmp/c4c-log-test-XXXXXX";
    const int file = ::mkstemp(path);
    REQUIRE(file >= 0);
    std::fflush(stderr);
    const int saved = ::dup(STDERR_FILENO);
    ::dup2(file, STDERR_FILENO);
    c4c::infra::setup_logging("info", "json");
    // A C4C answer excerpt as it may come: invalid UTF-8, a NUL, control characters, quotes.
    static constexpr char k_text[] = "bad \xff\xfe utf-8, \x01 control, \"quoted\" \\ tab\t nul \0 end";
    spdlog::warn("answer {}", std::string_view(k_text, sizeof k_text - 1));
    spdlog::default_logger()->flush();
    std::fflush(stderr);
    ::dup2(saved, STDERR_FILENO);
    ::close(saved);
    c4c::infra::setup_logging("warn", "text");

    std::ifstream in(path);
    std::string line;
    REQUIRE(std::getline(in, line));
    ::close(file);
    ::unlink(path);
    const auto json = nlohmann::json::parse(line, nullptr, false);  // strict: rejects invalid UTF-8
    REQUIRE_FALSE(json.is_discarded());
    CHECK(json["level"] == "warning");
    const std::string msg = json["msg"];
    CHECK(msg == "answer bad \xEF\xBF\xBD\xEF\xBF\xBD utf-8, \x01 control, \"quoted\" \\ tab\t nul " +
                     std::string(1, '\0') + " end");
}
