#pragma once

// The events a backfill job stored (the `job_events` table, written by StateStore::commit_page with a
// BackfillPage): each job stores an event.id once, also after a resume, and its command counts how many
// of them left the outbox. A job's rows go when the job itself is pruned (infra/jobs.hpp).
//
// A backfill job (kind k_job_backfill) has the arguments {"tenant", "source", "from", "to"} (ISO 8601 UTC,
// ms) and keeps its progress {"cursors": {feed: cursor}, "read": N, "queued": N, "error": "..."} in the job
// row, written in the same transaction as each page's events.

#include <cstdint>
#include <optional>
#include <string_view>

namespace c4c::infra {

class SqliteConnection;

inline constexpr std::string_view k_job_backfill = "backfill";

struct JobEventFigures {
    std::uint64_t queued = 0;     ///< events the job stored in the outbox
    std::uint64_t delivered = 0;  ///< of those, how many are at or below their endpoint's delivered watermark
};

/// The figures of job `job`, read on `db` (read-only is enough); nullopt when SQLite failed (or the file
/// predates the table).
std::optional<JobEventFigures> job_event_figures(SqliteConnection& db, std::int64_t job);

/// Deletes the rows of jobs that are no longer in the jobs table. How many went; logged when SQLite failed.
std::size_t prune_job_events(SqliteConnection& db);

}  // namespace c4c::infra
