// The state store's members for the quarantine as the operator sees it: the records, their count per
// source, and dropping them (state_store.hpp declares them; retry_quarantined, which appends to the
// outbox, is in state_store.cpp beside the queues). Small statements on a table of a few rows per bad record.

#include "infra/sqlite.hpp"
#include "infra/state_store.hpp"

#include <algorithm>

namespace c4c::infra {

namespace {

// The schema that added the quarantine table.
constexpr int k_quarantine_schema_version = 5;

QuarantinedRow read_row(const ScopedStatement& row)
{
    return QuarantinedRow{row.column_integer(0), row.column_text(1), row.column_text(2),
                          row.column_text(3),    row.column_text(4), row.column_text(5),
                          row.column_text(6),    row.column_text(7), row.column_integer(8)};
}

}  // namespace

std::string_view quarantine_outcome_name(QuarantineOutcome outcome)
{
    switch (outcome) {
    case QuarantineOutcome::queued:
        return "queued";
    case QuarantineOutcome::already_stored:
        return "already_stored";
    case QuarantineOutcome::still_quarantined:
        return "still_quarantined";
    case QuarantineOutcome::skipped:
        return "skipped";
    }
    return "skipped";
}

std::vector<QuarantinedRow> StateStore::quarantined_records()
{
    std::vector<QuarantinedRow> rows;
    if (m_schema < k_quarantine_schema_version) {
        return rows;
    }
    ScopedStatement select(m_db->prepare("SELECT id, tenant, source, feed, object_key, reason, detail, raw, first_seen "
                                         "FROM quarantine ORDER BY id"));
    while (select && select.step() == SQLITE_ROW) {
        rows.push_back(read_row(select));
    }
    return rows;
}

std::vector<QuarantineCount> StateStore::quarantine_counts()
{
    std::vector<QuarantineCount> counts;
    if (m_schema < k_quarantine_schema_version) {
        return counts;
    }
    ScopedStatement select(m_db->prepare(
        "SELECT tenant, source, count(*) FROM quarantine GROUP BY tenant, source ORDER BY tenant, source"));
    while (select && select.step() == SQLITE_ROW) {
        counts.push_back(QuarantineCount{select.column_text(0), select.column_text(1),
                                         static_cast<std::uint64_t>(select.column_integer(2))});
    }
    return counts;
}

// Begins the transaction of an operator's change to quarantined records and reads the selected rows, in id
// order; ids that are not there go to `change.missing`. False, rolled back, when one is missing or SQLite
// failed (`change.failed`).
bool StateStore::begin_quarantine_change(const QuarantineSelection& which, std::vector<QuarantinedRow>& rows,
                                         QuarantineChange& change)
{
    const auto read = [&] {
        return select_by_ids(
            *m_db, which.all, which.ids,
            "SELECT id, tenant, source, feed, object_key, reason, detail, raw, first_seen FROM quarantine ORDER BY id",
            "SELECT id, tenant, source, feed, object_key, reason, detail, raw, first_seen FROM quarantine WHERE id = "
            "?1",
            [&](const ScopedStatement& row) { rows.push_back(read_row(row)); }, change.missing);
    };
    return m_db->begin_and_read(
        "reading quarantined records", read, [&] { return change.missing.empty(); }, change.failed);
}

QuarantineChange StateStore::drop_quarantined(const QuarantineSelection& which,
                                              const std::function<bool(const QuarantineChange&)>& also)
{
    QuarantineChange change;
    std::vector<QuarantinedRow> rows;
    if (!begin_quarantine_change(which, rows, change)) {
        return change;
    }
    ScopedStatement erase(m_db->prepare("DELETE FROM quarantine WHERE id = ?1"));
    bool deleted = static_cast<bool>(erase);
    for (const auto& row : rows) {
        if (!deleted) {
            break;
        }
        erase.integer(1, row.id);
        deleted = erase.step() == SQLITE_DONE;
        sqlite3_reset(erase.get());
    }
    change.dropped = rows.size();
    if (!deleted || (also && !also(change)) || !m_db->exec("COMMIT")) {
        if (!deleted) {
            m_db->log_failure("dropping quarantined records");
        }
        m_db->exec("ROLLBACK");
        return QuarantineChange{true, {}, {}, 0, {}};
    }
    return change;
}

}  // namespace c4c::infra
