#pragma once

// Small text helpers shared by the collectors' parsers (RTA pages, SAP time stamps).

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

/// Untrusted text made fit to quote in a one-line message: control characters become '?', and
/// text over 64 bytes is cut there and ends in "...".
inline std::string printable(std::string_view text)
{
    constexpr std::size_t k_max = 64;
    std::string out;
    for (const char c : text.substr(0, k_max)) {
        out.push_back(static_cast<unsigned char>(c) < 0x20 || c == 0x7f ? '?' : c);
    }
    if (text.size() > k_max) {
        out += "...";
    }
    return out;
}

} // namespace c4c::infra
