#pragma once

// Log set-up: `text` for terminals and the journal (under systemd, JOURNAL_STREAM is set, so no
// timestamp is printed twice and each line carries its syslog priority prefix), `json` for log
// shippers (one object a line). Everything goes to stderr through spdlog's default logger.

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace c4c::daemon {

/// Installs the default logger. `level`: trace debug info warn error; `format`: text | json.
void setup_logging(std::string_view level, std::string_view format);

/// Lets a repeating message through once per `period`, and says how many were held back.
/// Used from one thread.
class LogThrottle {
public:
    explicit LogThrottle(std::chrono::seconds period = std::chrono::seconds(60)) : m_period(period) {}
    /// nullopt: stay quiet. Otherwise: log now; the value is how many were suppressed since the last.
    std::optional<std::size_t> admit(std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now());
    /// Forget the history (the condition cleared), so the next occurrence is logged at once.
    void reset();

private:
    std::chrono::seconds m_period;
    std::optional<std::chrono::steady_clock::time_point> m_last;
    std::size_t m_suppressed = 0;
};

} // namespace c4c::daemon
