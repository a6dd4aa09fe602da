#include "infra/wal_checkpointer.hpp"

#include <spdlog/spdlog.h>

namespace c4c::infra {

WalCheckpointer::WalCheckpointer(const std::filesystem::path& file)
    : m_db(file, SQLITE_OPEN_READWRITE, " for checkpoints")
{
    sqlite3_exec(m_db.handle(), "PRAGMA synchronous=NORMAL", nullptr, nullptr, nullptr);
    m_thread = std::jthread([this](const std::stop_token& stop) { run(stop); });
}

WalCheckpointer::~WalCheckpointer()
{
    m_thread.request_stop();
    m_wake.notify_all();
    m_thread.join();
}

int WalCheckpointer::committed(void* self, sqlite3* db, const char* schema, int frames)
{
    auto* checkpointer = static_cast<WalCheckpointer*>(self);
    // Reported from here, the event loop: the thread does not log (a reload may swap the logger).
    if (const int failed = checkpointer->m_failure.exchange(SQLITE_OK); failed != SQLITE_OK) {
        spdlog::warn("state store: WAL checkpoint failed: {} (SQLite error {})", sqlite3_errstr(failed), failed);
    }
    if (frames >= k_backstop_frames) {
        // Two checkpoints cannot run at once (the second gets SQLITE_BUSY): wait for the thread's.
        std::lock_guard running(checkpointer->m_running);
        sqlite3_wal_checkpoint_v2(db, schema, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    } else if (frames >= k_wal_frames) {
        checkpointer->wake();
    }
    return SQLITE_OK;
}

void WalCheckpointer::wake()
{
    {
        std::lock_guard lock(m_mutex);
        m_pending = true;
    }
    m_wake.notify_one();
}

void WalCheckpointer::run(const std::stop_token& stop)
{
    int last_error = SQLITE_OK;
    while (!stop.stop_requested()) {
        {
            std::unique_lock lock(m_mutex);
            m_wake.wait(lock, stop, [this] { return m_pending; });
            m_pending = false;
        }
        if (stop.stop_requested()) {
            break;
        }
        int rc = SQLITE_OK;
        {
            std::lock_guard running(m_running);
            rc = sqlite3_wal_checkpoint_v2(m_db.handle(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
        }
        if (rc == SQLITE_OK) {
            m_checkpoints.fetch_add(1, std::memory_order_relaxed);
        } else if (rc != SQLITE_BUSY && rc != last_error) {
            // Reported once per kind of failure (by the next commit); the next commits wake the thread again.
            m_failure.store(rc);
        }
        last_error = rc;
    }
}

}  // namespace c4c::infra
