#include "infra/units.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <limits>
#include <string_view>
#include <system_error>

namespace c4c::infra {

std::optional<Duration> parse_duration(std::string_view text)
{
    if (text.empty()) {
        return std::nullopt;
    }
    std::int64_t total = 0;
    while (!text.empty()) {
        if (text.front() < '0' || text.front() > '9') {
            return std::nullopt;
        }
        std::int64_t number = 0;
        const auto [digits_end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
        if (ec != std::errc{}) {
            return std::nullopt;
        }
        text.remove_prefix(static_cast<std::size_t>(digits_end - text.data()));
        const auto unit_end = std::find_if(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
        const std::string_view unit(text.data(), static_cast<std::size_t>(unit_end - text.begin()));
        std::int64_t factor = 0;
        if (unit == "ms") {
            factor = 1;
        } else if (unit == "s") {
            factor = 1000;
        } else if (unit == "m") {
            factor = 60'000;
        } else if (unit == "h") {
            factor = 3'600'000;
        } else if (unit == "d") {
            factor = 86'400'000;
        } else {
            return std::nullopt;
        }
        std::int64_t part = 0;
        if (__builtin_mul_overflow(number, factor, &part) || __builtin_add_overflow(total, part, &total)) {
            return std::nullopt;
        }
        text.remove_prefix(unit.size());
    }
    return Duration(total);
}

std::optional<std::size_t> parse_size(std::string_view text)
{
    const auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
    const auto* begin = text.data();
    const auto* end = text.data() + text.size();
    std::uint64_t whole = 0;
    const auto [whole_end, ec] = std::from_chars(begin, end, whole);
    if (text.empty() || !is_digit(text.front()) || ec != std::errc{}) {
        return std::nullopt;
    }
    std::string_view rest(whole_end, static_cast<std::size_t>(end - whole_end));
    std::uint64_t fraction = 0;
    std::uint64_t fraction_scale = 1;
    if (rest.starts_with('.')) {
        rest.remove_prefix(1);
        std::size_t digits = 0;
        while (digits < rest.size() && is_digit(rest[digits])) {
            fraction = fraction * 10 + static_cast<std::uint64_t>(rest[digits] - '0');
            fraction_scale *= 10;
            if (++digits > 9) {
                return std::nullopt;
            }
        }
        if (digits == 0) {
            return std::nullopt;
        }
        rest.remove_prefix(digits);
    }
    struct Unit {
        std::string_view name;
        std::uint64_t factor;
    };
    constexpr std::array<Unit, 8> k_units{{{"B", 1},
                                           {"kB", 1000},
                                           {"KB", 1000},
                                           {"MB", std::uint64_t{1000} * 1000},
                                           {"GB", std::uint64_t{1000} * 1000 * 1000},
                                           {"KiB", 1024},
                                           {"MiB", std::uint64_t{1024} * 1024},
                                           {"GiB", std::uint64_t{1024} * 1024 * 1024}}};
    std::uint64_t factor = 1;
    if (!rest.empty()) {
        const auto* unit = std::find_if(k_units.begin(), k_units.end(), [&](const Unit& u) { return u.name == rest; });
        if (unit == k_units.end()) {
            return std::nullopt;
        }
        factor = unit->factor;
    }
    // A fraction is fine as long as it names whole bytes ("1.5KiB" yes, "1.5B" no).
    const std::uint64_t fraction_bytes = fraction * factor;
    if (fraction_bytes % fraction_scale != 0) {
        return std::nullopt;
    }
    std::uint64_t bytes = 0;
    if (__builtin_mul_overflow(whole, factor, &bytes) ||
        __builtin_add_overflow(bytes, fraction_bytes / fraction_scale, &bytes) ||
        bytes > std::numeric_limits<std::size_t>::max()) {
        return std::nullopt;
    }
    return static_cast<std::size_t>(bytes);
}

}  // namespace c4c::infra
