#pragma once

// Checkpoints the state store's WAL on a thread and connection of its own. The store's connection reports
// every commit's WAL size (sqlite3_wal_hook with committed(), which replaces SQLite's automatic checkpoint in
// the committing thread); past k_wal_frames the thread is woken and runs a PASSIVE checkpoint, which never
// blocks the writer. Before this, a checkpoint's copy and fsync ran inside the event loop's COMMIT every
// 1000 frames: half the wall time of storing a page (bench_outbox).

#include "infra/sqlite.hpp"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <stop_token>
#include <thread>

namespace c4c::infra {

class WalCheckpointer {
public:
    static constexpr int k_wal_frames = 1000;  ///< SQLite's own autocheckpoint threshold (16 MiB here)
    /// A PASSIVE checkpoint copies the frames there were when it started; while pages keep coming it never
    /// completes, and only a complete one lets the next commit restart the log. Past this size (64 MiB) the
    /// committing thread checkpoints itself, copying what the thread has not yet (usually little), so the
    /// log restarts; this also bounds the WAL when the thread does not keep up (a stalled disk).
    static constexpr int k_backstop_frames = 4 * k_wal_frames;

    /// Opens its own connection to `file` and starts the thread. Throws std::runtime_error naming the file
    /// when the connection cannot be opened.
    explicit WalCheckpointer(const std::filesystem::path& file);
    /// Stops and joins the thread, then closes its connection.
    ~WalCheckpointer();
    WalCheckpointer(const WalCheckpointer&) = delete;
    WalCheckpointer& operator=(const WalCheckpointer&) = delete;

    /// sqlite3_wal_hook callback of the store's connection (`self` is the checkpointer), after every commit,
    /// on the committing thread. Reports a failed checkpoint of the thread (in the log), wakes the thread
    /// past k_wal_frames, and checkpoints itself past k_backstop_frames.
    static int committed(void* self, sqlite3* db, const char* schema, int frames);

    /// How many checkpoints the thread completed.
    std::uint64_t checkpoints() const { return m_checkpoints.load(std::memory_order_relaxed); }

private:
    void wake();
    void run(const std::stop_token& stop);

    SqliteConnection m_db;
    std::mutex m_mutex;    ///< guards m_pending
    std::mutex m_running;  ///< held while a checkpoint runs, by the thread or the committing thread
    std::condition_variable_any m_wake;
    bool m_pending = false;
    std::atomic<std::uint64_t> m_checkpoints{0};
    std::atomic<int> m_failure{SQLITE_OK};  ///< a checkpoint's error for the loop to report
    std::jthread m_thread;                  ///< last: started when everything it uses exists, joined first
};

}  // namespace c4c::infra
