#include "collectors/sap_time_zones.hpp"

#include "infra/text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <stdexcept>
#include <utility>

namespace c4c::collectors {

void throw_exception_from_error(const TimeError& error, const boost::source_location&)
{
    throw std::runtime_error(error.message);
}

namespace {

constexpr std::int64_t k_day = 86400;

TimeError time_error(TimeErrc code, std::string message)
{
    return TimeError{code, std::move(message)};
}

}  // namespace

// ---------------------------------------------------------------------------------------------------
// POSIX TZ rules (the TZif footer), with the RFC 8536 extensions: transition times from -167 to 167
// hours, and angle-bracket-quoted names.

struct TimeZone::PosixRule {
    struct Date {
        enum class Kind { julian_no_leap, zero_based, month_week_day } kind = Kind::month_week_day;
        int day = 0;               ///< Jn: 1..365; n: 0..365; M: weekday 0..6 (Sunday = 0)
        int month = 0;             ///< M only
        int week = 0;              ///< M only, 1..5 (5 = last)
        std::int32_t time = 7200;  ///< local time of day of the change, seconds (may be < 0 or > 24h)
    };
    std::int32_t std_offset = 0;  ///< seconds east of UTC
    bool has_dst = false;
    std::int32_t dst_offset = 0;
    Date start;  ///< expressed in local standard time
    Date end;    ///< expressed in local daylight time

    std::int32_t offset_at(std::int64_t unix_seconds) const;
};

namespace {

using PosixRule = TimeZone::PosixRule;

class PosixParser {
public:
    explicit PosixParser(std::string_view text) : m_text(text) {}

    bool parse(PosixRule& rule)
    {
        if (!name()) {
            return false;
        }
        std::int32_t west = 0;
        if (!offset(west, 24 * 3600)) {
            return false;
        }
        rule.std_offset = -west;
        if (done()) {
            return true;
        }
        if (!name()) {
            return false;
        }
        rule.has_dst = true;
        rule.dst_offset = rule.std_offset + 3600;
        if (!done() && peek() != ',') {
            if (!offset(west, 24 * 3600)) {
                return false;
            }
            rule.dst_offset = -west;
        }
        if (done()) {
            // POSIX leaves the rule to the implementation; TZif footers always carry one. Use the
            // US rule, as glibc does.
            rule.start = PosixRule::Date{PosixRule::Date::Kind::month_week_day, 0, 3, 2, 7200};
            rule.end = PosixRule::Date{PosixRule::Date::Kind::month_week_day, 0, 11, 1, 7200};
            return true;
        }
        return expect(',') && date(rule.start) && expect(',') && date(rule.end) && done();
    }

private:
    bool done() const { return m_pos >= m_text.size(); }
    char peek() const { return done() ? '\0' : m_text[m_pos]; }
    bool expect(char c)
    {
        if (peek() != c) {
            return false;
        }
        ++m_pos;
        return true;
    }
    static bool is_digit(char c) { return c >= '0' && c <= '9'; }
    static bool is_alpha(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }

    bool name()
    {
        if (expect('<')) {
            const auto close = m_text.find('>', m_pos);
            if (close == std::string_view::npos || close == m_pos) {
                return false;
            }
            m_pos = close + 1;
            return true;
        }
        const auto start = m_pos;
        while (is_alpha(peek())) {
            ++m_pos;
        }
        return m_pos > start;
    }

    bool number(int& value, int max)
    {
        if (!is_digit(peek())) {
            return false;
        }
        value = 0;
        while (is_digit(peek())) {
            value = value * 10 + (m_text[m_pos] - '0');
            if (value > max) {
                return false;
            }
            ++m_pos;
        }
        return true;
    }

    // [+|-]hh[:mm[:ss]]; `max` bounds the magnitude in seconds.
    bool offset(std::int32_t& seconds, std::int32_t max)
    {
        int sign = 1;
        if (expect('-')) {
            sign = -1;
        } else {
            expect('+');
        }
        int hours = 0;
        int minutes = 0;
        int secs = 0;
        if (!number(hours, 167)) {
            return false;
        }
        if (expect(':') && (!number(minutes, 59) || (expect(':') && !number(secs, 59)))) {
            return false;
        }
        const std::int32_t total = hours * 3600 + minutes * 60 + secs;
        if (total > max) {
            return false;
        }
        seconds = sign * total;
        return true;
    }

    bool date(PosixRule::Date& date)
    {
        using Kind = PosixRule::Date::Kind;
        if (expect('M')) {
            date.kind = Kind::month_week_day;
            if (!number(date.month, 12) || date.month < 1 || !expect('.') || !number(date.week, 5) || date.week < 1 ||
                !expect('.') || !number(date.day, 6)) {
                return false;
            }
        } else if (expect('J')) {
            date.kind = Kind::julian_no_leap;
            if (!number(date.day, 365) || date.day < 1) {
                return false;
            }
        } else {
            date.kind = Kind::zero_based;
            if (!number(date.day, 365)) {
                return false;
            }
        }
        date.time = 7200;
        if (expect('/')) {
            return offset(date.time, 167 * 3600);
        }
        return true;
    }

    std::string_view m_text;
    std::size_t m_pos = 0;
};

// Local seconds (as if UTC) of the change `date` in `year`.
std::int64_t rule_local_time(const PosixRule::Date& date, int year)
{
    namespace chrono = std::chrono;
    using Kind = PosixRule::Date::Kind;
    std::int64_t day = 0;  // days since the epoch
    switch (date.kind) {
    case Kind::julian_no_leap:
        // Jn counts 1..365 and never 29 February.
        day = days_from_civil(year, 1, 1) + date.day - 1 + (chrono::year(year).is_leap() && date.day >= 60 ? 1 : 0);
        break;
    case Kind::zero_based:
        day = days_from_civil(year, 1, 1) + date.day;
        break;
    case Kind::month_week_day: {
        // Mm.w.d: weekday d of week w of month m, week 5 being the month's last such weekday.
        const chrono::year_month month = chrono::year(year) / chrono::month(static_cast<unsigned>(date.month));
        const chrono::weekday weekday(static_cast<unsigned>(date.day));
        const chrono::sys_days when = date.week == 5
                                          ? chrono::sys_days(month / weekday[chrono::last])
                                          : chrono::sys_days(month / weekday[static_cast<unsigned>(date.week)]);
        day = when.time_since_epoch().count();
        break;
    }
    }
    return day * k_day + date.time;
}

}  // namespace

std::int32_t TimeZone::PosixRule::offset_at(std::int64_t unix_seconds) const
{
    if (!has_dst) {
        return std_offset;
    }
    // The changes of the surrounding years, in time order; the last one not after the instant wins.
    // Working over three years makes both hemispheres (and rules that wrap the year end) come out right.
    const int year = seconds_to_civil(unix_seconds + std_offset).year;
    struct Change {
        std::int64_t at;
        bool to_dst;
    };
    std::array<Change, 6> changes{};
    std::size_t n = 0;
    for (int y = year - 1; y <= year + 1; ++y) {
        changes[n++] = Change{rule_local_time(end, y) - dst_offset, false};
        changes[n++] = Change{rule_local_time(start, y) - std_offset, true};
    }
    // At equal instants a start sorts after an end, so that an all-year rule ("0/0,J365/25") is DST.
    std::stable_sort(changes.begin(), changes.end(), [](const Change& a, const Change& b) {
        return a.at < b.at || (a.at == b.at && !a.to_dst && b.to_dst);
    });
    bool in_dst = !changes.front().to_dst;  // before the earliest change, the opposite of that change
    for (const auto& change : changes) {
        if (change.at > unix_seconds) {
            break;
        }
        in_dst = change.to_dst;
    }
    return in_dst ? dst_offset : std_offset;
}

// ---------------------------------------------------------------------------------------------------

TimeResult<TimeZone> TimeZone::from_posix(std::string_view tz)
{
    PosixRule rule;
    if (!PosixParser(tz).parse(rule)) {
        return time_error(TimeErrc::zone_unreadable, fmt::format("invalid POSIX TZ rule '{}'", tz));
    }
    TimeZone zone;
    zone.m_initial_offset = rule.std_offset;
    zone.m_rule = std::make_shared<const PosixRule>(rule);
    return zone;
}

TimeZone TimeZone::fixed(std::int32_t utc_offset_seconds)
{
    TimeZone zone;
    zone.m_initial_offset = utc_offset_seconds;
    return zone;
}

namespace {

class ByteReader {
public:
    explicit ByteReader(std::string_view bytes) : m_bytes(bytes) {}
    bool has(std::size_t n) const { return m_bytes.size() - m_pos >= n; }
    std::size_t position() const { return m_pos; }
    void skip(std::size_t n) { m_pos += n; }
    std::uint8_t u8() { return static_cast<std::uint8_t>(m_bytes[m_pos++]); }
    std::uint32_t u32()
    {
        std::uint32_t v = 0;
        for (int i = 0; i < 4; ++i) {
            v = (v << 8) | u8();
        }
        return v;
    }
    std::int64_t i64()
    {
        std::uint64_t v = 0;
        for (int i = 0; i < 8; ++i) {
            v = (v << 8) | u8();
        }
        return static_cast<std::int64_t>(v);
    }
    std::string_view rest() const { return m_bytes.substr(m_pos); }

private:
    std::string_view m_bytes;
    std::size_t m_pos = 0;
};

struct TzifHeader {
    char version = 0;
    std::uint32_t isutcnt = 0, isstdcnt = 0, leapcnt = 0, timecnt = 0, typecnt = 0, charcnt = 0;

    std::size_t data_size(std::size_t time_size) const
    {
        return std::size_t{timecnt} * time_size + timecnt + std::size_t{typecnt} * 6 + charcnt +
               std::size_t{leapcnt} * (time_size + 4) + isstdcnt + isutcnt;
    }
};

bool read_header(ByteReader& in, TzifHeader& header)
{
    if (!in.has(44) || in.rest().substr(0, 4) != "TZif") {
        return false;
    }
    in.skip(4);
    header.version = static_cast<char>(in.u8());
    in.skip(15);
    header.isutcnt = in.u32();
    header.isstdcnt = in.u32();
    header.leapcnt = in.u32();
    header.timecnt = in.u32();
    header.typecnt = in.u32();
    header.charcnt = in.u32();
    // Bounds that no real zone comes near; they keep the size arithmetic far from overflow.
    return header.typecnt >= 1 && header.typecnt <= 256 && header.timecnt <= 1'000'000 && header.charcnt <= 65536 &&
           header.leapcnt <= 100'000 && header.isutcnt <= 256 && header.isstdcnt <= 256;
}

}  // namespace

TimeResult<TimeZone> TimeZone::from_tzif(std::string_view bytes)
{
    auto bad = [](std::string_view what) {
        return time_error(TimeErrc::zone_unreadable, fmt::format("not a valid TZif file: {}", what));
    };
    ByteReader in(bytes);
    TzifHeader header;
    if (!read_header(in, header)) {
        return bad("bad header");
    }
    std::size_t time_size = 4;
    if (header.version >= '2') {
        // Skip the 32-bit block; the 64-bit block that follows covers the full time range.
        const std::size_t v1_size = header.data_size(4);
        if (!in.has(v1_size)) {
            return bad("truncated version 1 data");
        }
        in.skip(v1_size);
        if (!read_header(in, header)) {
            return bad("bad version 2+ header");
        }
        time_size = 8;
    }
    if (!in.has(header.data_size(time_size))) {
        return bad("truncated data");
    }

    std::vector<std::int64_t> times(header.timecnt);
    for (auto& t : times) {
        t = time_size == 8 ? in.i64() : static_cast<std::int64_t>(static_cast<std::int32_t>(in.u32()));
    }
    std::vector<std::uint8_t> indices(header.timecnt);
    for (auto& index : indices) {
        index = in.u8();
        if (index >= header.typecnt) {
            return bad("transition type index out of range");
        }
    }
    std::vector<std::int32_t> offsets(header.typecnt);
    for (auto& offset : offsets) {
        offset = static_cast<std::int32_t>(in.u32());
        in.skip(2);  // isdst, abbreviation index
        if (offset <= -25 * 3600 || offset >= 26 * 3600) {
            return bad("UTC offset out of range");
        }
    }
    in.skip(header.charcnt + std::size_t{header.leapcnt} * (time_size + 4) + header.isstdcnt + header.isutcnt);

    if (offsets.empty()) {
        return bad("no local time types");
    }
    TimeZone zone;
    zone.m_initial_offset = offsets.front();
    zone.m_transitions.reserve(times.size());
    for (std::size_t i = 0; i < times.size(); ++i) {
        if (i > 0 && times[i] <= times[i - 1]) {
            return bad("transition times not ascending");
        }
        zone.m_transitions.push_back(Transition{times[i], offsets[indices[i]]});
    }

    if (time_size == 8) {
        std::string_view footer = in.rest();
        if (footer.size() < 2 || footer.front() != '\n') {
            return bad("missing footer");
        }
        footer.remove_prefix(1);
        const auto newline = footer.find('\n');
        if (newline == std::string_view::npos) {
            return bad("unterminated footer");
        }
        footer = footer.substr(0, newline);
        if (!footer.empty()) {
            auto rule = from_posix(footer);
            if (!rule) {
                return bad(rule.error().message);
            }
            zone.m_rule = rule->m_rule;
            if (zone.m_transitions.empty()) {
                zone.m_initial_offset = zone.m_rule->std_offset;
            }
        }
    }
    return zone;
}

std::int32_t TimeZone::offset_at(std::int64_t unix_seconds) const
{
    if (m_transitions.empty()) {
        return m_rule ? m_rule->offset_at(unix_seconds) : m_initial_offset;
    }
    if (unix_seconds < m_transitions.front().at) {
        return m_initial_offset;
    }
    if (m_rule && unix_seconds >= m_transitions.back().at) {
        return m_rule->offset_at(unix_seconds);
    }
    const auto next = std::upper_bound(m_transitions.begin(), m_transitions.end(), unix_seconds,
                                       [](std::int64_t t, const Transition& tr) { return t < tr.at; });
    return std::prev(next)->utc_offset;
}

std::int64_t TimeZone::local_to_utc(std::int64_t local_seconds) const
{
    // Every offset that can be in effect around this wall-clock time: real zones change at most once
    // within a day on either side, and no offset reaches a day.
    const std::int32_t before = offset_at(local_seconds - k_day);
    const std::array<std::int32_t, 3> candidates{before, offset_at(local_seconds), offset_at(local_seconds + k_day)};
    std::optional<std::int64_t> earliest;
    for (const std::int32_t offset : candidates) {
        const std::int64_t utc = local_seconds - offset;
        if (offset_at(utc) == offset && (!earliest || utc < *earliest)) {
            earliest = utc;
        }
    }
    // No offset fits: the time lies in a spring-forward gap. Reading it with the offset before the
    // change moves it forward by the gap.
    return earliest ? *earliest : local_seconds - before;
}

// ---------------------------------------------------------------------------------------------------

namespace {

struct SapZone {
    std::string_view sap;
    std::string_view iana;
};

// The codes of SAP's standard table TTZZ (../shared/sap-time-zones.md) whose zone is certain, besides the
// fixed offsets UTC+N / UTC-N (fixed_offset_hours below). SAP's CET, EST, CST, MST and PST observe daylight
// saving (their DST rules EU and USA) despite the names; MSTNO (Arizona) and CSTNO (Saskatchewan) do not.
// RUSnn is the Russian zone at UTC offset nn (checked against tzdata; RUS13 and RUS14 name no Russian
// zone). Codes whose meaning only SAP's own description could settle (BRZLEA, EST_, ESTNO, GST, GSTE, GSTW,
// NST, UTC+53, UTC+63, UTC-83, VERM02, VERM10, VERP02, VERP10, RUS13, RUS14) and customer-defined codes
// are not guessed: their rows are quarantined, with the code in the reason.
constexpr std::array k_sap_zones{
    SapZone{"UTC", "Etc/UTC"},
    SapZone{"GMTUK", "Europe/London"},
    SapZone{"UK", "Europe/London"},
    SapZone{"WET", "Europe/Lisbon"},
    SapZone{"AZOREN", "Atlantic/Azores"},
    SapZone{"CET", "Europe/Berlin"},
    SapZone{"WDFT", "Europe/Berlin"},
    SapZone{"EET", "Europe/Helsinki"},
    SapZone{"CYPRUS", "Asia/Nicosia"},
    SapZone{"EGYPT", "Africa/Cairo"},
    SapZone{"ISRAEL", "Asia/Jerusalem"},
    SapZone{"JORDAN", "Asia/Amman"},
    SapZone{"LBANON", "Asia/Beirut"},
    SapZone{"SYRIA", "Asia/Damascus"},
    SapZone{"IRAQ", "Asia/Baghdad"},
    SapZone{"IRAN", "Asia/Tehran"},
    SapZone{"AFGHAN", "Asia/Kabul"},
    SapZone{"CAT", "Africa/Maputo"},
    SapZone{"WAT", "Africa/Lagos"},
    SapZone{"RUS03", "Europe/Moscow"},
    SapZone{"RUS04", "Europe/Samara"},
    SapZone{"RUS05", "Asia/Yekaterinburg"},
    SapZone{"RUS06", "Asia/Omsk"},
    SapZone{"RUS07", "Asia/Krasnoyarsk"},
    SapZone{"RUS08", "Asia/Irkutsk"},
    SapZone{"RUS09", "Asia/Yakutsk"},
    SapZone{"RUS10", "Asia/Vladivostok"},
    SapZone{"RUS11", "Asia/Magadan"},
    SapZone{"RUS12", "Asia/Kamchatka"},
    SapZone{"INDIA", "Asia/Kolkata"},
    SapZone{"NEPAL", "Asia/Kathmandu"},
    SapZone{"CHINA", "Asia/Shanghai"},
    SapZone{"HONGKO", "Asia/Hong_Kong"},
    SapZone{"SINGAP", "Asia/Singapore"},
    SapZone{"KOREA", "Asia/Seoul"},
    SapZone{"JAPAN", "Asia/Tokyo"},
    SapZone{"AUSWA", "Australia/Perth"},
    SapZone{"AUSNT", "Australia/Darwin"},
    SapZone{"AUSSA", "Australia/Adelaide"},
    SapZone{"AUSQLD", "Australia/Brisbane"},
    SapZone{"AUSNSW", "Australia/Sydney"},
    SapZone{"AUSACT", "Australia/Sydney"},
    SapZone{"AUSVIC", "Australia/Melbourne"},
    SapZone{"AUSTAS", "Australia/Hobart"},
    SapZone{"AUSLHI", "Australia/Lord_Howe"},
    SapZone{"NZST", "Pacific/Auckland"},
    SapZone{"NZCHA", "Pacific/Chatham"},
    SapZone{"NORFLK", "Pacific/Norfolk"},
    SapZone{"HAW", "Pacific/Honolulu"},
    SapZone{"ALA", "America/Anchorage"},
    SapZone{"ALAW", "America/Adak"},
    SapZone{"PST", "America/Los_Angeles"},
    SapZone{"MST", "America/Denver"},
    SapZone{"MSTNO", "America/Phoenix"},
    SapZone{"CST", "America/Chicago"},
    SapZone{"CSTNO", "America/Regina"},
    SapZone{"EST", "America/New_York"},
    SapZone{"AST", "America/Halifax"},
    SapZone{"NFDL", "America/St_Johns"},
    SapZone{"PIERRE", "America/Miquelon"},
    SapZone{"BRAZIL", "America/Sao_Paulo"},
    SapZone{"BRZLAN", "America/Noronha"},
    SapZone{"BRZLWE", "America/Manaus"},
    SapZone{"CHILE", "America/Santiago"},
    SapZone{"CHILEE", "Pacific/Easter"},
    SapZone{"PARAGY", "America/Asuncion"},
    SapZone{"FLKLND", "Atlantic/Stanley"},
};

// "UTC+N" / "UTC-N": SAP's fixed whole-hour offsets, without daylight saving.
std::optional<int> fixed_offset_hours(std::string_view code)
{
    if (code.size() < 5 || code.size() > 6 || code.substr(0, 3) != "UTC" || (code[3] != '+' && code[3] != '-')) {
        return std::nullopt;
    }
    int hours = 0;
    for (const char c : code.substr(4)) {
        if (c < '0' || c > '9') {
            return std::nullopt;
        }
        hours = hours * 10 + (c - '0');
    }
    if (code.size() == 6 && code[4] == '0') {
        return std::nullopt;  // "UTC+05" is not an SAP code
    }
    const bool east = code[3] == '+';
    if (hours < 1 || hours > (east ? 14 : 12)) {
        return std::nullopt;
    }
    return east ? hours : -hours;
}

std::string zoneinfo_dir()
{
    // TZDIR is only read (as glibc does), never set; TZ is not consulted at all.
    const char* dir = std::getenv("TZDIR");  // NOLINT(concurrency-mt-unsafe): nothing in the daemon sets it
    return dir != nullptr && *dir != '\0' ? std::string(dir) : std::string("/usr/share/zoneinfo");
}

TimeResult<std::shared_ptr<const TimeZone>> load_zone_file(const std::string& iana)
{
    const std::string path = zoneinfo_dir() + "/" + iana;
    std::ifstream file(path, std::ios::binary);
    if (!file) {
        return time_error(TimeErrc::zone_unreadable,
                          fmt::format("time zone data {} cannot be read; install the tzdata package", path));
    }
    constexpr std::size_t k_max_size = 1u << 20;
    std::string bytes;
    bytes.resize(k_max_size + 1);
    file.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    bytes.resize(static_cast<std::size_t>(file.gcount()));
    if (bytes.size() > k_max_size) {
        return time_error(TimeErrc::zone_unreadable, fmt::format("time zone data {} is too large", path));
    }
    auto zone = TimeZone::from_tzif(bytes);
    if (!zone) {
        return time_error(TimeErrc::zone_unreadable, fmt::format("time zone data {}: {}", path, zone.error().message));
    }
    return std::make_shared<const TimeZone>(std::move(*zone));
}

bool valid_civil(const CivilTime& t)
{
    return t.year >= 1 && t.year <= 9999 && infra::valid_date(t.year, t.month, t.day) && t.hour >= 0 && t.hour <= 23 &&
           t.minute >= 0 && t.minute <= 59 && t.second >= 0 && t.second <= 59;
}

bool digits(std::string_view text, std::size_t pos, std::size_t count, int& value)
{
    value = 0;
    for (std::size_t i = pos; i < pos + count; ++i) {
        if (text[i] < '0' || text[i] > '9') {
            return false;
        }
        value = value * 10 + (text[i] - '0');
    }
    return true;
}

}  // namespace

std::vector<std::string> sap_zone_codes()
{
    std::vector<std::string> codes;
    codes.reserve(std::size(k_sap_zones) + 14 + 12);
    for (const auto& zone : k_sap_zones) {
        codes.emplace_back(zone.sap);
    }
    for (int hours = 1; hours <= 14; ++hours) {
        codes.push_back(fmt::format("UTC+{}", hours));
    }
    for (int hours = 1; hours <= 12; ++hours) {
        codes.push_back(fmt::format("UTC-{}", hours));
    }
    return codes;
}

std::optional<std::string> iana_zone_of(std::string_view sap_code)
{
    for (const auto& zone : k_sap_zones) {
        if (zone.sap == sap_code) {
            return std::string(zone.iana);
        }
    }
    if (const auto hours = fixed_offset_hours(sap_code)) {
        // The Etc names invert the sign (POSIX convention): UTC+4 is Etc/GMT-4.
        return fmt::format("Etc/GMT{}{}", *hours > 0 ? '-' : '+', std::abs(*hours));
    }
    return std::nullopt;
}

TimeResult<std::shared_ptr<const TimeZone>> sap_time_zone(std::string_view sap_code)
{
    // Zones without rules need no file.
    if (sap_code == "UTC") {
        static const auto utc = std::make_shared<const TimeZone>(TimeZone::fixed(0));
        return utc;
    }
    if (const auto hours = fixed_offset_hours(sap_code)) {
        return std::make_shared<const TimeZone>(TimeZone::fixed(*hours * 3600));
    }
    const auto iana = iana_zone_of(sap_code);
    if (!iana) {
        return time_error(TimeErrc::unknown_zone,
                          fmt::format("unknown SAP time zone '{}'", infra::printable(sap_code)));
    }

    static std::mutex mutex;
    static std::map<std::string, std::shared_ptr<const TimeZone>, std::less<>> cache;
    {
        const std::lock_guard lock(mutex);
        if (const auto found = cache.find(*iana); found != cache.end()) {
            return found->second;
        }
    }
    // Read outside the lock; a second reader racing for the same zone only parses it twice. Failures
    // are not cached, so installing tzdata heals without a restart.
    auto zone = load_zone_file(*iana);
    if (!zone) {
        return zone.error();
    }
    const std::lock_guard lock(mutex);
    return cache.try_emplace(*iana, *zone).first->second;
}

TimeResult<std::int64_t> local_to_utc(std::string_view sap_code, const CivilTime& local)
{
    if (!valid_civil(local)) {
        return time_error(TimeErrc::invalid_time,
                          fmt::format("invalid date or time {:04}-{:02}-{:02} {:02}:{:02}:{:02}", local.year,
                                      local.month, local.day, local.hour, local.minute, local.second));
    }
    auto zone = sap_time_zone(sap_code);
    if (!zone) {
        return zone.error();
    }
    return (*zone)->local_to_utc(civil_to_seconds(local));
}

TimeResult<std::int64_t> parse_rta_timestamp(std::string_view text)
{
    const std::string_view s = infra::trim_blanks(text);
    auto malformed = [&] {
        return time_error(
            TimeErrc::malformed_timestamp,
            fmt::format("malformed CTIMESTAMP '{}': expected 'DD.MM.YYYY hh:mm:ss TZ'", infra::printable(text)));
    };
    // "DD.MM.YYYY hh:mm:ss" is 19 characters, then at least one blank and the code.
    if (s.size() < 21 || s[2] != '.' || s[5] != '.' || s[10] != ' ' || s[13] != ':' || s[16] != ':' ||
        (s[19] != ' ' && s[19] != '\t')) {
        return malformed();
    }
    CivilTime local;
    if (!digits(s, 0, 2, local.day) || !digits(s, 3, 2, local.month) || !digits(s, 6, 4, local.year) ||
        !digits(s, 11, 2, local.hour) || !digits(s, 14, 2, local.minute) || !digits(s, 17, 2, local.second)) {
        return malformed();
    }
    const std::string_view code = infra::trim_blanks(s.substr(19));
    const bool code_ok = !code.empty() && code.size() <= 16 && std::all_of(code.begin(), code.end(), [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '-' ||
               c == '_';
    });
    if (!code_ok) {
        return malformed();
    }
    if (!valid_civil(local)) {
        return time_error(TimeErrc::invalid_time,
                          fmt::format("invalid CTIMESTAMP '{}': no such date or time", infra::printable(text)));
    }
    return local_to_utc(code, local);
}

std::string format_rta_filter_timestamp(std::int64_t unix_seconds)
{
    const CivilTime t = seconds_to_civil(unix_seconds);
    return fmt::format("{:02}.{:02}.{:04} {:02}:{:02}:{:02} UTC", t.day, t.month, t.year, t.hour, t.minute, t.second);
}

}  // namespace c4c::collectors
