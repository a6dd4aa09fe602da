#include "collectors/sap_time_zones.hpp"

#include <doctest/doctest.h>

#include <fstream>
#include <iterator>
#include <string>

using namespace c4c::collectors;

namespace {

// Expected values were cross-checked with `date -u -d 'TZ="America/New_York" 2026-11-01 01:30' +%s`
// and `zdump -v -c 2026,2027 ZONE`.

std::int64_t utc_of(std::string_view code, int y, int mo, int d, int h, int mi, int s = 0)
{
    auto result = local_to_utc(code, CivilTime{y, mo, d, h, mi, s});
    REQUIRE_MESSAGE(result.has_value(), (result.has_value() ? std::string() : result.error().message));
    return *result;
}

std::string read_file(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void put32(std::string& out, std::uint32_t v)
{
    for (int shift = 24; shift >= 0; shift -= 8) {
        out.push_back(static_cast<char>((v >> shift) & 0xff));
    }
}

void put64(std::string& out, std::int64_t v)
{
    const auto u = static_cast<std::uint64_t>(v);
    for (int shift = 56; shift >= 0; shift -= 8) {
        out.push_back(static_cast<char>((u >> shift) & 0xff));
    }
}

// A "slim" TZif v2 file as zic -b slim writes it: an empty version 1 block, one transition in the
// 64-bit block, and a footer rule that decides every later time.
std::string slim_tzif(std::int64_t transition, std::int32_t before, std::int32_t after, std::string_view footer)
{
    std::string out;
    auto header = [&](std::uint32_t timecnt, std::uint32_t typecnt, std::uint32_t charcnt) {
        out += "TZif";
        out.push_back('2');
        out.append(15, '\0');
        put32(out, 0);  // isutcnt
        put32(out, 0);  // isstdcnt
        put32(out, 0);  // leapcnt
        put32(out, timecnt);
        put32(out, typecnt);
        put32(out, charcnt);
    };
    header(0, 1, 4);
    put32(out, 0);
    out.push_back('\0');
    out.push_back('\0');
    out.append("UTC", 4);

    header(1, 2, 8);
    put64(out, transition);
    out.push_back('\1');
    put32(out, static_cast<std::uint32_t>(before));
    out.push_back('\0');
    out.push_back('\0');
    put32(out, static_cast<std::uint32_t>(after));
    out.push_back('\0');
    out.push_back('\4');
    out.append("LMT\0STD", 8);
    out.push_back('\n');
    out.append(footer);
    out.push_back('\n');
    return out;
}

}  // namespace

TEST_CASE("civil time arithmetic")
{
    CHECK(days_from_civil(1970, 1, 1) == 0);
    CHECK(days_from_civil(2000, 3, 1) == 11017);
    CHECK(days_from_civil(1969, 12, 31) == -1);
    CHECK(seconds_to_civil(1795581000) == CivilTime{2026, 11, 25, 4, 30, 0});
    CHECK(seconds_to_civil(-1) == CivilTime{1969, 12, 31, 23, 59, 59});
    for (std::int64_t s : {0LL, 951782400LL, 4102444799LL, 1709164800LL}) {
        CHECK(civil_to_seconds(seconds_to_civil(s)) == s);
    }
}

TEST_CASE("SAP code table")
{
    CHECK(iana_zone_of("UTC") == "Etc/UTC");
    CHECK(iana_zone_of("GMTUK") == "Europe/London");
    CHECK(iana_zone_of("CET") == "Europe/Berlin");
    CHECK(iana_zone_of("EST") == "America/New_York");
    CHECK(iana_zone_of("PST") == "America/Los_Angeles");
    CHECK(iana_zone_of("INDIA") == "Asia/Kolkata");
    CHECK(iana_zone_of("JAPAN") == "Asia/Tokyo");
    CHECK(iana_zone_of("AUSNSW") == "Australia/Sydney");
    CHECK(iana_zone_of("UTC+4") == "Etc/GMT-4");
    CHECK(iana_zone_of("UTC-3") == "Etc/GMT+3");
    CHECK_FALSE(iana_zone_of("XYZ"));
    CHECK_FALSE(iana_zone_of("cet"));  // SAP codes are upper case; no guessing
    CHECK_FALSE(iana_zone_of("UTC+0"));
    CHECK_FALSE(iana_zone_of("UTC+15"));
    CHECK_FALSE(iana_zone_of("UTC+05"));
    CHECK_FALSE(iana_zone_of(""));
}

TEST_CASE("every code of SAP's standard table converts, daylight saving included")
{
    // Offsets on 15 January and 15 July 2026 at noon local time, from Python's zoneinfo over the same tz
    // database. (EGYPT and PARAGY are left out here: their rules changed in tzdata 2023c and 2024b.)
    struct ZoneOffsets {
        const char* code;
        int january;
        int july;
    };
    for (const ZoneOffsets expected : {
             ZoneOffsets{"UTC", 0, 0},
             ZoneOffsets{"GMTUK", 0, 3600},
             ZoneOffsets{"UK", 0, 3600},
             ZoneOffsets{"WET", 0, 3600},
             ZoneOffsets{"AZOREN", -3600, 0},
             ZoneOffsets{"CET", 3600, 7200},
             ZoneOffsets{"WDFT", 3600, 7200},
             ZoneOffsets{"EET", 7200, 10800},
             ZoneOffsets{"CYPRUS", 7200, 10800},
             ZoneOffsets{"ISRAEL", 7200, 10800},
             ZoneOffsets{"JORDAN", 10800, 10800},
             ZoneOffsets{"LBANON", 7200, 10800},
             ZoneOffsets{"SYRIA", 10800, 10800},
             ZoneOffsets{"IRAQ", 10800, 10800},
             ZoneOffsets{"IRAN", 12600, 12600},
             ZoneOffsets{"AFGHAN", 16200, 16200},
             ZoneOffsets{"CAT", 7200, 7200},
             ZoneOffsets{"WAT", 3600, 3600},
             ZoneOffsets{"RUS03", 10800, 10800},
             ZoneOffsets{"RUS04", 14400, 14400},
             ZoneOffsets{"RUS05", 18000, 18000},
             ZoneOffsets{"RUS06", 21600, 21600},
             ZoneOffsets{"RUS07", 25200, 25200},
             ZoneOffsets{"RUS08", 28800, 28800},
             ZoneOffsets{"RUS09", 32400, 32400},
             ZoneOffsets{"RUS10", 36000, 36000},
             ZoneOffsets{"RUS11", 39600, 39600},
             ZoneOffsets{"RUS12", 43200, 43200},
             ZoneOffsets{"INDIA", 19800, 19800},
             ZoneOffsets{"NEPAL", 20700, 20700},
             ZoneOffsets{"CHINA", 28800, 28800},
             ZoneOffsets{"HONGKO", 28800, 28800},
             ZoneOffsets{"SINGAP", 28800, 28800},
             ZoneOffsets{"KOREA", 32400, 32400},
             ZoneOffsets{"JAPAN", 32400, 32400},
             ZoneOffsets{"AUSWA", 28800, 28800},
             ZoneOffsets{"AUSNT", 34200, 34200},
             ZoneOffsets{"AUSSA", 37800, 34200},
             ZoneOffsets{"AUSQLD", 36000, 36000},
             ZoneOffsets{"AUSNSW", 39600, 36000},
             ZoneOffsets{"AUSACT", 39600, 36000},
             ZoneOffsets{"AUSVIC", 39600, 36000},
             ZoneOffsets{"AUSTAS", 39600, 36000},
             ZoneOffsets{"AUSLHI", 39600, 37800},
             ZoneOffsets{"NZST", 46800, 43200},
             ZoneOffsets{"NZCHA", 49500, 45900},
             ZoneOffsets{"NORFLK", 43200, 39600},
             ZoneOffsets{"HAW", -36000, -36000},
             ZoneOffsets{"ALA", -32400, -28800},
             ZoneOffsets{"ALAW", -36000, -32400},
             ZoneOffsets{"PST", -28800, -25200},
             ZoneOffsets{"MST", -25200, -21600},
             ZoneOffsets{"MSTNO", -25200, -25200},
             ZoneOffsets{"CST", -21600, -18000},
             ZoneOffsets{"CSTNO", -21600, -21600},
             ZoneOffsets{"EST", -18000, -14400},
             ZoneOffsets{"AST", -14400, -10800},
             ZoneOffsets{"NFDL", -12600, -9000},
             ZoneOffsets{"PIERRE", -10800, -7200},
             ZoneOffsets{"BRAZIL", -10800, -10800},
             ZoneOffsets{"BRZLAN", -7200, -7200},
             ZoneOffsets{"BRZLWE", -14400, -14400},
             ZoneOffsets{"CHILE", -10800, -14400},
             ZoneOffsets{"CHILEE", -18000, -21600},
             ZoneOffsets{"FLKLND", -10800, -10800},
         }) {
        CAPTURE(expected.code);
        CHECK(utc_of(expected.code, 2026, 1, 15, 12, 0) == utc_of("UTC", 2026, 1, 15, 12, 0) - expected.january);
        CHECK(utc_of(expected.code, 2026, 7, 15, 12, 0) == utc_of("UTC", 2026, 7, 15, 12, 0) - expected.july);
    }
    for (const auto& code : sap_zone_codes()) {
        CAPTURE(code);
        const auto zone = sap_time_zone(code);
        CHECK_MESSAGE(zone.has_value(), (zone ? std::string() : zone.error().message));
    }
    CHECK(sap_zone_codes().size() == 67 + 26);
    CHECK(utc_of("UTC+3", 2026, 7, 15, 12, 0) == utc_of("UTC", 2026, 7, 15, 9, 0));
    CHECK(utc_of("UTC-12", 2026, 7, 15, 12, 0) == utc_of("UTC", 2026, 7, 16, 0, 0));
    CHECK(utc_of("UTC+14", 2026, 7, 15, 12, 0) == utc_of("UTC", 2026, 7, 14, 22, 0));
    // New Zealand springs forward from 02:00 NZST to 03:00 NZDT on 27 September 2026.
    CHECK(utc_of("NZST", 2026, 9, 27, 1, 59, 59) + 1 == utc_of("NZST", 2026, 9, 27, 3, 0, 0));
}

TEST_CASE("codes whose meaning is in doubt, and customer codes, are unknown: never guessed")
{
    for (const char* code : {"BRZLEA", "EST_", "ESTNO", "GST", "GSTE", "GSTW", "NST", "RUS13", "RUS14", "UTC+53",
                             "UTC+63", "UTC-83", "VERM02", "VERM10", "VERP02", "VERP10", "ZCUST1"}) {
        CAPTURE(code);
        CHECK_FALSE(iana_zone_of(code));
        const auto r = parse_rta_timestamp(std::string("25.11.2026 10:00:00 ") + code);
        REQUIRE_FALSE(r.has_value());
        CHECK(r.error().code == TimeErrc::unknown_zone);
        CHECK(r.error().message == std::string("unknown SAP time zone '") + code + "'");
    }
}

TEST_CASE("UTC and fixed offsets")
{
    CHECK(utc_of("UTC", 2026, 11, 25, 23, 41, 12) == 1795650072);
    CHECK(utc_of("UTC+4", 2026, 11, 25, 4, 0) == utc_of("UTC", 2026, 11, 25, 0, 0));
    CHECK(utc_of("UTC-3", 2026, 7, 1, 9, 0) == utc_of("UTC", 2026, 7, 1, 12, 0));
}

TEST_CASE("CET: +1 in winter, +2 in summer")
{
    CHECK(utc_of("CET", 2026, 1, 15, 12, 0) == 1768474800);
    CHECK(utc_of("CET", 2026, 7, 15, 12, 0) == 1784109600);
}

TEST_CASE("EST observes US daylight saving")
{
    SUBCASE("spring forward 2026-03-08 02:00 EST -> 03:00 EDT")
    {
        CHECK(utc_of("EST", 2026, 3, 8, 1, 59, 59) == 1772953199);
        CHECK(utc_of("EST", 2026, 3, 8, 3, 0, 0) == 1772953200);
        // 02:30 does not exist: moved forward by the gap, to 03:30 EDT.
        CHECK(utc_of("EST", 2026, 3, 8, 2, 30, 0) == 1772953200 + 1800);
    }
    SUBCASE("fall back 2026-11-01: 01:30 happens twice, the first (EDT) wins")
    {
        CHECK(utc_of("EST", 2026, 11, 1, 1, 30, 0) == 1793511000);  // 05:30Z; the EST one is 06:30Z
        CHECK(utc_of("EST", 2026, 11, 1, 0, 59, 59) == 1793509199);
        CHECK(utc_of("EST", 2026, 11, 1, 2, 0, 0) == 1793516400);
    }
    CHECK(utc_of("PST", 2026, 7, 1, 5, 0) == utc_of("UTC", 2026, 7, 1, 12, 0));
    CHECK(utc_of("PST", 2026, 1, 1, 4, 0) == utc_of("UTC", 2026, 1, 1, 12, 0));
}

TEST_CASE("AUSNSW: southern hemisphere daylight saving")
{
    SUBCASE("starts first Sunday of October (2026-10-04 02:00 AEST -> 03:00 AEDT)")
    {
        CHECK(utc_of("AUSNSW", 2026, 10, 4, 1, 59, 59) == 1791043199);
        CHECK(utc_of("AUSNSW", 2026, 10, 4, 3, 0, 0) == 1791043200);
        CHECK(utc_of("AUSNSW", 2026, 10, 4, 2, 30, 0) == 1791043200 + 1800);  // gap
    }
    SUBCASE("ends first Sunday of April (2026-04-05 03:00 AEDT -> 02:00 AEST)")
    {
        CHECK(utc_of("AUSNSW", 2026, 4, 5, 2, 30, 0) == 1775316600);  // first occurrence, AEDT
        CHECK(utc_of("AUSNSW", 2026, 4, 5, 3, 0, 0) == 1775322000);
        CHECK(utc_of("AUSNSW", 2026, 4, 5, 1, 0, 0) == 1775311200);
    }
    CHECK(utc_of("AUSNSW", 2026, 1, 10, 12, 0) == utc_of("UTC", 2026, 1, 10, 1, 0));  // +11
    CHECK(utc_of("AUSNSW", 2026, 7, 10, 12, 0) == utc_of("UTC", 2026, 7, 10, 2, 0));  // +10
}

TEST_CASE("INDIA +05:30, JAPAN +9, GMTUK summer")
{
    CHECK(utc_of("INDIA", 2026, 11, 25, 10, 0) == 1795581000);
    CHECK(utc_of("JAPAN", 2026, 11, 25, 10, 0) == 1795568400);
    CHECK(utc_of("GMTUK", 2026, 7, 1, 12, 0) == 1782903600);
    CHECK(utc_of("GMTUK", 2026, 1, 1, 12, 0) == utc_of("UTC", 2026, 1, 1, 12, 0));
}

TEST_CASE("dates beyond the stored transitions use the footer rule")
{
    CHECK(utc_of("EST", 2040, 7, 4, 12, 0) == 2225030400);
    CHECK(utc_of("EST", 2040, 3, 11, 3, 0) == 2215062000);
    CHECK(utc_of("AUSNSW", 2040, 1, 10, 12, 0) == 2209770000);
    CHECK(utc_of("CET", 2040, 10, 28, 2, 30) == 2234997000);  // ambiguous: CEST first
    CHECK(utc_of("CET", 2040, 12, 24, 18, 0) == utc_of("UTC", 2040, 12, 24, 17, 0));
}

TEST_CASE("footer rules agree with the full tz database for every hour they both cover")
{
    struct Case {
        const char* file;
        const char* posix;
    };
    for (const Case c :
         {Case{"America/New_York", "EST5EDT,M3.2.0,M11.1.0"}, Case{"Australia/Sydney", "AEST-10AEDT,M10.1.0,M4.1.0/3"},
          Case{"Europe/Berlin", "CET-1CEST,M3.5.0,M10.5.0/3"}, Case{"Asia/Kolkata", "IST-5:30"}}) {
        CAPTURE(c.file);
        auto full = TimeZone::from_tzif(read_file(std::string("/usr/share/zoneinfo/") + c.file));
        REQUIRE(full.has_value());
        auto footer = TimeZone::from_posix(c.posix);
        REQUIRE(footer.has_value());
        const std::int64_t from = civil_to_seconds({2024, 1, 1, 0, 0, 0});
        const std::int64_t to = civil_to_seconds({2036, 12, 31, 0, 0, 0});
        int mismatches = 0;
        for (std::int64_t t = from; t < to; t += 1800) {
            mismatches += full->offset_at(t) != footer->offset_at(t) ? 1 : 0;
            mismatches += full->local_to_utc(t) != footer->local_to_utc(t) ? 1 : 0;
        }
        CHECK(mismatches == 0);
    }
}

TEST_CASE("slim TZif files: one transition, the footer decides the rest")
{
    // Transition 2007-01-01T00:00Z from LMT to the footer's rules.
    const std::string bytes = slim_tzif(1167609600, -17762, -18000, "EST5EDT,M3.2.0,M11.1.0");
    auto zone = TimeZone::from_tzif(bytes);
    REQUIRE_MESSAGE(zone.has_value(), (zone ? "" : zone.error().message));
    CHECK(zone->transition_count() == 1);
    CHECK(zone->has_footer_rule());
    CHECK(zone->offset_at(1167609600 - 1) == -17762);
    CHECK(zone->offset_at(1793511000) == -14400);  // 2026-11-01 05:30Z, still EDT
    CHECK(zone->offset_at(1793514600) == -18000);  // 06:30Z, EST again
    CHECK(zone->local_to_utc(civil_to_seconds({2026, 11, 1, 1, 30, 0})) == 1793511000);
    CHECK(zone->local_to_utc(civil_to_seconds({2026, 3, 8, 3, 0, 0})) == 1772953200);
}

TEST_CASE("POSIX rule forms")
{
    SUBCASE("Julian day without leap day, and zero-based day")
    {
        auto j = TimeZone::from_posix("XST-2XDT,J60/0,J300/0");  // March 1 in every year
        REQUIRE(j.has_value());
        CHECK(j->offset_at(civil_to_seconds({2028, 2, 29, 12, 0, 0})) == 7200);
        CHECK(j->offset_at(civil_to_seconds({2028, 3, 1, 12, 0, 0})) == 10800);
        auto n = TimeZone::from_posix("XST-2XDT,59/0,300/0");  // day 59 = Feb 29 in leap years
        REQUIRE(n.has_value());
        CHECK(n->offset_at(civil_to_seconds({2028, 2, 29, 12, 0, 0})) == 10800);
        CHECK(n->offset_at(civil_to_seconds({2027, 2, 28, 12, 0, 0})) == 7200);
    }
    SUBCASE("angle-bracket names, explicit DST offset, negative and large times")
    {
        auto z = TimeZone::from_posix("<-03>3<-02>2,M3.5.0/-2,M10.5.0/-1");
        REQUIRE(z.has_value());
        CHECK(z->offset_at(civil_to_seconds({2030, 7, 1, 0, 0, 0})) == -7200);
        CHECK(z->offset_at(civil_to_seconds({2030, 1, 1, 0, 0, 0})) == -10800);
        auto all_year = TimeZone::from_posix("EST5EDT,0/0,J365/25");
        REQUIRE(all_year.has_value());
        CHECK(all_year->offset_at(civil_to_seconds({2030, 1, 1, 12, 0, 0})) == -14400);
        CHECK(all_year->offset_at(civil_to_seconds({2030, 12, 31, 23, 0, 0})) == -14400);
    }
    SUBCASE("invalid rules")
    {
        for (const char* bad :
             {"", "EST", "EST5EDT,M13.1.0,M11.1.0", "EST5EDT,M3.6.0,M11.1.0", "EST5EDT,M3.2.7,M11.1.0",
              "EST5EDT,J0,J10", "EST5EDT,M3.2.0", "<EST5", "EST5 extra", "EST200"}) {
            CAPTURE(bad);
            CHECK_FALSE(TimeZone::from_posix(bad).has_value());
        }
    }
}

TEST_CASE("invalid TZif content")
{
    CHECK_FALSE(TimeZone::from_tzif("").has_value());
    CHECK_FALSE(TimeZone::from_tzif("hello, this is not a zone file at all, no no no").has_value());
    const std::string good = slim_tzif(1167609600, -17762, -18000, "EST5EDT,M3.2.0,M11.1.0");
    for (std::size_t cut : {std::size_t{10}, std::size_t{50}, good.size() - 30, good.size() - 1}) {
        CAPTURE(cut);
        CHECK_FALSE(TimeZone::from_tzif(good.substr(0, cut)).has_value());
    }
    auto bad_footer = TimeZone::from_tzif(slim_tzif(1167609600, -17762, -18000, "EST5EDT,M3"));
    REQUIRE_FALSE(bad_footer.has_value());
    CHECK(bad_footer.error().code == TimeErrc::zone_unreadable);
}

TEST_CASE("parse_rta_timestamp")
{
    auto ok = [](std::string_view text) {
        auto r = parse_rta_timestamp(text);
        REQUIRE_MESSAGE(r.has_value(), (r ? "" : r.error().message));
        return *r;
    };
    CHECK(ok("25.11.2026 23:41:12 UTC") == 1795650072);
    CHECK(ok("01.11.2026 01:30:00 EST") == 1793511000);
    CHECK(ok("25.11.2026 10:00:00 INDIA") == 1795581000);
    CHECK(ok("  25.11.2026 10:00:00   JAPAN  ") == 1795568400);
    CHECK(ok("29.02.2028 00:00:00 UTC") == civil_to_seconds({2028, 2, 29, 0, 0, 0}));

    SUBCASE("unknown zone")
    {
        auto r = parse_rta_timestamp("25.11.2026 10:00:00 XYZ");
        REQUIRE_FALSE(r.has_value());
        CHECK(r.error().code == TimeErrc::unknown_zone);
        CHECK(r.error().message == "unknown SAP time zone 'XYZ'");
    }
    SUBCASE("malformed")
    {
        for (const char* bad : {"", "25.11.2026 10:00:00", "25.11.2026 10:00:00 ", "2026-11-25 10:00:00 UTC",
                                "25.11.2026T10:00:00 UTC", "25.11.26 10:00:00 UTC", "25.11.2026 10:00 UTC",
                                "2a.11.2026 10:00:00 UTC", "25.11.2026 10:00:00 C'T", "/Date(1700000000000)/"}) {
            CAPTURE(bad);
            auto r = parse_rta_timestamp(bad);
            REQUIRE_FALSE(r.has_value());
            CHECK(r.error().code == TimeErrc::malformed_timestamp);
            CHECK(r.error().message.find("malformed CTIMESTAMP '") == 0);
        }
    }
    SUBCASE("out of range")
    {
        for (const char* bad : {"31.02.2026 10:00:00 UTC", "29.02.2027 10:00:00 UTC", "10.13.2026 10:00:00 UTC",
                                "10.10.2026 24:00:00 UTC", "10.10.2026 10:60:00 UTC", "00.10.2026 10:00:00 UTC"}) {
            CAPTURE(bad);
            auto r = parse_rta_timestamp(bad);
            REQUIRE_FALSE(r.has_value());
            CHECK(r.error().code == TimeErrc::invalid_time);
        }
    }
    SUBCASE("control characters never reach the message")
    {
        auto r = parse_rta_timestamp("25.11.2026\n10:00:00 UTC");
        REQUIRE_FALSE(r.has_value());
        CHECK(r.error().message.find('\n') == std::string::npos);
    }
}

TEST_CASE("format_rta_filter_timestamp")
{
    CHECK(format_rta_filter_timestamp(1795650072) == "25.11.2026 23:41:12 UTC");
    CHECK(format_rta_filter_timestamp(0) == "01.01.1970 00:00:00 UTC");
    CHECK(parse_rta_timestamp(format_rta_filter_timestamp(2225030400)).value() == 2225030400);
}

TEST_CASE("local_to_utc rejects impossible fields")
{
    auto r = local_to_utc("CET", CivilTime{2026, 4, 31, 10, 0, 0});
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == TimeErrc::invalid_time);
    auto u = local_to_utc("MARS", CivilTime{2026, 4, 30, 10, 0, 0});
    REQUIRE_FALSE(u.has_value());
    CHECK(u.error().code == TimeErrc::unknown_zone);
}
