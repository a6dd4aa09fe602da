#include "daemon/cli_table.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace c4c::daemon::cli {

namespace {

// Characters, not bytes: UTF-8 continuation bytes do not count.
std::size_t width(std::string_view text)
{
    return static_cast<std::size_t>(
        std::count_if(text.begin(), text.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

}  // namespace

Table::Table(std::vector<std::string> header) : m_header(std::move(header)) {}

void Table::add(std::vector<Cell> row)
{
    row.resize(m_header.size());
    m_rows.push_back(std::move(row));
}

std::string Table::render(bool colour) const
{
    std::vector<std::size_t> widths(m_header.size(), 0);
    for (std::size_t i = 0; i < m_header.size(); ++i) {
        widths[i] = width(m_header[i]);
        for (const auto& row : m_rows) {
            widths[i] = std::max(widths[i], width(row[i].text));
        }
    }
    std::string out;
    auto line = [&](auto cell_of) {
        std::string text;
        for (std::size_t i = 0; i < widths.size(); ++i) {
            const auto [cell, sgr] = cell_of(i);
            text += paint(cell, sgr, colour);
            if (i + 1 < widths.size()) {
                text.append(widths[i] - width(cell) + 2, ' ');
            }
        }
        while (!text.empty() && text.back() == ' ') {
            text.pop_back();
        }
        out += text + "\n";
    };
    line([&](std::size_t i) { return std::pair<std::string_view, const char*>(m_header[i], "1"); });
    for (const auto& row : m_rows) {
        line([&](std::size_t i) { return std::pair<std::string_view, const char*>(row[i].text, row[i].colour); });
    }
    return out;
}

bool colour_wanted()
{
    const char* no_colour = std::getenv("NO_COLOR");
    const char* term = std::getenv("TERM");
    return ::isatty(STDOUT_FILENO) == 1 && (no_colour == nullptr || *no_colour == '\0') &&
           (term == nullptr || std::strcmp(term, "dumb") != 0);
}

std::string one_line(std::string_view text, std::size_t max)
{
    std::string out;
    std::size_t characters = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const auto c = static_cast<unsigned char>(text[i]);
        if ((c & 0xC0) != 0x80) {
            if (characters == max) {
                out += "...";
                return out;
            }
            ++characters;
        }
        if (c == '\n' || c == '\r' || c == '\t') {
            out.push_back(' ');
        } else if (c < 0x20 || c == 0x7f) {
            out.push_back('?');
        } else if (c == 0xC2 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) >= 0x80 &&
                   static_cast<unsigned char>(text[i + 1]) <= 0x9f) {
            out.push_back('?');  // a C1 control character (U+0080..U+009F): some terminals obey them
            ++i;
        } else {
            out.push_back(static_cast<char>(c));
        }
    }
    return out;
}

std::string paint(std::string_view text, const char* sgr, bool colour)
{
    if (!colour || sgr == nullptr || text.empty()) {
        return std::string(text);
    }
    return "\033[" + std::string(sgr) + "m" + std::string(text) + "\033[0m";
}

}  // namespace c4c::daemon::cli
