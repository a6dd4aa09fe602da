#include "tests/fakes/http_util.hpp"

#include "infra/utf8.hpp"

#include <libdeflate.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <memory>

namespace c4c::sim {

namespace {

bool iequals(std::string_view a, std::string_view b)
{
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
}

std::int64_t floor_div(std::int64_t a, std::int64_t b)
{
    std::int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) {
        --q;
    }
    return q;
}

std::string iso_prefix(std::int64_t seconds)
{
    const infra::CivilTime t = infra::seconds_to_civil(seconds);
    char buf[96];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d", t.year, t.month, t.day, t.hour, t.minute, t.second);
    return buf;
}

}  // namespace

std::string percent_decode(std::string_view s)
{
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        if (c == '+') {
            out += ' ';
        } else if (c == '%' && i + 2 < s.size() && infra::utf8::hex_value(s[i + 1]) >= 0 &&
                   infra::utf8::hex_value(s[i + 2]) >= 0) {
            out += static_cast<char>(infra::utf8::hex_value(s[i + 1]) * 16 + infra::utf8::hex_value(s[i + 2]));
            i += 2;
        } else {
            out += c;
        }
    }
    return out;
}

std::string percent_encode(std::string_view s)
{
    static constexpr char k_hex[] = "0123456789ABCDEF";
    std::string out;
    for (char c : s) {
        auto u = static_cast<unsigned char>(c);
        if (std::isalnum(u) || c == '-' || c == '_' || c == '.' || c == '~') {
            out += c;
        } else {
            out += '%';
            out += k_hex[u >> 4];
            out += k_hex[u & 15];
        }
    }
    return out;
}

std::vector<QueryParam> parse_query(std::string_view target)
{
    std::vector<QueryParam> params;
    auto q = target.find('?');
    if (q == std::string_view::npos) {
        return params;
    }
    std::string_view rest = target.substr(q + 1);
    while (!rest.empty()) {
        auto amp = rest.find('&');
        std::string_view part = rest.substr(0, amp);
        rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
        if (part.empty()) {
            continue;
        }
        auto eq = part.find('=');
        QueryParam p;
        p.raw = std::string(part);
        p.key = percent_decode(part.substr(0, eq));
        p.value = eq == std::string_view::npos ? std::string{} : percent_decode(part.substr(eq + 1));
        params.push_back(std::move(p));
    }
    return params;
}

std::optional<std::string> query_value(const std::vector<QueryParam>& params, std::string_view key)
{
    for (const auto& p : params) {
        if (p.key == key) {
            return p.value;
        }
    }
    return std::nullopt;
}

std::optional<std::string> base64_decode(std::string_view in)
{
    std::string out;
    unsigned buffer = 0;
    int bits = 0;
    for (char c : in) {
        int v = -1;
        if (c >= 'A' && c <= 'Z') {
            v = c - 'A';
        } else if (c >= 'a' && c <= 'z') {
            v = c - 'a' + 26;
        } else if (c >= '0' && c <= '9') {
            v = c - '0' + 52;
        } else if (c == '+' || c == '-') {
            v = 62;
        } else if (c == '/' || c == '_') {
            v = 63;
        } else if (c == '=') {
            break;
        } else {
            return std::nullopt;
        }
        buffer = (buffer << 6) | static_cast<unsigned>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>((buffer >> bits) & 0xFF);
        }
    }
    return out;
}

std::optional<std::pair<std::string, std::string>> basic_credentials(const ServerRequest& request)
{
    auto header = request.header("authorization");
    if (!header || header->size() < 6 || !iequals(std::string_view(*header).substr(0, 6), "basic ")) {
        return std::nullopt;
    }
    std::string_view encoded = std::string_view(*header).substr(6);
    while (!encoded.empty() && encoded.front() == ' ') {
        encoded.remove_prefix(1);
    }
    auto decoded = base64_decode(encoded);
    if (!decoded) {
        return std::nullopt;
    }
    auto colon = decoded->find(':');
    if (colon == std::string::npos) {
        return std::nullopt;
    }
    return std::pair{decoded->substr(0, colon), decoded->substr(colon + 1)};
}

std::int64_t now_ms()
{
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::int64_t now_ticks()
{
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
               .count() /
           100;
}

std::string iso_from_ticks(std::int64_t ticks)
{
    std::int64_t seconds = floor_div(ticks, 10'000'000);
    char frac[48];
    std::snprintf(frac, sizeof frac, ".%07lldZ", static_cast<long long>(ticks - seconds * 10'000'000));
    return iso_prefix(seconds) + frac;
}

std::string http_date(std::int64_t unix_seconds)
{
    static constexpr std::array<const char*, 7> k_days = {"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"};
    static constexpr std::array<const char*, 12> k_months = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                             "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    const std::int64_t days = floor_div(unix_seconds, 86400);
    const infra::CivilTime t = infra::seconds_to_civil(unix_seconds);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d GMT",
                  k_days[static_cast<std::size_t>(((days % 7) + 7) % 7)], t.day,
                  k_months[static_cast<std::size_t>(t.month - 1)], t.year, t.hour, t.minute, t.second);
    return buf;
}

std::string iso_from_ms(std::int64_t ms)
{
    std::int64_t seconds = floor_div(ms, 1000);
    char frac[48];
    std::snprintf(frac, sizeof frac, ".%03lldZ", static_cast<long long>(ms - seconds * 1000));
    return iso_prefix(seconds) + frac;
}

std::optional<std::int64_t> parse_iso_ns(std::string_view s)
{
    auto digits = [&](std::size_t pos, std::size_t n) -> std::optional<int> {
        if (pos + n > s.size()) {
            return std::nullopt;
        }
        int v = 0;
        for (std::size_t i = pos; i < pos + n; ++i) {
            if (s[i] < '0' || s[i] > '9') {
                return std::nullopt;
            }
            v = v * 10 + (s[i] - '0');
        }
        return v;
    };
    if (s.size() < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':') {
        return std::nullopt;
    }
    auto y = digits(0, 4);
    auto mo = digits(5, 2);
    auto d = digits(8, 2);
    auto h = digits(11, 2);
    auto mi = digits(14, 2);
    auto se = digits(17, 2);
    if (!y || !mo || !d || !h || !mi || !se || *mo < 1 || *mo > 12 || *d < 1 || *d > 31 || *h > 23 || *mi > 59 ||
        *se > 60) {
        return std::nullopt;
    }
    std::size_t pos = 19;
    std::int64_t frac_ns = 0;
    if (pos < s.size() && s[pos] == '.') {
        ++pos;
        std::size_t start = pos;
        std::int64_t scale = 100'000'000;
        while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
            frac_ns += (s[pos] - '0') * scale;
            scale /= 10;
            ++pos;
        }
        if (pos == start) {
            return std::nullopt;
        }
    }
    if (pos + 1 != s.size() || s[pos] != 'Z') {
        return std::nullopt;
    }
    std::int64_t days = days_from_civil(*y, *mo, *d);
    std::int64_t seconds = days * 86400 + *h * 3600 + *mi * 60 + *se;
    return seconds * 1'000'000'000 + frac_ns;
}

std::optional<std::string> gunzip(std::string_view in, std::size_t limit)
{
    // libdeflate inflates a whole member at once, about twice as fast as zlib's streaming inflate (whose
    // CRC-32 alone was 4 % of the simulator's CPU in the delivery benchmarks), and checks the member's
    // CRC-32 and size as zlib does.
    const std::unique_ptr<libdeflate_decompressor, decltype(&libdeflate_free_decompressor)> decompressor(
        libdeflate_alloc_decompressor(), &libdeflate_free_decompressor);
    if (!decompressor || in.empty()) {
        return std::nullopt;
    }
    std::string out;
    std::size_t used = 0;
    std::size_t capacity = std::min(limit, std::max<std::size_t>(in.size() * 8, 64 * 1024));
    // RFC 1952 section 2.2: a gzip file is one or more members, and real decoders (zlib looping, Java's
    // GZIPInputStream, Go, Node, Python) read them all. Anything after a member that is not another member
    // is garbage: refused, as it would be by a strict decoder.
    while (!in.empty()) {
        out.resize(capacity);
        std::size_t read = 0;
        std::size_t written = 0;
        const auto result = libdeflate_gzip_decompress_ex(decompressor.get(), in.data(), in.size(), out.data() + used,
                                                          capacity - used, &read, &written);
        if (result == LIBDEFLATE_INSUFFICIENT_SPACE) {
            if (capacity >= limit) {
                return std::nullopt;
            }
            capacity = capacity > limit / 2 ? limit : capacity * 2;
            continue;
        }
        if (result != LIBDEFLATE_SUCCESS) {
            return std::nullopt;
        }
        used += written;
        in.remove_prefix(read);
    }
    out.resize(used);
    return out;
}

std::optional<std::int64_t> parse_duration_ms(std::string_view s)
{
    if (s.empty()) {
        return std::nullopt;
    }
    std::size_t i = 0;
    std::int64_t value = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
        value = value * 10 + (s[i] - '0');
        if (value > (std::int64_t{1} << 40)) {
            return std::nullopt;
        }
        ++i;
    }
    if (i == 0) {
        return std::nullopt;
    }
    std::string_view unit = s.substr(i);
    if (unit.empty()) {
        return value == 0 ? std::optional<std::int64_t>(0) : std::optional<std::int64_t>(value * 1000);
    }
    if (unit == "ms") {
        return value;
    }
    if (unit == "s") {
        return value * 1000;
    }
    if (unit == "m") {
        return value * 60'000;
    }
    if (unit == "h") {
        return value * 3'600'000;
    }
    return std::nullopt;
}

ServerResponse json_response(unsigned status, std::string body)
{
    ServerResponse r;
    r.status = status;
    r.content_type = "application/json";
    r.body = std::move(body);
    return r;
}

ServerResponse odata_error(unsigned status, std::string_view code, std::string_view message)
{
    std::string body = R"({"error":{"code":)";
    append_json_string(body, code);
    body += R"(,"message":{"lang":"en","value":)";
    append_json_string(body, message);
    body += "}}}";
    auto r = json_response(status, std::move(body));
    r.headers.emplace_back("DataServiceVersion", "1.0");
    return r;
}

std::string soap_fault_body(std::string_view faultcode, std::string_view faultstring)
{
    std::string out = "<?xml version=\"1.0\"?>\n"
                      "<soap-env:Envelope xmlns:soap-env=\"http://schemas.xmlsoap.org/soap/envelope/\">\n"
                      "  <soap-env:Header/>\n"
                      "  <soap-env:Body>\n"
                      "    <soap-env:Fault>\n"
                      "      <faultcode>";
    out += xml_escape(faultcode);
    out += "</faultcode>\n      <faultstring xml:lang=\"en\">";
    out += xml_escape(faultstring);
    out += "</faultstring>\n      <detail/>\n    </soap-env:Fault>\n  </soap-env:Body>\n</soap-env:Envelope>\n";
    return out;
}

std::string base_url(const ServerRequest& request, const std::string& fallback_host)
{
    auto host = request.header("host");
    return "http://" + (host && !host->empty() ? *host : fallback_host);
}

std::string query_without(const std::vector<QueryParam>& params, const std::vector<std::string>& drop)
{
    std::string out;
    for (const auto& p : params) {
        if (std::find(drop.begin(), drop.end(), p.key) != drop.end()) {
            continue;
        }
        if (!out.empty()) {
            out += '&';
        }
        out += p.raw;
    }
    return out;
}

}  // namespace c4c::sim
