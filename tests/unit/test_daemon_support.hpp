#pragma once

// What the daemon's unit tests share: a state store in a directory of its own, removed afterwards.

#include <filesystem>
#include <random>
#include <string>

namespace c4c::daemon::test {

struct TempDir {
    std::filesystem::path path;
    TempDir()
    {
        std::random_device random;
        path = std::filesystem::temp_directory_path() / ("c4c-daemon-test-" + std::to_string(random()));
        std::filesystem::remove_all(path);
    }
    ~TempDir() { std::filesystem::remove_all(path); }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
};

}  // namespace c4c::daemon::test
