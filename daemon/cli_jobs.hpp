#pragma once

// What the operator commands that change the queues (`rejected requeue|drop`, `quarantine retry|drop`)
// share: their ids on the command line, their checks, and how the work is done. A running daemon stays
// the only writer of its queues: the command hands it a job (infra/jobs.hpp) and waits for its result.
// With no daemon, the command takes the state directory's lock and does the work itself.

#include "daemon/cli_commands.hpp"
#include "daemon/config.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace c4c::daemon::cli {

/// A positive decimal id; nullopt for anything else.
std::optional<std::int64_t> parse_id(std::string_view text);
/// The ids after the action word (checked by check_id_command before).
std::vector<std::int64_t> ids_of(const Arguments& args);
/// "3, 5, 8".
std::string joined(const std::vector<std::int64_t>& ids);
/// Writes `text` to stdout and flushes it.
void print(const std::string& text);

/// The usage checks of `<noun> list | <change> (--all | ID...) | drop ID...`; `ids_are` names the ids in
/// a message ("a set-aside event"). "" when the arguments are right.
std::string check_id_command(const Arguments& args, std::string_view noun, std::string_view change,
                             std::string_view ids_are);

/// How one change of the queues is done.
struct QueueChange {
    std::string role;              ///< the state lock's role while the command does the work itself
    std::string job_kind;          ///< the job a running daemon carries out
    std::string arguments;         ///< the job's arguments
    std::function<int()> locally;  ///< under the lock; the exit code
    std::function<int(const std::string& result)> answer;  ///< reports the daemon's result; the exit code
};

/// Runs `change` through a job when a daemon runs (waiting for its result), else locally under the
/// state directory's lock; waits a while when `--once` or another command holds the directory.
int run_queue_change(const Config& config, const QueueChange& change);

}  // namespace c4c::daemon::cli
