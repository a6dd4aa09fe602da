#include "infra/systemd_notify.hpp"

#include <systemd/sd-daemon.h>

#include <ctime>
#include <string>

namespace c4c::infra::systemd {

void ready()
{
    sd_notify(0, "READY=1");
}

void reloading()
{
    // Since systemd 253 a reload notification carries the monotonic time it began.
    timespec now{};
    clock_gettime(CLOCK_MONOTONIC, &now);
    const auto usec = static_cast<unsigned long long>(now.tv_sec) * 1000000ULL +
                      static_cast<unsigned long long>(now.tv_nsec) / 1000ULL;
    sd_notify(0, ("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec)).c_str());
}

void stopping()
{
    sd_notify(0, "STOPPING=1");
}

void watchdog()
{
    sd_notify(0, "WATCHDOG=1");
}

void status(std::string_view text)
{
    sd_notify(0, ("STATUS=" + std::string(text)).c_str());
}

std::optional<std::chrono::microseconds> watchdog_period()
{
    std::uint64_t usec = 0;
    if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
        return std::chrono::microseconds(usec);
    }
    return std::nullopt;
}

}  // namespace c4c::infra::systemd
