#pragma once

// What the fuzz targets share: the input as text, and a check that stops the run (libFuzzer then saves
// the input) when a property every input must keep is broken.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace c4c::fuzz {

inline std::string_view as_text(const std::uint8_t* data, std::size_t size)
{
    return {reinterpret_cast<const char*>(data), size};
}

[[noreturn]] inline void check_failed(const char* condition, const char* what, const char* file, int line)
{
    std::fprintf(stderr, "%s:%d: fuzz check failed: %s (%s)\n", file, line, what, condition);
    std::abort();
}

/// True when `text` is well-formed UTF-8 (RFC 3629: no overlongs, no surrogates, at most U+10FFFF).
inline bool valid_utf8(std::string_view text)
{
    std::size_t i = 0;
    while (i < text.size()) {
        const auto c = static_cast<unsigned char>(text[i]);
        std::size_t n = 0;
        unsigned char low = 0x80;
        unsigned char high = 0xBF;
        if (c < 0x80) {
            ++i;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) {
            n = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 2;
            low = c == 0xE0 ? 0xA0 : 0x80;
            high = c == 0xED ? 0x9F : 0xBF;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 3;
            low = c == 0xF0 ? 0x90 : 0x80;
            high = c == 0xF4 ? 0x8F : 0xBF;
        } else {
            return false;
        }
        if (text.size() - i <= n) {
            return false;
        }
        for (std::size_t k = 1; k <= n; ++k) {
            const auto cc = static_cast<unsigned char>(text[i + k]);
            if (cc < (k == 1 ? low : 0x80) || cc > (k == 1 ? high : 0xBF)) {
                return false;
            }
        }
        i += n + 1;
    }
    return true;
}

}  // namespace c4c::fuzz

/// Aborts (a crash for libFuzzer, which keeps the input) when `condition` is false.
#define C4C_FUZZ_CHECK(condition, what)                                                                                \
    do {                                                                                                               \
        if (!(condition)) {                                                                                            \
            ::c4c::fuzz::check_failed(#condition, what, __FILE__, __LINE__);                                           \
        }                                                                                                              \
    } while (false)
