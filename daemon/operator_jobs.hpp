#pragma once

// The daemon's side of the operator commands that change its queues (`rejected requeue`, `rejected
// drop`): it looks for open jobs in the state store about once a second (infra/jobs.hpp), does each in
// one transaction with marking it done, and wakes the delivery loops of the endpoints that got events
// back. The command's side (daemon/cli_rejected.cpp) does the same work itself when no daemon runs.
// The quarantine's jobs need the configuration and are run_quarantine_jobs' (daemon/quarantine_jobs.hpp),
// called beside run_operator_jobs, which leaves them alone.

#include "infra/state_store.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace c4c::daemon {

/// Runs the open jobs of `store`, oldest first, on the event loop; calls `wake(endpoint)` for each endpoint
/// whose queue got events back. A job this version cannot do (an unknown kind, unreadable arguments) is
/// marked failed with the reason. Cheap when there is none: one indexed read of a small table.
void run_operator_jobs(infra::StateStore& store, const std::function<void(std::int64_t endpoint)>& wake);

/// A job's arguments for `which`: {"all":true} or {"ids":[...]}.
std::string selection_arguments(const infra::RejectedSelection& which);
/// The selection in a job's arguments; nullopt when they are not one.
std::optional<infra::RejectedSelection> parse_selection(std::string_view arguments);

/// A finished job's result: {"events":N} or {"missing":[...]} or {"error":"..."}.
std::string change_result(const infra::RejectedChange& change);
/// The change a job's result describes (a failed one when the result is unreadable).
infra::RejectedChange parse_change(std::string_view result);

}  // namespace c4c::daemon
