#pragma once

// JSON string literals written by hand where a DOM would be wasted: the daemon's JSON log lines and the
// simulator's OData pages.

#include <string>
#include <string_view>

namespace c4c::daemon {

/// Appends `text` as a JSON string literal, quotes included: '"' and '\\' escaped, \n \r \t as such, other
/// control characters as \u00XX; every other byte (UTF-8 included) as it is.
inline void append_json_string(std::string& out, std::string_view text)
{
    static constexpr char k_hex[] = "0123456789abcdef";
    out.push_back('"');
    for (unsigned char c : text) {
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
            if (c < 0x20) {
                out += "\\u00";
                out.push_back(k_hex[c >> 4]);
                out.push_back(k_hex[c & 0x0f]);
            } else {
                out.push_back(static_cast<char>(c));
            }
        }
    }
    out.push_back('"');
}

} // namespace c4c::daemon
