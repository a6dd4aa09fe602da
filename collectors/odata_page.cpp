#include "collectors/odata_page.hpp"

#include "infra/json_string.hpp"
#include "infra/utf8.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cstring>
#include <stdexcept>
#include <utility>

namespace c4c::collectors {

void throw_exception_from_error(const ODataError& error, const boost::source_location& /*location*/)
{
    throw std::runtime_error(error.message);
}

// ---------------------------------------------------------------------------------------------------------
// ODataRow

std::optional<std::string_view> ODataRow::get(std::string_view name) const
{
    std::optional<std::string_view> found;
    for_each([&](std::string_view n, std::string_view v) {
        if (n == name) {
            found = v;  // keep going: of duplicate members the last one counts, as in most JSON readers
        }
    });
    return found;
}

std::string_view ODataRow::value_or_empty(std::string_view name) const
{
    return get(name).value_or(std::string_view{});
}

std::string_view ODataRow::name(std::size_t i) const
{
    if (i >= m_count) {
        throw std::out_of_range("ODataRow::name");
    }
    std::string_view out;
    std::size_t index = 0;
    for_each([&](std::string_view n, std::string_view) {
        if (index++ == i) {
            out = n;
        }
    });
    return out;
}

std::string_view ODataRow::value(std::size_t i) const
{
    if (i >= m_count) {
        throw std::out_of_range("ODataRow::value");
    }
    std::string_view out;
    std::size_t index = 0;
    for_each([&](std::string_view, std::string_view v) {
        if (index++ == i) {
            out = v;
        }
    });
    return out;
}

void ODataRow::add(std::string_view name, std::string_view value)
{
    const auto name_size = static_cast<std::uint32_t>(name.size());
    const auto value_size = static_cast<std::uint32_t>(value.size());
    char header[k_header];
    std::memcpy(header, &name_size, sizeof name_size);
    std::memcpy(header + sizeof name_size, &value_size, sizeof value_size);
    m_data.append(header, k_header);
    m_data.append(name);
    m_data.append(value);
    ++m_count;
}

// ---------------------------------------------------------------------------------------------------------
// Page parser
//
// A single-pass, validating JSON reader specialised for collection pages. A generic DOM (or nlohmann's SAX
// lexer, which copies every character of every token) reads about 75 MB/s; this one reads the members it
// needs as views into the body and only skips (still validating) __metadata, __deferred links and the rest.
// It rejects everything RFC 8259 rejects except invalid UTF-8 inside strings, which is passed through (the
// OTLP encoder replaces it).

namespace {

constexpr int k_max_depth = 512;

std::string body_snippet(std::string_view body)
{
    constexpr std::size_t k_max = 60;
    std::string out;
    for (char c : body.substr(0, k_max)) {
        const auto u = static_cast<unsigned char>(c);
        out.push_back(u >= 0x20 && u < 0x7f ? c : ' ');
    }
    if (body.size() > k_max) {
        out += "...";
    }
    return out;
}

class PageParser {
public:
    PageParser(std::string_view text, ODataPage& page)
        : m_begin(text.data()), m_p(text.data()), m_end(text.data() + text.size()), m_page(page)
    {}

    /// False on malformed JSON or a body that is not an object (see error()).
    bool parse()
    {
        skip_ws();
        if (m_p == m_end) {
            return fail_json("empty body");
        }
        if (*m_p != '{') {
            // Well-formed JSON that is not an object is a different problem from malformed JSON.
            const bool array = *m_p == '[';
            if (!skip_value(0)) {
                return false;
            }
            skip_ws();
            if (m_p != m_end) {
                return fail_json("unexpected content after the JSON value");
            }
            return fail_structure(fmt::format("the body is a JSON {}, not an OData object with a \"d\" member",
                                              array ? "array" : "scalar"));
        }
        if (!members(1, [this](std::string_view key) { return root_member(key); })) {
            return false;
        }
        skip_ws();
        return m_p == m_end || fail_json("unexpected content after the JSON document");
    }

    ODataError& error() { return m_error; }
    bool has_d() const { return m_has_d; }
    bool has_results() const { return m_has_results; }
    bool has_error() const { return m_has_error; }
    const std::string& error_code() const { return m_error_code; }
    const std::string& error_message() const { return m_error_message; }
    const std::string& value_error() const { return m_value_error; }

private:
    // --- the document's shape

    bool root_member(std::string_view key)
    {
        if (key == "d") {
            if (*m_p == '{') {
                m_has_d = true;
                return members(2, [this](std::string_view k) { return d_member(k); });
            }
            if (*m_p == '[') {
                m_has_d = true;
                m_has_results = true;
                return rows(2);
            }
        } else if (key == "error" && *m_p == '{') {
            m_has_error = true;
            return members(2, [this](std::string_view k) { return error_member(k); });
        }
        return skip_value(1);
    }

    bool d_member(std::string_view key)
    {
        if (key == "results") {
            if (*m_p == '[') {
                m_has_results = true;
                return rows(3);
            }
            return skip_value(2);
        }
        if (key == "__count") {
            std::string_view text;
            if (*m_p == '"') {
                if (!read_string(text, m_value_buffer)) {
                    return false;
                }
            } else if (*m_p == '-' || (*m_p >= '0' && *m_p <= '9')) {
                if (!read_number(text)) {
                    return false;
                }
            } else {
                const bool null = *m_p == 'n';
                if (!skip_value(2)) {
                    return false;
                }
                if (!null) {
                    m_value_error = "d.__count is neither a string nor a number";
                }
                return true;
            }
            std::uint64_t count = 0;
            auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), count);
            if (text.empty() || ec != std::errc{} || end != text.data() + text.size()) {
                m_value_error = fmt::format("d.__count '{}' is not a non-negative integer", body_snippet(text));
            } else {
                m_page.count = count;
            }
            return true;
        }
        if (key == "__next") {
            if (*m_p == '"') {
                std::string_view next;
                if (!read_string(next, m_value_buffer)) {
                    return false;
                }
                m_page.next = std::string(next);
                return true;
            }
            if (*m_p != 'n') {
                m_value_error = "d.__next is not a string";
            }
        }
        return skip_value(2);
    }

    bool rows(int depth)
    {
        return elements(depth, [this, depth] {
            if (*m_p != '{') {
                return skip_value(depth);
            }
            m_row.reserve(m_row_bytes + 64);
            const auto begin = static_cast<std::size_t>(m_p - m_begin);
            if (!members(depth + 1, [this, depth](std::string_view key) { return row_member(key, depth + 1); })) {
                return false;
            }
            m_row.set_span(begin, static_cast<std::size_t>(m_p - m_begin) - begin);
            m_row_bytes = m_row.bytes();
            m_page.rows.push_back(std::move(m_row));
            m_row = ODataRow{};
            return true;
        });
    }

    bool row_member(std::string_view key, int depth)
    {
        std::string_view value;
        switch (*m_p) {
        case '"':
            // `key` may live in m_key_buffer; the value goes to m_value_buffer, so both stay valid here.
            if (!read_string(value, m_value_buffer)) {
                return false;
            }
            break;
        case 't':
        case 'f': {
            const bool is_true = *m_p == 't';
            if (!read_literal(is_true ? "true" : "false")) {
                return false;
            }
            value = is_true ? "true" : "false";
            break;
        }
        case 'n':
            return read_literal("null");
        case '{':
        case '[':
            return skip_value(depth);
        default:
            if (!read_number(value)) {
                return false;
            }
            break;
        }
        m_row.add(key, value);
        return true;
    }

    bool error_member(std::string_view key)
    {
        if (key == "code" && *m_p == '"') {
            std::string_view code;
            if (!read_string(code, m_value_buffer)) {
                return false;
            }
            m_error_code = std::string(code);
            return true;
        }
        if (key == "message") {
            if (*m_p == '"') {
                std::string_view message;
                if (!read_string(message, m_value_buffer)) {
                    return false;
                }
                m_error_message = std::string(message);
                return true;
            }
            if (*m_p == '{') {
                return members(3, [this](std::string_view k) {
                    if (k == "value" && *m_p == '"') {
                        std::string_view message;
                        if (!read_string(message, m_value_buffer)) {
                            return false;
                        }
                        m_error_message = std::string(message);
                        return true;
                    }
                    return skip_value(3);
                });
            }
        }
        return skip_value(2);
    }

    // --- JSON grammar

    /// At '{': calls on_member(key) with m_p at each member's value; on_member consumes the value.
    template <class OnMember>
    bool members(int depth, OnMember&& on_member)
    {
        if (depth > k_max_depth) {
            return fail_json("nesting too deep");
        }
        ++m_p;
        skip_ws();
        if (m_p < m_end && *m_p == '}') {
            ++m_p;
            return true;
        }
        for (;;) {
            if (m_p == m_end || *m_p != '"') {
                return fail_json("expected a member name");
            }
            std::string_view key;
            if (!read_string(key, m_key_buffer)) {
                return false;
            }
            skip_ws();
            if (m_p == m_end || *m_p != ':') {
                return fail_json("expected ':'");
            }
            ++m_p;
            skip_ws();
            if (m_p == m_end) {
                return fail_json("unexpected end of input");
            }
            if (!on_member(key)) {
                return false;
            }
            skip_ws();
            if (m_p == m_end) {
                return fail_json("unexpected end of input");
            }
            if (*m_p == '}') {
                ++m_p;
                return true;
            }
            if (*m_p != ',') {
                return fail_json("expected ',' or '}'");
            }
            ++m_p;
            skip_ws();
        }
    }

    /// At '[': calls on_element() with m_p at each element; on_element consumes it.
    template <class OnElement>
    bool elements(int depth, OnElement&& on_element)
    {
        if (depth > k_max_depth) {
            return fail_json("nesting too deep");
        }
        ++m_p;
        skip_ws();
        if (m_p < m_end && *m_p == ']') {
            ++m_p;
            return true;
        }
        for (;;) {
            if (m_p == m_end) {
                return fail_json("unexpected end of input");
            }
            if (!on_element()) {
                return false;
            }
            skip_ws();
            if (m_p == m_end) {
                return fail_json("unexpected end of input");
            }
            if (*m_p == ']') {
                ++m_p;
                return true;
            }
            if (*m_p != ',') {
                return fail_json("expected ',' or ']'");
            }
            ++m_p;
            skip_ws();
        }
    }

    bool skip_value(int depth)
    {
        if (m_p == m_end) {
            return fail_json("unexpected end of input");
        }
        switch (*m_p) {
        case '{':
            return members(depth + 1, [this, depth](std::string_view) { return skip_value(depth + 1); });
        case '[':
            return elements(depth + 1, [this, depth] { return skip_value(depth + 1); });
        case '"':
            return skip_string();
        case 't':
            return read_literal("true");
        case 'f':
            return read_literal("false");
        case 'n':
            return read_literal("null");
        default: {
            std::string_view number;
            return read_number(number);
        }
        }
    }

    bool read_literal(std::string_view literal)
    {
        if (static_cast<std::size_t>(m_end - m_p) < literal.size() ||
            std::string_view(m_p, literal.size()) != literal) {
            return fail_json("invalid literal");
        }
        m_p += literal.size();
        return true;
    }

    bool read_number(std::string_view& out)
    {
        const char* start = m_p;
        const auto digits = [this] {
            const char* first = m_p;
            while (m_p < m_end && *m_p >= '0' && *m_p <= '9') {
                ++m_p;
            }
            return m_p != first;
        };
        if (m_p < m_end && *m_p == '-') {
            ++m_p;
        }
        if (m_p < m_end && *m_p == '0') {
            ++m_p;
        } else if (!digits()) {
            return fail_json("invalid value");
        }
        if (m_p < m_end && *m_p == '.') {
            ++m_p;
            if (!digits()) {
                return fail_json("invalid number");
            }
        }
        if (m_p < m_end && (*m_p == 'e' || *m_p == 'E')) {
            ++m_p;
            if (m_p < m_end && (*m_p == '+' || *m_p == '-')) {
                ++m_p;
            }
            if (!digits()) {
                return fail_json("invalid number");
            }
        }
        out = std::string_view(start, static_cast<std::size_t>(m_p - start));
        return true;
    }

    /// At '"': the decoded string, a view into the body when it holds no escape, else into `buffer`.
    bool read_string(std::string_view& out, std::string& buffer)
    {
        const char* start = ++m_p;
        const char* p = infra::find_json_special(start, m_end);
        if (p == m_end) {
            m_p = m_end;
            return fail_json("unterminated string");
        }
        if (*p == '"') {
            out = std::string_view(start, static_cast<std::size_t>(p - start));
            m_p = p + 1;
            return true;
        }
        m_p = p;
        if (*p != '\\') {
            return fail_json("control character in string");
        }
        buffer.assign(start, p);
        if (!decode_rest(&buffer)) {
            return false;
        }
        out = buffer;
        return true;
    }

    /// From the first backslash to the closing quote, decoding escapes into `out` (only validating them
    /// when `out` is null).
    bool decode_rest(std::string* out)
    {
        for (;;) {
            const char* p = infra::find_json_special(m_p, m_end);
            if (out) {
                out->append(m_p, p);
            }
            m_p = p;
            if (p == m_end) {
                return fail_json("unterminated string");
            }
            if (*p == '"') {
                ++m_p;
                return true;
            }
            if (*p != '\\') {
                return fail_json("control character in string");
            }
            if (++m_p == m_end) {
                return fail_json("unterminated string");
            }
            char decoded = 0;
            switch (*m_p) {
            case '"':
                decoded = '"';
                break;
            case '\\':
                decoded = '\\';
                break;
            case '/':
                decoded = '/';
                break;
            case 'b':
                decoded = '\b';
                break;
            case 'f':
                decoded = '\f';
                break;
            case 'n':
                decoded = '\n';
                break;
            case 'r':
                decoded = '\r';
                break;
            case 't':
                decoded = '\t';
                break;
            case 'u': {
                std::uint32_t cp = 0;
                if (!read_hex4(cp)) {
                    return false;
                }
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    std::uint32_t low = 0;
                    if (m_end - m_p < 3 || m_p[1] != '\\' || m_p[2] != 'u') {
                        return fail_json("unpaired UTF-16 surrogate in \\u escape");
                    }
                    m_p += 2;
                    if (!read_hex4(low)) {
                        return false;
                    }
                    if (low < 0xDC00 || low > 0xDFFF) {
                        return fail_json("unpaired UTF-16 surrogate in \\u escape");
                    }
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                    return fail_json("unpaired UTF-16 surrogate in \\u escape");
                }
                if (out) {
                    infra::utf8::append(*out, cp);
                }
                ++m_p;
                continue;
            }
            default:
                return fail_json("invalid escape in string");
            }
            if (out) {
                out->push_back(decoded);
            }
            ++m_p;
        }
    }

    /// At the 'u' of \uXXXX: reads the four digits, leaving m_p at the last one.
    bool read_hex4(std::uint32_t& value)
    {
        if (m_end - m_p < 5) {
            m_p = m_end;
            return fail_json("unterminated string");
        }
        value = 0;
        for (int i = 1; i <= 4; ++i) {
            const int digit = infra::utf8::hex_value(m_p[i]);
            if (digit < 0) {
                m_p += i;
                return fail_json("invalid \\u escape");
            }
            value = value << 4 | static_cast<std::uint32_t>(digit);
        }
        m_p += 4;
        return true;
    }

    bool skip_string()
    {
        ++m_p;
        return decode_rest(nullptr);
    }

    void skip_ws()
    {
        while (m_p < m_end && (*m_p == ' ' || *m_p == '\n' || *m_p == '\r' || *m_p == '\t')) {
            ++m_p;
        }
    }

    bool fail_json(std::string_view what)
    {
        if (m_error.message.empty()) {
            m_error.kind = ODataError::Kind::json;
            m_error.offset = static_cast<std::size_t>(m_p - m_begin);
            m_error.message =
                fmt::format("invalid JSON at byte {}: {} (the body starts with '{}')", m_error.offset, what,
                            body_snippet(std::string_view(m_begin, static_cast<std::size_t>(m_end - m_begin))));
        }
        return false;
    }

    bool fail_structure(std::string message)
    {
        m_error.kind = ODataError::Kind::structure;
        m_error.message = std::move(message);
        return false;
    }

    const char* m_begin;
    const char* m_p;
    const char* m_end;
    ODataPage& m_page;
    ODataError m_error;
    std::string m_key_buffer;
    std::string m_value_buffer;
    ODataRow m_row;
    std::size_t m_row_bytes = 0;
    bool m_has_d = false;
    bool m_has_results = false;
    bool m_has_error = false;
    std::string m_error_code;
    std::string m_error_message;
    std::string m_value_error;
};

ODataError make_error(ODataError::Kind kind, std::string message)
{
    ODataError error;
    error.kind = kind;
    error.message = std::move(message);
    return error;
}

}  // namespace

boost::system::result<ODataPage, ODataError> parse_odata_page(std::string_view text)
{
    ODataPage page;
    PageParser parser(text, page);
    if (!parser.parse()) {
        return std::move(parser.error());
    }
    if (parser.has_error()) {
        ODataError error =
            make_error(ODataError::Kind::service,
                       parser.error_code().empty()
                           ? fmt::format("OData error: {}", parser.error_message())
                           : fmt::format("OData error {}: {}", parser.error_code(), parser.error_message()));
        error.code = parser.error_code();
        return error;
    }
    if (!parser.has_d()) {
        return make_error(ODataError::Kind::structure,
                          fmt::format("no \"d\" member: not an OData v2 JSON answer (the body starts with '{}')",
                                      body_snippet(text)));
    }
    if (!parser.has_results()) {
        return make_error(ODataError::Kind::structure, "no \"d.results\" array: not an OData collection page");
    }
    if (!parser.value_error().empty()) {
        return make_error(ODataError::Kind::value, parser.value_error());
    }
    return page;
}

}  // namespace c4c::collectors
