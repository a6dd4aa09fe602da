#pragma once

// The operator commands of CONTRACT.md section 1, beside the daemon's own command line:
//
//   c4c-alm-collector status --config FILE [--json]
//   c4c-alm-collector rejected list --config FILE [--json]
//   c4c-alm-collector rejected requeue --config FILE (--all | ID...)
//   c4c-alm-collector rejected drop --config FILE ID...
//   c4c-alm-collector quarantine list --config FILE [--json]
//   c4c-alm-collector quarantine retry --config FILE (--all | ID...)
//   c4c-alm-collector quarantine drop --config FILE ID...
//   c4c-alm-collector backfill --config FILE --tenant T --source S --from TIME --to TIME [--detach] [--json]
//
// Each works whether or not the daemon runs and never blocks or corrupts it: status and list read the
// state store through a read-only connection; requeue, retry and drop leave the queues to a running daemon (a
// job in the store, infra/jobs.hpp) and do the work themselves, under the state directory's lock, when
// none runs; backfill queues a job for the daemon (daemon/backfill.hpp), which waits for one when none
// runs. Exit codes: 0 done, 1 failed (one line on stderr), 2 usage error (one line on stderr).

#include <optional>
#include <string>
#include <string_view>

namespace c4c::daemon {

/// An option's value on the command line.
struct OptionValue {
    std::string value;
    bool missing = false;  ///< the option ends the command line without its value
};

/// When argv[i] is the option `name` (or `short_name`, when given), its value: `name=VALUE`, or the next
/// argument (then `i` moves past it). nullopt when argv[i] is something else. Shared by the daemon's
/// command line (main.cpp) and the operator commands.
std::optional<OptionValue> option_value(int argc, char** argv, int& i, std::string_view name,
                                        std::string_view short_name = {});

/// Runs the operator command that argv names; nullopt when it names none (the daemon's own command line).
std::optional<int> run_operator_command(int argc, char** argv);

/// The operator commands' usage lines, for --help.
extern const char* const k_operator_usage;

}  // namespace c4c::daemon
