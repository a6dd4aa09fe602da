#include "infra/backoff.hpp"

#include "infra/time.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <string>

namespace c4c::infra {

namespace {

std::minstd_rand& shared_random()
{
    thread_local std::minstd_rand random{std::random_device{}()};
    return random;
}

/// Reads the fields of an HTTP date from left to right; every step consumes its match or fails.
class DateCursor {
public:
    explicit DateCursor(std::string_view text) : m_text(text) {}

    bool done() const { return m_text.empty(); }

    bool literal(std::string_view expected)
    {
        if (!m_text.starts_with(expected)) {
            return false;
        }
        m_text.remove_prefix(expected.size());
        return true;
    }

    /// A day name, short or long ("Sun", "Sunday"); not checked against the date, as browsers do.
    bool day_name()
    {
        std::size_t n = 0;
        const auto letter = [](char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); };
        while (n < m_text.size() && n < 9 && letter(m_text[n])) {
            ++n;
        }
        m_text.remove_prefix(n);
        return n >= 3;
    }

    /// Between `min_digits` and `max_digits` decimal digits.
    bool number(std::size_t min_digits, std::size_t max_digits, int& value)
    {
        std::size_t n = 0;
        value = 0;
        while (n < m_text.size() && n < max_digits && m_text[n] >= '0' && m_text[n] <= '9') {
            value = value * 10 + (m_text[n] - '0');
            ++n;
        }
        m_text.remove_prefix(n);
        return n >= min_digits;
    }

    /// "Jan" .. "Dec" as 1 .. 12.
    bool month(int& value)
    {
        static constexpr std::array<std::string_view, 12> k_months{"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
        for (std::size_t i = 0; i < k_months.size(); ++i) {
            if (literal(k_months[i])) {
                value = static_cast<int>(i) + 1;
                return true;
            }
        }
        return false;
    }

    /// hh:mm:ss
    bool time(int& hour, int& minute, int& second)
    {
        return number(2, 2, hour) && literal(":") && number(2, 2, minute) && literal(":") && number(2, 2, second);
    }

private:
    std::string_view m_text;
};

}  // namespace

// The three date forms RFC 9110 section 5.6.7 allows, as unix seconds. The whole value must match one
// of them (a one-digit day is tolerated) and name a real date in years 1 to 9999, which also keeps
// every later computation far from overflow.
std::optional<std::int64_t> parse_http_date(std::string_view text)
{
    CivilTime d;
    const auto imf_fixdate = [&] {  // Sun, 06 Nov 1994 08:49:37 GMT
        DateCursor in(text);
        return in.day_name() && in.literal(", ") && in.number(1, 2, d.day) && in.literal(" ") && in.month(d.month) &&
               in.literal(" ") && in.number(4, 4, d.year) && in.literal(" ") && in.time(d.hour, d.minute, d.second) &&
               in.literal(" GMT") && in.done();
    };
    const auto rfc850_date = [&] {  // Sunday, 06-Nov-94 08:49:37 GMT
        DateCursor in(text);
        if (!(in.day_name() && in.literal(", ") && in.number(1, 2, d.day) && in.literal("-") && in.month(d.month) &&
              in.literal("-") && in.number(2, 4, d.year) && in.literal(" ") && in.time(d.hour, d.minute, d.second) &&
              in.literal(" GMT") && in.done())) {
            return false;
        }
        if (d.year < 100) {
            d.year += d.year < 70 ? 2000 : 1900;
        }
        return true;
    };
    const auto asctime_date = [&] {  // Sun Nov  6 08:49:37 1994
        DateCursor in(text);
        return in.day_name() && in.literal(" ") && in.month(d.month) && in.literal(" ") &&
               (in.literal(" ") ? in.number(1, 1, d.day) : in.number(2, 2, d.day)) && in.literal(" ") &&
               in.time(d.hour, d.minute, d.second) && in.literal(" ") && in.number(4, 4, d.year) && in.done();
    };
    if (!imf_fixdate() && !rfc850_date() && !asctime_date()) {
        return std::nullopt;
    }
    if (d.year < 1 || !valid_date(d.year, d.month, d.day) || d.hour > 23 || d.minute > 59 || d.second > 60) {
        return std::nullopt;
    }
    return civil_to_seconds(d);
}

Backoff::Backoff(std::chrono::milliseconds base, std::chrono::milliseconds max)
    : m_base(base), m_max(max), m_random(shared_random()())  // one std::random_device per thread, not per request
{}

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
    const auto when = parse_http_date(value);
    if (!when) {
        return std::nullopt;
    }
    // In milliseconds: years 1 to 9999 fit easily, unlike the clock's nanoseconds (1678 to 2261).
    const std::int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
    const std::int64_t wait_ms = *when * 1000 - now_ms;
    if (wait_ms <= 0) {
        return std::chrono::milliseconds(0);
    }
    return std::min(k_cap, std::chrono::milliseconds(wait_ms));
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

}  // namespace c4c::infra
