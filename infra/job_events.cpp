#include "infra/job_events.hpp"

#include "infra/sqlite.hpp"
#include "infra/state_store.hpp"

namespace c4c::infra {

std::optional<JobEventFigures> job_event_figures(SqliteConnection& db, std::int64_t job)
{
    // Events taken out ahead of the watermark (outbox_gaps) count once the watermark passes them: a
    // moment's undercount, never an overcount.
    ScopedStatement select(db.prepare("SELECT count(*), coalesce(sum(e.seq <= p.delivered), 0) FROM job_events e "
                                      "JOIN endpoints p ON p.id = e.endpoint WHERE e.job = ?1"));
    if (!select) {
        return std::nullopt;
    }
    select.integer(1, job);
    if (select.step() != SQLITE_ROW) {
        db.log_failure("counting a backfill's events");
        return std::nullopt;
    }
    return JobEventFigures{static_cast<std::uint64_t>(select.column_integer(0)),
                           static_cast<std::uint64_t>(select.column_integer(1))};
}

std::size_t prune_job_events(SqliteConnection& db)
{
    ScopedStatement erase(db.prepare("DELETE FROM job_events WHERE job NOT IN (SELECT id FROM jobs)"));
    if (!erase) {
        return 0;
    }
    if (erase.step() != SQLITE_DONE) {
        db.log_failure("pruning the events of finished backfills");
        return 0;
    }
    return static_cast<std::size_t>(sqlite3_changes(db.handle()));
}

std::size_t StateStore::prune_job_events()
{
    return infra::prune_job_events(*m_db);
}

std::optional<JobEventFigures> StateStore::job_event_figures(std::int64_t job)
{
    return infra::job_event_figures(*m_db, job);
}

}  // namespace c4c::infra
