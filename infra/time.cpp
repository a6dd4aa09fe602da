#include "infra/time.hpp"

#include "infra/text.hpp"

#include <fmt/format.h>

#include <limits>

namespace c4c::infra {

namespace chrono = std::chrono;

namespace {

constexpr std::int64_t k_ns_per_second = 1'000'000'000;

// `YYYY-MM-DDThh:mm:ss`, then '.' and `fraction` in `digits` digits when digits > 0, then 'Z'.
std::string format_utc(std::int64_t unix_seconds, std::int64_t fraction, int digits)
{
    const CivilTime t = seconds_to_civil(unix_seconds);
    if (t.year < 0 || t.year > 9999) {
        std::string out =
            fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", t.year, t.month, t.day, t.hour, t.minute, t.second);
        if (digits > 0) {
            out += fmt::format(".{:0{}}", fraction, digits);
        }
        out.push_back('Z');
        return out;
    }
    // Written by hand: this runs for every event (creation times) and fmt's general path costs ten times more.
    std::string out = "0000-00-00T00:00:00";
    const auto put = [&out](std::size_t at, std::int64_t value, int width) {
        for (int i = width - 1; i >= 0; --i) {
            out[at + static_cast<std::size_t>(i)] = static_cast<char>('0' + value % 10);
            value /= 10;
        }
    };
    put(0, t.year, 4);
    put(5, t.month, 2);
    put(8, t.day, 2);
    put(11, t.hour, 2);
    put(14, t.minute, 2);
    put(17, t.second, 2);
    if (digits > 0) {
        out.push_back('.');
        out.append(static_cast<std::size_t>(digits), '0');
        put(20, fraction, digits);
    }
    out.push_back('Z');
    return out;
}

bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

}  // namespace

bool valid_date(int year, int month, int day)
{
    return month >= 1 && month <= 12 && day >= 1 && day <= 31 &&
           chrono::year_month_day(chrono::year(year), chrono::month(static_cast<unsigned>(month)),
                                  chrono::day(static_cast<unsigned>(day)))
               .ok();
}

std::int64_t days_from_civil(int year, int month, int day)
{
    // year/month/1 plus the days after the first: a day past the month's end counts on, as chrono does.
    const chrono::sys_days first{chrono::year(year) / chrono::month(static_cast<unsigned>(month)) / 1};
    return (first + chrono::days(day - 1)).time_since_epoch().count();
}

std::int64_t civil_to_seconds(const CivilTime& civil)
{
    return days_from_civil(civil.year, civil.month, civil.day) * 86'400 + std::int64_t{civil.hour} * 3600 +
           std::int64_t{civil.minute} * 60 + civil.second;
}

CivilTime seconds_to_civil(std::int64_t unix_seconds)
{
    const chrono::sys_seconds instant{chrono::seconds(unix_seconds)};
    const auto day = chrono::floor<chrono::days>(instant);
    const chrono::year_month_day date{day};
    const chrono::hh_mm_ss time{instant - day};
    return CivilTime{static_cast<int>(date.year()),
                     static_cast<int>(static_cast<unsigned>(date.month())),
                     static_cast<int>(static_cast<unsigned>(date.day())),
                     static_cast<int>(time.hours().count()),
                     static_cast<int>(time.minutes().count()),
                     static_cast<int>(time.seconds().count())};
}

std::string format_iso8601_ms(std::int64_t unix_ms)
{
    const chrono::milliseconds ms(unix_ms);
    const auto seconds = chrono::floor<chrono::seconds>(ms);
    return format_utc(seconds.count(), (ms - seconds).count(), 3);
}

std::string format_iso8601_ms(chrono::system_clock::time_point time)
{
    return format_iso8601_ms(chrono::floor<chrono::milliseconds>(time).time_since_epoch().count());
}

std::string format_iso8601_ns(std::int64_t unix_ns)
{
    const chrono::nanoseconds ns(unix_ns);
    const auto seconds = chrono::floor<chrono::seconds>(ns);
    const std::int64_t rest = (ns - seconds).count();
    if (rest == 0) {
        return format_utc(seconds.count(), 0, 0);
    }
    if (rest % 1'000'000 == 0) {
        return format_utc(seconds.count(), rest / 1'000'000, 3);
    }
    if (rest % 1'000 == 0) {
        return format_utc(seconds.count(), rest / 1'000, 6);
    }
    return format_utc(seconds.count(), rest, 9);
}

std::int64_t unix_nanos(chrono::system_clock::time_point time)
{
    return chrono::duration_cast<chrono::nanoseconds>(time.time_since_epoch()).count();
}

std::int64_t unix_millis(chrono::system_clock::time_point time)
{
    return chrono::duration_cast<chrono::milliseconds>(time.time_since_epoch()).count();
}

std::optional<std::int64_t> parse_iso8601_ns(std::string_view text)
{
    text = trim_space(text);
    std::size_t pos = 0;
    const auto digits = [&](std::size_t count, int& out) {
        if (text.size() - pos < count) {
            return false;
        }
        out = 0;
        for (std::size_t i = 0; i < count; ++i, ++pos) {
            if (!is_digit(text[pos])) {
                return false;
            }
            out = out * 10 + (text[pos] - '0');
        }
        return true;
    };
    const auto expect = [&](char c) {
        if (pos < text.size() && text[pos] == c) {
            ++pos;
            return true;
        }
        return false;
    };

    int year = 0;
    int month = 0;
    int day = 0;
    int hour = 0;
    int minute = 0;
    int second = 0;
    if (!digits(4, year) || !expect('-') || !digits(2, month) || !expect('-') || !digits(2, day)) {
        return std::nullopt;
    }
    if (!expect('T') && !expect('t') && !expect(' ')) {
        return std::nullopt;
    }
    if (!digits(2, hour) || !expect(':') || !digits(2, minute) || !expect(':') || !digits(2, second)) {
        return std::nullopt;
    }
    std::int64_t fraction = 0;
    if (expect('.') || expect(',')) {
        int count = 0;
        for (; pos < text.size() && is_digit(text[pos]); ++pos, ++count) {
            if (count < 9) {
                fraction = fraction * 10 + (text[pos] - '0');
            }
        }
        if (count == 0) {
            return std::nullopt;
        }
        for (; count < 9; ++count) {
            fraction *= 10;
        }
    }
    std::int64_t offset_seconds = 0;
    if (expect('Z') || expect('z')) {
        // UTC
    } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
        const int sign = text[pos] == '-' ? -1 : 1;
        ++pos;
        int offset_hours = 0;
        int offset_minutes = 0;
        if (!digits(2, offset_hours)) {
            return std::nullopt;
        }
        const bool colon = expect(':');
        if (pos < text.size() || colon) {
            if (!digits(2, offset_minutes)) {
                return std::nullopt;
            }
        }
        if (offset_hours > 23 || offset_minutes > 59) {
            return std::nullopt;
        }
        offset_seconds = std::int64_t{sign} * (offset_hours * 3600 + offset_minutes * 60);
    }
    if (pos != text.size()) {
        return std::nullopt;
    }

    // 24:00:00 is the end of a day in ISO 8601 and xsd:dateTime; a leap second 60 is accepted and rolls over.
    const bool end_of_day = hour == 24 && minute == 0 && second == 0 && fraction == 0;
    if ((hour > 23 && !end_of_day) || minute > 59 || second > 60) {
        return std::nullopt;
    }
    if (!valid_date(year, month, day)) {
        return std::nullopt;
    }
    const std::int64_t seconds = civil_to_seconds({year, month, day, hour, minute, second}) - offset_seconds;
    constexpr std::int64_t k_max_seconds = std::numeric_limits<std::int64_t>::max() / k_ns_per_second;
    if (seconds >= k_max_seconds || seconds <= -k_max_seconds) {
        return std::nullopt;
    }
    return seconds * k_ns_per_second + fraction;
}

}  // namespace c4c::infra
