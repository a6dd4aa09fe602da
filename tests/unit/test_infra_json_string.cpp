// The scanners behind JSON strings, checked against a byte-at-a-time reading at every offset and length,
// so that the 16-byte (SSE2), 8-byte and byte-at-a-time paths each meet every kind of byte.
#include "infra/json_string.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <string>

namespace {

using c4c::infra::append_json_string;
using c4c::infra::find_json_escape;
using c4c::infra::find_json_special;

std::size_t reference(const std::string& text, bool non_ascii)
{
    for (std::size_t i = 0; i < text.size(); ++i) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c == '"' || c == '\\' || c < 0x20 || (non_ascii && c >= 0x80)) {
            return i;
        }
    }
    return text.size();
}

}  // namespace

TEST_CASE("find_json_special and find_json_escape stop at the first byte that needs care, at any offset")
{
    // Bytes next to the boundaries of each class: 0x1F/0x20, '"' (0x22) and its neighbours, '\\' (0x5C)
    // and its neighbours, 0x7F/0x80, 0xFF.
    const unsigned char probes[] = {0x00, 0x09, 0x1F, 0x20, 0x21, 0x22, 0x23, 0x5B,
                                    0x5C, 0x5D, 0x7E, 0x7F, 0x80, 0xC3, 0xFF};
    for (std::size_t length = 0; length <= 40; ++length) {
        for (std::size_t at = 0; at <= length; ++at) {
            for (const unsigned char probe : probes) {
                std::string text(length, 'a');
                if (at < length) {
                    text[at] = static_cast<char>(probe);
                }
                CAPTURE(length);
                CAPTURE(at);
                CAPTURE(int(probe));
                const char* const begin = text.data();
                const char* const end = begin + text.size();
                CHECK(static_cast<std::size_t>(find_json_special(begin, end) - begin) == reference(text, false));
                CHECK(static_cast<std::size_t>(find_json_escape(begin, end) - begin) == reference(text, true));
            }
        }
    }
    // Two hits in one block: the first is found, whichever kind it is.
    const std::string two = std::string(20, 'x') + "\x01" + "\"" + std::string(20, 'y');
    CHECK(find_json_special(two.data(), two.data() + two.size()) == two.data() + 20);
    const std::string utf8_first = std::string(9, 'x') + "\xC3\xA4\"";
    CHECK(find_json_escape(utf8_first.data(), utf8_first.data() + utf8_first.size()) == utf8_first.data() + 9);
    CHECK(find_json_special(utf8_first.data(), utf8_first.data() + utf8_first.size()) == utf8_first.data() + 11);
}

TEST_CASE("append_json_string escapes long strings with specials at every offset, as a real parser reads them")
{
    const std::string specials[] = {"\"",   "\\",       "\n",           std::string("\0", 1),
                                    "\x1f", "\xC3\xA4", "\xE2\x82\xAC", "\xF0\x9F\x98\x80"};
    for (std::size_t length = 0; length <= 48; ++length) {
        for (std::size_t at = 0; at <= length; ++at) {
            for (const auto& special : specials) {
                std::string text(length, 'k');
                text.insert(at, special);
                std::string out;
                append_json_string(out, text);
                CAPTURE(out);
                CHECK(nlohmann::json::parse(out).get<std::string>() == text);
            }
        }
    }
    // An invalid byte deep in a long run is replaced, and what follows it is kept.
    const std::string invalid = std::string(37, 'a') + "\xFF" + std::string(30, 'b');
    std::string out;
    append_json_string(out, invalid);
    CHECK(nlohmann::json::parse(out).get<std::string>() ==
          std::string(37, 'a') + "\xEF\xBF\xBD" + std::string(30, 'b'));
}
