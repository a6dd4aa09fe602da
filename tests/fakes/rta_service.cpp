#include "tests/fakes/rta_service.hpp"

#include "tests/fakes/odata_common.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace c4c::sim {

namespace {

constexpr std::string_view k_prefix = "/sap/c4c/odata/analytics/ds/";

/// Parses "DD.MM.YYYY hh:mm:ss UTC" into Unix seconds; the zone must be UTC.
std::optional<std::int64_t> parse_rta_literal(std::string_view s, std::string& error)
{
    unsigned d = 0;
    unsigned mo = 0;
    int y = 0;
    unsigned h = 0;
    unsigned mi = 0;
    unsigned se = 0;
    char zone[16] = {};
    std::string text(s);
    int consumed = 0;
    if (std::sscanf(text.c_str(), "%2u.%2u.%4d %2u:%2u:%2u %15s%n", &d, &mo, &y, &h, &mi, &se, zone, &consumed) != 7 ||
        static_cast<std::size_t>(consumed) != text.size() || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 ||
        mi > 59 || se > 60) {
        error = "invalid CTIMESTAMP literal '" + text + "' (expected 'DD.MM.YYYY hh:mm:ss UTC')";
        return std::nullopt;
    }
    if (std::string_view(zone) != "UTC") {
        error = "CTIMESTAMP literals must be in UTC, not " + std::string(zone);
        return std::nullopt;
    }
    return days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
}

void key_figure(RowWriter& w, std::string_view name, std::uint32_t value, bool as_string, bool decimals)
{
    std::string text = std::to_string(value);
    if (as_string) {
        w.string(name, decimals ? text + ".000" : text);
    } else {
        w.raw(name, text);
    }
}

}  // namespace

std::optional<std::string> iana_zone(std::string_view sap_code)
{
    // The certain rows of ../shared/sap-time-zones.md, written down here on their own (not shared with the
    // daemon's table), so that the integration tests compare two readings of SAP's table.
    static const std::pair<std::string_view, std::string_view> k_zones[] = {
        {"UTC", "UTC"},
        {"GMTUK", "Europe/London"},
        {"UK", "Europe/London"},
        {"WET", "Europe/Lisbon"},
        {"CET", "Europe/Berlin"},
        {"WDFT", "Europe/Berlin"},
        {"EET", "Europe/Helsinki"},
        {"AZOREN", "Atlantic/Azores"},
        {"CYPRUS", "Asia/Nicosia"},
        {"EGYPT", "Africa/Cairo"},
        {"ISRAEL", "Asia/Jerusalem"},
        {"JORDAN", "Asia/Amman"},
        {"LBANON", "Asia/Beirut"},
        {"SYRIA", "Asia/Damascus"},
        {"IRAQ", "Asia/Baghdad"},
        {"IRAN", "Asia/Tehran"},
        {"AFGHAN", "Asia/Kabul"},
        {"INDIA", "Asia/Kolkata"},
        {"NEPAL", "Asia/Kathmandu"},
        {"JAPAN", "Asia/Tokyo"},
        {"CAT", "Africa/Maputo"},
        {"WAT", "Africa/Lagos"},
        {"RUS03", "Europe/Moscow"},
        // RUSnn: the Russian zone at UTC offset nn (the table's note on RUS03).
        {"RUS04", "Europe/Samara"},
        {"RUS05", "Asia/Yekaterinburg"},
        {"RUS06", "Asia/Omsk"},
        {"RUS07", "Asia/Krasnoyarsk"},
        {"RUS08", "Asia/Irkutsk"},
        {"RUS09", "Asia/Yakutsk"},
        {"RUS10", "Asia/Vladivostok"},
        {"RUS11", "Asia/Magadan"},
        {"RUS12", "Asia/Kamchatka"},
        // East Asia, in SAP's standard delivery too.
        {"CHINA", "Asia/Shanghai"},
        {"HONGKO", "Asia/Hong_Kong"},
        {"SINGAP", "Asia/Singapore"},
        {"KOREA", "Asia/Seoul"},
        {"AUSWA", "Australia/Perth"},
        {"AUSNT", "Australia/Darwin"},
        {"AUSSA", "Australia/Adelaide"},
        {"AUSQLD", "Australia/Brisbane"},
        {"AUSNSW", "Australia/Sydney"},
        {"AUSACT", "Australia/Sydney"},
        {"AUSVIC", "Australia/Melbourne"},
        {"AUSTAS", "Australia/Hobart"},
        {"AUSLHI", "Australia/Lord_Howe"},
        {"NZST", "Pacific/Auckland"},
        {"NZCHA", "Pacific/Chatham"},
        {"NORFLK", "Pacific/Norfolk"},
        {"HAW", "Pacific/Honolulu"},
        {"ALA", "America/Anchorage"},
        {"ALAW", "America/Adak"},
        {"PST", "America/Los_Angeles"},
        {"MST", "America/Denver"},
        {"MSTNO", "America/Phoenix"},
        {"CST", "America/Chicago"},
        {"CSTNO", "America/Regina"},
        {"EST", "America/New_York"},
        {"AST", "America/Halifax"},
        {"NFDL", "America/St_Johns"},
        {"PIERRE", "America/Miquelon"},
        {"BRAZIL", "America/Sao_Paulo"},
        {"BRZLAN", "America/Noronha"},
        {"BRZLWE", "America/Manaus"},
        {"CHILE", "America/Santiago"},
        {"CHILEE", "Pacific/Easter"},
        {"PARAGY", "America/Asuncion"},
        {"FLKLND", "Atlantic/Stanley"},
    };
    for (const auto& [code, zone] : k_zones) {
        if (code == sap_code) {
            return std::string(zone);
        }
    }
    // UTC+1 ... UTC+14, UTC-1 ... UTC-12: fixed offsets (POSIX Etc/GMT names invert the sign).
    if (sap_code.size() >= 5 && sap_code.substr(0, 3) == "UTC" && (sap_code[3] == '+' || sap_code[3] == '-') &&
        sap_code[4] != '0') {
        int hours = 0;
        for (char c : sap_code.substr(4)) {
            if (c < '0' || c > '9' || hours > 14) {
                return std::nullopt;
            }
            hours = hours * 10 + (c - '0');
        }
        if (hours >= 1 && hours <= (sap_code[3] == '+' ? 14 : 12)) {
            return std::string("Etc/GMT") + (sap_code[3] == '+' ? '-' : '+') + std::to_string(hours);
        }
    }
    return std::nullopt;
}

bool plausible_zone_code(std::string_view code)
{
    return !code.empty() && code.size() <= 16 && std::all_of(code.begin(), code.end(), [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '-' ||
               c == '_';
    });
}

namespace {

std::string format_tm(const std::tm& tm, std::string_view code)
{
    char buf[64];
    std::snprintf(buf, sizeof buf, "%02d.%02d.%04d %02d:%02d:%02d ", tm.tm_mday, tm.tm_mon + 1, tm.tm_year + 1900,
                  tm.tm_hour, tm.tm_min, tm.tm_sec);
    return buf + std::string(code);
}

}  // namespace

std::string RtaService::format_timestamp(std::int64_t unix_seconds) const
{
    std::time_t t = static_cast<std::time_t>(unix_seconds);
    std::tm tm{};
    localtime_r(&t, &tm);
    return format_tm(tm, m_zone);
}

std::string RtaService::format_row_timestamp(const RtaRow& row) const
{
    if (row.malformed == Malformed::bad_time) {
        return "not a time";
    }
    if (row.zone.empty() || row.zone == m_zone) {
        return format_timestamp(row.timestamp_s);
    }
    std::time_t t = static_cast<std::time_t>(row.timestamp_s);
    std::tm tm{};
    const auto zone = iana_zone(row.zone);
    if (!zone) {
        // A code SAP's table does not have (as far as the simulator knows): the digits are UTC's.
        gmtime_r(&t, &tm);
        return format_tm(tm, row.zone);
    }
    // The process zone is the display zone; for this row it is switched and back (one thread only).
    const auto display = iana_zone(m_zone).value_or("UTC");
    ::setenv("TZ", zone->c_str(), 1);
    ::tzset();
    localtime_r(&t, &tm);
    ::setenv("TZ", display.c_str(), 1);
    ::tzset();
    return format_tm(tm, row.zone);
}

ServerResponse RtaService::handle(const ServerRequest& request, std::size_t missing_rows)
{
    if (auto refused = odata_require_get(request)) {
        return *refused;
    }
    std::string_view path = request.path();
    std::string_view rest = path.substr(k_prefix.size());
    auto svc = rest.find(".svc/");
    std::string_view ds = svc == std::string_view::npos ? std::string_view{} : rest.substr(0, svc);
    std::string_view entity = svc == std::string_view::npos ? std::string_view{} : rest.substr(svc + 5);
    if (ds.empty() || entity.empty() || ds.find('/') != std::string_view::npos ||
        entity.find('/') != std::string_view::npos) {
        return odata_not_found(rest);
    }

    ODataQuery query;
    auto check = [](FilterClause& c, std::string& error) {
        if (c.field == "CTIMESTAMP") {
            if (!c.literal_type.empty()) {
                error = "CTIMESTAMP needs a 'DD.MM.YYYY hh:mm:ss UTC' literal";
                return false;
            }
            auto seconds = parse_rta_literal(c.literal, error);
            if (!seconds) {
                return false;
            }
            c.number = *seconds;
            return true;
        }
        if (c.field == "CUSER" || c.field == "CUI_COMPONENT" || c.field == "CSTEP_ID") {
            return true;
        }
        error = "filtering on '" + c.field + "' is not supported by the simulator";
        return false;
    };
    if (auto error = parse_odata_query(request, query, check)) {
        return *error;
    }
    for (const auto& [field, descending] : query.order_by) {
        if (field != "CTIMESTAMP") {
            return odata_error(400, "SY/530", "$orderby on '" + field + "' is not supported by the simulator");
        }
    }

    const auto& rows = m_world.rta_rows();
    auto first = rows.begin();
    auto last = rows.end();
    if (query.filter) {
        for (const auto* c : conjunction_clauses(*query.filter)) {
            if (c->field != "CTIMESTAMP") {
                continue;
            }
            auto v = c->number;
            if (c->op == FilterOp::ge || c->op == FilterOp::eq) {
                first = std::partition_point(first, last, [&](const RtaRow& r) { return r.timestamp_s < v; });
            } else if (c->op == FilterOp::gt) {
                first = std::partition_point(first, last, [&](const RtaRow& r) { return r.timestamp_s <= v; });
            }
            if (c->op == FilterOp::le || c->op == FilterOp::eq) {
                last = std::partition_point(first, last, [&](const RtaRow& r) { return r.timestamp_s <= v; });
            } else if (c->op == FilterOp::lt) {
                last = std::partition_point(first, last, [&](const RtaRow& r) { return r.timestamp_s < v; });
            }
        }
    }
    const auto& users = user_names();
    const auto& components = rta_components();
    std::vector<const RtaRow*> matching;
    for (auto it = first; it != last; ++it) {
        const RtaRow& r = *it;
        bool keep = !query.filter || evaluate(*query.filter, [&](const FilterClause& c) {
            int cmp = 0;
            if (c.field == "CTIMESTAMP") {
                cmp = r.timestamp_s < c.number ? -1 : r.timestamp_s > c.number ? 1 : 0;
            } else {
                std::string_view value = c.field == "CUSER"           ? std::string_view(users[r.user])
                                         : c.field == "CUI_COMPONENT" ? std::string_view(components[r.component].first)
                                                                      : std::string_view(r.step_id);
                int raw = value.compare(c.literal);
                cmp = raw < 0 ? -1 : raw > 0 ? 1 : 0;
            }
            return compare_result(c.op, cmp);
        });
        if (keep) {
            matching.push_back(&r);
        }
    }

    const std::size_t count = matching.size();
    matching.erase(matching.begin(),
                   matching.begin() + static_cast<std::ptrdiff_t>(std::min(missing_rows, matching.size())));
    if (query.order_by.empty()) {
        std::shuffle(matching.begin(), matching.end(), m_shuffle);
    } else if (query.order_by.front().second) {
        // Descending by time; ties stay in CSTEP_ID order, like C4C's secondary sort on the key.
        std::stable_sort(matching.begin(), matching.end(),
                         [](const RtaRow* a, const RtaRow* b) { return a->timestamp_s > b->timestamp_s; });
    }

    std::string base = base_url(request, m_fallback_host);
    auto window = page_window(query, matching.size(), base, path, true);
    std::string entity_url = base + std::string(path);
    std::string type = "cc_home_analytics." + std::string(ds) + "QueryResult";
    std::string body;
    body.reserve(window.count * 600);
    for (std::size_t k = 0; k < window.count; ++k) {
        const RtaRow& r = *matching[window.begin + k];
        if (k > 0) {
            body += ',';
        }
        RowWriter w(body, query.select);
        w.begin();
        w.metadata(entity_url + "('" + r.step_id + "')", type, {});
        w.string("ID", r.step_id);
        w.string("CTIMESTAMP", format_row_timestamp(r));
        w.string("CUSER", users[r.user]);
        w.string("CUI_COMPONENT", components[r.component].first);
        w.string("TUI_COMPONENT", components[r.component].second);
        w.string("CSTEP_ID", r.step_id);
        bool alt = r.alternate_format;
        key_figure(w, "KRESPONSE_TIME", r.server_ms + r.network_ms + r.client_ms, !alt, false);
        key_figure(w, "KSERVER_TIME", r.server_ms, alt, true);
        key_figure(w, "KNETWORK_TIME", r.network_ms, !alt, !alt);
        key_figure(w, "KCLIENT_TIME", r.client_ms, alt, false);
        w.end();
    }
    return odata_json(
        odata_envelope(body, query.inline_count ? std::optional<std::size_t>(count) : std::nullopt, window.next));
}

}  // namespace c4c::sim
