#include "infra/time.hpp"

#include <fmt/format.h>

namespace c4c::infra {

namespace chrono = std::chrono;

namespace {

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

}  // namespace c4c::infra
