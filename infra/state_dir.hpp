#pragma once

// Creating the state directory. It holds the outbox (records as read from C4C), the checkpoints and the
// pseudonymization key, so whoever creates it (the daemon, `--once`, an operator command with no daemon
// running, the first pseudonymization key) creates it with mode 0700, whatever the umask. A directory
// that exists already is left as it is: its mode is the administrator's choice (systemd's
// StateDirectoryMode=, or a group allowed to read it); the daemon warns at start-up when other users can
// reach into it (state_dir_access_warning).

#include <filesystem>
#include <string>
#include <system_error>

namespace c4c::infra {

/// Creates `dir` with mode 0700 when it does not exist (missing parents as the umask says); an existing
/// directory is left unchanged. Returns the error when `dir` cannot be created or is not a directory.
/// Never throws.
std::error_code create_state_dir(const std::filesystem::path& dir);

/// One line for the log when users other than the owner and group of an existing `dir` may enter or list
/// it (mode bits 0007); "" when they may not, or `dir` cannot be examined.
std::string state_dir_access_warning(const std::filesystem::path& dir);

}  // namespace c4c::infra
