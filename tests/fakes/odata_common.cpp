#include "tests/fakes/odata_common.hpp"

#include <algorithm>
#include <charconv>

namespace c4c::sim {

namespace {

std::optional<std::size_t> parse_count(const std::string& s)
{
    std::size_t v = 0;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || ptr != s.data() + s.size() || s.empty()) {
        return std::nullopt;
    }
    return v;
}

std::string trim(std::string_view s)
{
    while (!s.empty() && s.front() == ' ') {
        s.remove_prefix(1);
    }
    while (!s.empty() && s.back() == ' ') {
        s.remove_suffix(1);
    }
    return std::string(s);
}

std::vector<std::string> split_commas(const std::string& s)
{
    std::vector<std::string> out;
    std::size_t start = 0;
    while (start <= s.size()) {
        auto comma = s.find(',', start);
        auto part =
            trim(std::string_view(s).substr(start, comma == std::string::npos ? std::string::npos : comma - start));
        if (!part.empty()) {
            out.push_back(part);
        }
        if (comma == std::string::npos) {
            break;
        }
        start = comma + 1;
    }
    return out;
}

}  // namespace

std::optional<ServerResponse> parse_odata_query(const ServerRequest& request, ODataQuery& query,
                                                const ClauseCheck& check)
{
    query.params = parse_query(request.target);
    auto format = query_value(query.params, "$format");
    if (!format || *format != "json") {
        return odata_error(400, "SY/530", "The simulator answers JSON only: add $format=json");
    }
    if (auto filter = query_value(query.params, "$filter")) {
        std::string error;
        query.filter = parse_filter(*filter, error);
        if (!query.filter) {
            return odata_error(400, "SY/530", "Invalid $filter: " + error);
        }
    }
    if (auto top = query_value(query.params, "$top")) {
        query.top = parse_count(*top);
        if (!query.top) {
            return odata_error(400, "SY/530", "Invalid $top: " + *top);
        }
    }
    if (auto skip = query_value(query.params, "$skip")) {
        auto v = parse_count(*skip);
        if (!v) {
            return odata_error(400, "SY/530", "Invalid $skip: " + *skip);
        }
        query.offset = *v;
    }
    if (auto token = query_value(query.params, "$skiptoken")) {
        auto v = parse_count(*token);
        if (!v) {
            return odata_error(400, "SY/530", "Invalid $skiptoken: " + *token);
        }
        query.offset = *v;
    }
    if (auto count = query_value(query.params, "$inlinecount")) {
        if (*count == "allpages") {
            query.inline_count = true;
        } else if (*count != "none") {
            return odata_error(400, "SY/530", "Invalid $inlinecount: " + *count);
        }
    }
    if (auto select = query_value(query.params, "$select")) {
        query.select = split_commas(*select);
    }
    if (auto order = query_value(query.params, "$orderby")) {
        for (const auto& item : split_commas(*order)) {
            auto space = item.find(' ');
            std::string field = item.substr(0, space);
            std::string direction = space == std::string::npos ? "asc" : trim(std::string_view(item).substr(space));
            if (direction != "asc" && direction != "desc") {
                return odata_error(400, "SY/530", "Invalid $orderby direction: " + direction);
            }
            query.order_by.emplace_back(field, direction == "desc");
        }
    }
    if (query.filter) {
        std::string bad;
        if (!for_each_clause(*query.filter, [&](FilterClause& c) { return check(c, bad); })) {
            return odata_error(400, "SY/530", "Invalid $filter: " + bad);
        }
    }
    return std::nullopt;
}

std::optional<ServerResponse> odata_require_get(const ServerRequest& request)
{
    if (request.method == "GET") {
        return std::nullopt;
    }
    auto r = odata_error(405, "SY/530", "Method not allowed; use GET");
    r.headers.emplace_back("Allow", "GET");
    return r;
}

ServerResponse odata_not_found(std::string_view segment)
{
    return odata_error(404, "005056A509B11EE1B9A8FEC11C21D78E",
                       "Resource not found for the segment '" + std::string(segment) + "'.");
}

PageWindow page_window(const ODataQuery& query, std::size_t total, const std::string& base, std::string_view path,
                       bool skip_paging)
{
    PageWindow w;
    w.begin = std::min(query.offset, total);
    std::size_t available = total - w.begin;
    std::size_t wanted = query.top ? std::min(*query.top, available) : available;
    w.count = std::min(wanted, k_max_page_rows);
    if (wanted > w.count) {
        std::string url = base;
        url += path;
        url += '?';
        auto rest = query_without(query.params, {"$top", "$skip", "$skiptoken"});
        url += rest;
        if (!rest.empty()) {
            url += '&';
        }
        if (query.top) {
            url += "$top=" + std::to_string(*query.top - w.count) + "&";
        }
        url += skip_paging ? "$skip=" : "$skiptoken=";
        url += std::to_string(w.begin + w.count);
        w.next = std::move(url);
    }
    return w;
}

bool RowWriter::wanted(std::string_view name) const
{
    return m_select.empty() || std::find(m_select.begin(), m_select.end(), name) != m_select.end();
}

void RowWriter::key(std::string_view name)
{
    if (!m_first) {
        m_out += ',';
    }
    m_first = false;
    append_json_string(m_out, name);
    m_out += ':';
}

void RowWriter::string(std::string_view name, std::string_view value)
{
    if (wanted(name)) {
        key(name);
        append_json_string(m_out, value);
    }
}

void RowWriter::raw(std::string_view name, std::string_view raw)
{
    if (wanted(name)) {
        key(name);
        m_out += raw;
    }
}

void RowWriter::metadata(std::string_view uri, std::string_view type, std::string_view etag)
{
    key("__metadata");
    m_out += "{\"uri\":";
    append_json_string(m_out, uri);
    m_out += ",\"type\":";
    append_json_string(m_out, type);
    if (!etag.empty()) {
        m_out += ",\"etag\":";
        append_json_string(m_out, etag);
    }
    m_out += '}';
}

std::string odata_envelope(const std::string& rows, std::optional<std::size_t> count,
                           const std::optional<std::string>& next)
{
    std::string out;
    out.reserve(rows.size() + 256);
    out += "{\"d\":{";
    if (count) {
        out += "\"__count\":\"" + std::to_string(*count) + "\",";
    }
    out += "\"results\":[";
    out += rows;
    out += ']';
    if (next) {
        out += ",\"__next\":";
        append_json_string(out, *next);
    }
    out += "}}";
    return out;
}

ServerResponse odata_json(std::string body)
{
    auto r = json_response(200, std::move(body));
    r.headers.emplace_back("DataServiceVersion", "2.0");
    return r;
}

}  // namespace c4c::sim
