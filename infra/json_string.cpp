#include "infra/json_string.hpp"

#include "infra/utf8.hpp"

#include <array>

namespace c4c::infra {

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

}  // namespace

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
            const int length = utf8::sequence(p, end);
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
        case '"':
            out.append("\\\"");
            break;
        case '\\':
            out.append("\\\\");
            break;
        case '\n':
            out.append("\\n");
            break;
        case '\r':
            out.append("\\r");
            break;
        case '\t':
            out.append("\\t");
            break;
        case '\b':
            out.append("\\b");
            break;
        case '\f':
            out.append("\\f");
            break;
        default: {
            const char escape[6] = {'\\', 'u', '0', '0', k_hex[c >> 4], k_hex[c & 0x0f]};
            out.append(escape, sizeof escape);
        }
        }
    }
    out.push_back('"');
}

}  // namespace c4c::infra
