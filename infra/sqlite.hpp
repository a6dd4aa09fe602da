#pragma once

// The state store's layer over the SQLite C API: a connection used by one thread, its prepared statements
// cached, and a scope that resets a statement whatever way it is left. Failures are logged naming the file.

#include <sqlite3.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace c4c::infra {

/// A connection to one database file, used by one thread only (SQLITE_OPEN_NOMUTEX), with the statements
/// it prepared kept for reuse. Finalizes them and closes the connection when destroyed.
class SqliteConnection {
public:
    /// Opens `file` with `flags` (SQLITE_OPEN_*). Throws std::runtime_error naming the file, `purpose` (e.g.
    /// " for checkpoints") and SQLite's message when it cannot.
    SqliteConnection(const std::filesystem::path& file, int flags, std::string_view purpose = {});
    ~SqliteConnection();
    SqliteConnection(const SqliteConnection&) = delete;
    SqliteConnection& operator=(const SqliteConnection&) = delete;

    sqlite3* handle() const { return m_db; }
    const std::filesystem::path& file() const { return m_file; }

    /// Runs `sql` (statements without results). False, logged with the statement, when it fails.
    bool exec(const char* sql);
    /// The statement for `sql` (a constant text: its address is the key), prepared on first use and kept
    /// (SQLite re-prepares one by itself after a schema change). nullptr, logged, when SQLite refuses it.
    sqlite3_stmt* prepare(const char* sql);
    /// Begins a write transaction (BEGIN IMMEDIATE) and runs `read` in it. True when both succeed and
    /// `go_on()` then holds: the caller carries on inside the transaction. Otherwise it is rolled back and
    /// false returned, with `failed` set when SQLite failed (logged with `what`).
    bool begin_and_read(std::string_view what, const std::function<bool()>& read, const std::function<bool()>& go_on,
                        bool& failed);
    /// Logs that `what` failed, with SQLite's message for it.
    void log_failure(std::string_view what) const;
    /// SQLite's message for the last failure.
    const char* error_message() const { return sqlite3_errmsg(m_db); }

private:
    std::filesystem::path m_file;
    sqlite3* m_db = nullptr;
    std::map<const char*, sqlite3_stmt*> m_statements;
};

/// A prepared statement in use: binds, steps and reads columns, and resets the statement (clearing its
/// bindings) when the scope ends, whatever path it takes. Holds nothing when prepare() failed.
class ScopedStatement {
public:
    explicit ScopedStatement(sqlite3_stmt* statement) : m_statement(statement) {}
    ~ScopedStatement()
    {
        if (m_statement) {
            sqlite3_reset(m_statement);
            sqlite3_clear_bindings(m_statement);
        }
    }
    ScopedStatement(const ScopedStatement&) = delete;
    ScopedStatement& operator=(const ScopedStatement&) = delete;

    explicit operator bool() const { return m_statement != nullptr; }
    sqlite3_stmt* get() const { return m_statement; }

    /// Binds without copying (SQLITE_STATIC): `value` must outlive the step.
    void text(int index, std::string_view value) const
    {
        sqlite3_bind_text(m_statement, index, value.data(), static_cast<int>(value.size()), SQLITE_STATIC);
    }
    /// A temporary string would be gone before the step reads it (ASan: stack-use-after-scope).
    void text(int index, std::string&& value) const = delete;
    /// Bytes bound as a BLOB, without copying.
    void blob(int index, std::string_view value) const
    {
        sqlite3_bind_blob(m_statement, index, value.data(), static_cast<int>(value.size()), SQLITE_STATIC);
    }
    void blob(int index, std::string&& value) const = delete;
    void integer(int index, std::int64_t value) const { sqlite3_bind_int64(m_statement, index, value); }

    int step() const { return sqlite3_step(m_statement); }

    std::int64_t column_integer(int index) const { return sqlite3_column_int64(m_statement, index); }
    /// The bytes of a TEXT or BLOB column, copied; "" for NULL.
    std::string column_text(int index) const
    {
        const auto* data = static_cast<const char*>(sqlite3_column_blob(m_statement, index));
        return data ? std::string(data, static_cast<std::size_t>(sqlite3_column_bytes(m_statement, index)))
                    : std::string();
    }
    /// The bytes of a BLOB column, valid until the next step or reset.
    std::string_view column_blob(int index) const
    {
        return {static_cast<const char*>(sqlite3_column_blob(m_statement, index)),
                static_cast<std::size_t>(sqlite3_column_bytes(m_statement, index))};
    }

private:
    sqlite3_stmt* m_statement;
};

/// The rows an operator names: every row `all_sql` gives (when `all`), or for each distinct id of `ids`, in
/// ascending order, the row `one_sql` gives with the id as ?1; an id without a row goes to `missing`.
/// `on_row` reads each row. False when SQLite fails.
bool select_by_ids(SqliteConnection& db, bool all, std::span<const std::int64_t> ids, const char* all_sql,
                   const char* one_sql, const std::function<void(const ScopedStatement&)>& on_row,
                   std::vector<std::int64_t>& missing);

}  // namespace c4c::infra
