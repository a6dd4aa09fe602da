#include "collectors/odata.hpp"

#include "infra/time.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <limits>

namespace c4c::collectors {

// ---------------------------------------------------------------------------------------------------------
// Dates

namespace {

// Bounds that keep milliseconds * 1'000'000 inside int64 (event times are nanoseconds).
constexpr std::int64_t k_max_ms = std::numeric_limits<std::int64_t>::max() / 1'000'000;

bool all_digits(std::string_view text)
{
    return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

std::optional<std::int64_t> parse_odata_date(std::string_view text)
{
    constexpr std::string_view k_prefix = "/Date(";
    constexpr std::string_view k_suffix = ")/";
    if (text.size() <= k_prefix.size() + k_suffix.size() || !text.starts_with(k_prefix) || !text.ends_with(k_suffix)) {
        return std::nullopt;
    }
    const char* p = text.data() + k_prefix.size();
    const char* const end = text.data() + text.size() - k_suffix.size();
    const bool negative = *p == '-';
    if (negative) {
        ++p;
    }
    const char* const digits = p;
    std::int64_t ms = 0;
    for (; p < end && *p >= '0' && *p <= '9'; ++p) {
        if (ms > k_max_ms) {
            return std::nullopt;  // also keeps the next step from overflowing
        }
        ms = ms * 10 + (*p - '0');
    }
    if (p == digits || ms > k_max_ms) {
        return std::nullopt;
    }
    if (p < end) {
        // The offset is informational (see the header): the ticks already are the UTC instant.
        if (*p != '+' && *p != '-') {
            return std::nullopt;
        }
        const std::string_view offset(p + 1, static_cast<std::size_t>(end - p - 1));
        if (offset.size() > 4 || !all_digits(offset)) {
            return std::nullopt;
        }
    }
    return negative ? -ms : ms;
}

std::string format_datetimeoffset(std::int64_t unix_ms)
{
    return infra::format_iso8601_ms(unix_ms);
}

// ---------------------------------------------------------------------------------------------------------
// Links and literals

namespace {

bool starts_with_ci(std::string_view text, std::string_view prefix)
{
    if (text.size() < prefix.size()) {
        return false;
    }
    for (std::size_t i = 0; i < prefix.size(); ++i) {
        char c = text[i];
        if (c >= 'A' && c <= 'Z') {
            c = static_cast<char>(c - 'A' + 'a');
        }
        if (c != prefix[i]) {
            return false;
        }
    }
    return true;
}

}  // namespace

std::string resolve_next_url(std::string_view base_url, std::string_view next)
{
    if (starts_with_ci(next, "http://") || starts_with_ci(next, "https://")) {
        return std::string(next);
    }
    const auto scheme_end = base_url.find("://");
    const std::string_view scheme =
        scheme_end == std::string_view::npos ? std::string_view{} : base_url.substr(0, scheme_end);
    const auto authority_start = scheme_end == std::string_view::npos ? 0 : scheme_end + 3;
    auto authority_end = base_url.find_first_of("/?#", authority_start);
    if (authority_end == std::string_view::npos) {
        authority_end = base_url.size();
    }
    const std::string_view origin = base_url.substr(0, authority_end);
    std::string_view path = base_url.substr(authority_end);
    path = path.substr(0, path.find_first_of("?#"));

    if (next.starts_with("//")) {
        return fmt::format("{}:{}", scheme, next);
    }
    if (next.starts_with('/')) {
        return fmt::format("{}{}", origin, next);
    }
    if (next.empty()) {
        return std::string(base_url.substr(0, base_url.find('#')));
    }
    if (next.starts_with('?')) {
        return fmt::format("{}{}{}", origin, path, next);
    }
    const auto slash = path.rfind('/');
    const std::string_view directory =
        slash == std::string_view::npos ? std::string_view("/") : path.substr(0, slash + 1);
    return fmt::format("{}{}{}", origin, directory, next);
}

std::string odata_string_literal(std::string_view value)
{
    std::string out;
    out.reserve(value.size() + 2);
    out.push_back('\'');
    for (char c : value) {
        out.push_back(c);
        if (c == '\'') {
            out.push_back('\'');
        }
    }
    out.push_back('\'');
    return out;
}

}  // namespace c4c::collectors
