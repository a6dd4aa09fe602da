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

}  // namespace c4c::infra
