#pragma once

// Operator jobs: how an operator command asks a running daemon to change its queues. The command inserts
// a row into the state store's `jobs` table; the daemon, the only writer of its queues, looks for open
// jobs about once a second, does the work and marks the job done or failed in the same transaction; the
// command waits for that. A job that was never taken (no daemon) is withdrawn by the command, which then
// does the work itself under the state directory's lock (infra/state_lock.hpp).
//
// Kinds and their `arguments` (JSON):
//   rejected_requeue   {"all": true} or {"ids": [1, 2]}: set-aside events back into their queues
//   rejected_drop      {"ids": [1, 2]}: set-aside events deleted
//   quarantine_retry   {"all": true} or {"ids": [1, 2]}: quarantined records normalized again (daemon/quarantine_jobs)
//   quarantine_drop    {"ids": [1, 2]}: quarantined records deleted
// A long job (a backfill: {"tenant", "source", "from", "to"}) stays `running` across restarts and keeps
// its resume point in `progress`, which its command shows; `result` is the last word of a finished job.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace c4c::infra {

class SqliteConnection;

inline constexpr std::string_view k_job_rejected_requeue = "rejected_requeue";
inline constexpr std::string_view k_job_rejected_drop = "rejected_drop";
inline constexpr std::string_view k_job_quarantine_retry = "quarantine_retry";
inline constexpr std::string_view k_job_quarantine_drop = "quarantine_drop";

enum class JobState { pending, running, done, failed };

/// "pending", "running", "done", "failed".
std::string_view job_state_name(JobState state);

struct Job {
    std::int64_t id = 0;
    std::string kind;
    std::string arguments;  ///< JSON
    JobState state = JobState::pending;
    std::string progress;  ///< JSON or "", written by the worker as it goes
    std::string result;    ///< JSON or "", written when done or failed
    std::int64_t created_at_ms = 0;
    std::int64_t updated_at_ms = 0;
};

// Each function runs one statement on `db` (inside the caller's transaction when there is one) and logs
// what fails, naming the file.

/// Queues a job; its id, nullopt when SQLite failed.
std::optional<std::int64_t> submit_job(SqliteConnection& db, std::string_view kind, std::string_view arguments);
/// The job with that id, nullopt when there is none (or SQLite failed).
std::optional<Job> find_job(SqliteConnection& db, std::int64_t id);
/// Pending and running jobs, oldest first.
std::vector<Job> open_jobs(SqliteConnection& db);
/// Sets a job's state, progress and result. False when SQLite failed or there is no such job.
bool update_job(SqliteConnection& db, std::int64_t id, JobState state, std::string_view progress,
                std::string_view result);
/// Deletes the job if it is still pending (no daemon took it). True when it did.
bool withdraw_job(SqliteConnection& db, std::int64_t id);
/// Deletes done and failed jobs last updated before `horizon`. How many went.
std::size_t prune_jobs(SqliteConnection& db, std::chrono::system_clock::time_point horizon);

}  // namespace c4c::infra
