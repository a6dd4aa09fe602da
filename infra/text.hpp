#pragma once

// Small text helpers shared by the collectors' parsers and builders (RTA pages, SAP time stamps, SOAP
// envelopes) and the simulator.

#include <cstddef>
#include <string>
#include <string_view>

namespace c4c::infra {

/// `text` without leading and trailing spaces and tabs.
inline std::string_view trim_blanks(std::string_view text)
{
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
        text.remove_prefix(1);
    }
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) {
        text.remove_suffix(1);
    }
    return text;
}

/// `text` without leading and trailing spaces, tabs and line breaks (XML and ISO 8601 text).
inline std::string_view trim_space(std::string_view text)
{
    constexpr std::string_view k_space = " \t\r\n";
    const auto first = text.find_first_not_of(k_space);
    if (first == std::string_view::npos) {
        return {};
    }
    const auto last = text.find_last_not_of(k_space);
    return text.substr(first, last - first + 1);
}

/// Untrusted text made fit to quote in a one-line message: control characters become '?', and
/// text over `max` bytes is cut there and ends in "...".
inline std::string printable(std::string_view text, std::size_t max = 64)
{
    std::string out;
    for (const char c : text.substr(0, max)) {
        out.push_back(static_cast<unsigned char>(c) < 0x20 || c == 0x7f ? '?' : c);
    }
    if (text.size() > max) {
        out += "...";
    }
    return out;
}

/// `text` fit for XML 1.0 text and attribute values: `& < > " '` escaped, carriage return as `&#13;` (a
/// parser would normalise a literal one away), other control characters but tab and line feed dropped
/// (XML 1.0 cannot carry them, not even as character references).
inline std::string xml_escape(std::string_view text)
{
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        switch (c) {
        case '&':
            out += "&amp;";
            break;
        case '<':
            out += "&lt;";
            break;
        case '>':
            out += "&gt;";
            break;
        case '"':
            out += "&quot;";
            break;
        case '\'':
            out += "&apos;";
            break;
        case '\r':
            out += "&#13;";
            break;
        case '\t':
        case '\n':
            out.push_back(c);
            break;
        default:
            if (static_cast<unsigned char>(c) >= 0x20) {
                out.push_back(c);
            }
        }
    }
    return out;
}

}  // namespace c4c::infra
