#include "daemon/cli_table.hpp"

#include <doctest/doctest.h>

using namespace c4c::daemon::cli;

TEST_CASE("cli table: columns aligned by characters, the last one unpadded, colour only when asked")
{
    Table table({"NAME", "STATE", "NOTE"});
    table.add({{"ä-tenant"}, {"ok", k_green}, {"x"}});
    table.add({{"b"}, {"down", k_red}, {}});
    CHECK(table.render(false) == "NAME      STATE  NOTE\n"
                                 "ä-tenant  ok     x\n"
                                 "b         down\n");
    const auto coloured = table.render(true);
    CHECK(coloured.find("\033[32mok\033[0m     x") != std::string::npos);
    CHECK(coloured.find("\033[1mNAME\033[0m") != std::string::npos);
}

TEST_CASE("cli table: untrusted text becomes one printable line")
{
    CHECK(one_line("two\nlines\tand\rmore") == "two lines and more");
    CHECK(one_line("\033[31mred\033[0m") == "?[31mred?[0m");
    CHECK(one_line("c1 \xc2\x9b"
                   "31m") == "c1 ?31m");
    CHECK(one_line("grüße", 3) == "grü...");
    CHECK(one_line("short", 5) == "short");
    CHECK(paint("x", nullptr, true) == "x");
    CHECK(paint("x", k_red, false) == "x");
}
