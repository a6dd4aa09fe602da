#include "infra/config_reader.hpp"

#include <doctest/doctest.h>

#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace {

using namespace c4c::infra;
using namespace std::chrono_literals;

}  // namespace

TEST_SUITE_BEGIN("config_reader");

TEST_CASE("parse_duration")
{
    struct Row {
        std::string_view text;
        std::optional<Duration> expected;
    };
    const Row rows[] = {
        {"500ms", 500ms},
        {"30s", 30s},
        {"5m", 5min},
        {"2h", 2h},
        {"1d", 24h},
        {"1h30m", 90min},
        {"1m30s250ms", 90250ms},
        {"0s", 0ms},
        {"", std::nullopt},
        {"30", std::nullopt},
        {"-5s", std::nullopt},
        {"+5s", std::nullopt},
        {"5 s", std::nullopt},
        {" 5s", std::nullopt},
        {"5S", std::nullopt},
        {"5sec", std::nullopt},
        {"5w", std::nullopt},
        {"1.5h", std::nullopt},
        {"s", std::nullopt},
        {"5s5", std::nullopt},
        {"9223372036854775807ms", Duration(9223372036854775807)},
        {"9223372036854775808ms", std::nullopt},
        {"9223372036854775807s", std::nullopt},
        {"9223372036854775807ms1ms", std::nullopt},
    };
    for (const auto& row : rows) {
        CAPTURE(row.text);
        CHECK(parse_duration(row.text) == row.expected);
    }
}

TEST_CASE("parse_size")
{
    struct Row {
        std::string_view text;
        std::optional<std::size_t> expected;
    };
    const Row rows[] = {
        {"1000", 1000},
        {"0", 0},
        {"512B", 512},
        {"64kB", 64000},
        {"64KB", 64000},
        {"10MB", 10'000'000},
        {"2GB", 2'000'000'000},
        {"512KiB", 512 * 1024},
        {"4MiB", 4 << 20},
        {"1GiB", std::size_t{1} << 30},
        {"1.5KiB", 1536},
        {"0.5MB", 500'000},
        {"", std::nullopt},
        {"MiB", std::nullopt},
        {"-1", std::nullopt},
        {"+1", std::nullopt},
        {"4 MiB", std::nullopt},
        {"4mib", std::nullopt},
        {"4TB", std::nullopt},
        {"1.5", std::nullopt},
        {"1.5B", std::nullopt},
        {"1.KiB", std::nullopt},
        {".5KiB", std::nullopt},
        {"18446744073709551615", std::size_t{18446744073709551615u}},
        {"18446744073709551616", std::nullopt},
        {"17179869184GiB", std::nullopt},
    };
    for (const auto& row : rows) {
        CAPTURE(row.text);
        CHECK(parse_size(row.text) == row.expected);
    }
}

TEST_CASE("ConfigError::format")
{
    CHECK(ConfigError{"/etc/c.toml", 3, 7, "bad"}.format() == "/etc/c.toml:3:7: bad");
    CHECK(ConfigError{"c.toml", 0, 0, "bad"}.format() == "c.toml: bad");
}

TEST_CASE("ConfigReader: values, checks and unknown keys at their positions, in file order")
{
    constexpr std::string_view k_text = R"(count = 70
[part]
size = "2KiB"
wait = "5"
colour = "blue"
)";
    std::size_t size = 0;
    const auto read = [&size](ConfigReader& reader, const toml::table& root) {
        ConfigSection top{root, {}, {}, {}};
        std::int64_t count = 0;
        reader.read(top, "count", count, checks::in_range(1, 64));
        if (auto part = reader.table(top, "part")) {
            part->note = " (part one)";
            reader.read<Size>(*part, "size", size);
            Duration wait{0};
            reader.read(*part, "wait", wait);
            reader.finish(*part, " here");
        }
        reader.finish(top);
        return 1;
    };
    const auto result = read_config_text<int>(k_text, "/etc/x.toml", read);
    CHECK(size == 2048);
    CHECK_FALSE(result.config.has_value());
    REQUIRE(result.errors.size() == 3);
    CHECK(result.errors[0].format() == "/etc/x.toml:1:9: count: must be between 1 and 64");
    CHECK(result.errors[1].format() ==
          "/etc/x.toml:4:8: part.wait: expected a duration string such as \"30s\" (part one)");
    CHECK(result.errors[2].format() == "/etc/x.toml:5:1: part: unknown key 'colour' here (part one)");
}

TEST_CASE("ConfigReader: a duration beyond ten years is an error at its value, naming the key")
{
    constexpr std::string_view k_text = R"(fine = "3650d"
[part]
wait = "3651d"
long = "9223372036854775807ms"
hours = "87601h"
)";
    Duration fine{0};
    Duration wait{0};
    const auto read = [&fine, &wait](ConfigReader& reader, const toml::table& root) {
        ConfigSection top{root, {}, {}, {}};
        reader.read(top, "fine", fine);
        if (auto part = reader.table(top, "part")) {
            reader.read(*part, "wait", wait);
            Duration other{0};
            reader.read(*part, "long", other);
            reader.read(*part, "hours", other);
            reader.finish(*part);
        }
        reader.finish(top);
        return 1;
    };
    const auto result = read_config_text<int>(k_text, "/etc/x.toml", read);
    CHECK(k_max_duration == 3650 * 24h);
    CHECK(fine == k_max_duration);  // ten years exactly is still accepted
    CHECK(wait == Duration::zero());
    CHECK_FALSE(result.config.has_value());
    REQUIRE(result.errors.size() == 3);
    CHECK(result.errors[0].format() == "/etc/x.toml:3:8: part.wait: must be at most 3650d (ten years)");
    CHECK(result.errors[1].format() == "/etc/x.toml:4:8: part.long: must be at most 3650d (ten years)");
    CHECK(result.errors[2].format() == "/etc/x.toml:5:9: part.hours: must be at most 3650d (ten years)");
}

TEST_CASE("read_config_text: a reader that throws is one error without a position")
{
    const auto result = read_config_text<int>(
        "a = 1\n", "c.toml", [](ConfigReader&, const toml::table&) -> int { throw std::runtime_error("boom"); });
    CHECK_FALSE(result.config.has_value());
    REQUIRE(result.errors.size() == 1);
    CHECK(result.errors[0].format() == "c.toml: cannot load the configuration: boom");
}

TEST_SUITE_END();
