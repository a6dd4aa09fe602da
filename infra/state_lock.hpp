#pragma once

// Who owns a state directory. The daemon (and `--once`) holds an exclusive flock(2) on
// `<state_dir>/daemon.lock` for as long as it runs; the kernel releases it when the process ends, however
// it ends (kill -9 included), so a lock is never stale. The file names the holder ("PID ROLE").
//
// Operator commands probe it to learn whether a daemon runs: if one does, they leave its queues to it (a
// job in the state store); if none does, they hold the lock themselves while they change the store, so a
// daemon starting meanwhile waits for them (they take moments), and two daemons never share one store.

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace c4c::infra {

/// The process holding a state directory's lock.
struct LockHolder {
    long pid = 0;      ///< 0 when the file does not say
    std::string role;  ///< "daemon", "once", or the operator command; "" when the file does not say
};

class StateLock {
public:
    /// Takes the lock for `role`, creating the directory (mode 0700) and the lock file when missing, and
    /// waiting up to `wait` while another process holds it. Throws std::runtime_error naming the directory
    /// and the holder when it cannot.
    static StateLock acquire(const std::filesystem::path& dir, std::string_view role, std::chrono::milliseconds wait);
    /// Takes the lock for `role` at once when no process holds it; nullopt when one does. Creates the lock
    /// file (not the directory) when missing, owned like the directory when run as root. Throws
    /// std::runtime_error when the file cannot be opened.
    static std::optional<StateLock> try_acquire(const std::filesystem::path& dir, std::string_view role);
    /// The process holding the lock of `dir`, nullopt when none does. Changes nothing (a shared lock held
    /// for a moment).
    static std::optional<LockHolder> holder(const std::filesystem::path& dir);
    /// `<dir>/daemon.lock`.
    static std::filesystem::path file(const std::filesystem::path& dir);

    StateLock(StateLock&& other) noexcept;
    StateLock& operator=(StateLock&& other) noexcept;
    StateLock(const StateLock&) = delete;
    StateLock& operator=(const StateLock&) = delete;
    /// Releases the lock.
    ~StateLock();

private:
    explicit StateLock(int fd) : m_fd(fd) {}
    int m_fd = -1;
};

/// "PID ROLE" of a lock holder, for messages: "pid 1234 (daemon)".
std::string describe(const LockHolder& holder);

}  // namespace c4c::infra
