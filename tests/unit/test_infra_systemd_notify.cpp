// The sd_notify protocol as systemd reads it: one datagram per message on the AF_UNIX socket named by
// NOTIFY_SOCKET (a path, or an abstract name with a leading '@'), and the watchdog period from
// WATCHDOG_USEC unless WATCHDOG_PID names another process.

#include "infra/systemd_notify.hpp"

#include <doctest/doctest.h>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

namespace systemd = c4c::infra::systemd;

namespace {

/// A datagram socket bound like systemd's notification socket; restores the environment when done.
class NotifySocket {
public:
    explicit NotifySocket(const std::string& name) : m_fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0))
    {
        REQUIRE(m_fd >= 0);
        sockaddr_un address{};
        address.sun_family = AF_UNIX;
        std::memcpy(address.sun_path, name.data(), name.size());
        if (name[0] == '@') {
            address.sun_path[0] = '\0';
        } else {
            m_path = name;
        }
        const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size());
        REQUIRE(::bind(m_fd, reinterpret_cast<const sockaddr*>(&address), length) == 0);
        timeval timeout{2, 0};
        ::setsockopt(m_fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
        ::setenv("NOTIFY_SOCKET", name.c_str(), 1);
    }
    ~NotifySocket()
    {
        ::unsetenv("NOTIFY_SOCKET");
        ::close(m_fd);
        if (!m_path.empty()) {
            std::filesystem::remove(m_path);
        }
    }
    NotifySocket(const NotifySocket&) = delete;
    NotifySocket& operator=(const NotifySocket&) = delete;

    std::string receive() const
    {
        std::array<char, 512> buffer{};
        const ssize_t size = ::recv(m_fd, buffer.data(), buffer.size(), 0);
        return size < 0 ? std::string("<nothing>") : std::string(buffer.data(), static_cast<std::size_t>(size));
    }

private:
    int m_fd;
    std::string m_path;
};

}  // namespace

TEST_CASE("systemd notifications reach a socket named by a path and by an abstract name")
{
    const std::string suffix = std::to_string(::getpid());
    for (const std::string& name :
         {(std::filesystem::temp_directory_path() / ("c4c-notify-" + suffix)).string(), "@c4c-notify-" + suffix}) {
        CAPTURE(name);
        const NotifySocket socket(name);
        systemd::ready();
        CHECK(socket.receive() == "READY=1");
        systemd::status("polling 3 sources");
        CHECK(socket.receive() == "STATUS=polling 3 sources");
        systemd::reloading();
        const std::string reloading = socket.receive();
        CHECK(reloading.starts_with("RELOADING=1\nMONOTONIC_USEC="));
        CHECK(reloading.size() > std::strlen("RELOADING=1\nMONOTONIC_USEC="));
        systemd::watchdog();
        CHECK(socket.receive() == "WATCHDOG=1");
        systemd::stopping();
        CHECK(socket.receive() == "STOPPING=1");
    }
}

TEST_CASE("without NOTIFY_SOCKET a notification is a no-op")
{
    ::unsetenv("NOTIFY_SOCKET");
    systemd::ready();  // nothing to reach, nothing thrown
    ::setenv("NOTIFY_SOCKET", "vsock:2:1234", 1);
    systemd::ready();  // not an AF_UNIX address: ignored
    ::unsetenv("NOTIFY_SOCKET");
}

TEST_CASE("the watchdog period is WATCHDOG_USEC, for this process only")
{
    ::unsetenv("WATCHDOG_PID");
    ::unsetenv("WATCHDOG_USEC");
    CHECK_FALSE(systemd::watchdog_period());
    ::setenv("WATCHDOG_USEC", "1500000", 1);
    CHECK(systemd::watchdog_period() == std::chrono::microseconds(1500000));
    ::setenv("WATCHDOG_PID", std::to_string(::getpid()).c_str(), 1);
    CHECK(systemd::watchdog_period() == std::chrono::microseconds(1500000));
    ::setenv("WATCHDOG_PID", std::to_string(::getpid() + 1).c_str(), 1);
    CHECK_FALSE(systemd::watchdog_period());
    ::unsetenv("WATCHDOG_PID");
    ::setenv("WATCHDOG_USEC", "0", 1);
    CHECK_FALSE(systemd::watchdog_period());
    ::setenv("WATCHDOG_USEC", "12x", 1);
    CHECK_FALSE(systemd::watchdog_period());
    ::unsetenv("WATCHDOG_USEC");
}
