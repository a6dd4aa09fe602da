#pragma once

// Percent-encoding of URL query values and form fields, shared by the collectors (C4C query options)
// and the exporters (OAuth client credentials).

#include <string>
#include <string_view>

namespace c4c::infra::http {

namespace detail {

inline std::string percent_encode(std::string_view value, bool space_as_plus)
{
    static constexpr char k_hex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(value.size() * 3);
    for (unsigned char c : value) {
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
            c == '_' || c == '~') {
            out.push_back(static_cast<char>(c));
        } else if (c == ' ' && space_as_plus) {
            out.push_back('+');
        } else {
            out.push_back('%');
            out.push_back(k_hex[c >> 4]);
            out.push_back(k_hex[c & 0x0f]);
        }
    }
    return out;
}

}  // namespace detail

/// Percent-encodes a query-parameter value: RFC 3986 unreserved characters stay, every other byte %XX.
inline std::string url_encode(std::string_view value)
{
    return detail::percent_encode(value, false);
}

/// application/x-www-form-urlencoded encoding of one value (RFC 6749 appendix B): unreserved
/// characters stay, space becomes '+', every other byte %XX.
inline std::string form_url_encode(std::string_view value)
{
    return detail::percent_encode(value, true);
}

}  // namespace c4c::infra::http
