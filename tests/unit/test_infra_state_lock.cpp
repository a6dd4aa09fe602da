#include "infra/state_lock.hpp"

#include "temp_dir.hpp"

#include <doctest/doctest.h>

#include <unistd.h>

#include <filesystem>
#include <string>

using namespace c4c::infra;
using namespace std::chrono_literals;

using unit_tests::TempDir;

TEST_CASE("state lock: one holder at a time, named in the file, released when destroyed")
{
    TempDir dir;
    CHECK_FALSE(StateLock::holder(dir.path));  // no directory, no daemon
    {
        auto lock = StateLock::acquire(dir.path / "state", "daemon", 1s);
        CHECK(std::filesystem::status(dir.path / "state").permissions() == std::filesystem::perms::owner_all);
        const auto holder = StateLock::holder(dir.path / "state");
        REQUIRE(holder);
        CHECK(holder->pid == ::getpid());
        CHECK(holder->role == "daemon");
        CHECK(describe(*holder) == "pid " + std::to_string(::getpid()) + " (daemon)");
        // flock(2) locks belong to the open file: a second open in this process is another holder.
        CHECK_FALSE(StateLock::try_acquire(dir.path / "state", "rejected requeue"));
        CHECK_THROWS_WITH_AS(StateLock::acquire(dir.path / "state", "daemon", 100ms),
                             doctest::Contains("is in use by pid"), std::runtime_error);
        // A probe takes nothing from the holder.
        CHECK(StateLock::holder(dir.path / "state"));
    }
    CHECK_FALSE(StateLock::holder(dir.path / "state"));
    auto next = StateLock::try_acquire(dir.path / "state", "rejected drop");
    REQUIRE(next);
    auto moved = std::move(*next);
    CHECK(StateLock::holder(dir.path / "state")->role == "rejected drop");
}
