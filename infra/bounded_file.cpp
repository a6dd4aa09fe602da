#include "infra/bounded_file.hpp"

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

namespace c4c::infra {

FileContent read_bounded_file(const std::filesystem::path& path, std::size_t limit)
{
    const std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
    if (!file) {
        return {std::nullopt, std::strerror(errno)};
    }
    std::string content;
    std::array<char, 4096> buffer{};
    while (const std::size_t n = std::fread(buffer.data(), 1, buffer.size(), file.get())) {
        content.append(buffer.data(), n);
        if (content.size() > limit) {
            return {std::nullopt, "larger than " + std::to_string(limit) + " bytes"};
        }
    }
    if (std::ferror(file.get())) {
        return {std::nullopt, std::strerror(errno)};
    }
    return {std::move(content), {}};
}

}  // namespace c4c::infra
