#include "daemon/json_string.hpp"

#include <array>

namespace c4c::daemon {

namespace {

// Bytes that cannot be copied verbatim into a JSON string: control characters, '"', '\\', and every
// non-ASCII byte (which goes through UTF-8 validation).
constexpr std::array<bool, 256> make_special_table()
{
    std::array<bool, 256> table{};
    for (std::size_t c = 0; c < 256; ++c) {
        table[c] = c < 0x20 || c == '"' || c == '\\' || c >= 0x80;
    }
    return table;
}
constexpr std::array<bool, 256> k_special = make_special_table();

constexpr std::string_view k_replacement = "\xEF\xBF\xBD";

bool in_range(unsigned char c, unsigned char low, unsigned char high)
{
    return c >= low && c <= high;
}

// Length of the well-formed UTF-8 sequence at `p` (Unicode Table 3-7), or, negated, the length of
// its maximal ill-formed subpart (at least 1), which is replaced by one U+FFFD.
int utf8_sequence(const unsigned char* p, const unsigned char* end)
{
    const unsigned char lead = p[0];
    int length = 0;
    unsigned char low = 0x80;
    unsigned char high = 0xBF;
    if (in_range(lead, 0xC2, 0xDF)) {
        length = 2;
    } else if (lead == 0xE0) {
        length = 3;
        low = 0xA0;
    } else if (in_range(lead, 0xE1, 0xEC) || in_range(lead, 0xEE, 0xEF)) {
        length = 3;
    } else if (lead == 0xED) {
        length = 3;
        high = 0x9F;  // no UTF-16 surrogates
    } else if (lead == 0xF0) {
        length = 4;
        low = 0x90;
    } else if (in_range(lead, 0xF1, 0xF3)) {
        length = 4;
    } else if (lead == 0xF4) {
        length = 4;
        high = 0x8F;  // nothing beyond U+10FFFF
    } else {
        return -1;
    }
    if (end - p < 2 || !in_range(p[1], low, high)) {
        return -1;
    }
    for (int i = 2; i < length; ++i) {
        if (end - p <= i || !in_range(p[i], 0x80, 0xBF)) {
            return -i;
        }
    }
    return length;
}

} // namespace

void append_json_string(std::string& out, std::string_view text)
{
    static constexpr char k_hex[] = "0123456789abcdef";
    out.push_back('"');
    const auto* p = reinterpret_cast<const unsigned char*>(text.data());
    const auto* const end = p + text.size();
    while (p < end) {
        const auto* run = p;
        while (p < end && !k_special[*p]) {
            ++p;
        }
        out.append(reinterpret_cast<const char*>(run), static_cast<std::size_t>(p - run));
        if (p == end) {
            break;
        }
        const unsigned char c = *p;
        if (c >= 0x80) {
            const int length = utf8_sequence(p, end);
            if (length > 0) {
                out.append(reinterpret_cast<const char*>(p), static_cast<std::size_t>(length));
                p += length;
            } else {
                out.append(k_replacement);
                p += -length;
            }
            continue;
        }
        ++p;
        switch (c) {
        case '"': out.append("\\\""); break;
        case '\\': out.append("\\\\"); break;
        case '\n': out.append("\\n"); break;
        case '\r': out.append("\\r"); break;
        case '\t': out.append("\\t"); break;
        case '\b': out.append("\\b"); break;
        case '\f': out.append("\\f"); break;
        default: {
            const char escape[6] = {'\\', 'u', '0', '0', k_hex[c >> 4], k_hex[c & 0x0f]};
            out.append(escape, sizeof escape);
        }
        }
    }
    out.push_back('"');
}

} // namespace c4c::daemon
