#include "daemon/backoff.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <ctime>
#include <string>

namespace c4c::daemon {

namespace {

std::minstd_rand& shared_random()
{
    thread_local std::minstd_rand random{std::random_device{}()};
    return random;
}

std::optional<int> month_index(std::string_view name)
{
    static constexpr std::array<std::string_view, 12> k_months{"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                               "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    for (std::size_t i = 0; i < k_months.size(); ++i) {
        if (k_months[i] == name) {
            return static_cast<int>(i);
        }
    }
    return std::nullopt;
}

// Parses the three date forms RFC 9110 section 5.6.7 allows.
std::optional<std::chrono::system_clock::time_point> parse_http_date(std::string_view text)
{
    std::tm tm{};
    char weekday[16]{};
    char month[4]{};
    int day = 0, year = 0, hour = 0, minute = 0, second = 0;
    std::string s(text);
    char zone[4]{};
    if (std::sscanf(s.c_str(), "%15[A-Za-z], %d %3s %d %d:%d:%d %3s", weekday, &day, month, &year, &hour, &minute,
                    &second, zone) == 8) {
        // IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
    } else if (std::sscanf(s.c_str(), "%15[A-Za-z], %d-%3s-%d %d:%d:%d %3s", weekday, &day, month, &year, &hour,
                           &minute, &second, zone) == 8) {
        year += year < 70 ? 2000 : (year < 100 ? 1900 : 0);  // RFC 850: Sunday, 06-Nov-94 08:49:37 GMT
    } else if (std::sscanf(s.c_str(), "%15[A-Za-z] %3s %d %d:%d:%d %d", weekday, month, &day, &hour, &minute,
                           &second, &year) == 7) {
        std::snprintf(zone, sizeof zone, "GMT");  // asctime: Sun Nov  6 08:49:37 1994
    } else {
        return std::nullopt;
    }
    auto mon = month_index(month);
    if (!mon || std::string_view(zone) != "GMT" || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
        return std::nullopt;
    }
    tm.tm_year = year - 1900;
    tm.tm_mon = *mon;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = minute;
    tm.tm_sec = second;
    std::time_t t = timegm(&tm);
    if (t == static_cast<std::time_t>(-1)) {
        return std::nullopt;
    }
    return std::chrono::system_clock::from_time_t(t);
}

} // namespace

Backoff::Backoff(std::chrono::milliseconds base, std::chrono::milliseconds max)
    : m_base(base), m_max(max), m_random(std::random_device{}())
{
}

std::chrono::milliseconds Backoff::next()
{
    const unsigned shift = std::min(m_attempt, 30u);
    ++m_attempt;
    const auto ceiling = std::min<std::int64_t>(m_base.count() << shift, m_max.count());
    std::uniform_int_distribution<std::int64_t> pick(ceiling / 2, std::max<std::int64_t>(ceiling, 1));
    return std::chrono::milliseconds(pick(m_random));
}

void Backoff::reset()
{
    m_attempt = 0;
}

std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value,
                                                           std::chrono::system_clock::time_point now)
{
    constexpr std::chrono::milliseconds k_cap = std::chrono::hours(24);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
        value.remove_prefix(1);
    }
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) {
        value.remove_suffix(1);
    }
    if (value.empty()) {
        return std::nullopt;
    }
    if (std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        std::uint64_t seconds = 0;
        auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
        if (ec == std::errc::result_out_of_range || seconds > 86400) {
            return k_cap;
        }
        if (ec != std::errc{} || ptr != value.data() + value.size()) {
            return std::nullopt;
        }
        return std::chrono::seconds(seconds);
    }
    auto when = parse_http_date(value);
    if (!when) {
        return std::nullopt;
    }
    if (*when <= now) {
        return std::chrono::milliseconds(0);
    }
    return std::min(k_cap, std::chrono::duration_cast<std::chrono::milliseconds>(*when - now));
}

std::chrono::milliseconds jitter(std::chrono::milliseconds period, double fraction)
{
    const auto span = static_cast<std::int64_t>(static_cast<double>(period.count()) * fraction);
    if (span <= 0) {
        return std::chrono::milliseconds(0);
    }
    std::uniform_int_distribution<std::int64_t> pick(0, span);
    return std::chrono::milliseconds(pick(shared_random()));
}

} // namespace c4c::daemon
