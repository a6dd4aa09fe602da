#include "collectors_support.hpp"

#include "collectors/pseudonymizer.hpp"

#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

using namespace c4c::collectors;
using namespace collector_tests;
namespace fs = std::filesystem;

namespace {

Pseudonymizer open_ok(const fs::path& dir)
{
    auto p = Pseudonymizer::open(dir);
    REQUIRE_MESSAGE(p.has_value(), (p ? "" : p.error().message));
    return *p;
}

}  // namespace

TEST_CASE("pseudonyms are keyed hashes, stable per key")
{
    TempDir dir{TempDir::create};
    const auto first = open_ok(dir.path);
    const auto key_file = dir.path / Pseudonymizer::k_key_file;
    REQUIRE(fs::exists(key_file));
    CHECK(fs::file_size(key_file) == 32);

    const std::string p = first.pseudonym("OLIVIA.BROWN");
    CHECK(p.size() == 34);
    CHECK(p.rfind("u_", 0) == 0);
    CHECK(p.find_first_not_of("0123456789abcdef", 2) == std::string::npos);
    CHECK(p != "OLIVIA.BROWN");
    CHECK(p.find("OLIVIA") == std::string::npos);
    CHECK(first.pseudonym("OLIVIA.BROWN") == p);
    CHECK(first.pseudonym("LUCAS.MARTIN") != p);
    CHECK(first.pseudonym("olivia.brown") != p);  // user IDs are compared as sent
    CHECK(first.pseudonym("").size() == 34);

    SUBCASE("a second instance on the same state_dir reuses the key file")
    {
        const auto before = fs::last_write_time(key_file);
        const auto second = open_ok(dir.path);
        CHECK(second.pseudonym("OLIVIA.BROWN") == p);
        CHECK(fs::last_write_time(key_file) == before);
    }
    SUBCASE("another state_dir has another key")
    {
        TempDir other{TempDir::create};
        CHECK(open_ok(other.path).pseudonym("OLIVIA.BROWN") != p);
    }
    SUBCASE("no temporary files are left behind")
    {
        int entries = 0;
        for ([[maybe_unused]] const auto& entry : fs::directory_iterator(dir.path)) {
            ++entries;
        }
        CHECK(entries == 1);
    }
}

TEST_CASE("the key file is private: mode 0600")
{
    TempDir dir{TempDir::create};
    const ::mode_t old_umask = ::umask(0);  // even a permissive umask must not widen it
    open_ok(dir.path);
    ::umask(old_umask);
    struct stat st {};
    REQUIRE(::stat((dir.path / Pseudonymizer::k_key_file).c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
}

TEST_CASE("a known key gives a known pseudonym (HMAC-SHA256, first 16 bytes)")
{
    Pseudonymizer::Key key{};
    for (std::size_t i = 0; i < key.size(); ++i) {
        key[i] = static_cast<unsigned char>(i);
    }
    // printf 'OLIVIA.BROWN' | openssl dgst -sha256 -mac HMAC -macopt hexkey:000102...1f
    CHECK(Pseudonymizer(key).pseudonym("OLIVIA.BROWN") == "u_9da60c0153bd0ee112898e9b35dc53b1");
}

TEST_CASE("the state directory is created when missing, with mode 0700")
{
    TempDir dir{TempDir::create};
    const auto nested = dir.path / "a" / "b";
    const ::mode_t old_umask = ::umask(022);
    open_ok(nested);
    ::umask(old_umask);
    CHECK(fs::exists(nested / Pseudonymizer::k_key_file));
    struct stat st {};
    REQUIRE(::stat(nested.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0700);
}

TEST_CASE("a dry run's key: the stored one when readable, else one in memory; nothing is written")
{
    TempDir dir{TempDir::create};
    std::string note;
    SUBCASE("no state directory: a temporary key, and the directory is not created")
    {
        const auto missing = dir.path / "state";
        auto first = Pseudonymizer::open_without_writing(missing, note);
        REQUIRE(first.has_value());
        CHECK(note.find("no pseudonymization key") != std::string::npos);
        CHECK(note.find((missing / Pseudonymizer::k_key_file).string()) != std::string::npos);
        CHECK_FALSE(fs::exists(missing));
        auto second = Pseudonymizer::open_without_writing(missing, note);
        REQUIRE(second.has_value());
        CHECK(first->pseudonym("OLIVIA.BROWN") != second->pseudonym("OLIVIA.BROWN"));  // random each time
        CHECK(fs::is_empty(dir.path));
    }
    SUBCASE("a stored key is used as it is, even with a loose mode")
    {
        const auto stored = open_ok(dir.path);
        const auto key_file = dir.path / Pseudonymizer::k_key_file;
        fs::permissions(key_file, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);
        auto dry = Pseudonymizer::open_without_writing(dir.path, note);
        REQUIRE(dry.has_value());
        CHECK(note.empty());
        CHECK(dry->pseudonym("OLIVIA.BROWN") == stored.pseudonym("OLIVIA.BROWN"));
        struct stat st {};
        REQUIRE(::stat(key_file.c_str(), &st) == 0);
        CHECK((st.st_mode & 0777) == 0640);  // a normal run tightens it; a dry run changes nothing
    }
    SUBCASE("a corrupt stored key: a temporary key, the reason in the note, the file left alone")
    {
        const auto key_file = dir.path / Pseudonymizer::k_key_file;
        std::ofstream(key_file) << "short";
        auto dry = Pseudonymizer::open_without_writing(dir.path, note);
        REQUIRE(dry.has_value());
        CHECK(note.find("corrupt") != std::string::npos);
        CHECK(fs::file_size(key_file) == 5);
    }
}

TEST_CASE("an unusable state directory is an error, never a fallback")
{
    TempDir dir{TempDir::create};
    // A path below a regular file can be created by nobody, not even root.
    std::ofstream(dir.path / "file") << "x";
    auto p = Pseudonymizer::open(dir.path / "file" / "state");
    REQUIRE_FALSE(p.has_value());
    CHECK(p.error().message.find("pseudonymization key") != std::string::npos);
    CHECK(p.error().message.find((dir.path / "file").string()) != std::string::npos);
}

TEST_CASE("an unreadable or corrupt key file is an error and is left alone")
{
    TempDir dir{TempDir::create};
    const auto key_file = dir.path / Pseudonymizer::k_key_file;
    SUBCASE("too short")
    {
        std::ofstream(key_file) << "short";
        auto p = Pseudonymizer::open(dir.path);
        REQUIRE_FALSE(p.has_value());
        CHECK(p.error().message.find("corrupt") != std::string::npos);
        CHECK(fs::file_size(key_file) == 5);
    }
    SUBCASE("too long")
    {
        std::ofstream(key_file) << std::string(64, 'k');
        CHECK_FALSE(Pseudonymizer::open(dir.path).has_value());
    }
    SUBCASE("a directory in its place")
    {
        fs::create_directories(key_file);
        CHECK_FALSE(Pseudonymizer::open(dir.path).has_value());
    }
}
