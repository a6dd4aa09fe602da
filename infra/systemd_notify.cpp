#include "infra/systemd_notify.hpp"

// The sd_notify protocol, written out rather than linked from libsystemd: systemd documents it as a
// stable interface that services may implement themselves (sd_notify(3), "Notes"), and libsystemd.so
// loads six more libraries (libgcrypt, liblzma, libzstd, liblz4, libcap, libgpg-error) that nothing else
// here uses: 0.9 MiB of an idle daemon's resident memory. A message is one datagram to the AF_UNIX socket
// named by $NOTIFY_SOCKET: a path, or an abstract address written with a leading '@'.

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <charconv>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>

namespace c4c::infra::systemd {

namespace {

void notify(std::string_view message)
{
    const char* socket_name = std::getenv("NOTIFY_SOCKET");
    if (socket_name == nullptr) {
        return;
    }
    const std::string_view name(socket_name);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (name.size() < 2 || name.size() >= sizeof(address.sun_path) || (name[0] != '/' && name[0] != '@')) {
        return;  // not an AF_UNIX address (systemd 254's vsock: is not one this daemon is run with)
    }
    std::memcpy(address.sun_path, name.data(), name.size());
    if (name[0] == '@') {
        address.sun_path[0] = '\0';
    }
    const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return;
    }
    const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size());
    // Best effort, as sd_notify(): a service manager that does not listen changes nothing for the daemon.
    (void)::sendto(fd, message.data(), message.size(), MSG_NOSIGNAL, reinterpret_cast<const sockaddr*>(&address),
                   length);
    ::close(fd);
}

std::optional<std::uint64_t> environment_number(const char* variable)
{
    const char* text = std::getenv(variable);
    if (text == nullptr) {
        return std::nullopt;
    }
    const std::string_view value(text);
    std::uint64_t number = 0;
    const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), number);
    if (error != std::errc() || end != value.data() + value.size()) {
        return std::nullopt;
    }
    return number;
}

}  // namespace

void ready()
{
    notify("READY=1");
}

void reloading()
{
    // Since systemd 253 a reload notification carries the monotonic time it began.
    timespec now{};
    clock_gettime(CLOCK_MONOTONIC, &now);
    const auto usec = static_cast<unsigned long long>(now.tv_sec) * 1000000ULL +
                      static_cast<unsigned long long>(now.tv_nsec) / 1000ULL;
    notify("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec));
}

void stopping()
{
    notify("STOPPING=1");
}

void watchdog()
{
    notify("WATCHDOG=1");
}

void status(std::string_view text)
{
    notify("STATUS=" + std::string(text));
}

std::optional<std::chrono::microseconds> watchdog_period()
{
    // As sd_watchdog_enabled(): WATCHDOG_USEC, unless WATCHDOG_PID names another process.
    const auto usec = environment_number("WATCHDOG_USEC");
    if (!usec || *usec == 0) {
        return std::nullopt;
    }
    if (const auto pid = environment_number("WATCHDOG_PID"); pid && *pid != static_cast<std::uint64_t>(::getpid())) {
        return std::nullopt;
    }
    return std::chrono::microseconds(*usec);
}

}  // namespace c4c::infra::systemd
