#pragma once

// A path of a test's own below the system's temporary directory, shared by every unit test binary.

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <random>
#include <string>
#include <system_error>

namespace unit_tests {

/// A fresh path below the system's temporary directory (unique per process, test and instance), removed
/// with everything below it at the end of the scope. TempDir() leaves the path free, for a test of what
/// creates it (the state store makes its directory); TempDir(TempDir::create) makes the directory.
struct TempDir {
    enum class Make { path_only, directory };
    static constexpr Make create = Make::directory;

    explicit TempDir(Make make = Make::path_only)
    {
        static std::atomic<unsigned> counter{0};
        std::random_device random;
        path = std::filesystem::temp_directory_path() / ("c4c-unit-" + std::to_string(::getpid()) + "-" +
                                                         std::to_string(counter++) + "-" + std::to_string(random()));
        std::filesystem::remove_all(path);
        if (make == Make::directory) {
            std::filesystem::create_directories(path);
        }
    }
    ~TempDir()
    {
        std::error_code ignored;
        std::filesystem::remove_all(path, ignored);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    std::filesystem::path path;
};

}  // namespace unit_tests
