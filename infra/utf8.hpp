#pragma once

// UTF-8 and hex helpers shared by the JSON readers and writers (OData pages, the JSON string writer,
// the simulator's JSON scanner and query strings).

#include <cstdint>
#include <string>

namespace c4c::infra::utf8 {

inline bool in_range(unsigned char c, unsigned char low, unsigned char high)
{
    return c >= low && c <= high;
}

/// Length of the well-formed UTF-8 sequence at `p` (Unicode Table 3-7), or, negated, the length of
/// its maximal ill-formed subpart (at least 1), which is replaced by one U+FFFD.
inline int sequence(const unsigned char* p, const unsigned char* end)
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

/// Appends code point `cp` (at most U+10FFFF, no surrogate) as UTF-8.
inline void append(std::string& out, std::uint32_t cp)
{
    if (cp < 0x80) {
        out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
        out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
}

/// The value of hex digit `c`, or -1.
inline int hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

}  // namespace c4c::infra::utf8
