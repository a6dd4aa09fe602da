#pragma once

// A whole small file read at once, with a bound on its size: the configuration, a secret, a CA file.

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>

namespace c4c::infra {

struct FileContent {
    std::optional<std::string> content;
    std::string error;  ///< strerror-style reason when `content` is empty, or "larger than N bytes"
};

/// The content of `path`, or why it cannot be read (including a file larger than `limit` bytes).
FileContent read_bounded_file(const std::filesystem::path& path, std::size_t limit);

}  // namespace c4c::infra
