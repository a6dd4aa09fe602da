#pragma once

// The operator commands behind daemon/cli.hpp, one file each: cli_status.cpp, cli_rejected.cpp,
// cli_quarantine.cpp, cli_backfill.cpp.

#include "daemon/config.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace c4c::daemon::cli {

/// An operator command line, parsed.
struct Arguments {
    std::string command;             ///< "status", "rejected" or "quarantine"
    std::vector<std::string> words;  ///< what follows the command: "list", "requeue", ids
    std::string config;
    bool json = false;
    bool all = false;
    // backfill
    std::string tenant;
    std::string source;
    std::string from;
    std::string to;
    bool detach = false;
};

/// A usage error of the command, "" when there is none. Checked before the configuration is read.
std::string check_status(const Arguments& args);
std::string check_rejected(const Arguments& args);
std::string check_quarantine(const Arguments& args);
std::string check_backfill(const Arguments& args);

/// Runs the command; its exit code.
int run_status(const Config& config, const Arguments& args);
int run_rejected(const Config& config, const Arguments& args);
int run_quarantine(const Config& config, const Arguments& args);
int run_backfill(const Config& config, const Arguments& args);

/// Writes "c4c-alm-collector: MESSAGE" to stderr; returns 1.
int fail(std::string_view message);
/// The same for a usage error found once the configuration is read (a tenant it lacks); returns 2.
int usage(std::string_view message);

}  // namespace c4c::daemon::cli
