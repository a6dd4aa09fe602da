#include "infra/state_dir.hpp"

#include <fmt/format.h>

#include <sys/stat.h>

#include <cerrno>

namespace c4c::infra {

namespace fs = std::filesystem;

std::error_code create_state_dir(const fs::path& dir)
{
    // "/var/lib/x/" names the same directory as "/var/lib/x".
    const fs::path target = dir.has_filename() ? dir : dir.parent_path();
    std::error_code ec;
    if (fs::is_directory(target, ec)) {
        return {};
    }
    if (const auto parent = target.parent_path(); !parent.empty()) {
        fs::create_directories(parent, ec);
        if (ec) {
            return ec;
        }
    }
    // Created 0700 at once (the umask can only take bits away), never looser for a moment.
    if (::mkdir(target.c_str(), 0700) != 0) {
        const int error = errno;
        if (error == EEXIST && fs::is_directory(target, ec)) {
            return {};  // another process created it meanwhile
        }
        return {error, std::generic_category()};
    }
    // A umask that takes the owner's bits away would leave a directory the daemon cannot use.
    if (::chmod(target.c_str(), 0700) != 0) {
        return {errno, std::generic_category()};
    }
    return {};
}

std::string state_dir_access_warning(const fs::path& dir)
{
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || (st.st_mode & 0007) == 0) {
        return {};
    }
    return fmt::format("state_dir {} has mode {:04o}: other users can read the state store in it (events as read "
                       "from C4C); run `chmod o-rwx {}` unless that is intended (the daemon creates it with mode 0700 "
                       "and leaves an existing directory's mode alone)",
                       dir.string(), st.st_mode & 07777, dir.string());
}

}  // namespace c4c::infra
