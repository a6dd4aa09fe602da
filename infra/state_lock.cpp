#include "infra/state_lock.hpp"

#include "infra/state_dir.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <utility>

namespace c4c::infra {

namespace {

std::string error_text(int error)
{
    return std::generic_category().message(error);
}

int flock_retrying(int fd, int operation)
{
    int rc = 0;
    while ((rc = ::flock(fd, operation)) != 0 && errno == EINTR) {
    }
    return rc;
}

// Opens the lock file for writing its holder, creating it when missing; read-only when it belongs to
// someone else (flock works on any descriptor). A file root creates gets the directory's owner, so that
// the service user can open it later.
int open_lock_file(const std::filesystem::path& dir)
{
    const auto path = StateLock::file(dir);
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0 && errno == EACCES) {
        fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    }
    if (fd < 0) {
        const int error = errno;
        throw std::runtime_error("cannot open " + path.string() + ": " + error_text(error));
    }
    struct stat file_info {};
    struct stat dir_info {};
    if (::geteuid() == 0 && ::fstat(fd, &file_info) == 0 && ::stat(dir.c_str(), &dir_info) == 0 &&
        (file_info.st_uid != dir_info.st_uid || file_info.st_gid != dir_info.st_gid)) {
        [[maybe_unused]] const int ignored = ::fchown(fd, dir_info.st_uid, dir_info.st_gid);
    }
    return fd;
}

void write_holder(int fd, std::string_view role)
{
    const std::string text = std::to_string(::getpid()) + " " + std::string(role) + "\n";
    if (::ftruncate(fd, 0) == 0) {
        [[maybe_unused]] const auto written = ::pwrite(fd, text.data(), text.size(), 0);
    }
}

LockHolder read_holder(int fd)
{
    char buffer[256] = {};
    const auto size = ::pread(fd, buffer, sizeof buffer - 1, 0);
    LockHolder holder;
    if (size <= 0) {
        return holder;
    }
    std::string_view text(buffer, static_cast<std::size_t>(size));
    std::size_t pos = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
        holder.pid = holder.pid * 10 + (text[pos] - '0');
        ++pos;
    }
    if (pos < text.size() && text[pos] == ' ') {
        auto role = text.substr(pos + 1);
        role = role.substr(0, role.find('\n'));
        holder.role = std::string(role);
    }
    return holder;
}

}  // namespace

std::filesystem::path StateLock::file(const std::filesystem::path& dir)
{
    return dir / "daemon.lock";
}

std::optional<StateLock> StateLock::try_acquire(const std::filesystem::path& dir, std::string_view role)
{
    const int fd = open_lock_file(dir);
    if (flock_retrying(fd, LOCK_EX | LOCK_NB) != 0) {
        const int error = errno;
        ::close(fd);
        if (error == EWOULDBLOCK) {
            return std::nullopt;
        }
        throw std::runtime_error("cannot lock " + file(dir).string() + ": " + error_text(error));
    }
    write_holder(fd, role);
    return StateLock(fd);
}

StateLock StateLock::acquire(const std::filesystem::path& dir, std::string_view role, std::chrono::milliseconds wait)
{
    if (const auto ec = create_state_dir(dir)) {
        throw std::runtime_error("cannot create state_dir " + dir.string() + ": " + ec.message());
    }
    const auto deadline = std::chrono::steady_clock::now() + wait;
    for (;;) {
        if (auto lock = try_acquire(dir, role)) {
            return std::move(*lock);
        }
        if (std::chrono::steady_clock::now() >= deadline) {
            const auto owner = holder(dir);
            throw std::runtime_error("state_dir " + dir.string() + " is in use by " +
                                     (owner ? describe(*owner) : std::string("another process")) +
                                     "; one state directory serves one daemon");
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
}

std::optional<LockHolder> StateLock::holder(const std::filesystem::path& dir)
{
    const auto path = file(dir);
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        const int error = errno;
        if (error == ENOENT) {
            return std::nullopt;
        }
        throw std::runtime_error("cannot open " + path.string() + ": " + error_text(error));
    }
    std::optional<LockHolder> result;
    if (flock_retrying(fd, LOCK_SH | LOCK_NB) == 0) {
        flock_retrying(fd, LOCK_UN);
    } else if (errno == EWOULDBLOCK) {
        result = read_holder(fd);
    } else {
        const int error = errno;
        ::close(fd);
        throw std::runtime_error("cannot probe " + path.string() + ": " + error_text(error));
    }
    ::close(fd);
    return result;
}

StateLock::StateLock(StateLock&& other) noexcept : m_fd(std::exchange(other.m_fd, -1)) {}

StateLock& StateLock::operator=(StateLock&& other) noexcept
{
    if (this != &other) {
        if (m_fd >= 0) {
            ::close(m_fd);
        }
        m_fd = std::exchange(other.m_fd, -1);
    }
    return *this;
}

StateLock::~StateLock()
{
    if (m_fd >= 0) {
        ::close(m_fd);  // releases the flock
    }
}

std::string describe(const LockHolder& holder)
{
    std::string text = holder.pid > 0 ? "pid " + std::to_string(holder.pid) : std::string("a process");
    if (!holder.role.empty()) {
        text += " (" + holder.role + ")";
    }
    return text;
}

}  // namespace c4c::infra
