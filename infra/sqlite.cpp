#include "infra/sqlite.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <stdexcept>

namespace c4c::infra {

namespace {

// SQLite gives every connection's page cache a bulk allocation of 20 pages at its first read (330 KiB
// with our 16 KiB pages) that lives as long as the connection: the WAL checkpointer's connection, which
// caches nothing worth keeping, held it for good, and the store's stayed at it when idle. Without it,
// pages are allocated one by one, and release_memory() gives back every page not in use. Process-wide,
// before SQLite's initialization (the first open); if something initialized SQLite before, it stays.
void configure_sqlite_once()
{
    static const bool configured = [] {
        sqlite3_config(SQLITE_CONFIG_PAGECACHE, nullptr, 0, 0);
        return true;
    }();
    (void)configured;
}

}  // namespace

SqliteConnection::SqliteConnection(const std::filesystem::path& file, int flags, std::string_view purpose)
    : m_file(file)
{
    configure_sqlite_once();
    if (sqlite3_open_v2(file.c_str(), &m_db, flags | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK) {
        std::string message = m_db ? sqlite3_errmsg(m_db) : "out of memory";
        sqlite3_close(m_db);
        throw std::runtime_error("cannot open state store " + file.string() + std::string(purpose) + ": " + message);
    }
}

SqliteConnection::~SqliteConnection()
{
    for (auto& [sql, statement] : m_statements) {
        sqlite3_finalize(statement);
    }
    sqlite3_close(m_db);
}

bool SqliteConnection::exec(const char* sql)
{
    char* error = nullptr;
    if (sqlite3_exec(m_db, sql, nullptr, nullptr, &error) != SQLITE_OK) {
        spdlog::error("state store {}: {} failed: {}", m_file.string(), sql, error ? error : "unknown error");
        sqlite3_free(error);
        return false;
    }
    return true;
}

sqlite3_stmt* SqliteConnection::prepare(const char* sql)
{
    if (auto it = m_statements.find(sql); it != m_statements.end()) {
        return it->second;
    }
    sqlite3_stmt* statement = nullptr;
    if (sqlite3_prepare_v3(m_db, sql, -1, SQLITE_PREPARE_PERSISTENT, &statement, nullptr) != SQLITE_OK) {
        log_failure(sql);
        return nullptr;
    }
    m_statements.emplace(sql, statement);
    return statement;
}

bool SqliteConnection::begin_and_read(std::string_view what, const std::function<bool()>& read,
                                      const std::function<bool()>& go_on, bool& failed)
{
    if (!exec("BEGIN IMMEDIATE")) {
        failed = true;
        return false;
    }
    if (!read()) {
        log_failure(what);
        exec("ROLLBACK");
        failed = true;
        return false;
    }
    if (!go_on()) {
        exec("ROLLBACK");
        return false;
    }
    return true;
}

void SqliteConnection::log_failure(std::string_view what) const
{
    spdlog::error("state store {}: {}: {} (events stay where they were; the operation is retried)", m_file.string(),
                  what, sqlite3_errmsg(m_db));
}

bool select_by_ids(SqliteConnection& db, bool all, std::span<const std::int64_t> ids, const char* all_sql,
                   const char* one_sql, const std::function<void(const ScopedStatement&)>& on_row,
                   std::vector<std::int64_t>& missing)
{
    if (all) {
        ScopedStatement select(db.prepare(all_sql));
        if (!select) {
            return false;
        }
        int rc = SQLITE_ROW;
        while ((rc = select.step()) == SQLITE_ROW) {
            on_row(select);
        }
        return rc == SQLITE_DONE;
    }
    std::vector<std::int64_t> distinct(ids.begin(), ids.end());
    std::sort(distinct.begin(), distinct.end());
    distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
    ScopedStatement select(db.prepare(one_sql));
    if (!select) {
        return false;
    }
    for (const auto id : distinct) {
        select.integer(1, id);
        const int rc = select.step();
        if (rc == SQLITE_ROW) {
            on_row(select);
        } else if (rc == SQLITE_DONE) {
            missing.push_back(id);
        } else {
            return false;
        }
        sqlite3_reset(select.get());
    }
    return true;
}

}  // namespace c4c::infra
