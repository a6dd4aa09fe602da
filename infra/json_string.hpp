#pragma once

// JSON string literals written by hand where a DOM would be wasted: OTLP bodies, the daemon's JSON log
// lines, the simulator's OData pages.

#include <string>
#include <string_view>

namespace c4c::infra {

/// Appends `text` as a JSON string literal (with quotes) to `out`: `"` `\` and control characters
/// escaped (\n \r \t \b \f, else \u00XX), valid UTF-8 passed through, each maximal invalid UTF-8
/// subsequence replaced by U+FFFD. Runs of plain bytes are appended at once.
void append_json_string(std::string& out, std::string_view text);

/// The first '"', '\\' or control character (below 0x20) in [p, end), or end: where a JSON string's
/// content or a parser's scan of it stops. Sixteen bytes at a time (SSE2), else eight.
const char* find_json_special(const char* p, const char* end);

/// As find_json_special, and also the first byte from 0x80 (the start of a UTF-8 sequence to check):
/// the first byte that cannot be copied verbatim into a JSON string.
const char* find_json_escape(const char* p, const char* end);

}  // namespace c4c::infra
