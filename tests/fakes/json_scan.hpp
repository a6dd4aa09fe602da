#pragma once

// A strict, non-allocating JSON reader for the simulator's sink: it checks RFC 8259 syntax (UTF-8
// included) and hands every token to a handler, strings as views of the input when they hold no
// escape (decoded into a scratch buffer when they do). nlohmann's SAX reader did the same at a fifth
// of the speed, which made the sink, not the daemon, the bottleneck of the delivery benchmarks.
//
// Handler: bool open(bool object); bool close(); (an object or array begins, the innermost one ends)
//          bool key(std::string_view); bool string(std::string_view); bool integer(); bool other();
// (`integer` for a number without fraction or exponent that fits 64 bits, as nlohmann reads it;
// `other` for any other number, true, false and null). A handler returning false stops the scan.

#include "infra/json_string.hpp"
#include "infra/utf8.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace c4c::sim::json_scan {

namespace detail {

inline bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

template <class Handler>
class Scanner {
public:
    Scanner(std::string_view text, Handler& handler) : m_s(text), m_h(handler) {}

    bool run()
    {
        skip_space();
        if (!value(0)) {
            return false;
        }
        skip_space();
        return m_i == m_s.size();
    }

private:
    static constexpr int k_max_depth = 512;

    void skip_space()
    {
        while (m_i < m_s.size() && (m_s[m_i] == ' ' || m_s[m_i] == '\n' || m_s[m_i] == '\r' || m_s[m_i] == '\t')) {
            ++m_i;
        }
    }

    bool literal(std::string_view word)
    {
        if (m_s.substr(m_i, word.size()) != word) {
            return false;
        }
        m_i += word.size();
        return m_h.other();
    }

    /// A string starting at the opening quote; `out` views the input, or m_scratch once an escape was met
    /// (the plain runs between escapes are copied there whole).
    bool string(std::string_view& out)
    {
        std::size_t run = ++m_i;  // start of the plain bytes not yet copied to m_scratch
        bool escaped = false;
        const char* const begin = m_s.data();
        const char* const end = begin + m_s.size();
        while (m_i < m_s.size()) {
            // Plain printable ASCII is skipped sixteen bytes at a time: the rest is checked one by one.
            m_i = static_cast<std::size_t>(infra::find_json_escape(begin + m_i, end) - begin);
            if (m_i == m_s.size()) {
                break;
            }
            const auto c = static_cast<unsigned char>(m_s[m_i]);
            if (c == '"') {
                if (escaped) {
                    m_scratch.append(m_s.substr(run, m_i - run));
                    out = m_scratch;
                } else {
                    out = m_s.substr(run, m_i - run);
                }
                ++m_i;
                return true;
            }
            if (c == '\\') {
                if (!escaped) {
                    m_scratch.clear();
                    escaped = true;
                }
                m_scratch.append(m_s.substr(run, m_i - run));
                ++m_i;
                if (!unescape()) {
                    return false;
                }
                run = m_i;
            } else if (c < 0x20) {
                return false;
            } else if (c >= 0x80) {
                const std::size_t n = utf8_length(m_i);
                if (n == 0) {
                    return false;
                }
                m_i += n;
            }
        }
        return false;
    }

    /// Length of the valid UTF-8 sequence at m_s[i] (a byte >= 0x80), or 0.
    std::size_t utf8_length(std::size_t i) const
    {
        const auto* p = reinterpret_cast<const unsigned char*>(m_s.data()) + i;
        const int n = infra::utf8::sequence(p, reinterpret_cast<const unsigned char*>(m_s.data()) + m_s.size());
        return n > 0 ? static_cast<std::size_t>(n) : 0;
    }

    bool hex4(std::uint32_t& cp)
    {
        if (m_i + 4 > m_s.size()) {
            return false;
        }
        cp = 0;
        for (int k = 0; k < 4; ++k) {
            const int v = infra::utf8::hex_value(m_s[m_i++]);
            if (v < 0) {
                return false;
            }
            cp = cp * 16 + static_cast<std::uint32_t>(v);
        }
        return true;
    }

    /// The escape after a backslash, appended to m_scratch decoded.
    bool unescape()
    {
        if (m_i >= m_s.size()) {
            return false;
        }
        switch (m_s[m_i++]) {
        case '"':
            m_scratch.push_back('"');
            return true;
        case '\\':
            m_scratch.push_back('\\');
            return true;
        case '/':
            m_scratch.push_back('/');
            return true;
        case 'b':
            m_scratch.push_back('\b');
            return true;
        case 'f':
            m_scratch.push_back('\f');
            return true;
        case 'n':
            m_scratch.push_back('\n');
            return true;
        case 'r':
            m_scratch.push_back('\r');
            return true;
        case 't':
            m_scratch.push_back('\t');
            return true;
        case 'u': {
            std::uint32_t cp = 0;
            if (!hex4(cp)) {
                return false;
            }
            if (cp >= 0xD800 && cp <= 0xDBFF) {  // a high surrogate needs its low one
                std::uint32_t low = 0;
                if (m_i + 2 > m_s.size() || m_s[m_i] != '\\' || m_s[m_i + 1] != 'u') {
                    return false;
                }
                m_i += 2;
                if (!hex4(low) || low < 0xDC00 || low > 0xDFFF) {
                    return false;
                }
                cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                return false;
            }
            infra::utf8::append(m_scratch, cp);
            return true;
        }
        default:
            return false;
        }
    }

    /// One or more decimal digits.
    bool digits()
    {
        const std::size_t start = m_i;
        while (m_i < m_s.size() && is_digit(m_s[m_i])) {
            ++m_i;
        }
        return m_i > start;
    }

    bool number()
    {
        const std::size_t start = m_i;
        bool negative = false;
        if (m_s[m_i] == '-') {
            negative = true;
            ++m_i;
        }
        if (m_i < m_s.size() && m_s[m_i] == '0') {
            ++m_i;  // no leading zeros
        } else if (!digits()) {
            return false;
        }
        bool integral = true;
        if (m_i < m_s.size() && m_s[m_i] == '.') {
            integral = false;
            ++m_i;
            if (!digits()) {
                return false;
            }
        }
        if (m_i < m_s.size() && (m_s[m_i] == 'e' || m_s[m_i] == 'E')) {
            integral = false;
            ++m_i;
            if (m_i < m_s.size() && (m_s[m_i] == '+' || m_s[m_i] == '-')) {
                ++m_i;
            }
            if (!digits()) {
                return false;
            }
        }
        if (!integral) {
            return m_h.other();
        }
        // Like nlohmann: an integer that does not fit int64 (negative) or uint64 is read as a double.
        std::uint64_t value = 0;
        const std::uint64_t limit = negative ? (std::uint64_t{1} << 63) : ~std::uint64_t{0};
        for (std::size_t k = start + (negative ? 1 : 0); k < m_i; ++k) {
            const auto digit = static_cast<std::uint64_t>(m_s[k] - '0');
            if (value > (limit - digit) / 10) {
                return m_h.other();
            }
            value = value * 10 + digit;
        }
        return m_h.integer();
    }

    bool value(int depth)
    {
        if (m_i >= m_s.size()) {
            return false;
        }
        switch (m_s[m_i]) {
        case '{':
            return container(depth + 1, true);
        case '[':
            return container(depth + 1, false);
        case '"': {
            std::string_view text;
            return string(text) && m_h.string(text);
        }
        case 't':
            return literal("true");
        case 'f':
            return literal("false");
        case 'n':
            return literal("null");
        default:
            return number();
        }
    }

    /// An object or an array, from its opening bracket.
    bool container(int depth, bool object)
    {
        if (depth > k_max_depth || !m_h.open(object)) {
            return false;
        }
        const char close = object ? '}' : ']';
        ++m_i;
        skip_space();
        if (m_i < m_s.size() && m_s[m_i] == close) {
            ++m_i;
            return m_h.close();
        }
        while (true) {
            if (object) {
                std::string_view name;
                if (m_i >= m_s.size() || m_s[m_i] != '"' || !string(name) || !m_h.key(name)) {
                    return false;
                }
                skip_space();
                if (m_i >= m_s.size() || m_s[m_i] != ':') {
                    return false;
                }
                ++m_i;
                skip_space();
            }
            if (!value(depth)) {
                return false;
            }
            skip_space();
            if (m_i >= m_s.size()) {
                return false;
            }
            if (m_s[m_i] == close) {
                ++m_i;
                return m_h.close();
            }
            if (m_s[m_i] != ',') {
                return false;
            }
            ++m_i;
            skip_space();
        }
    }

    std::string_view m_s;
    Handler& m_h;
    std::size_t m_i = 0;
    std::string m_scratch;
};

}  // namespace detail

/// Scans `text` (one JSON value, whitespace around it allowed) into `handler`. False when the text is
/// not valid JSON, nests deeper than 512, or the handler stopped the scan.
template <class Handler>
bool scan(std::string_view text, Handler& handler)
{
    return detail::Scanner<Handler>(text, handler).run();
}

}  // namespace c4c::sim::json_scan
