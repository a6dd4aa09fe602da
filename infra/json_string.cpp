#include "infra/json_string.hpp"

#include "infra/utf8.hpp"

#include <bit>
#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace c4c::infra {

namespace {

/// The first '"', '\\' or byte below 0x20 in [p, end), and with `NonAscii` the first byte from 0x80 too.
template <bool NonAscii>
const char* find_first(const char* p, const char* end)
{
#if defined(__SSE2__)
    const __m128i quote16 = _mm_set1_epi8('"');
    const __m128i backslash16 = _mm_set1_epi8('\\');
    const __m128i space16 = _mm_set1_epi8(0x20);
    const __m128i control16 = _mm_set1_epi8(0x1F);
    while (end - p >= 16) {
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
        // Signed, bytes from 0x80 are negative: v < 0x20 catches them with the control characters. Else
        // min(v, 0x1F) == v <=> v <= 0x1F, unsigned (SSE2 has no unsigned byte compare).
        const __m128i low = NonAscii ? _mm_cmplt_epi8(v, space16) : _mm_cmpeq_epi8(_mm_min_epu8(v, control16), v);
        const __m128i hits =
            _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote16), _mm_cmpeq_epi8(v, backslash16)), low);
        if (const int mask = _mm_movemask_epi8(hits)) {
            return p + std::countr_zero(static_cast<unsigned>(mask));
        }
        p += 16;
    }
#endif
    constexpr std::uint64_t k_ones = 0x0101010101010101ULL;
    constexpr std::uint64_t k_highs = 0x8080808080808080ULL;
    while (end - p >= 8) {
        std::uint64_t v = 0;
        std::memcpy(&v, p, sizeof v);
        const std::uint64_t quote = v ^ (k_ones * '"');
        const std::uint64_t backslash = v ^ (k_ones * '\\');
        // Per byte, "is zero" (quote, backslash) and "is below 0x20" (control) without false negatives; a
        // false positive only sends this block to the byte loop below. A byte from 0x80 has its high bit.
        std::uint64_t hits =
            ((quote - k_ones) & ~quote) | ((backslash - k_ones) & ~backslash) | ((v - k_ones * 0x20) & ~v);
        if constexpr (NonAscii) {
            hits |= v;
        }
        if (const std::uint64_t flags = hits & k_highs) {
            if constexpr (std::endian::native == std::endian::little) {
                // Borrows only ever flag bytes above a true hit, so the lowest flag is exact.
                return p + std::countr_zero(flags) / 8;
            }
            break;
        }
        p += 8;
    }
    for (; p < end; ++p) {
        const auto c = static_cast<unsigned char>(*p);
        if (c == '"' || c == '\\' || c < 0x20 || (NonAscii && c >= 0x80)) {
            return p;
        }
    }
    return end;
}

constexpr std::string_view k_replacement = "\xEF\xBF\xBD";

}  // namespace

const char* find_json_special(const char* p, const char* end)
{
    return find_first<false>(p, end);
}

const char* find_json_escape(const char* p, const char* end)
{
    return find_first<true>(p, end);
}

void append_json_string(std::string& out, std::string_view text)
{
    static constexpr char k_hex[] = "0123456789abcdef";
    out.push_back('"');
    const auto* p = reinterpret_cast<const unsigned char*>(text.data());
    const auto* const end = p + text.size();
    while (p < end) {
        const auto* run = p;
        p = reinterpret_cast<const unsigned char*>(
            find_first<true>(reinterpret_cast<const char*>(p), reinterpret_cast<const char*>(end)));
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
