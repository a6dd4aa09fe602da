// The state store's members for the operator's view: what the daemon records about its sources and
// endpoints, the set-aside events, and the jobs table (state_store.hpp declares them). Small statements
// on tables of a few rows per source or endpoint; none touches the outbox.

#include "infra/jobs.hpp"
#include "infra/sqlite.hpp"
#include "infra/state_schema.hpp"
#include "infra/state_store.hpp"

namespace c4c::infra {

namespace {

// The schema that added source_status, endpoint_status and jobs.
constexpr int k_status_schema_version = 4;

}  // namespace

bool StateStore::record_poll(const PollRecord& poll)
{
    ScopedStatement save(m_db->prepare(
        "INSERT INTO source_status (tenant, source, polled_at, ok, outcome, message, records, stored, "
        "last_success_at, consecutive_failures) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, CASE WHEN ?4 THEN ?3 END, "
        "CASE WHEN ?4 THEN 0 ELSE 1 END) "
        "ON CONFLICT (tenant, source) DO UPDATE SET polled_at = excluded.polled_at, ok = excluded.ok, "
        "outcome = excluded.outcome, message = excluded.message, records = excluded.records, stored = excluded.stored, "
        "last_success_at = coalesce(excluded.last_success_at, source_status.last_success_at), "
        "consecutive_failures = CASE WHEN excluded.ok THEN 0 ELSE source_status.consecutive_failures + 1 END"));
    if (!save) {
        return false;
    }
    save.text(1, poll.tenant);
    save.text(2, poll.source);
    save.integer(3, poll.polled_at_ms);
    save.integer(4, poll.ok ? 1 : 0);
    save.text(5, poll.outcome);
    save.text(6, poll.message);
    save.integer(7, static_cast<std::int64_t>(poll.records));
    save.integer(8, static_cast<std::int64_t>(poll.stored));
    if (save.step() != SQLITE_DONE) {
        m_db->log_failure("recording a poll");
        return false;
    }
    return true;
}

std::vector<PollRecord> StateStore::poll_records()
{
    std::vector<PollRecord> polls;
    if (m_schema < k_status_schema_version) {
        return polls;
    }
    ScopedStatement select(m_db->prepare("SELECT tenant, source, polled_at, ok, outcome, message, records, stored, "
                                         "last_success_at, consecutive_failures FROM source_status"));
    while (select && select.step() == SQLITE_ROW) {
        PollRecord poll;
        poll.tenant = select.column_text(0);
        poll.source = select.column_text(1);
        poll.polled_at_ms = select.column_integer(2);
        poll.ok = select.column_integer(3) != 0;
        poll.outcome = select.column_text(4);
        poll.message = select.column_text(5);
        poll.records = static_cast<std::uint64_t>(select.column_integer(6));
        poll.stored = static_cast<std::uint64_t>(select.column_integer(7));
        if (sqlite3_column_type(select.get(), 8) != SQLITE_NULL) {
            poll.last_success_ms = select.column_integer(8);
        }
        poll.consecutive_failures = static_cast<std::uint64_t>(select.column_integer(9));
        polls.push_back(std::move(poll));
    }
    return polls;
}

bool StateStore::record_delivery(const DeliveryRecord& delivery)
{
    ScopedStatement save(m_db->prepare("INSERT OR REPLACE INTO endpoint_status (endpoint, state, reason, since) "
                                       "VALUES (?1, ?2, ?3, ?4)"));
    if (!save) {
        return false;
    }
    save.integer(1, delivery.endpoint);
    save.text(2, delivery.state);
    save.text(3, delivery.reason);
    save.integer(4, delivery.since_ms);
    if (save.step() != SQLITE_DONE) {
        m_db->log_failure("recording an endpoint's delivery state");
        return false;
    }
    return true;
}

std::vector<DeliveryRecord> StateStore::delivery_records()
{
    std::vector<DeliveryRecord> records;
    if (m_schema < k_status_schema_version) {
        return records;
    }
    ScopedStatement select(m_db->prepare("SELECT endpoint, state, reason, since FROM endpoint_status"));
    while (select && select.step() == SQLITE_ROW) {
        records.push_back(DeliveryRecord{select.column_integer(0), select.column_text(1), select.column_text(2),
                                         select.column_integer(3)});
    }
    return records;
}

std::vector<RejectedEvent> StateStore::rejected_events()
{
    std::vector<RejectedEvent> events;
    if (m_schema == 0) {
        return events;  // a file being created: no tables yet
    }
    ScopedStatement select(
        m_db->prepare("SELECT r.seq, e.tenant, e.use_case, r.event_id, r.payload, r.answer, r.rejected_at "
                      "FROM rejected r JOIN endpoints e ON e.id = r.endpoint ORDER BY r.seq"));
    while (select && select.step() == SQLITE_ROW) {
        events.push_back(RejectedEvent{select.column_integer(0), select.column_text(1), select.column_text(2),
                                       select.column_text(3), select.column_text(4), select.column_text(5),
                                       select.column_integer(6)});
    }
    return events;
}

std::vector<Job> StateStore::open_jobs()
{
    if (m_schema < k_status_schema_version) {
        return {};
    }
    return infra::open_jobs(*m_db);
}

bool StateStore::update_job(std::int64_t id, JobState state, std::string_view progress, std::string_view result)
{
    return infra::update_job(*m_db, id, state, progress, result);
}

std::size_t StateStore::prune_jobs(std::chrono::system_clock::time_point horizon)
{
    return infra::prune_jobs(*m_db, horizon);
}

}  // namespace c4c::infra
