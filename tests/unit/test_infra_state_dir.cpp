#include "infra/state_dir.hpp"

#include "infra/state_lock.hpp"
#include "infra/state_store.hpp"
#include "temp_dir.hpp"

#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace {

namespace fs = std::filesystem;
using namespace c4c::infra;
using namespace std::chrono_literals;

using unit_tests::TempDir;

unsigned mode_of(const fs::path& path)
{
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    return st.st_mode & 07777;
}

// Runs `fn` under `mask`, restoring the process's umask afterwards.
template <class Fn>
void with_umask(::mode_t mask, Fn fn)
{
    const ::mode_t old = ::umask(mask);
    fn();
    ::umask(old);
}

}  // namespace

TEST_SUITE_BEGIN("state_dir");

TEST_CASE("the state directory is created with mode 0700 whatever the umask; parents as the umask says")
{
    TempDir dir{TempDir::create};
    for (const ::mode_t mask : {::mode_t{0}, ::mode_t{022}, ::mode_t{077}}) {
        CAPTURE(mask);
        const auto state = dir.path / ("parent-" + std::to_string(mask)) / "state";
        with_umask(mask, [&] { CHECK_FALSE(create_state_dir(state)); });
        CHECK(mode_of(state) == 0700);
        if (mask == 022) {
            CHECK(mode_of(state.parent_path()) == 0755);
        }
    }
    with_umask(022, [&] { CHECK_FALSE(create_state_dir(dir.path / "slash" / "")); });
    CHECK(mode_of(dir.path / "slash") == 0700);
}

TEST_CASE("an existing state directory keeps its mode; a world-accessible one gets a warning")
{
    TempDir dir{TempDir::create};
    const auto state = dir.path / "state";
    fs::create_directories(state);
    ::chmod(state.c_str(), 0750);
    CHECK_FALSE(create_state_dir(state));
    CHECK(mode_of(state) == 0750);
    CHECK(state_dir_access_warning(state).empty());  // a group may be the administrator's choice

    ::chmod(state.c_str(), 0755);
    CHECK_FALSE(create_state_dir(state));
    CHECK(mode_of(state) == 0755);
    const auto warning = state_dir_access_warning(state);
    CHECK(warning.find("state_dir " + state.string() + " has mode 0755") != std::string::npos);
    CHECK(warning.find("chmod o-rwx") != std::string::npos);
    CHECK(state_dir_access_warning(dir.path / "missing").empty());
}

TEST_CASE("a path that cannot be a directory is an error")
{
    TempDir dir{TempDir::create};
    std::ofstream(dir.path / "file") << "x";
    CHECK(create_state_dir(dir.path / "file"));
    CHECK(create_state_dir(dir.path / "file" / "state"));
}

TEST_CASE("the lock and the state store create a missing state directory with mode 0700")
{
    TempDir dir{TempDir::create};
    with_umask(022, [&] {
        const auto locked = dir.path / "locked";
        {
            auto lock = StateLock::acquire(locked, "test", 1s);
        }
        CHECK(mode_of(locked) == 0700);
        const auto stored = dir.path / "stored";
        {
            StateStore store(stored);
        }
        CHECK(mode_of(stored) == 0700);
    });
}

TEST_SUITE_END();
