#pragma once

// sd_notify(3) messages for Type=notify units; all are no-ops when NOTIFY_SOCKET is not set.

#include <chrono>
#include <optional>
#include <string_view>

namespace c4c::infra::systemd {

void ready();
void reloading();
void stopping();
void watchdog();
/// A one-line status shown by `systemctl status`.
void status(std::string_view text);
/// The watchdog period systemd expects pings within (WATCHDOG_USEC), if any.
std::optional<std::chrono::microseconds> watchdog_period();

}  // namespace c4c::infra::systemd
