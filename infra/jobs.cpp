#include "infra/jobs.hpp"

#include "infra/sqlite.hpp"
#include "infra/time.hpp"

namespace c4c::infra {

namespace {

std::optional<JobState> parse_state(std::string_view text)
{
    for (const auto state : {JobState::pending, JobState::running, JobState::done, JobState::failed}) {
        if (job_state_name(state) == text) {
            return state;
        }
    }
    return std::nullopt;
}

Job read_job(const ScopedStatement& row)
{
    Job job;
    job.id = row.column_integer(0);
    job.kind = row.column_text(1);
    job.arguments = row.column_text(2);
    // A state this version does not know (a newer one wrote it) is left to that version.
    job.state = parse_state(row.column_text(3)).value_or(JobState::running);
    job.progress = row.column_text(4);
    job.result = row.column_text(5);
    job.created_at_ms = row.column_integer(6);
    job.updated_at_ms = row.column_integer(7);
    return job;
}

std::int64_t now_ms()
{
    return unix_millis(std::chrono::system_clock::now());
}

}  // namespace

std::string_view job_state_name(JobState state)
{
    switch (state) {
    case JobState::pending:
        return "pending";
    case JobState::running:
        return "running";
    case JobState::done:
        return "done";
    case JobState::failed:
        return "failed";
    }
    return "failed";
}

std::optional<std::int64_t> submit_job(SqliteConnection& db, std::string_view kind, std::string_view arguments)
{
    ScopedStatement insert(db.prepare("INSERT INTO jobs (kind, arguments, state, progress, result, created_at, "
                                      "updated_at) VALUES (?1, ?2, 'pending', '', '', ?3, ?3)"));
    if (!insert) {
        return std::nullopt;
    }
    insert.text(1, kind);
    insert.text(2, arguments);
    insert.integer(3, now_ms());
    if (insert.step() != SQLITE_DONE) {
        db.log_failure("queueing an operator job");
        return std::nullopt;
    }
    return sqlite3_last_insert_rowid(db.handle());
}

std::optional<Job> find_job(SqliteConnection& db, std::int64_t id)
{
    ScopedStatement select(db.prepare(
        "SELECT id, kind, arguments, state, progress, result, created_at, updated_at FROM jobs WHERE id = ?1"));
    if (!select) {
        return std::nullopt;
    }
    select.integer(1, id);
    if (select.step() != SQLITE_ROW) {
        return std::nullopt;
    }
    return read_job(select);
}

std::vector<Job> open_jobs(SqliteConnection& db)
{
    std::vector<Job> jobs;
    ScopedStatement select(db.prepare("SELECT id, kind, arguments, state, progress, result, created_at, updated_at "
                                      "FROM jobs WHERE state IN ('pending', 'running') ORDER BY id"));
    while (select && select.step() == SQLITE_ROW) {
        jobs.push_back(read_job(select));
    }
    return jobs;
}

bool update_job(SqliteConnection& db, std::int64_t id, JobState state, std::string_view progress,
                std::string_view result)
{
    ScopedStatement update(
        db.prepare("UPDATE jobs SET state = ?2, progress = ?3, result = ?4, updated_at = ?5 WHERE id = ?1"));
    if (!update) {
        return false;
    }
    update.integer(1, id);
    update.text(2, job_state_name(state));
    update.text(3, progress);
    update.text(4, result);
    update.integer(5, now_ms());
    if (update.step() != SQLITE_DONE) {
        db.log_failure("updating an operator job");
        return false;
    }
    return sqlite3_changes(db.handle()) == 1;
}

bool withdraw_job(SqliteConnection& db, std::int64_t id)
{
    ScopedStatement erase(db.prepare("DELETE FROM jobs WHERE id = ?1 AND state = 'pending'"));
    if (!erase) {
        return false;
    }
    erase.integer(1, id);
    if (erase.step() != SQLITE_DONE) {
        db.log_failure("withdrawing an operator job");
        return false;
    }
    return sqlite3_changes(db.handle()) == 1;
}

std::size_t prune_jobs(SqliteConnection& db, std::chrono::system_clock::time_point horizon)
{
    ScopedStatement erase(db.prepare("DELETE FROM jobs WHERE state IN ('done', 'failed') AND updated_at < ?1"));
    if (!erase) {
        return 0;
    }
    erase.integer(1, unix_millis(horizon));
    if (erase.step() != SQLITE_DONE) {
        db.log_failure("pruning finished operator jobs");
        return 0;
    }
    return static_cast<std::size_t>(sqlite3_changes(db.handle()));
}

}  // namespace c4c::infra
