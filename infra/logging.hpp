#pragma once

// Log set-up: `text` for terminals and the journal (under systemd, JOURNAL_STREAM is set, so no
// timestamp is printed twice and each line carries its syslog priority prefix), `json` for log
// shippers (one object a line). Everything goes to stderr through spdlog's default logger.

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace c4c::infra {

/// Installs the default logger. `level`: trace debug info warn error; `format`: text | json.
void setup_logging(std::string_view level, std::string_view format);

/// Writes a repeating log line at most `burst` times per `interval`, and tells how many were held back.
/// Used from one thread.
class LogLimiter {
public:
    explicit LogLimiter(std::chrono::steady_clock::duration interval = std::chrono::seconds(60), std::size_t burst = 1);
    /// nullopt: stay quiet. Otherwise: log now; the value is how many lines were held back since the last
    /// one written (see suppressed_note).
    std::optional<std::size_t> admit(std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now());
    /// Forget the history (the condition cleared), so the next occurrence is logged at once.
    void reset();

private:
    std::chrono::steady_clock::duration m_interval;
    std::size_t m_burst;
    std::chrono::steady_clock::time_point m_window_start{};
    std::size_t m_in_window = 0;
    std::size_t m_suppressed = 0;
    bool m_started = false;
};

/// " (N similar lines suppressed)", or nothing when N is 0: the tail of a line LogLimiter let through.
std::string suppressed_note(std::size_t suppressed);

}  // namespace c4c::infra
