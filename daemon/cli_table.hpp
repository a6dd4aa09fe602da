#pragma once

// Output of the operator commands on a terminal: tables with aligned columns, colour only on a terminal
// (and never with NO_COLOR set), and untrusted text (an endpoint's answer, a poll's message) cut to one
// line of printable characters.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace c4c::daemon::cli {

/// ANSI colours (SGR parameters) for cells.
inline constexpr const char* k_green = "32";
inline constexpr const char* k_red = "31";
inline constexpr const char* k_yellow = "33";
inline constexpr const char* k_dim = "2";

struct Cell {
    std::string text;
    const char* colour = nullptr;  ///< an SGR parameter, or none
};

/// Columns padded to their widest cell (in characters), two spaces apart, a bold header; the last column
/// is not padded.
class Table {
public:
    explicit Table(std::vector<std::string> header);
    void add(std::vector<Cell> row);
    bool empty() const { return m_rows.empty(); }
    std::string render(bool colour) const;

private:
    std::vector<std::string> m_header;
    std::vector<std::vector<Cell>> m_rows;
};

/// True when standard output is a terminal, NO_COLOR is not set and TERM is not "dumb".
bool colour_wanted();

/// `text` as one line of printable characters: line breaks and tabs become spaces, other control
/// characters (escape sequences included) '?', and more than `max` characters are cut, ending in "...".
std::string one_line(std::string_view text, std::size_t max = 160);

/// `text` in colour `sgr` when `colour`.
std::string paint(std::string_view text, const char* sgr, bool colour);

}  // namespace c4c::daemon::cli
